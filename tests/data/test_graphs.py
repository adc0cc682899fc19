"""Graph datasets: loaders on small files the tests write, checks, splits,
the restricted unpickler and the graph preprocessing."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
from graph_files import old_pickle
from graph_files import write_planetoid
from graph_files import write_tudataset

from kerakit.data.datasets import DatasetUnavailableError
from kerakit.data.graph_preprocessing import GraphPreprocessor
from kerakit.data.graph_preprocessing import pack_graphs
from kerakit.data.graphs import Graph
from kerakit.data.graphs import load_graph_data
from kerakit.data.graphs import split_graphs
from kerakit.data.planetoid import RestrictedUnpickler
from kerakit.data.planetoid import UnsafePickleError
from kerakit.data.planetoid import read_pickle
from kerakit.data.splits import DataError


def load(name, seed=0, **spec):
    return load_graph_data({"name": name, **spec}, seed)


# --------------------------------------------------------------- planetoid
def test_planetoid_files_give_the_public_split(tmp_path):
    info = write_planetoid(tmp_path / "cora")
    data = load(f"planetoid:{tmp_path / 'cora'}")
    assert data.graph.num_nodes == info["num_nodes"] == 700
    np.testing.assert_array_equal(data.labels, info["labels"])
    np.testing.assert_array_equal(data.graph.features, info["features"])
    masks = data.masks
    assert np.flatnonzero(masks["train"]).tolist() == list(range(60))
    assert np.flatnonzero(masks["validation"]).tolist() == list(
        range(60, 560))
    assert sorted(np.flatnonzero(masks["test"])) == sorted(info["test"])
    # Undirected edges listed both ways, no self loops or repeats.
    edges = data.graph.edges
    assert len(edges) == 2 * len(info["edges"])
    assert {tuple(e) for e in edges} == {tuple(e[::-1]) for e in edges}
    assert data.num_classes == 3


def test_planetoid_test_rows_follow_the_test_index_order(tmp_path):
    # tx row i belongs to node test.index[i], whatever the file order.
    order = np.arange(600, 700)[::-1]
    info = write_planetoid(tmp_path / "cora", test_ids=order)
    data = load(f"planetoid:{tmp_path / 'cora'}")
    np.testing.assert_array_equal(data.graph.features[order],
                                  info["features"][order])


def test_citeseer_isolated_test_nodes_get_zero_rows(tmp_path):
    ids = np.r_[600:603, 604:650, 651:700]
    write_planetoid(tmp_path, "citeseer", test_ids=ids[::-1])
    data = load(f"planetoid:{tmp_path / 'citeseer'}")
    assert data.graph.num_nodes == 700
    for missing in (603, 650):
        assert not data.graph.features[missing].any()
        assert not any(m[missing] for m in data.masks.values())
    assert data.masks["test"].sum() == 98


@pytest.mark.parametrize("layout", ["folder", "raw", "parent"])
def test_planetoid_folder_layouts(tmp_path, layout):
    folder = {"folder": tmp_path / "cora", "raw": tmp_path / "cora" / "raw",
              "parent": tmp_path}[layout]
    write_planetoid(folder)
    assert load(f"planetoid:{tmp_path / 'cora'}").graph.num_nodes == 700


def test_missing_planetoid_files_say_where_to_put_them(tmp_path):
    with pytest.raises(DatasetUnavailableError,
                       match=r"(?s)not found at .*nowhere.*ind\.cora\.x.*"
                       "never downloads.*kimiyoung/planetoid"):
        load(f"planetoid:{tmp_path / 'nowhere' / 'cora'}")
    write_planetoid(tmp_path / "cora")
    os.remove(tmp_path / "cora" / "ind.cora.ty")
    with pytest.raises(DatasetUnavailableError, match=r"missing: ind.cora.ty"):
        load(f"planetoid:{tmp_path / 'cora'}")


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_restricted_unpickler_refuses_a_crafted_pickle(tmp_path):
    marker = tmp_path / "pwned"
    crafted = pickle.dumps({"x": _Exploit(marker)}, protocol=2)
    # The plain unpickler would run the command; ours refuses it first.
    with pytest.raises(UnsafePickleError, match=r"refused to unpickle "
                       r"(posix|os|nt)\.system.*crafted"):
        RestrictedUnpickler(io.BytesIO(crafted), "f").load()
    assert not marker.exists()
    evil = b"cbuiltins\neval\n(V__import__('os')\ntR."
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        RestrictedUnpickler(io.BytesIO(evil), "f").load()
    # In a Planetoid folder the error names the file.
    write_planetoid(tmp_path / "cora")
    (tmp_path / "cora" / "ind.cora.graph").write_bytes(crafted)
    with pytest.raises(UnsafePickleError, match="ind.cora.graph"):
        load(f"planetoid:{tmp_path / 'cora'}")
    assert not marker.exists()


def test_restricted_unpickler_reads_old_and_new_names(tmp_path):
    import scipy.sparse

    matrix = scipy.sparse.csr_matrix(np.eye(3, dtype="float32"))
    for data in (old_pickle(matrix), pickle.dumps(matrix, protocol=2),
                 pickle.dumps(matrix)):
        path = tmp_path / "m"
        path.write_bytes(data)
        np.testing.assert_array_equal(read_pickle(path).toarray(), np.eye(3))
    path.write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="cannot read this Planetoid file"):
        read_pickle(path)


# --------------------------------------------------------------- tudataset
def test_tudataset_graphs_labels_and_features(tmp_path):
    write_tudataset(tmp_path / "TOY", attributes=True, edge_attributes=True)
    data = load(f"tudataset:{tmp_path / 'TOY'}")
    assert len(data.graphs) == 6
    assert data.labels.tolist() == [1, 0, 1, 0, 1, 0]
    assert data.class_names == ["-1", "1"]
    first, second = data.graphs[0], data.graphs[1]
    assert first.num_nodes == 3 and len(first.edges) == 6
    assert len(second.edges) == 4  # a path: 2 edges, both ways
    assert first.node_labels.tolist() == [0, 1, 0]
    np.testing.assert_allclose(second.features, [[1.5, 1], [2, 1], [2.5, 1]])
    assert second.edge_features.shape == (4, 1)
    # A graph's edges use local node ids.
    assert second.edges.max() == 2


@pytest.mark.parametrize("part, text, words", [
    ("A", "1, 2\n2, 99\n", "node ids must lie in 1..18"),
    ("A", "1, 4\n", "joins nodes of two different graphs"),
    ("graph_indicator", "1\n" * 18, "graph ids must run 1..6"),
    ("node_labels", "1\n", "1 lines for 18 nodes"),
    ("A", "1; 2\n", "comma-separated integers"),
])
def test_tudataset_errors_name_the_file(tmp_path, part, text, words):
    write_tudataset(tmp_path / "TOY")
    (tmp_path / "TOY" / f"TOY_{part}.txt").write_text(text)
    with pytest.raises(DataError, match=f"TOY_{part}.txt.*{words}"):
        load(f"tudataset:{tmp_path / 'TOY'}")


# ------------------------------------------------------------------ graph:
def _npz(tmp_path, **arrays):
    rng = np.random.default_rng(0)
    base = {"edges": np.array([[0, 1], [1, 0], [1, 2], [2, 1], [3, 4],
                               [4, 3], [2, 5], [5, 2]]),
            "features": rng.normal(size=(6, 3)).astype("float32"),
            "labels": np.array([0, 1, 0, 1, 0, 1])}
    base.update(arrays)
    path = tmp_path / "g.npz"
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return f"graph:{path}"


def _masks(train, val, test, n=6):
    return {name: np.isin(np.arange(n), ids) for name, ids in zip(
        ("train_mask", "val_mask", "test_mask"), (train, val, test),
        strict=True)}


def test_graph_npz_with_masks(tmp_path):
    name = _npz(tmp_path, **_masks([0, 1], [2, 3], [4, 5]))
    data = load(name)
    assert data.graph.num_nodes == 6 and data.num_classes == 2
    assert np.flatnonzero(data.masks["validation"]).tolist() == [2, 3]


def test_graph_npz_without_masks_splits_from_the_seed(tmp_path):
    name = _npz(tmp_path)
    spec = {"labels_per_class": 1, "validation_fraction": 0.3,
            "test_fraction": 0.4}
    a, b = load(name, 0, **spec).masks, load(name, 0, **spec).masks
    assert all((a[k] == b[k]).all() for k in a)
    assert [int(m.sum()) for m in a.values()] == [2, 2, 2]
    other = load(name, 5, **spec).masks
    assert any((a[k] != other[k]).any() for k in a)


@pytest.mark.parametrize("arrays, words", [
    ({"edges": np.array([[0, 6]])}, r"nodes 0..5 .6 nodes.*\[0, 6\]"),
    ({"edges": np.array([[0.0, 1.0]])}, "edges must be integer rows"),
    (_masks([0, 1], [1, 2], [4, 5]), "train and validation masks share 1"),
    (_masks([0, 1], [], [4, 5]), "validation mask selects no node"),
    ({"train_mask": np.ones(6, bool)}, "not all of train_mask"),
    ({"features": np.full((6, 2), np.nan)}, "node features hold 12 NaN"),
    ({"labels": np.array([0.5] * 6)}, "integer class ids"),
    ({"labels": np.array([0, 1, -1, 0, 1, 0])}, "node 2 has -1.*train_mask"),
])
def test_graph_npz_errors(tmp_path, arrays, words):
    with pytest.raises(DataError, match=words):
        load(_npz(tmp_path, **arrays))


def test_missing_graph_file(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="g.npz' not found"):
        load(f"graph:{tmp_path / 'g.npz'}")


# ---------------------------------------------------------------- networkx
def test_karate_club_factions_and_identity_features():
    import networkx as nx

    data = load("networkx:karate", labels_per_class=4,
                validation_fraction=0.3, test_fraction=0.5)
    club = [nx.karate_club_graph().nodes[i]["club"] for i in range(34)]
    assert [data.class_names[c] for c in data.labels] == club
    np.testing.assert_array_equal(data.graph.features, np.eye(34))
    assert [int(m.sum()) for m in data.masks.values()] == [8, 10, 16]
    train = data.masks["train"]
    assert np.bincount(data.labels[train]).tolist() == [4, 4]


def test_cycles_vs_paths_has_a_known_answer():
    data = load("networkx:cycles_vs_paths", examples=40)
    assert np.bincount(data.labels).tolist() == [20, 20]
    for graph, label in zip(data.graphs, data.labels,
                            strict=True):
        degree = np.bincount(graph.edges[:, 1], minlength=graph.num_nodes)
        assert 4 <= graph.num_nodes <= 16
        assert (degree == 1).sum() == (2 if label == 1 else 0)


def test_graph_split_is_stratified_and_deterministic():
    labels = np.array([0] * 30 + [1] * 10)
    train, val, test = split_graphs(labels, {}, seed=3)
    assert sorted(np.r_[train, val, test].tolist()) == list(range(40))
    assert np.bincount(labels[test]).tolist() == [6, 2]
    again = split_graphs(labels, {}, seed=3)
    assert all((a == b).all() for a, b in zip((train, val, test), again,
                                              strict=True))


def test_limit_caps_masks_and_graphs():
    data = load("networkx:karate", labels_per_class=4, limit=3)
    assert [int(m.sum()) for m in data.masks.values()] == [3, 3, 3]
    assert len(load("networkx:cycles_vs_paths", examples=20,
                    limit=7).graphs) == 7


# ----------------------------------------------------------- preprocessing
def test_preprocessor_columns_row_normalisation_and_round_trip(tmp_path):
    edges = np.array([[0, 1], [1, 0], [1, 2], [2, 1]])
    labelled = Graph(edges, 3, np.array([[1.0, 3.0], [0, 0], [2, 2]]),
                     np.array([5, 7, 5]))
    pre = GraphPreprocessor(row_normalize=True).fit([labelled])
    assert pre.node_label_values == [5, 7] and pre.num_features == 4
    out = pre.transform(Graph(edges, 3, labelled.features,
                              np.array([5, 9, 7]))).features
    # [features, one-hot labels], rows summing to 1; label 9 is unseen.
    np.testing.assert_allclose(out, [[0.2, 0.6, 0.2, 0], [0, 0, 0, 0],
                                     [0.4, 0.4, 0, 0.2]], rtol=1e-6)
    pre.save(tmp_path / "p.json")
    assert GraphPreprocessor.load(tmp_path / "p.json") == pre
    with pytest.raises(DataError, match="has 1 feature columns but this "
                       "run was trained on graphs with 2"):
        pre.transform(Graph(edges, 3, np.ones((3, 1)), np.zeros(3)))


def test_featureless_graphs_get_one_hot_degrees():
    star = Graph(np.array([[0, 1], [1, 0], [0, 2], [2, 0]]), 3)
    pre = GraphPreprocessor().fit([star])
    assert pre.max_degree == 2
    np.testing.assert_array_equal(pre.transform(star).features,
                                  [[0, 0, 1], [0, 1, 0], [0, 1, 0]])


def test_pack_graphs_pads_and_offsets():
    g = Graph(np.array([[0, 1], [1, 0]]), 2, np.ones((2, 1), "float32"))
    h = Graph(np.zeros((0, 2), "int64"), 1, np.full((1, 1), 2.0, "float32"))
    out = pack_graphs([g, h], num_nodes=4, num_edges=3,
                      node_arrays=[{"positions": np.ones((2, 2))},
                                   {"positions": np.full((1, 2), 3.0)}])
    assert out["features"][0, :, 0].tolist() == [1, 1, 2, 0]
    assert out["graph_index"].tolist() == [[0, 0, 1, -1]]
    assert out["edges"][0].tolist() == [[0, 1], [1, 0], [-1, -1]]
    assert out["positions"][0, :, 0].tolist() == [1, 1, 3, 0]
    assert out["edges"].dtype == np.int32
