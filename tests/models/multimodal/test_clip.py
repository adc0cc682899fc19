"""CLIP on keras-hub's encoders: standard test, towers, sizes, errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit import registry
from kerakit.models.multimodal.clip import CLIP_B32
from kerakit.models.multimodal.clip import clip_model
from kerakit.models.multimodal.clip import embedders
from kerakit.models.multimodal.clip import logit_scale
from kerakit.models.multimodal.clip import sweep_data
from kerakit.testing import ModelTestCase


def test_clip_standard_model_test(tmp_path):
    kwargs = dict(registry.get_entry("clip_tiny").tiny)
    data = sweep_data(kwargs)
    model = ModelTestCase().run_model_test(
        clip_model, {**kwargs, "name": "clip"}, data.x,
        data.expected_output_shape, targets=data.y, loss=data.loss,
        tmp_dir=str(tmp_path))
    # the learned temperature trains with the rest
    assert logit_scale(model) != pytest.approx(1 / 0.07, rel=1e-6)


def test_logits_are_scaled_cosines_of_the_towers():
    kwargs = dict(registry.get_entry("clip_tiny").tiny)
    data = sweep_data(kwargs)
    model = kerakit.build("clip_tiny", **kwargs)
    out = model(data.x)
    images, texts = embedders(model)
    a = keras.ops.convert_to_numpy(images(data.x["images"]))
    b = keras.ops.convert_to_numpy(texts(data.x["token_ids"]))
    a /= np.linalg.norm(a, axis=-1, keepdims=True)
    b /= np.linalg.norm(b, axis=-1, keepdims=True)
    expected = logit_scale(model) * a @ b.T
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out["vision_logits"]), expected,
        rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out["text_logits"]), expected.T,
        rtol=1e-4, atol=1e-4)


def test_text_pools_at_the_end_token():
    kwargs = dict(registry.get_entry("clip_tiny").tiny)
    data = sweep_data(kwargs)
    _, texts = embedders(kerakit.build("clip_tiny", **kwargs))
    ids = np.array(data.x["token_ids"])
    after = np.arange(ids.shape[1])[None, :] > ids.argmax(-1)[:, None]
    assert after.any()
    changed = np.where(after, 3, ids).astype("int32")
    # what follows the end token does not reach it (causal text tower)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(texts(ids)),
                               keras.ops.convert_to_numpy(texts(changed)),
                               atol=1e-5)


def test_variants_and_towers():
    assert kerakit.list_models("clip*") == ["clip", "clip_b32", "clip_tiny"]
    assert {registry.get_entry(n).task for n in ("clip", "clip_tiny")} == {
        "contrastive_image_text"}
    tiny = registry.get_entry("clip_tiny").tiny
    model = kerakit.build("clip_tiny", **{**tiny, "text_hidden_dim": 4,
                                          "text_num_heads": 1})
    text = model.get_layer("clip_tiny_text_encoder")
    assert text.hidden_dim == 4 and text.num_heads == 1
    assert model.get_layer("clip_tiny_vision_encoder").hidden_dim == 8
    assert registry.get_entry("clip").canonical["text_hidden_dim"] == 512
    dropped = kerakit.build("clip_tiny", **tiny, dropout=0.2)
    assert {dropped.get_layer(f"{side}_dropout").rate
            for side in ("vision", "text")} == {0.2}
    assert registry.get_entry("clip_b32").params == 151_277_363


@pytest.mark.large
def test_clip_b32_canonical_counts():
    # keras-hub's CLIPBackbone adds a non-trainable (1, 50) position_ids
    # buffer to the 151,277,313 weights (../shared/REFERENCE.md).
    if keras.backend.backend() != "tensorflow":
        pytest.skip("parameter counts are checked on the tensorflow run")
    model = kerakit.build("clip_b32", **CLIP_B32)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 151_277_313
    assert model.count_params() == 151_277_363


@pytest.mark.parametrize("kwargs, words", [
    ({"patch_size": 3}, "multiple of patch_size"),
    ({"hidden_dim": 9}, "hidden_dim must be a multiple of num_heads"),
    ({"text_hidden_dim": 6, "text_num_heads": 4}, "multiple of num_heads"),
    ({"num_layers": 0}, "num_layers must be a positive integer"),
    ({"dropout": 1.0}, "dropout must be in"),
    ({"projection_dim": None}, "projection_dim must be given"),
])
def test_bad_arguments_are_explained(kwargs, words):
    tiny = registry.get_entry("clip_tiny").tiny
    with pytest.raises(ValueError, match=words):
        kerakit.build("clip_tiny", **{**tiny, **kwargs})
