"""Shared parts of the graph models: inputs, argument checks, the head.

The input convention of every graph model (and of the tasks built on them):

- `"features"`: float `(batch, nodes, F)` node features.
- `"edges"`: int32 `(batch, edges, 2)`, rows `[source, target]` (a message
  flows source -> target; list an undirected edge in both directions; no
  self loops: GCN and GAT add them); rows with a negative id are padding.
- `"graph_index"` (graph-level models, `readout` set): int32 `(batch,
  nodes)`, the graph `0 .. max_graphs - 1` of each node of a disjoint union
  of graphs, `-1` for a padding node.
- `"positions"` (Graph Transformer): float `(batch, nodes, k)` Laplacian
  eigenvectors (`kerakit.models.graph.positions.laplacian_positions`).
- `"edge_features"` (Graph Transformer with `edge_dim`): float `(batch,
  edges, edge_dim)`, row for row with `"edges"`.

Node classification feeds one graph (batch 1) and masks the loss with a
`(1, nodes)` `sample_weight`; graph classification feeds one disjoint union
(batch 1 too), targets `(1, max_graphs)` and a `(1, max_graphs)` weight that
is 0 for unused graph slots. Node-level models (`readout=None`) output logits
`(batch, nodes, num_classes)`; graph-level ones (`readout="mean" | "sum" |
"max"`, `max_graphs=G`) run all `num_layers` layers as hidden layers, pool
the node states per graph (padding nodes ignored, an empty slot pools to
zeros), then dropout and `Dense(num_classes)`: logits `(batch, G,
num_classes)`. The node axis may be `None` (any graph size; one model).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from kerakit.layers import GraphReadout
from kerakit.layers.graph_readout import READOUT_MODES
from kerakit.models.graph.positions import laplacian_positions
from kerakit.models.mlp.mlp import check_depth_width
from kerakit.testing import SweepData


def check_graph_args(
    input_shape: Sequence[int | None], num_classes: int, num_layers: int,
    hidden_dim: int, dropout: float, readout: str | None,
    max_graphs: int | None, name: str,
) -> tuple[int | None, int]:
    """Validate the shared arguments; return `(nodes, features)`.

    Example:
    >>> check_graph_args((None, 5), 3, 2, 8, 0.5, None, None, "gcn")
    (None, 5)
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 2:
        raise ValueError(
            f"{name}: input_shape is (nodes, features), nodes may be None. "
            f"Received: input_shape={input_shape!r}"
        )
    nodes, features = input_shape
    if not isinstance(features, int) or isinstance(features, bool) or \
            features < 1:
        raise ValueError(
            f"{name}: the feature size must be a positive int. Received: "
            f"input_shape={tuple(input_shape)!r}"
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) \
            or num_classes < 1:
        raise ValueError(
            f"{name}: num_classes must be >= 1. Received: "
            f"num_classes={num_classes!r}"
        )
    check_depth_width(num_layers, hidden_dim, dropout, name, min_layers=1)
    if readout is not None and readout not in READOUT_MODES:
        raise ValueError(
            f"{name}: readout must be None (node level) or one of "
            f"{READOUT_MODES}. Received: readout={readout!r}"
        )
    if readout is not None and (
        isinstance(max_graphs, bool) or not isinstance(max_graphs, int)
        or max_graphs < 1
    ):
        raise ValueError(
            f"{name}: a readout needs max_graphs, the static number of "
            "graphs per batch (a positive int). Received: "
            f"max_graphs={max_graphs!r}"
        )
    if readout is None and max_graphs is not None:
        raise ValueError(
            f"{name}: max_graphs is for graph-level models; set readout "
            f"too. Received: readout=None, max_graphs={max_graphs!r}"
        )
    return nodes, features


def graph_inputs(nodes: int | None, features: int, *,
                 readout: str | None = None, num_eigenvectors: int = 0,
                 edge_dim: int | None = None) -> dict[str, Any]:
    """The model's named `keras.Input`s (see the module docstring).

    Example:
    >>> sorted(graph_inputs(None, 4, readout="mean"))
    ['edges', 'features', 'graph_index']
    """
    inputs = {
        "features": keras.Input((nodes, features), name="features"),
        "edges": keras.Input((None, 2), dtype="int32", name="edges"),
    }
    if readout is not None:
        inputs["graph_index"] = keras.Input((nodes,), dtype="int32",
                                            name="graph_index")
    if num_eigenvectors:
        inputs["positions"] = keras.Input((nodes, num_eigenvectors),
                                          name="positions")
    if edge_dim is not None:
        inputs["edge_features"] = keras.Input((None, edge_dim),
                                              name="edge_features")
    return inputs


def graph_head(x: Any, inputs: Mapping[str, Any], num_classes: int, *,
               readout: str, max_graphs: int, dropout: float, dtype: Any,
               name: str) -> Any:
    """Pool node states per graph, then dropout and `Dense(num_classes)`.

    Example:
    >>> inputs = graph_inputs(None, 4, readout="sum")
    >>> graph_head(inputs["features"], inputs, 3, readout="sum",
    ...            max_graphs=2, dropout=0.0, dtype=None, name="m").shape
    (None, 2, 3)
    """
    x = GraphReadout(readout, max_graphs, dtype=dtype,
                     name=f"{name}_readout")([x, inputs["graph_index"]])
    x = keras.layers.Dropout(dropout, dtype=dtype,
                             name=f"{name}_head_dropout")(x)
    return keras.layers.Dense(num_classes, dtype=dtype,
                              name=f"{name}_logits")(x)


def tiny_graph(num_nodes: int = 10, num_features: int = 6,
               num_classes: int = 3, *, padding_edges: int = 2,
               seed: int = 0) -> dict[str, np.ndarray]:
    """A small random undirected graph in the input convention (batch 1).

    A ring plus a few chords, both directions listed, `padding_edges` rows
    of `-1` at the end; features, labels `(1, nodes)` and a training mask
    `(1, nodes)` (the last quarter of the nodes unlabelled).

    Example:
    >>> g = tiny_graph(6, 2)
    >>> g["features"].shape, g["edges"].shape[-1], g["labels"].shape
    ((1, 6, 2), 2, (1, 6))
    """
    rng = np.random.default_rng(seed)
    ring = [(i, (i + 1) % num_nodes) for i in range(num_nodes)]
    chords = [(i, (i + num_nodes // 2) % num_nodes)
              for i in range(0, num_nodes // 2, 2)]
    pairs = sorted(set(ring + chords))
    edges = [[a, b] for a, b in pairs] + [[b, a] for a, b in pairs]
    edges += [[-1, -1]] * padding_edges
    mask = np.ones((1, num_nodes), "float32")
    mask[0, num_nodes - max(1, num_nodes // 4):] = 0.0
    return {
        "features": rng.normal(size=(1, num_nodes, num_features)).astype(
            "float32"),
        "edges": np.asarray([edges], "int32"),
        "labels": (np.arange(num_nodes) % num_classes)[None].astype("int32"),
        "mask": mask,
    }


def sweep_data(kwargs: Mapping[str, Any], *, num_nodes: int = 10,
               positions: int = 0, edge_dim: int | None = None) -> SweepData:
    """Sweep data for a node-level graph model: one tiny graph, masked loss.

    Example:
    >>> data = sweep_data({"input_shape": (10, 4), "num_classes": 3})
    >>> data.expected_output_shape
    (1, 10, 3)
    """
    nodes = kwargs["input_shape"][0] or num_nodes
    graph = tiny_graph(nodes, kwargs["input_shape"][-1],
                       kwargs["num_classes"])
    x = {"features": graph["features"], "edges": graph["edges"]}
    if positions:
        x["positions"] = laplacian_positions(graph["edges"][0], nodes,
                                             positions)[None]
    if edge_dim is not None:
        rng = np.random.default_rng(1)
        x["edge_features"] = rng.normal(
            size=(*graph["edges"].shape[:2], edge_dim)).astype("float32")
    return SweepData(
        x, graph["labels"],
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        (1, nodes, kwargs["num_classes"]),
        fit_kwargs={"sample_weight": graph["mask"]},
    )


def l2_penalty(weight_decay: float, name: str) -> Any:
    """The papers' weight decay as a Keras regulariser, or `None` for 0.

    GCN and GAT add `weight_decay * tf.nn.l2_loss(W)`, which is
    `weight_decay * sum(W**2) / 2`, to the loss; Keras's `L2(l2)` adds
    `l2 * sum(W**2)`, so `l2 = weight_decay / 2`.

    Example:
    >>> l2_penalty(5e-4, "gcn").get_config()["l2"] == 2.5e-4
    True
    """
    if isinstance(weight_decay, bool) or not isinstance(
            weight_decay, (int, float)) or not weight_decay >= 0:
        raise ValueError(f"{name}: weight_decay must be a number >= 0. "
                         f"Received: weight_decay={weight_decay!r}")
    return keras.regularizers.L2(weight_decay / 2) if weight_decay else None
