"""Containers of graph datasets (`kerakit.data.graphs` loads them).

Example:
>>> import numpy as np
>>> Graph(np.array([[0, 1], [1, 0]]), 2).num_nodes
2
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from kerakit.data.datasets import DatasetUnavailableError


@dataclasses.dataclass
class Graph:
    """One graph as numpy arrays.

    Attributes:
        edges: Int64 `(E, 2)` rows `[source, target]`, ids `< num_nodes`.
        num_nodes: Number of nodes.
        features: Float32 `(N, F)` node features, or `None`.
        node_labels: Int `(N,)` categorical node labels (TU node labels),
            one-hot encoded by the preprocessing; or `None`.
        edge_features: Float32 `(E, D)`, row for row with `edges`; or
            `None`.
        cache: Derived arrays (Laplacian positions by `k`); not data.
    """

    edges: np.ndarray
    num_nodes: int
    features: np.ndarray | None = None
    node_labels: np.ndarray | None = None
    edge_features: np.ndarray | None = None
    cache: dict = dataclasses.field(default_factory=dict, repr=False)


@dataclasses.dataclass
class NodeData:
    """One graph whose nodes carry classes; masks pick the splits.

    Attributes:
        name: Dataset name (for messages).
        graph: The graph.
        labels: Int64 `(N,)` class ids (meaningful on masked nodes).
        masks: Bool `(N,)` by split name (`train`, `validation`, `test`),
            or `None` until `split_nodes` makes them.
        num_classes: Number of classes.
        class_names: Name of each class.
    """

    name: str
    graph: Graph
    labels: np.ndarray
    masks: dict[str, np.ndarray] | None
    num_classes: int
    class_names: list[str]


@dataclasses.dataclass
class GraphSet:
    """Many small graphs with one class each."""

    name: str
    graphs: list[Graph]
    labels: np.ndarray
    num_classes: int
    class_names: list[str]


def missing_files(kind: str, path: str, files: list[str], how: str) -> None:
    """Raise `DatasetUnavailableError`: what is missing, how to get it.

    Nothing is downloaded; the message says where to put the files.
    """
    raise DatasetUnavailableError(
        f"{kind} data not found at {os.path.abspath(path)!r} (missing: "
        f"{', '.join(files)}). kerakit never downloads at run time. {how}")
