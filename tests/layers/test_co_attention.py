import keras
import numpy as np
import pytest

from layer_checks import run_layer_check

from kerakit.layers import CoAttention
from kerakit.layers import RegionEmbedding
from kerakit.layers.region_embedding import grid_locations


def test_co_attention_layer_checks(tmp_path):
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(2, 5, 6)).astype("float32"),
         rng.normal(size=(2, 3, 4)).astype("float32")]
    targets = [rng.normal(size=(2, 5, 6)).astype("float32"),
               rng.normal(size=(2, 3, 4)).astype("float32")]
    model = run_layer_check(
        tmp_path, lambda: CoAttention(8, 2, 10, 12),
        [((5, 6), "float32"), ((3, 4), "float32")], x,
        [(2, 5, 6), (2, 3, 4)], targets)
    # Visual stream (width 6, queries over the text of width 4):
    # q 6*8+8, k 4*8+8, v 4*8+8, out 8*6+6 = 56+40+40+54; norm 12;
    # FFN 6*10+10 + 10*6+6 = 136; norm 12 -> 350.
    # Text stream (width 4 over visual width 6): q 4*8+8, k 6*8+8,
    # v 6*8+8, out 8*4+4 = 40+56+56+36; norm 8; FFN 4*12+12 + 12*4+4 = 112;
    # norm 8 -> 316.
    assert model.count_params() == 350 + 316


def test_masked_text_is_ignored_by_the_visual_stream():
    rng = np.random.default_rng(0)
    visual = rng.normal(size=(1, 4, 6)).astype("float32")
    text = rng.normal(size=(1, 5, 6)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0]], bool)
    layer = CoAttention(8, 2, 16, 16)
    out = keras.ops.convert_to_numpy(layer([visual, text],
                                           text_mask=mask)[0])
    changed = text.copy()
    changed[:, 3:] = 100.0
    again = keras.ops.convert_to_numpy(layer([visual, changed],
                                             text_mask=mask)[0])
    np.testing.assert_allclose(out, again, atol=1e-5)
    unmasked = keras.ops.convert_to_numpy(layer([visual, changed])[0])
    assert not np.allclose(out, unmasked, atol=1e-3)


def test_each_stream_reads_the_other():
    rng = np.random.default_rng(1)
    visual = rng.normal(size=(1, 4, 6)).astype("float32")
    text = rng.normal(size=(1, 5, 6)).astype("float32")
    layer = CoAttention(8, 2, 16, 16)
    v1, t1 = (keras.ops.convert_to_numpy(o) for o in layer([visual, text]))
    v2, t2 = (keras.ops.convert_to_numpy(o) for o in layer(
        [visual, text + 1.0]))
    v3, t3 = (keras.ops.convert_to_numpy(o) for o in layer(
        [visual + 1.0, text]))
    assert not np.allclose(v1, v2) and not np.allclose(t1, t3)


def test_co_attention_errors():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        CoAttention(10, 3, 8, 8)
    with pytest.raises(ValueError, match="dropout"):
        CoAttention(8, 2, 8, 8, dropout=1.0)


def test_region_embedding_checks(tmp_path):
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(2, 3, 7)).astype("float32"),
         rng.uniform(size=(2, 3, 5)).astype("float32")]
    model = run_layer_check(
        tmp_path, lambda: RegionEmbedding(4),
        [((3, 7), "float32"), ((3, 5), "float32")], x, (2, 4, 4),
        rng.normal(size=(2, 4, 4)).astype("float32"))
    # features 7*4+4, locations 5*4+4, norm 2*4.
    assert model.count_params() == 32 + 24 + 8


def test_region_embedding_grid_and_image_token():
    layer = RegionEmbedding(4, grid_shape=(2, 3))
    features = np.random.default_rng(0).normal(size=(1, 6, 5))
    out = layer(features.astype("float32"))
    assert tuple(out.shape) == (1, 7, 4)
    boxes = grid_locations(2, 3)
    assert boxes.shape == (6, 5) and np.allclose(boxes[:, 4], 1 / 6)
    np.testing.assert_allclose(boxes[4], [1 / 3, 0.5, 2 / 3, 1.0, 1 / 6])
    # The [IMG] token is the mean feature in the whole-image box.
    twin = RegionEmbedding(4)
    twin([features.astype("float32"), boxes[None]])
    twin.set_weights(layer.get_weights())
    mean_first = keras.ops.convert_to_numpy(twin([
        features.mean(1, keepdims=True).astype("float32"),
        np.array([[[0, 0, 1, 1, 1]]], "float32")]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out)[:, :1],
                               mean_first[:, 1:], atol=1e-5)


def test_pre_norm_co_attention_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    x = [rng.normal(size=(2, 4, 6)).astype("float32"),
         rng.normal(size=(2, 3, 6)).astype("float32")]
    model = run_layer_check(
        tmp_path, lambda: CoAttention(8, 2, 12, 12, normalize_first=True),
        [((4, 6), "float32"), ((3, 6), "float32")], x,
        [(2, 4, 6), (2, 3, 6)], [np.zeros((2, 4, 6), "float32"),
                                 np.zeros((2, 3, 6), "float32")])
    assert model.layers[-1].get_config()["normalize_first"] is True
