import keras
import numpy as np
import pytest

from layer_checks import run_layer_check

from kerakit.data.features import image_patches
from kerakit.layers import PatchEmbedding
from kerakit.testing import ModelTestCase


def test_layer_checks(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    model = run_layer_check(
        tmp_path,
        lambda: PatchEmbedding(4, 6, use_position_embedding=True),
        [((8, 8, 3), "float32")], x, (2, 4, 6),
        rng.normal(size=(2, 4, 6)).astype("float32"))
    # conv 4*4*3*6 + 6 bias + 4 positions * 6.
    assert model.count_params() == 288 + 6 + 24


def test_equals_linear_map_of_patches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    layer = PatchEmbedding((4, 2), 5)
    tokens = keras.ops.convert_to_numpy(layer(x))
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in
                    layer.projection.weights)
    patches = image_patches(x, (4, 2))
    expected = patches @ kernel.reshape(-1, 5) + bias
    np.testing.assert_allclose(tokens, expected, atol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match="smaller than the patch"):
        PatchEmbedding(16, 4)(keras.ops.ones((1, 8, 8, 3)))
    with pytest.raises(ValueError, match="fixed image size"):
        PatchEmbedding(4, 4, use_position_embedding=True)(
            keras.Input((None, None, 3)))


def _patch_model(input_shape, data_format):
    # Named layers: the layout check pairs the two models' layers by name.
    inputs = keras.Input(input_shape, name="images")
    tokens = PatchEmbedding((4, 2), 5, use_position_embedding=True,
                            data_format=data_format, name="patches")(inputs)
    return keras.Model(inputs, tokens, name="patch_model")


def test_channels_first_matches_channels_last():
    # Same projection kernel and position table: channels_first images give
    # the same tokens, in the same (row-major patch) order, as channels_last:
    # an 8x6 image in 4x2 patches is a 2x3 grid of 6 tokens.
    last, first = ModelTestCase().run_layout_test(
        _patch_model, {"input_shape": (8, 6, 3)})
    assert first.output_shape == last.output_shape == (None, 6, 5)
