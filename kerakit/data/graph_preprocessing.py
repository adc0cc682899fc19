"""Node features of graphs as the models take them, saved with a run.

:class:`GraphPreprocessor` turns a :class:`kerakit.data.graphs.Graph` into
float32 node features, the same way in training and in `kerakit predict`:

1. the graph's own features (node attributes), if any;
2. then one-hot categorical node labels (TU node labels), with the values
   seen in the training graphs (an unseen value gives a zero row);
3. a graph with neither gets one-hot degrees, `0..max_degree` (the
   training graphs' largest, capped at 31; larger degrees share the last
   column), as GIN does for the unlabelled TU graphs;
4. with `row_normalize`, each node's features divided by their sum (the
   Planetoid/GCN convention; an all-zero row stays zero).

Self loops and the symmetric normalisation of GCN belong to the GCN layer
(`kerakit.layers.GCNConv`), not to the data. `pack_graphs` batches several
graphs as one disjoint union, padded to a fixed size.

Example:
>>> import numpy as np
>>> from kerakit.data.graphs import Graph
>>> g = Graph(np.array([[0, 1], [1, 0]]), 2, np.array([[1.0, 3.0], [0, 0]]))
>>> GraphPreprocessor(row_normalize=True).fit([g]).transform(g).features
array([[0.25, 0.75],
       [0.  , 0.  ]], dtype=float32)
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from kerakit.data.graphs import Graph
from kerakit.data.preprocessing import SavedAsJson
from kerakit.data.splits import DataError

MAX_DEGREE = 31


@dataclasses.dataclass
class GraphPreprocessor(SavedAsJson):
    """Deterministic node-feature preprocessing, fitted on training graphs.

    Attributes:
        kind: Always `"graph"` (tells a saved file from an array run's).
        row_normalize: Divide each node's features by their sum.
        feature_columns: Node attribute columns the graphs carry (0: none).
        node_label_values: Categorical node-label values, one column each.
        max_degree: Featureless graphs: one-hot degrees up to this (-1:
            not used).
        edge_feature_columns: Edge feature columns (0: none).
        num_classes: Number of classes.
        class_names: Class names, reported by predict.
    """

    kind: str = "graph"
    row_normalize: bool = False
    feature_columns: int = 0
    node_label_values: list = dataclasses.field(default_factory=list)
    max_degree: int = -1
    edge_feature_columns: int = 0
    num_classes: int = 0
    class_names: list = dataclasses.field(default_factory=list)

    @classmethod
    def from_recipe(cls, settings: dict[str, Any], num_classes: int,
                    class_names: list[str]) -> GraphPreprocessor:
        """One from a recipe's `[preprocessing]` table (`row_normalize`)."""
        return cls(row_normalize=bool(settings.get("row_normalize", False)),
                   num_classes=int(num_classes),
                   class_names=[str(c) for c in class_names])

    @property
    def num_features(self) -> int:
        """Feature columns after `transform` (the model's `F`)."""
        return self.feature_columns + len(self.node_label_values) + (
            self.max_degree + 1)

    def fit(self, graphs: list[Graph]) -> GraphPreprocessor:
        """Learn the columns from the training graphs."""
        first = graphs[0]
        self.feature_columns = 0 if first.features is None else (
            first.features.shape[1])
        if any((g.features is None) != (first.features is None)
               or (g.features is not None
                   and g.features.shape[1] != self.feature_columns)
               for g in graphs):
            raise DataError("The graphs differ in their feature columns: "
                            "every graph needs the same node features.")
        labels = [g.node_labels for g in graphs if g.node_labels is not None]
        self.node_label_values = np.unique(np.concatenate(labels)).tolist(
            ) if labels else []
        self.max_degree = -1
        if not self.feature_columns and not self.node_label_values:
            self.max_degree = min(MAX_DEGREE, max(
                int(_degrees(g).max(initial=0)) for g in graphs))
        self.edge_feature_columns = 0 if first.edge_features is None else (
            first.edge_features.shape[1])
        return self

    def transform(self, graph: Graph, where: str = "the graph") -> Graph:
        """A copy of `graph` with float32 model features (see module doc).

        Raises:
            DataError: The graph's columns differ from the training ones.
        """
        parts = []
        columns = 0 if graph.features is None else graph.features.shape[1]
        if columns != self.feature_columns:
            raise DataError(
                f"{where} has {columns} feature columns but this run was "
                f"trained on graphs with {self.feature_columns}.")
        if columns:
            parts.append(np.asarray(graph.features, "float32"))
        if self.node_label_values:
            if graph.node_labels is None:
                raise DataError(f"{where} has no categorical node labels, "
                                "but this run was trained with them.")
            values = np.asarray(self.node_label_values)
            parts.append((graph.node_labels[:, None] == values[None]).astype(
                "float32"))
        if self.max_degree >= 0:
            degree = np.minimum(_degrees(graph), self.max_degree)
            parts.append(np.eye(self.max_degree + 1, dtype="float32")[degree])
        features = np.concatenate(parts, axis=1) if parts else np.zeros(
            (graph.num_nodes, 0), "float32")
        if self.row_normalize:
            sums = features.sum(axis=1, keepdims=True)
            features = np.where(sums != 0, features / np.where(
                sums != 0, sums, 1.0), 0.0).astype("float32")
        edge_columns = 0 if graph.edge_features is None else (
            graph.edge_features.shape[1])
        if edge_columns != self.edge_feature_columns:
            raise DataError(
                f"{where} has {edge_columns} edge feature columns but this "
                f"run was trained with {self.edge_feature_columns}.")
        return Graph(graph.edges, graph.num_nodes, features,
                     edge_features=graph.edge_features)

    @classmethod
    def load(cls, path: str | os.PathLike) -> GraphPreprocessor:
        """Read a saved `preprocessing.json`.

        Raises:
            ValueError: The file is not a graph run's preprocessing.
        """
        data = cls.read_dict(path)
        if data.get("kind") != "graph":
            raise ValueError(f"{path}: not a graph run's preprocessing "
                             "(no kind = 'graph').")
        return cls(**data)


def _degrees(graph: Graph) -> np.ndarray:
    """Incoming edges per node (the degree, edges listed both ways)."""
    return np.bincount(np.asarray(graph.edges)[:, 1].astype(int),
                       minlength=graph.num_nodes)[:graph.num_nodes]


def pack_graphs(graphs: list[Graph], *, num_nodes: int, num_edges: int,
                node_arrays: list[dict[str, np.ndarray]] | None = None
                ) -> dict[str, np.ndarray]:
    """Several graphs as one disjoint union, padded, with a batch axis of 1.

    Node ids of graph `i` are shifted past those of graphs `0..i-1`.
    Padding nodes have zero features and graph index -1; padding edge
    rows are -1.

    Args:
        graphs: Preprocessed graphs (float features).
        num_nodes: Node rows after padding (at least the total).
        num_edges: Edge rows after padding.
        node_arrays: Per graph, more `(n_i, k)` node arrays by input name
            (`"positions"`), packed like the features.

    Returns:
        `{"features": (1, num_nodes, F), "edges": int32 (1, num_edges, 2),
        "graph_index": int32 (1, num_nodes), ...}` (plus
        `"edge_features"` when the graphs have them).

    Example:
    >>> g = Graph(np.array([[0, 1], [1, 0]]), 2, np.ones((2, 1), "float32"))
    >>> out = pack_graphs([g, g], num_nodes=5, num_edges=5)
    >>> out["edges"][0].tolist()
    [[0, 1], [1, 0], [2, 3], [3, 2], [-1, -1]]
    >>> out["graph_index"].tolist()
    [[0, 0, 1, 1, -1]]
    """
    total_nodes = sum(g.num_nodes for g in graphs)
    total_edges = sum(len(g.edges) for g in graphs)
    if total_nodes > num_nodes or total_edges > num_edges:
        raise ValueError(f"{total_nodes} nodes / {total_edges} edges do not "
                         f"fit in {num_nodes} / {num_edges}.")
    offsets = np.cumsum([0] + [g.num_nodes for g in graphs])
    width = graphs[0].features.shape[1]
    out = {"features": np.zeros((1, num_nodes, width), "float32"),
           "edges": np.full((1, num_edges, 2), -1, "int32"),
           "graph_index": np.full((1, num_nodes), -1, "int32")}
    if graphs[0].edge_features is not None:
        out["edge_features"] = np.zeros(
            (1, num_edges, graphs[0].edge_features.shape[1]), "float32")
    row = 0
    for i, graph in enumerate(graphs):
        start, stop = offsets[i], offsets[i + 1]
        out["features"][0, start:stop] = graph.features
        out["graph_index"][0, start:stop] = i
        rows = slice(row, row + len(graph.edges))
        out["edges"][0, rows] = np.asarray(graph.edges) + start
        if "edge_features" in out:
            out["edge_features"][0, rows] = graph.edge_features
        row += len(graph.edges)
        for key, array in (node_arrays[i] if node_arrays else {}).items():
            if key not in out:
                out[key] = np.zeros((1, num_nodes, array.shape[1]),
                                    "float32")
            out[key][0, start:stop] = array
    return out
