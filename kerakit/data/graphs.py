"""Graph datasets: one graph with labelled nodes, or many labelled graphs.

A node-classification dataset is one :class:`Graph` with a class per node
and train/validation/test node masks (:class:`NodeData`); a
graph-classification dataset is a list of small graphs with a class per
graph (:class:`GraphSet`). Edges are int rows `[source, target]` (a message
flows source -> target); every loader lists an undirected edge in both
directions, and drops self loops (GCN and GAT add their own) and repeated
rows. Nothing here downloads.

Dataset names (`dataset.name` in a recipe):
    `networkx:karate`: Zachary's karate club, shipped by networkx (34
        members, 78 friendships): the label is the faction each member
        joined (0 "Mr. Hi", 1 "Officer"); the features are one-hot node ids
        (the identity matrix, as in the GCN paper's karate demo). Node
        classification; masks from the seed (`split_nodes`).
    `networkx:cycles_vs_paths`: `dataset.examples` graphs that networkx
        generates (seed 0): cycles (class 0) and paths (class 1) of 4 to 16
        nodes, node ids shuffled, no node features (the preprocessing gives
        one-hot degrees). Graph classification; the answer is known: a
        path has two nodes of degree 1, a cycle none.
    `planetoid:PATH`: Cora, CiteSeer or PubMed in the Planetoid files, with
        the standard public split (`kerakit.data.planetoid`).
    `tudataset:PATH`: the TU Dortmund text format, graph classification
        (`kerakit.data.tudataset`).
    `graph:PATH`: an `.npz` of one graph: `edges` int `(E, 2)`, `features`
        `(N, F)`, `labels` `(N,)` class ids, optionally `train_mask`,
        `val_mask`, `test_mask` (bool `(N,)`, all three or none: without
        them the nodes are split from the seed), `class_names`,
        `edge_features` `(E, D)`.

Example:
>>> data = load_graph_data({"name": "networkx:karate"}, seed=0)
>>> data.graph.num_nodes, len(data.graph.edges), data.class_names
(34, 156, ['Mr. Hi', 'Officer'])
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kerakit.data.datasets import DatasetUnavailableError
from kerakit.data.graph_types import Graph
from kerakit.data.graph_types import GraphSet
from kerakit.data.graph_types import NodeData
from kerakit.data.splits import DataError
from kerakit.data.splits import check_finite

__all__ = ["Graph", "GraphSet", "NodeData", "load_graph_data"]

SPLITS = ("train", "validation", "test")
PREFIXES = ("networkx:", "planetoid:", "tudataset:", "graph:")
NETWORKX = ("karate", "cycles_vs_paths")


def is_graph_dataset(name: str) -> bool:
    """Whether a dataset name is one this module loads.

    Example:
    >>> is_graph_dataset("planetoid:data/cora"), is_graph_dataset("digits")
    (True, False)
    """
    return name.startswith(PREFIXES)


def load_graph_data(spec: dict[str, Any], seed: int) -> NodeData | GraphSet:
    """Load and check the graph dataset a recipe's `[dataset]` names.

    Node datasets without masks get them from the seed (`split_nodes`);
    `limit` keeps the first `limit` nodes of each mask (node data) or the
    first `limit` graphs (a graph set, before splitting).

    Raises:
        DataError: Edges out of range, NaN, masks overlapping or empty...
        DatasetUnavailableError: Files that are not there.
    """
    spec = {"limit": 0, "examples": 2000, "validation_fraction": 0.1,
            "test_fraction": 0.2, "labels_per_class": 0, **spec}
    name = spec["name"]
    kind, _, path = name.partition(":")
    if kind == "networkx":
        data = _load_networkx(path, int(spec["examples"]))
    elif kind == "planetoid":
        from kerakit.data.planetoid import load_planetoid

        data = load_planetoid(path)
    elif kind == "tudataset":
        from kerakit.data.tudataset import load_tudataset

        data = load_tudataset(path)
    elif kind == "graph":
        data = load_graph_npz(path)
    else:
        raise ValueError(f"Unknown graph dataset {name!r}. Use "
                         "'networkx:karate', 'networkx:cycles_vs_paths', "
                         "'planetoid:PATH', 'tudataset:PATH' or "
                         "'graph:PATH'.")
    data.name = name
    if isinstance(data, GraphSet):
        for i, graph in enumerate(data.graphs):
            check_graph(graph, f"dataset {name!r}, graph {i}")
        if spec["limit"]:
            data.graphs = data.graphs[:spec["limit"]]
            data.labels = data.labels[:spec["limit"]]
        return data
    check_graph(data.graph, f"dataset {name!r}")
    if data.masks is None:
        data.masks = split_nodes(data.labels, data.num_classes, spec, seed,
                                 name)
    check_masks(data.masks, data.graph.num_nodes, name)
    if spec["limit"]:
        for split, mask in data.masks.items():
            keep = np.flatnonzero(mask)[:spec["limit"]]
            data.masks[split] = np.isin(np.arange(len(mask)), keep)
    return data


# ------------------------------------------------------------------ checks
def clean_edges(edges: Any, where: str) -> np.ndarray:
    """Int64 `(E, 2)` edges without self loops or repeated rows.

    Example:
    >>> clean_edges([[0, 1], [1, 1], [0, 1], [1, 0]], "g").tolist()
    [[0, 1], [1, 0]]
    """
    edges = np.asarray(edges)
    if edges.size == 0:
        return np.zeros((0, 2), "int64")
    if edges.ndim != 2 or edges.shape[1] != 2 or edges.dtype.kind not in (
            "iu"):
        raise DataError(
            f"{where}: edges must be integer rows [source, target], shape "
            f"(E, 2); got shape {edges.shape}, dtype {edges.dtype}.")
    edges = edges.astype("int64")
    keep = edges[:, 0] != edges[:, 1]
    _, first = np.unique(edges, axis=0, return_index=True)
    unique = np.zeros(len(edges), bool)
    unique[first] = True
    return edges[keep & unique]


def check_graph(graph: Graph, where: str) -> None:
    """Refuse a graph that would train wrongly; drop loops and repeats.

    Ids out of range, NaN and arrays whose lengths disagree are refused.
    Self loops and repeated edges are dropped (with their edge features).
    """
    n = graph.num_nodes
    raw = np.asarray(graph.edges)
    cleaned = clean_edges(raw, where)
    if len(cleaned) and (cleaned.min() < 0 or cleaned.max() >= n):
        bad = cleaned[(cleaned < 0).any(1) | (cleaned >= n).any(1)][0]
        raise DataError(
            f"{where}: edges must name nodes 0..{n - 1} ({n} nodes), but "
            f"an edge is {bad.tolist()}: fix the edge list or the node "
            "count.")
    if graph.edge_features is not None:
        feats = np.asarray(graph.edge_features, "float32")
        if feats.ndim == 1:
            feats = feats[:, None]
        if len(feats) != len(raw):
            raise DataError(f"{where}: {len(feats)} rows of edge features "
                            f"for {len(raw)} edges; give one per edge.")
        check_finite(feats, f"{where}: the edge features")
        rows = {tuple(e): i for i, e in reversed(list(enumerate(
            raw.tolist())))}
        graph.edge_features = feats[[rows[tuple(e)] for e in
                                     cleaned.tolist()]].reshape(
            len(cleaned), feats.shape[1])
    graph.edges = cleaned
    for attr in ("features", "node_labels"):
        value = getattr(graph, attr)
        if value is not None and len(value) != n:
            raise DataError(f"{where}: {len(value)} rows of {attr} for {n} "
                            "nodes; give one per node.")
    if graph.features is not None:
        if np.asarray(graph.features).dtype.kind not in "fiub":
            raise DataError(f"{where}: the features must be numbers; got "
                            f"{np.asarray(graph.features).dtype}.")
        graph.features = np.asarray(graph.features, "float32").reshape(n,
                                                                       -1)
        check_finite(graph.features, f"{where}: the node features")


def check_masks(masks: dict[str, np.ndarray], num_nodes: int,
                name: str) -> None:
    """Masks are bool `(N,)`, each non-empty, no node in two of them.

    Example:
    >>> m = {"train": np.array([1, 0, 0], bool),
    ...      "validation": np.array([1, 1, 0], bool),
    ...      "test": np.array([0, 0, 1], bool)}
    >>> try:
    ...     check_masks(m, 3, "g")
    ... except DataError as err:
    ...     print(str(err)[:59])
    dataset 'g': the train and validation masks share 1 node(s)
    """
    for split in SPLITS:
        mask = masks.get(split)
        if mask is None:
            raise DataError(f"dataset {name!r}: no {split} mask.")
        mask = np.asarray(mask)
        if mask.shape != (num_nodes,) or not np.isin(mask, (0, 1)).all():
            raise DataError(
                f"dataset {name!r}: the {split} mask must be {num_nodes} "
                f"booleans (one per node); got shape {mask.shape}, values "
                f"{np.unique(mask)[:4].tolist()}.")
        masks[split] = mask.astype(bool)
        if not masks[split].any():
            raise DataError(f"dataset {name!r}: the {split} mask selects no "
                            "node; every split needs labelled nodes.")
    for i, first in enumerate(SPLITS):
        for second in SPLITS[i + 1:]:
            both = masks[first] & masks[second]
            if both.any():
                raise DataError(
                    f"dataset {name!r}: the {first} and {second} masks "
                    f"share {int(both.sum())} node(s) (e.g. node "
                    f"{int(np.flatnonzero(both)[0])}): a node may be in one "
                    "split only.")


# ------------------------------------------------------------------ splits
def split_nodes(labels: np.ndarray, num_classes: int, spec: dict[str, Any],
                seed: int, name: str = "") -> dict[str, np.ndarray]:
    """Train/validation/test node masks, deterministic from the seed.

    With `labels_per_class = k > 0`: `k` training nodes per class (the
    semi-supervised Planetoid setting), then `validation_fraction` and
    `test_fraction` of all nodes from the others. With `k = 0`: a
    stratified split of all nodes by the two fractions.

    Example:
    >>> y = np.array([0, 1] * 10)
    >>> spec = {"labels_per_class": 2, "validation_fraction": 0.3,
    ...         "test_fraction": 0.5}
    >>> [int(m.sum()) for m in split_nodes(y, 2, spec, 0).values()]
    [4, 6, 10]
    """
    n = len(labels)
    if n and labels.min() < 0:
        raise DataError(
            f"dataset {name!r}: without masks every node needs a class id "
            f"(node {int(np.argmin(labels))} has {int(labels.min())}): give "
            "train_mask, val_mask and test_mask to leave nodes unlabelled.")
    k = int(spec.get("labels_per_class", 0))
    val_n = round(n * float(spec.get("validation_fraction", 0.1)))
    test_n = round(n * float(spec.get("test_fraction", 0.2)))
    rng = np.random.default_rng(seed)
    if k:
        train = []
        for c in range(num_classes):
            nodes = np.flatnonzero(labels == c)
            if len(nodes) < k:
                raise DataError(
                    f"dataset {name!r}: class {c} has {len(nodes)} nodes, "
                    f"fewer than dataset.labels_per_class = {k}: lower it.")
            train.extend(rng.choice(nodes, k, replace=False).tolist())
        rest = rng.permutation(np.setdiff1d(np.arange(n), train))
        val, test = rest[:val_n], rest[val_n:val_n + test_n]
    else:
        ids = rng.permutation(n)
        test, val, train = _stratified(ids, labels, [test_n, val_n], seed)
    masks = {}
    for split, ids in zip(SPLITS, (train, val, test), strict=True):
        masks[split] = np.zeros(n, bool)
        masks[split][np.asarray(ids, int)] = True
    return masks


def _stratified(ids: np.ndarray, labels: np.ndarray, sizes: list[int],
                seed: int) -> list[np.ndarray]:
    """Carve `sizes` items off `ids` in turn; what remains comes last.

    Each carve is stratified by class when every class has two items.
    """
    from sklearn.model_selection import train_test_split

    out = []
    for i, size in enumerate(sizes):
        if size < 1 or len(ids) - size < 1:
            raise DataError(
                f"Cannot carve {size} of {len(ids)} examples: set "
                "dataset.validation_fraction and dataset.test_fraction "
                "so that every split gets at least one.")
        y = labels[ids]
        counts = np.bincount(y)
        counts = counts[counts > 0]
        strat = y if counts.min() >= 2 and size >= len(counts) and (
            len(ids) - size >= len(counts)) else None
        ids, taken = train_test_split(ids, test_size=size, stratify=strat,
                                      random_state=seed + i)
        out.append(np.sort(taken))
    return [*out, np.sort(ids)]


def split_graphs(labels: np.ndarray, spec: dict[str, Any],
                 seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the train, validation and test graphs.

    Stratified by class, from the seed, by `test_fraction` and
    `validation_fraction`.

    Example:
    >>> y = np.array([0, 1] * 10)
    >>> [len(p) for p in split_graphs(y, {}, 0)]
    [14, 2, 4]
    """
    n = len(labels)
    sizes = [round(n * float(spec.get("test_fraction", 0.2))),
             round(n * float(spec.get("validation_fraction", 0.1)))]
    test, val, train = _stratified(np.arange(n), labels, sizes, seed)
    return train, val, test


# ----------------------------------------------------------------- sources
def load_graph_npz(path: str, labels_required: bool = True) -> NodeData:
    """Read `graph:PATH` (see the module doc); masks `None` when absent."""
    from kerakit.data.datasets import _read_npz

    if not os.path.exists(path):
        raise DatasetUnavailableError(
            f"Graph file {path!r} not found: give an .npz with edges, "
            "features and (to train) labels: numpy.savez(path, edges=..., "
            "features=..., labels=...).")
    arrays = _read_npz(path)
    missing = [k for k in ("edges", "features") if k not in arrays]
    if labels_required and "labels" not in arrays:
        missing.append("labels")
    if missing:
        raise DataError(f"{path}: needs arrays {', '.join(missing)} (found "
                        f"{sorted(arrays)}).")
    features = arrays["features"]
    n = len(features)
    graph = Graph(arrays["edges"], n, features,
                  edge_features=arrays.get("edge_features"))
    labels = np.asarray(arrays.get("labels", np.zeros(n, "int64")))
    if labels.shape != (n,) or labels.dtype.kind not in "iub":
        raise DataError(f"{path}: labels must be {n} integer class ids (one "
                        f"per node); got shape {labels.shape}, dtype "
                        f"{labels.dtype}.")
    given = [k for k in ("train_mask", "val_mask", "test_mask")
             if k in arrays]
    if given and len(given) != 3:
        raise DataError(f"{path}: has {', '.join(given)} but not all of "
                        "train_mask, val_mask, test_mask: give all three, "
                        "or none to split the nodes from the seed.")
    masks = {split: arrays[key] for split, key in zip(
        SPLITS, ("train_mask", "val_mask", "test_mask"), strict=True)
             } if given else None
    names = [str(c) for c in arrays.get("class_names", [])]
    num_classes = len(names) or int(labels.max(initial=0)) + 1
    return NodeData(path, graph, labels.astype("int64"), masks, num_classes,
                    names or [str(c) for c in range(num_classes)])


def _load_networkx(what: str, examples: int) -> NodeData | GraphSet:
    if what == "karate":
        return karate_club()
    if what == "cycles_vs_paths":
        return cycles_vs_paths(examples)
    raise ValueError(f"Unknown networkx dataset {what!r}. Known: "
                     f"{', '.join('networkx:' + n for n in NETWORKX)}.")


def _both_ways(pairs: Any) -> np.ndarray:
    pairs = np.asarray(list(pairs), "int64").reshape(-1, 2)
    return np.concatenate([pairs, pairs[:, ::-1]])


def karate_club() -> NodeData:
    """Zachary's karate club (see the module doc); no masks yet."""
    import networkx as nx

    g = nx.karate_club_graph()
    labels = np.array([int(g.nodes[i]["club"] != "Mr. Hi") for i in g],
                      "int64")
    n = g.number_of_nodes()
    graph = Graph(_both_ways(g.edges()), n, np.eye(n, dtype="float32"))
    return NodeData("networkx:karate", graph, labels, None, 2,
                    ["Mr. Hi", "Officer"])


def cycles_vs_paths(examples: int, seed: int = 0) -> GraphSet:
    """Cycles (class 0) and paths (class 1) of 4-16 nodes, alternating.

    Example:
    >>> data = cycles_vs_paths(4)
    >>> data.labels.tolist(), len(data.graphs[0].edges) // 2 == (
    ...     data.graphs[0].num_nodes)
    ([0, 1, 0, 1], True)
    """
    import networkx as nx

    rng = np.random.default_rng(seed)
    graphs, labels = [], []
    for i in range(examples):
        n = int(rng.integers(4, 17))
        g = nx.cycle_graph(n) if i % 2 == 0 else nx.path_graph(n)
        order = rng.permutation(n)
        edges = order[np.asarray(list(g.edges()), "int64")]
        graphs.append(Graph(_both_ways(edges), n))
        labels.append(i % 2)
    return GraphSet("networkx:cycles_vs_paths", graphs,
                    np.asarray(labels, "int64"), 2, ["cycle", "path"])
