"""Transformer factories: heads, small images, variants and bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

import kerakit
from kerakit import registry
from kerakit.testing import ModelTestCase

_VISION = [
    ("vit", {"input_shape": (8, 8, 1), "patch_size": 2}),
    ("vit", {"input_shape": (32, 32, 3), "patch_size": 4}),
    ("swin", {"input_shape": (8, 8, 1), "patch_size": 1, "window_size": 4}),
    ("swin", {"input_shape": (32, 32, 3), "patch_size": 2, "window_size": 4}),
]


@pytest.mark.parametrize("name, kwargs", _VISION)
def test_vision_models_take_small_images(name, kwargs):
    tiny = {**registry.get_entry(name).tiny, **kwargs, "num_classes": 10}
    x = np.random.default_rng(0).uniform(
        size=(2, *kwargs["input_shape"])).astype("float32")
    for pooling in ("token" if name == "vit" else "avg", "flatten"):
        model = kerakit.build(name, **tiny, pooling=pooling)
        assert tuple(model(x).shape) == (2, 10)
    if kwargs["input_shape"][-1] == 1:  # the sweep covers 3 channels
        ModelTestCase().run_head_test(registry.get_entry(name).fn, tiny, x)


def test_vit_class_token_features():
    tiny = registry.get_entry("vit").tiny
    assert kerakit.build("vit", **tiny, include_top=False,
                         pooling="token").output_shape == (None, 16)
    model = kerakit.build("vit", **tiny)
    assert model.get_layer("vit_class_token") is not None


@pytest.mark.parametrize("name, kwargs, words", [
    ("vit", {"patch_size": 3}, "multiples of 3"),
    ("vit", {"pooling": "cls"}, "pooling must be one of"),
    ("vit", {"hidden_dim": 15}, "hidden_dim must be a multiple of num_heads"),
    ("vit", {"num_layers": 0}, "num_layers must be a positive integer"),
    ("vit", {"input_shape": (None, 8, 3)}, "height and width must be known"),
    ("swin", {"patch_size": 1, "window_size": 3}, "does not tile"),
    ("swin", {"stage_depths": (2, 2, 2, 2)}, "the minimum is 16x16"),
    ("swin", {"input_shape": (10, 10, 3)}, "multiples of 4"),
    ("swin", {"pooling": "token"}, "pooling must be one of"),
    ("bert", {"head": "pooler"}, "head must be one of"),
    ("bert", {"num_classes": 0}, "num_classes must be a positive integer"),
    ("gpt", {"dropout": 1.0}, "dropout must be in"),
    ("t5", {"num_heads": 3}, "hidden_dim must be a multiple of num_heads"),
])
def test_bad_arguments_are_explained(name, kwargs, words):
    entry = registry.get_entry(name)
    with pytest.raises(ValueError, match=words):  # the factory's own checks
        entry.fn(**{**entry.tiny, **kwargs})


def test_bert_masked_lm_and_backbone_heads():
    tiny = registry.get_entry("bert_tiny").tiny
    x = {"token_ids": np.ones((2, 8), "int32"),
         "segment_ids": np.zeros((2, 8), "int32"),
         "padding_mask": np.ones((2, 8), "int32"),
         "mask_positions": np.array([[1, 3], [2, 5]], "int32")}
    mlm = kerakit.build("bert_tiny", **tiny, head="masked_lm")
    assert tuple(mlm(x).shape) == (2, 2, tiny["vocabulary_size"])
    backbone = kerakit.build("bert_tiny", **tiny, include_top=False)
    assert backbone.name == "bert_tiny"
    assert set(backbone.output) == {"sequence_output", "pooled_output"}


def test_size_variants_keep_sizes_as_arguments():
    info = kerakit.model_info("bert_tiny")
    assert info["arguments"]["num_layers"] == 2
    assert info["arguments"]["hidden_dim"] == 128
    assert kerakit.model_info("gpt")["arguments"]["hidden_dim"] == 768
    model = kerakit.build("gpt_tiny", vocabulary_size=30, sequence_length=6,
                          num_layers=1, hidden_dim=8, num_heads=2,
                          intermediate_dim=8)
    assert model.name == "gpt_tiny"
    assert model.backbone.num_layers == 1
    with pytest.raises(TypeError, match="expects int"):
        kerakit.build("gpt_tiny", num_layers="2")


def test_registry_labels():
    tasks = {n: registry.get_entry(n).task for n in (
        "gpt", "gpt2_small", "gpt_tiny", "bert", "bert_base", "bert_tiny",
        "t5", "t5_small", "t5_tiny", "vit", "vit_b16", "vit_ti16", "swin",
        "swin_t")}
    assert {t for n, t in tasks.items() if n.startswith("gpt")} == {
        "language_modeling"}
    assert {t for n, t in tasks.items() if n.startswith("bert")} == {
        "text_classification"}
    assert {t for n, t in tasks.items() if n.startswith("t5")} == {
        "text_to_text"}
    assert {t for n, t in tasks.items() if n.startswith(("vit", "swin"))} \
        == {"image_classification"}
