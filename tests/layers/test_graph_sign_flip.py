"""RandomSignFlip: identity at inference, per-eigenvector signs in training."""

import json

import keras
import numpy as np
import pytest

from kerakit.layers import RandomSignFlip


def _np(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _positions():
    rng = np.random.default_rng(0)
    return rng.uniform(0.5, 1.0, size=(1, 6, 4)).astype("float32")


def test_identity_at_inference():
    layer = RandomSignFlip(seed=0)
    x = _positions()
    np.testing.assert_array_equal(_np(layer(x)), x)
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)


def test_training_flips_whole_eigenvectors():
    layer = RandomSignFlip(seed=0)
    x = _positions()
    signs = []
    for _ in range(8):
        ratio = _np(layer(x, training=True)) / x
        # One sign per eigenvector (column), shared by all nodes.
        assert set(np.unique(np.round(ratio, 6))) <= {-1.0, 1.0}
        assert (ratio == ratio[:, :1]).all()
        signs.append(ratio[0, 0])
    signs = np.array(signs)
    assert (signs < 0).any() and (signs > 0).any()


def test_each_graph_draws_its_own_signs():
    layer = RandomSignFlip(max_graphs=3, seed=0)
    x = _positions()
    graph_index = np.array([[0, 0, 0, 1, 1, -1]], "int32")
    differ = False
    for _ in range(8):
        ratio = _np(layer([x, graph_index], training=True)) / x
        assert set(np.unique(np.round(ratio, 6))) <= {-1.0, 1.0}
        # Consistent within a graph ...
        assert (ratio[0, :3] == ratio[0, :1]).all()
        assert (ratio[0, 3:5] == ratio[0, 3:4]).all()
        # ... and independent across graphs.
        differ |= bool((ratio[0, 0] != ratio[0, 3]).any())
    assert differ
    np.testing.assert_array_equal(_np(layer([x, graph_index])), x)


def test_config_round_trip_and_errors():
    layer = RandomSignFlip(max_graphs=2, seed=3, name="flip")
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    twin = keras.saving.deserialize_keras_object(config)
    assert twin.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="max_graphs"):
        RandomSignFlip(max_graphs=0)
