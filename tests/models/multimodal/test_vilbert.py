"""ViLBERT: heads, detector regions, precision, bad arguments, count."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit import registry
from kerakit.models.multimodal.vilbert import VILBERT_BASE_PARAMS
from kerakit.models.multimodal.vilbert import vilbert_model
from kerakit.testing import ModelTestCase

TINY = dict(registry.get_entry("vilbert_tiny").tiny)


def _tokens(batch=2, steps=8):
    ids = np.random.default_rng(0).integers(1, 40, size=(batch, steps))
    mask = np.ones((batch, steps), "int32")
    mask[1, 5:] = 0
    return {"token_ids": (ids * mask).astype("int32"), "padding_mask": mask}


def test_answer_head_standard_test(tmp_path):
    x = {"images": np.random.default_rng(1).uniform(
        size=(4, 8, 8, 1)).astype("float32"), **_tokens(4)}
    ModelTestCase().run_model_test(
        vilbert_model, {**TINY, "head": "answer", "num_answers": 5,
                        "normalize_first": True, "pooler_activation": "tanh",
                        "name": "vilbert_vqa"}, x, (4, 5),
        targets=np.arange(4) % 5,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        tmp_dir=str(tmp_path))


def test_detector_regions_standard_test(tmp_path):
    rng = np.random.default_rng(2)
    x = {"region_features": rng.normal(size=(4, 5, 8)).astype("float32"),
         "region_locations": rng.uniform(size=(4, 5, 5)).astype("float32"),
         **_tokens(4)}
    kwargs = {**TINY, "input_shape": None, "name": "vilbert_regions"}
    model = ModelTestCase().run_model_test(
        vilbert_model, kwargs, x, (4, 1),
        targets=np.array([[1.0], [0.0], [1.0], [0.0]]),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        tmp_dir=str(tmp_path))
    assert sorted(model.input) == ["padding_mask", "region_features",
                                   "region_locations", "token_ids"]


def test_pre_norm_standard_test(tmp_path):
    x = {"images": np.random.default_rng(3).uniform(
        size=(4, 8, 8, 1)).astype("float32"), **_tokens(4)}
    model = ModelTestCase().run_model_test(
        vilbert_model, {**TINY, "normalize_first": True,
                        "pooler_activation": "tanh",
                        "name": "vilbert_pre_norm"}, x, (4, 1),
        targets=np.array([[1.0], [0.0], [1.0], [0.0]]),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        tmp_dir=str(tmp_path))
    assert model.get_layer("vilbert_pre_norm_text_final_norm") is not None


def test_precision():
    x = {"images": np.ones((2, 8, 8, 1), "float32"), **_tokens()}
    policies = (["mixed_bfloat16"] if keras.backend.backend() == "torch"
                else None)
    ModelTestCase().run_precision_test(vilbert_model, TINY, x, policies)


def test_padding_is_ignored():
    model = vilbert_model(**TINY)
    x = {"images": np.ones((2, 8, 8, 1), "float32"), **_tokens()}
    changed = {**x, "token_ids": np.where(x["padding_mask"] == 1,
                                          x["token_ids"], 7).astype("int32")}
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)),
        keras.ops.convert_to_numpy(model(changed)), atol=1e-5)


def test_layout_of_streams():
    model = kerakit.build("vilbert_tiny", **TINY)
    names = [layer.name for layer in model.layers]
    # One plain text layer, then co-attention -> visual -> text.
    order = [n for n in names if "_layer" in n or "co_attention" in n]
    assert order == ["vilbert_tiny_text_layer0",
                     "vilbert_tiny_co_attention0",
                     "vilbert_tiny_visual_layer0",
                     "vilbert_tiny_text_layer1"]
    assert registry.get_entry("vilbert").task == "image_text_matching"
    info = kerakit.model_info("vilbert")
    assert info["arguments"]["co_attention_layers"] == 6
    assert info["arguments"]["region_dim"] == 2048


@pytest.mark.parametrize("kwargs, words", [
    ({"head": "pooler"}, "head must be one of"),
    ({"co_attention_layers": 3}, "at most num_layers"),
    ({"visual_hidden_dim": 15}, "visual_hidden_dim must be a multiple"),
    ({"co_attention_dim": 9}, "co_attention_dim must be a multiple"),
    ({"patch_size": 3}, "multiples of patch_size"),
    ({"head": "answer", "num_answers": 0}, "num_answers must be"),
    ({"dropout": 1.0}, "dropout must be in"),
    ({"region_dim": None}, "region_dim must be given"),
    ({"stem_filters": -1}, "stem_filters must be"),
])
def test_bad_arguments_are_explained(kwargs, words):
    with pytest.raises(ValueError, match=words):
        vilbert_model(**{**TINY, **kwargs})


@pytest.mark.large
def test_base_configuration_parameter_count():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("parameter counts are checked on the tensorflow run")
    model = kerakit.build("vilbert")
    # Text stream: embeddings 30522*768 + 512*768 + norm 1536 = 23,835,648;
    # 12 BERT layers of 7,087,872 = 85,054,464. Visual stream: region
    # embedding 2048*1024+1024 + 5*1024+1024 + norm 2048 = 2,106,368;
    # 6 layers (1024 wide, FFN 1024) of 6,301,696 = 37,810,176.
    # 6 co-attention layers of 14,176,768 (visual side 5,777,408, text
    # side 8,399,360) = 85,060,608. Poolers 1,049,600 + 787,456, matching
    # head 1,025.
    assert model.count_params() == VILBERT_BASE_PARAMS == 235_705_345
    keras.backend.clear_session()
