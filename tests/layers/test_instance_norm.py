import keras
import numpy as np
import pytest

from layer_checks import run_layer_check

from kerakit.layers import InstanceNormalization


def test_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(2, 4, 5, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(InstanceNormalization(epsilon=1e-5)(x))
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5),
                               atol=1e-4)


def test_groups_rejected():
    with pytest.raises(TypeError, match="GroupNormalization"):
        InstanceNormalization(groups=2)


def test_layer_checks(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    model = run_layer_check(tmp_path, InstanceNormalization,
                            [((4, 4, 3), "float32")], x, (2, 4, 4, 3),
                            rng.normal(size=(2, 4, 4, 3)).astype("float32"))
    # gamma + beta, 3 channels each.
    assert model.count_params() == 6
    assert "groups" not in model.layers[-1].get_config()
