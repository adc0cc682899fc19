"""Graph conv layers on an edge list: unknown node axis, no NaN paths."""

import keras
import numpy as np
import pytest

from kerakit.layers import GATConv
from kerakit.layers import GCNConv

EDGES = np.array([[[0, 1], [1, 0], [1, 2], [2, 1], [-1, -1]]], "int32")


@pytest.mark.parametrize("layer_cls", [GCNConv, GATConv])
def test_edge_list_with_unknown_node_axis(layer_cls):
    features = keras.Input((None, 3))
    edges = keras.Input((None, 2), dtype="int32")
    out = layer_cls(4)([features, edges])
    assert tuple(out.shape) == (None, None, 4)
    model = keras.Model([features, edges], out)
    rng = np.random.default_rng(0)
    for nodes in (3, 5):  # one model, graphs of different sizes
        x = rng.normal(size=(1, nodes, 3)).astype("float32")
        y = model.predict_on_batch([x, EDGES])
        assert y.shape == (1, nodes, 4)
    # Training on graphs of two sizes: on TensorFlow the train step is
    # then traced with an unknown node axis.
    model.compile("sgd", "mse")

    def graphs():
        while True:
            for nodes in (5, 7):
                x = rng.normal(size=(1, nodes, 3)).astype("float32")
                yield (x, EDGES), np.ones((1, nodes, 4), "float32")

    history = model.fit(graphs(), steps_per_epoch=4, epochs=1, verbose=0,
                        shuffle=False)
    assert np.isfinite(history.history["loss"]).all()


def test_dense_adjacency_still_needs_a_node_count():
    with pytest.raises(ValueError, match="fixed number of nodes"):
        GCNConv(2)([keras.Input((None, 2)), keras.Input((None, None))])


@pytest.mark.parametrize("dtype", ["float32", "mixed_float16",
                                   "mixed_bfloat16"])
def test_gat_without_self_loops_stays_finite(dtype):
    # Node 3 has no incoming edge and no self loop; padding rows point at
    # node 0. Neither may turn the softmax into inf - inf.
    x = np.random.default_rng(0).normal(size=(1, 4, 3)).astype("float32")
    layer = GATConv(2, num_heads=2, add_self_loops=False, dtype=dtype)
    out = keras.ops.convert_to_numpy(
        keras.ops.cast(layer([x, EDGES]), "float32"))
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0, 3], 0.0)
    grads_ok = _finite_gradient(layer, x)
    assert grads_ok


def _finite_gradient(layer, x):
    model_in = [keras.Input((4, 3)), keras.Input((None, 2), dtype="int32")]
    model = keras.Model(model_in, layer(model_in))
    model.compile("sgd", "mse")
    model.train_on_batch([x, EDGES], np.ones((1, 4, 4), "float32"))
    return all(np.isfinite(keras.ops.convert_to_numpy(v)).all()
               for v in model.trainable_variables)
