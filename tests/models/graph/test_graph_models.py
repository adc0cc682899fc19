"""GCN, GAT and Graph Transformer: counts, references, readouts, training."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.graph import positions as positions_module
from kerakit.models.graph.blocks import tiny_graph
from kerakit.models.graph.gat import gat
from kerakit.models.graph.gcn import gcn
from kerakit.models.graph.graph_transformer import graph_transformer
from kerakit.models.graph.positions import laplacian_positions
from kerakit.testing import ModelTestCase

MODELS = ["gcn", "gat", "graph_transformer"]
SMALL = {
    "gcn": {"hidden_dim": 8},
    "gat": {"hidden_dim": 4, "num_heads": 2},
    "graph_transformer": {"num_layers": 2, "hidden_dim": 8, "num_heads": 2,
                          "num_eigenvectors": 3},
}
FACTORIES = {"gcn": gcn, "gat": gat, "graph_transformer": graph_transformer}
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _np(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor), "float64")


def _inputs(name, graph, k=3, edge_dim=None):
    x = {"features": graph["features"], "edges": graph["edges"]}
    nodes = graph["features"].shape[1]
    if name == "graph_transformer" and k:
        x["positions"] = laplacian_positions(graph["edges"][0], nodes,
                                             k)[None]
    if edge_dim:
        rng = np.random.default_rng(5)
        x["edge_features"] = rng.normal(
            size=(*graph["edges"].shape[:2], edge_dim)).astype("float32")
    if "graph_index" in graph:
        x["graph_index"] = graph["graph_index"]
    return x


def _union(num_features=5, seed=0):
    """3 graphs in 4 slots (slot 3 empty) plus 2 padding nodes."""
    pieces = [[(0, 1), (1, 2), (2, 3)], [(0, 1), (1, 2), (2, 0)], [(0, 1)]]
    sizes = [4, 3, 2]
    edges, graph_index, start = [], [], 0
    for g, (pairs, size) in enumerate(zip(pieces, sizes)):
        for a, b in pairs:
            edges += [[start + a, start + b], [start + b, start + a]]
        graph_index += [g] * size
        start += size
    graph_index += [-1, -1]
    edges += [[-1, -1]] * 3
    rng = np.random.default_rng(seed)
    return {
        "features": rng.normal(size=(1, start + 2, num_features)).astype(
            "float32"),
        "edges": np.asarray([edges], "int32"),
        "graph_index": np.asarray([graph_index], "int32"),
        "labels": np.array([[0, 1, 2, 0]], "int32"),
        "mask": np.array([[1.0, 1.0, 1.0, 0.0]], "float32"),
    }


def _dense(edges, nodes):
    a = np.zeros((nodes, nodes))
    for s, t in edges:
        if s >= 0:
            a[t, s] = 1.0
    return a


# Canonical counts, derived from the layer sizes:
# GCN Cora: 1433*16 + 16*7 = 23,040 (no biases).
# GAT Cora: 1433*64 + 2*8*8 (attention vectors) + 64*7 + 2*1*7 = 92,302.
# Graph Transformer (defaults, Cora input): see graph_transformer.py.
@pytest.mark.parametrize("name,count", [
    ("gcn_cora", 23_040), ("gcn", 23_040), ("gat_cora", 92_302),
    ("gat", 92_302), ("graph_transformer", 634_407)])
def test_canonical_parameter_counts(name, count):
    assert kerakit.build(name).count_params() == count


def test_cora_variants_fix_the_architecture():
    model = kerakit.build("gat_cora", input_shape=(None, 10), num_classes=3)
    assert model.count_params() == 10 * 64 + 128 + 64 * 3 + 2 * 3
    with pytest.raises(TypeError, match="fixes"):
        kerakit.build("gcn_cora", hidden_dim=32)
    with pytest.raises(TypeError, match="fixes"):
        kerakit.build("gat_cora", num_heads=4)


@pytest.mark.parametrize("name", MODELS)
def test_node_level_any_graph_size(name):
    model = FACTORIES[name]((None, 6), 3, **SMALL[name])
    assert model.output_shape == (None, None, 3)
    for nodes in (7, 12):
        graph = tiny_graph(nodes, 6)
        out = model(_inputs(name, graph), training=False)
        assert tuple(out.shape) == (1, nodes, 3)
        assert np.isfinite(_np(out)).all()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("mode", ["mean", "sum", "max"])
def test_readout_pools_each_graph_like_numpy(name, mode):
    union = _union()
    model = FACTORIES[name]((None, 5), 3, readout=mode, max_graphs=4,
                            **SMALL[name])
    x = _inputs(name, union)
    pool = model.get_layer(f"{name}_readout")
    head = model.get_layer(f"{name}_logits")
    probe = keras.Model(model.input, [pool.input[0], pool.output, model.output])
    states, pooled, logits = (_np(t) for t in probe(x, training=False))
    assert logits.shape == (1, 4, 3)
    index = union["graph_index"][0]
    reduce = {"mean": np.mean, "sum": np.sum, "max": np.max}[mode]
    expected = np.zeros((4, states.shape[-1]))
    for g in range(3):
        expected[g] = reduce(states[0][index == g], axis=0)
    np.testing.assert_allclose(pooled[0], expected, rtol=1e-5, atol=1e-5)
    kernel, bias = (_np(w) for w in head.weights)
    np.testing.assert_allclose(logits[0], expected @ kernel + bias,
                               rtol=1e-5, atol=1e-5)
    # The empty slot pools to zeros (its logits are the head's bias).
    np.testing.assert_array_equal(pooled[0, 3], 0.0)
    # Padding nodes (no edges, graph id -1) change nothing.
    x["features"] = x["features"].copy()
    x["features"][0, -2:] = 50.0
    np.testing.assert_allclose(_np(model(x, training=False)), logits,
                               rtol=1e-5, atol=1e-5)


def _gcn_dense(x, a, kernels):
    a_hat = a + np.eye(len(a))
    d = 1.0 / np.sqrt(a_hat.sum(1))
    norm = d[:, None] * a_hat * d[None, :]
    h = np.maximum(norm @ x @ kernels[0], 0.0)
    return norm @ h @ kernels[1]


def _gat_dense_layer(x, a, kernel, att_s, att_t, concat):
    heads, units = att_s.shape
    a_hat = a + np.eye(len(a))
    h = (x @ kernel).reshape(len(x), heads, units)
    out = np.zeros((len(x), heads, units))
    for k in range(heads):
        e = (h[:, k] @ att_t[k])[:, None] + (h[:, k] @ att_s[k])[None, :]
        e = np.where(e > 0, e, 0.2 * e)
        e = np.where(a_hat > 0, e, -np.inf)
        w = np.exp(e - e.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        out[:, k] = w @ h[:, k]
    if concat:
        out = out.reshape(len(x), -1)
        return np.where(out > 0, out, np.expm1(out))  # ELU
    return out.mean(1)


@pytest.mark.parametrize("name", ["gcn", "gat"])
def test_edge_list_equals_dense_reference(name):
    graph = tiny_graph(9, 5, padding_edges=3)
    model = kerakit.build(name, input_shape=(None, 5), num_classes=3,
                          **SMALL[name])
    out = _np(model(_inputs(name, graph), training=False))[0]
    x = graph["features"][0].astype("float64")
    a = _dense(graph["edges"][0], 9)
    if name == "gcn":
        kernels = [_np(model.get_layer(f"gcn_gcn{i}").kernel)
                   for i in (1, 2)]
        ref = _gcn_dense(x, a, kernels)
    else:
        ref = x
        for i, concat in ((1, True), (2, False)):
            layer = model.get_layer(f"gat_gat{i}")
            ref = _gat_dense_layer(ref, a, _np(layer.kernel),
                                   _np(layer.attention_source),
                                   _np(layer.attention_target), concat)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    # The same layers given the dense adjacency agree too.
    h = graph["features"]
    dense = a[None].astype("float32")
    for i in (1, 2):
        h = model.get_layer(f"{name}_{name}{i}")([h, dense])
    np.testing.assert_allclose(_np(h)[0], ref, rtol=1e-4, atol=1e-5)


def test_graph_transformer_attends_over_neighbours_like_numpy():
    graph = tiny_graph(8, 5, padding_edges=2)
    model = graph_transformer((None, 5), 3, num_layers=2, hidden_dim=8,
                              num_heads=2, num_eigenvectors=3, edge_dim=2)
    x = _inputs("graph_transformer", graph, edge_dim=2)
    attention = model.get_layer("graph_transformer_layer1_attention")
    h_in, edges_in, e_in = attention.input
    probe = keras.Model(model.input, [h_in, e_in, *attention.output])
    h, e, out, edge_out = (_np(t)[0] for t in probe(x, training=False))
    q, k, v, w_e = (_np(w) for w in (attention.query_kernel,
                                     attention.key_kernel,
                                     attention.value_kernel,
                                     attention.edge_kernel))
    heads, dk = 2, 4
    edges = graph["edges"][0]
    ref = np.zeros((8, heads, dk))
    ref_edges = np.zeros((len(edges), heads, dk))
    qh, kh, vh = ((h @ m).reshape(8, heads, dk) for m in (q, k, v))
    eh = (e @ w_e).reshape(len(edges), heads, dk)
    for i in range(8):
        rows = [r for r, (s, t) in enumerate(edges) if s >= 0 and t == i]
        for head in range(heads):
            vec = [qh[i, head] * kh[edges[r, 0], head] / np.sqrt(dk)
                   * eh[r, head] for r in rows]
            for r, s in zip(rows, vec):
                ref_edges[r, head] = s
            score = np.array([s.sum() for s in vec])
            w = np.exp(score - score.max())
            w /= w.sum()
            ref[i, head] = sum(wj * vh[edges[r, 0], head]
                               for wj, r in zip(w, rows))
    np.testing.assert_allclose(out, ref.reshape(8, -1), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(edge_out, ref_edges.reshape(len(edges), -1),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("readout", [None, "mean"])
def test_sign_flips_only_in_training(readout):
    graph = _union() if readout else tiny_graph(8, 5)
    model = graph_transformer((None, 5), 3, readout=readout,
                              max_graphs=4 if readout else None,
                              **SMALL["graph_transformer"])
    x = _inputs("graph_transformer", graph)
    flip = model.get_layer("graph_transformer_sign_flip")
    probe = keras.Model(model.input, flip.output)
    np.testing.assert_array_equal(_np(probe(x, training=False)),
                                  x["positions"])
    np.testing.assert_array_equal(_np(model(x, training=False)),
                                  _np(model(x, training=False)))
    flipped = False
    for _ in range(6):
        out = _np(probe(x, training=True))
        np.testing.assert_allclose(np.abs(out), np.abs(x["positions"]))
        flipped |= bool((np.sign(out) != np.sign(x["positions"]))
                        [x["positions"] != 0].any())
    assert flipped


@pytest.mark.parametrize("name", MODELS)
def test_keras_round_trip_with_unknown_node_count(name, tmp_path):
    model = FACTORIES[name]((None, 5), 3, **SMALL[name])
    x = _inputs(name, tiny_graph(7, 5))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    as_json = lambda m: json.loads(json.dumps(m.get_config()))  # noqa: E731
    assert as_json(loaded) == as_json(model)
    np.testing.assert_allclose(_np(loaded(x, training=False)),
                               _np(model(x, training=False)), atol=1e-5)


@pytest.mark.parametrize("name,extra", [
    ("gcn", {}), ("gat", {}), ("graph_transformer", {}),
    # BatchNorm, edge features, and no positional encoding (whose random
    # sign flips would make the 5-step training loss noisy with BatchNorm).
    ("graph_transformer", {"normalization": "batch", "edge_dim": 2,
                           "num_eigenvectors": 0})])
def test_graph_level_standard_test(name, extra, tmp_path):
    # Shapes, .keras save/load, and 5 training steps on one union whose
    # empty slot is weighted 0.
    union = _union()
    kwargs = {"input_shape": (None, 5), "num_classes": 3, "readout": "sum",
              "max_graphs": 4, "dropout": 0.0, **SMALL[name], **extra}
    ModelTestCase().run_model_test(
        FACTORIES[name], kwargs,
        _inputs(name, union, k=extra.get("num_eigenvectors", 3),
                edge_dim=extra.get("edge_dim")), (1, 4, 3),
        targets=union["labels"], loss=LOSS, tmp_dir=str(tmp_path),
        fit_kwargs={"sample_weight": union["mask"]})


@pytest.mark.parametrize("name", MODELS)
def test_one_fit_step_lowers_the_masked_loss(name):
    # Full-batch node classification: one graph, loss on the masked nodes.
    graph = tiny_graph(12, 6)
    model = kerakit.build(name, input_shape=(None, 6), num_classes=3,
                          **SMALL[name])
    x, y, mask = _inputs(name, graph), graph["labels"], graph["mask"]
    model.compile(keras.optimizers.Adam(0.01), LOSS)
    before = model.evaluate(x, y, sample_weight=mask, verbose=0)
    # Labels of unmasked nodes do not count.
    other = y.copy()
    other[mask == 0] = (other[mask == 0] + 1) % 3
    assert np.isclose(model.evaluate(x, other, sample_weight=mask,
                                     verbose=0), before)
    model.fit(x, y, sample_weight=mask, epochs=1, batch_size=1, verbose=0)
    after = model.evaluate(x, y, sample_weight=mask, verbose=0)
    assert after < before


@pytest.mark.parametrize("name", MODELS)
def test_mixed_precision(name):
    backend = keras.backend.backend()
    policies = ["mixed_bfloat16"] + (["mixed_float16"]
                                     if backend != "torch" else [])
    kwargs = {"input_shape": (10, 6), "num_classes": 3, **SMALL[name]}
    if name == "graph_transformer":
        kwargs["edge_dim"] = 2
    ModelTestCase().run_precision_test(
        FACTORIES[name], kwargs,
        _inputs(name, tiny_graph(10, 6), edge_dim=kwargs.get("edge_dim")),
        policies=policies)


def test_clear_errors():
    with pytest.raises(ValueError, match="max_graphs"):
        gcn((None, 4), 2, readout="mean")
    with pytest.raises(ValueError, match="readout"):
        gcn((None, 4), 2, max_graphs=3)
    with pytest.raises(TypeError, match="readout"):
        kerakit.build("gat", readout="median", max_graphs=2)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        graph_transformer((None, 4), 2, hidden_dim=10, num_heads=4)
    with pytest.raises(ValueError, match="nodes, features"):
        gcn((4,), 2)


def _path(n):
    return np.array([[i, i + 1] for i in range(n - 1)])


def test_laplacian_positions_of_a_path_graph():
    # Path P_n: L_sym has eigenvalues 1 - cos(pi j / (n - 1)) and
    # eigenvectors sqrt(degree_i) * cos(pi j i / (n - 1)), normalised.
    n, k = 6, 3
    pos = laplacian_positions(_path(n), n, k)
    assert pos.shape == (n, k) and pos.dtype == np.float32
    degree = np.array([1] + [2] * (n - 2) + [1])
    i = np.arange(n)
    for j in range(1, k + 1):
        want = np.sqrt(degree) * np.cos(np.pi * j * i / (n - 1))
        want /= np.linalg.norm(want)
        got = pos[:, j - 1]
        sign = np.sign(got @ want)
        np.testing.assert_allclose(sign * got, want, atol=1e-5)


def test_laplacian_positions_of_a_cycle_and_padding():
    # Cycle C_n (degree 2): L = I - A / 2, eigenvalues 1 - cos(2 pi j / n);
    # pairs are degenerate, so check L v = lambda v and orthonormality.
    n = 8
    edges = np.array([[i, (i + 1) % n] for i in range(n)])
    pos = laplacian_positions(edges, n, 4).astype("float64")
    lap = np.eye(n) - (_dense(edges, n) + _dense(edges, n).T) / 2
    values = 1 - np.cos(2 * np.pi * np.array([1, 1, 2, 2]) / n)
    np.testing.assert_allclose(lap @ pos, pos * values, atol=1e-5)
    np.testing.assert_allclose(pos.T @ pos, np.eye(4), atol=1e-5)
    # Fewer than k + 1 nodes: zero columns; padding rows are ignored.
    small = laplacian_positions(np.array([[0, 1], [-1, -1]]), 2, 3)
    assert small.shape == (2, 3)
    np.testing.assert_array_equal(small[:, 1:], 0.0)
    np.testing.assert_allclose(np.abs(small[:, 0]), [0.5 ** 0.5] * 2,
                               atol=1e-6)


def test_laplacian_positions_sparse_solver_agrees(monkeypatch):
    n = 40
    dense = laplacian_positions(_path(n), n, 3)
    monkeypatch.setattr(positions_module, "DENSE_MAX_NODES", 10)
    sparse = laplacian_positions(_path(n), n, 3)
    signs = np.sign((dense * sparse).sum(0))
    np.testing.assert_allclose(sparse * signs, dense, atol=1e-4)
    with pytest.raises(ValueError, match="num_nodes"):
        laplacian_positions(_path(5), 3, 2)


@pytest.mark.parametrize("name, regularised", [
    ("gcn", ("gcn_gcn1/kernel",)),
    ("gat", ("gat_gat1/kernel", "gat_gat1/attention_source",
             "gat_gat1/attention_target", "gat_gat2/kernel",
             "gat_gat2/attention_source", "gat_gat2/attention_target")),
])
def test_weight_decay_is_the_papers_l2_term(name, regularised, tmp_path):
    model = kerakit.build(name, input_shape=(None, 5), num_classes=3,
                          hidden_dim=4, weight_decay=5e-4)
    # The papers add weight_decay * tf.nn.l2_loss(W) = 5e-4 * sum(W**2) / 2.
    weights = {v.path: keras.ops.convert_to_numpy(v) for v in model.weights}
    expected = sum(5e-4 * np.sum(weights[path] ** 2) / 2
                   for path in regularised)
    penalty = sum(float(keras.ops.convert_to_numpy(loss))
                  for loss in model.losses)
    np.testing.assert_allclose(penalty, expected, rtol=1e-5)
    assert not kerakit.build(name, input_shape=(None, 5), num_classes=3,
                             hidden_dim=4).losses
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        sum(float(keras.ops.convert_to_numpy(x)) for x in loaded.losses),
        expected, rtol=1e-5)
    with pytest.raises(ValueError, match="weight_decay must be a number"):
        kerakit.build(name, weight_decay=-1.0)
