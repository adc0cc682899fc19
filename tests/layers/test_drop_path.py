import keras
import numpy as np
import pytest

from layer_checks import run_layer_check

from kerakit.layers import DropPath


def test_identity_at_inference_and_mask_per_sample():
    layer = DropPath(0.5, seed=3)
    x = np.ones((256, 2, 3), "float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(x, training=False)), x)
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    per_sample = y.reshape(256, -1)
    # Each sample is either all 0 or all 1 / keep.
    assert set(np.unique(per_sample.std(axis=1))) == {0.0}
    assert set(np.unique(per_sample[:, 0])) <= {0.0, 2.0}
    assert 0.3 < (per_sample[:, 0] == 0).mean() < 0.7
    assert abs(y.mean() - 1.0) < 0.25


def test_bad_rate():
    with pytest.raises(ValueError, match="rate must be in"):
        DropPath(1.0)


def test_layer_checks(tmp_path):
    rng = np.random.default_rng(0)
    def make():
        seq = keras.Sequential([keras.layers.Dense(4), DropPath(0.2, seed=1)])
        return seq

    x = rng.normal(size=(8, 3)).astype("float32")
    run_layer_check(tmp_path, make, [((3,), "float32")], x, (8, 4),
                    rng.normal(size=(8, 4)).astype("float32"),
                    expect_decrease=False)


def test_config():
    layer = DropPath(0.3, seed=2, name="dp")
    again = DropPath.from_config(layer.get_config())
    assert (again.rate, again.seed, again.name) == (0.3, 2, "dp")
