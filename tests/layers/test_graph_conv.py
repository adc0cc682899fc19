"""GCNConv and GATConv: numpy references, dense vs edge list, layer checks."""

import keras
import numpy as np
import pytest

from layer_checks import run_layer_check

from kerakit.layers import GATConv
from kerakit.layers import GCNConv

NODES, FEATURES = 5, 3
# Directed edges [source, target]; a padding row of -1 at the end.
EDGES = np.array([[0, 1], [1, 0], [1, 2], [2, 3], [3, 1], [4, 0], [-1, -1]])


def _dense(edges, nodes=NODES):
    a = np.zeros((nodes, nodes), "float32")
    for s, t in edges:
        if s >= 0:
            a[t, s] = 1.0
    return a


def _batch(rng):
    x = rng.normal(size=(2, NODES, FEATURES)).astype("float32")
    edges = np.stack([EDGES, EDGES[::-1] * 0 + EDGES[[2, 1, 0, 3, 4, 6, 5]]])
    edges = edges.astype("int32")
    dense = np.stack([_dense(e) for e in edges])
    return x, edges, dense


def _gcn_reference(x, a, kernel, bias):
    a_hat = a + np.eye(len(a))
    d = 1.0 / np.sqrt(a_hat.sum(1))
    return (d[:, None] * a_hat * d[None, :]) @ x @ kernel + bias


def _gat_reference(x, a, kernel, att_s, att_t, bias, heads, units, concat):
    a_hat = a + np.eye(len(a))
    h = (x @ kernel).reshape(len(x), heads, units)
    out = np.zeros((len(x), heads, units))
    for k in range(heads):
        s = h[:, k] @ att_s[k]
        t = h[:, k] @ att_t[k]
        for i in range(len(x)):
            nbrs = np.nonzero(a_hat[i])[0]
            e = t[i] + s[nbrs]
            e = np.where(e > 0, e, 0.2 * e)
            w = np.exp(e - e.max())
            w /= w.sum()
            out[i, k] = (w[:, None] * h[nbrs, k]).sum(0)
    out = out.reshape(len(x), -1) if concat else out.mean(1)
    return out + bias


def _np(weights):
    return [keras.ops.convert_to_numpy(w) for w in weights]


def test_gcn_matches_numpy_dense_and_edges():
    rng = np.random.default_rng(0)
    x, edges, dense = _batch(rng)
    layer = GCNConv(4, bias_initializer="random_normal")
    out_dense = keras.ops.convert_to_numpy(layer([x, dense]))
    out_edges = keras.ops.convert_to_numpy(layer([x, edges]))
    kernel, bias = _np(layer.weights)
    for b in range(2):
        ref = _gcn_reference(x[b], dense[b], kernel, bias)
        np.testing.assert_allclose(out_dense[b], ref, atol=1e-5)
        np.testing.assert_allclose(out_edges[b], ref, atol=1e-5)


@pytest.mark.parametrize("concat", [True, False])
def test_gat_matches_numpy_dense_and_edges(concat):
    rng = np.random.default_rng(0)
    x, edges, dense = _batch(rng)
    layer = GATConv(3, num_heads=2, concat_heads=concat,
                    bias_initializer="random_normal")
    out_dense = keras.ops.convert_to_numpy(layer([x, dense]))
    out_edges = keras.ops.convert_to_numpy(layer([x, edges]))
    kernel, att_s, att_t, bias = _np(layer.weights)
    assert out_dense.shape == (2, NODES, 6 if concat else 3)
    for b in range(2):
        ref = _gat_reference(x[b], dense[b], kernel, att_s, att_t, bias, 2,
                             3, concat)
        np.testing.assert_allclose(out_dense[b], ref, atol=1e-5)
        np.testing.assert_allclose(out_edges[b], ref, atol=1e-5)


@pytest.mark.parametrize("layer_cls", [GCNConv, GATConv])
@pytest.mark.parametrize("form", ["dense", "edges"])
def test_layer_checks(tmp_path, layer_cls, form):
    rng = np.random.default_rng(0)
    x, edges, dense = _batch(rng)
    adjacency, spec = ((dense, ((NODES, NODES), "float32")) if form == "dense"
                       else (edges, ((len(EDGES), 2), "int32")))
    kwargs = {"num_heads": 2} if layer_cls is GATConv else {}
    units = 4 * (2 if layer_cls is GATConv else 1)
    run_layer_check(tmp_path,
                    lambda: layer_cls(4, activation="tanh", **kwargs),
                    [((NODES, FEATURES), "float32"), spec], [x, adjacency],
                    (2, NODES, units),
                    rng.normal(size=(2, NODES, units)).astype("float32"))


def test_clear_errors():
    with pytest.raises(ValueError, match="adjacency_format"):
        GCNConv(2, adjacency_format="sparse")
    with pytest.raises(ValueError, match="features, adjacency"):
        GCNConv(2)(keras.ops.ones((1, 3, 2)))
    with pytest.raises(ValueError, match="fixed number of nodes"):
        GATConv(2)([keras.Input((None, 2)), keras.Input((None, None))])
