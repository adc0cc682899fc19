"""GraphReadout: per-graph mean/sum/max against numpy, padding ignored."""

import json

import keras
import numpy as np
import pytest

from kerakit.layers import GraphReadout

# Batch of 2 unions, 7 node slots, up to 3 graphs; -1 marks padding nodes.
# Sample 0: graph 2 has no nodes; sample 1: graph 0 has none.
GRAPH_INDEX = np.array([[0, 0, 1, 1, 1, -1, -1],
                        [2, 1, 1, 2, 2, 2, -1]], "int32")


def _reference(states, graph_index, mode, graphs):
    out = np.zeros((len(states), graphs, states.shape[-1]), "float32")
    for b in range(len(states)):
        for g in range(graphs):
            rows = states[b][graph_index[b] == g]
            if len(rows):
                out[b, g] = {"mean": rows.mean, "sum": rows.sum,
                             "max": rows.max}[mode](axis=0)
    return out


@pytest.mark.parametrize("mode", ["mean", "sum", "max"])
def test_readout_matches_numpy(mode):
    rng = np.random.default_rng(0)
    states = rng.normal(size=(2, 7, 4)).astype("float32")
    # Padding nodes hold large values that must not leak into any graph.
    states[GRAPH_INDEX < 0] = 100.0
    out = GraphReadout(mode, max_graphs=3)([states, GRAPH_INDEX])
    out = keras.ops.convert_to_numpy(out)
    ref = _reference(states, GRAPH_INDEX, mode, 3)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    assert (out[0, 2] == 0).all() and (out[1, 0] == 0).all()


@pytest.mark.parametrize("mode", ["mean", "sum", "max"])
def test_readout_trains_and_has_a_symbolic_shape(mode):
    states = keras.Input((None, 3))
    graph_index = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Dense(4)(states)
    out = GraphReadout(mode, max_graphs=5)([hidden, graph_index])
    assert tuple(out.shape) == (None, 5, 4)
    model = keras.Model([states, graph_index], out)
    x = np.random.default_rng(1).normal(size=(2, 7, 3)).astype("float32")
    before = [keras.ops.convert_to_numpy(w) for w in model.weights]
    model.compile("sgd", "mse")
    loss = model.train_on_batch([x, GRAPH_INDEX], np.ones((2, 5, 4)))
    assert np.isfinite(loss)
    after = [keras.ops.convert_to_numpy(w) for w in model.weights]
    assert all(np.isfinite(w).all() for w in after)
    assert not np.allclose(before[0], after[0])


def test_readout_config_round_trip():
    layer = GraphReadout("sum", max_graphs=4, name="pool")
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    twin = keras.saving.deserialize_keras_object(config)
    assert twin.get_config() == layer.get_config()
    assert (twin.mode, twin.max_graphs, twin.name) == ("sum", 4, "pool")


def test_readout_errors():
    with pytest.raises(ValueError, match="mode"):
        GraphReadout("median", max_graphs=2)
    with pytest.raises(ValueError, match="max_graphs"):
        GraphReadout("mean", max_graphs=None)
