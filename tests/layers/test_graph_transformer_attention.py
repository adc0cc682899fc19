"""GraphTransformerAttention: numpy reference, edge features, layer checks."""

import keras
import numpy as np
import pytest

from layer_checks import run_layer_check

from kerakit.layers import GraphTransformerAttention

NODES, FEATURES, HEADS, KEY_DIM, EDGE_DIM = 5, 3, 2, 3, 4
# Node 4 has no incoming edge; node 1 has three; a padding row at the end.
EDGES = np.array([[0, 1], [2, 1], [3, 1], [1, 0], [1, 2], [2, 3], [4, 3],
                  [-1, -1]], "int32")


def _reference(x, edges, query, key, value, edge_kernel=None,
               edge_features=None):
    n = len(x)
    q = (x @ query).reshape(n, HEADS, KEY_DIM)
    k = (x @ key).reshape(n, HEADS, KEY_DIM)
    v = (x @ value).reshape(n, HEADS, KEY_DIM)
    e = None
    if edge_kernel is not None:
        e = (edge_features @ edge_kernel).reshape(-1, HEADS, KEY_DIM)
    out = np.zeros((n, HEADS, KEY_DIM))
    edge_out = np.zeros((len(edges), HEADS, KEY_DIM))
    for i in range(n):
        rows = [r for r, (s, t) in enumerate(edges) if s >= 0 and t == i]
        for h in range(HEADS):
            vectors = []
            for r in rows:
                s = q[i, h] * k[edges[r, 0], h] / np.sqrt(KEY_DIM)
                if e is not None:
                    s = s * e[r, h]
                edge_out[r, h] = s
                vectors.append(s)
            if not rows:
                continue
            scores = np.array([s.sum() for s in vectors])
            w = np.exp(scores - scores.max())
            w /= w.sum()
            out[i, h] = sum(wj * v[edges[r, 0], h] for wj, r in zip(w, rows))
    return out.reshape(n, -1), edge_out.reshape(len(edges), -1)


def _np(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _data(rng, batch=2):
    x = rng.normal(size=(batch, NODES, FEATURES)).astype("float32")
    edges = np.stack([EDGES, EDGES[[3, 0, 1, 2, 4, 7, 5, 6]]])[:batch]
    ef = rng.normal(size=(batch, len(EDGES), EDGE_DIM)).astype("float32")
    return x, edges, ef


def test_attention_matches_numpy_without_edge_features():
    rng = np.random.default_rng(0)
    x, edges, _ = _data(rng)
    layer = GraphTransformerAttention(HEADS, KEY_DIM)
    out = _np(layer([x, edges]))
    assert out.shape == (2, NODES, HEADS * KEY_DIM)
    for b in range(2):
        ref, _ = _reference(x[b], edges[b], _np(layer.query_kernel),
                            _np(layer.key_kernel), _np(layer.value_kernel))
        np.testing.assert_allclose(out[b], ref, atol=1e-5)
    # A node with no incoming edge attends to nothing.
    np.testing.assert_array_equal(out[0, 4], 0.0)


def test_attention_matches_numpy_with_edge_features():
    rng = np.random.default_rng(1)
    x, edges, ef = _data(rng)
    layer = GraphTransformerAttention(HEADS, KEY_DIM, edge_output=True,
                                      use_bias=False)
    out, edge_out = layer([x, edges, ef])
    out, edge_out = _np(out), _np(edge_out)
    assert edge_out.shape == (2, len(EDGES), HEADS * KEY_DIM)
    for b in range(2):
        ref, edge_ref = _reference(
            x[b], edges[b], _np(layer.query_kernel), _np(layer.key_kernel),
            _np(layer.value_kernel), _np(layer.edge_kernel), ef[b])
        np.testing.assert_allclose(out[b], ref, atol=1e-5)
        np.testing.assert_allclose(edge_out[b], edge_ref, atol=1e-5)
    # The padding row's edge output is zero.
    np.testing.assert_array_equal(edge_out[0, -1], 0.0)


def test_only_neighbours_matter():
    # Changing a node that sends no edge into node 1 leaves node 1 as is.
    rng = np.random.default_rng(2)
    x, edges, _ = _data(rng, batch=1)
    layer = GraphTransformerAttention(HEADS, KEY_DIM)
    before = _np(layer([x, edges]))
    x2 = x.copy()
    x2[0, 4] += 10.0  # node 4 only sends into node 3
    after = _np(layer([x2, edges]))
    np.testing.assert_allclose(after[0, :3], before[0, :3], atol=1e-6)
    assert not np.allclose(after[0, 3], before[0, 3])


@pytest.mark.parametrize("with_edges", [False, True])
def test_layer_checks(tmp_path, with_edges):
    rng = np.random.default_rng(0)
    x, edges, ef = _data(rng)
    specs = [((NODES, FEATURES), "float32"), ((len(EDGES), 2), "int32")]
    inputs = [x, edges]
    if with_edges:
        specs.append(((len(EDGES), EDGE_DIM), "float32"))
        inputs.append(ef)
    run_layer_check(
        tmp_path,
        lambda: GraphTransformerAttention(HEADS, KEY_DIM, use_bias=True),
        specs, inputs, (2, NODES, HEADS * KEY_DIM),
        rng.normal(size=(2, NODES, HEADS * KEY_DIM)).astype("float32"))


def test_unknown_node_axis_and_errors():
    layer = GraphTransformerAttention(2, 4, edge_output=True)
    out = layer([keras.Input((None, 3)), keras.Input((None, 2), dtype="int32"),
                 keras.Input((None, 5))])
    assert [tuple(o.shape) for o in out] == [(None, None, 8), (None, None, 8)]
    with pytest.raises(ValueError, match="positive"):
        GraphTransformerAttention(0, 4)
    with pytest.raises(ValueError, match="edges"):
        GraphTransformerAttention(2, 4)(keras.ops.ones((1, 3, 2)))
