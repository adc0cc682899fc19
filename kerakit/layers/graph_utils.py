"""Shared plumbing of the graph layers: dense adjacency and edge lists.

A graph batch is `[features, adjacency]` with features `(batch, nodes,
channels)`. The adjacency is either dense, `(batch, nodes, nodes)` floats
where `a[b, i, j] != 0` means an edge from node `j` into node `i`, or an edge
list, `(batch, edges, 2)` integers whose rows are `[source, target]`; rows
with a negative index are padding and ignored. With an edge list the number
of nodes may be unknown until run time (`keras.Input((None, channels))`);
a dense adjacency needs it fixed.
"""

from __future__ import annotations

from typing import Any

import keras

ADJACENCY_FORMATS = ("auto", "dense", "edges")


def check_adjacency_format(value: str) -> str:
    """Validate the `adjacency_format` argument of a graph layer."""
    if value not in ADJACENCY_FORMATS:
        raise ValueError(
            f"adjacency_format must be one of {ADJACENCY_FORMATS}. "
            f"Received: adjacency_format={value!r}"
        )
    return value


def check_graph_shapes(shapes: Any, adjacency_format: str) -> tuple:
    """Validate `[features, adjacency]` shapes; return (features, adj)."""
    if not isinstance(shapes, (list, tuple)) or len(shapes) != 2 or not (
        isinstance(shapes[0], (list, tuple))
    ):
        raise ValueError(
            "Graph layers take [features, adjacency]: features (batch, "
            "nodes, channels) and a dense (batch, nodes, nodes) adjacency "
            f"or an int (batch, edges, 2) edge list. Received: {shapes}"
        )
    features, adjacency = tuple(shapes[0]), tuple(shapes[1])
    if len(features) != 3 or len(adjacency) != 3:
        raise ValueError(
            "Expected features (batch, nodes, channels) and adjacency of "
            f"rank 3. Received: {features} and {adjacency}"
        )
    edge_list = adjacency_format == "edges" or (
        adjacency_format == "auto" and adjacency[-1] == 2
    )
    if features[1] is None and not edge_list:
        raise ValueError(
            "Graph layers need a fixed number of nodes with a dense "
            "adjacency: give the node axis a size, e.g. keras.Input((34, "
            "8)), or pass an int (batch, edges, 2) edge list. Received: "
            f"{features} and {adjacency}"
        )
    if adjacency_format == "edges" and adjacency[-1] not in (None, 2):
        raise ValueError(
            f"An edge list has shape (batch, edges, 2). Received {adjacency}"
        )
    return features, adjacency


def uses_edge_list(adjacency: Any, adjacency_format: str) -> bool:
    """Whether `adjacency` is an edge list (`"auto"`: integer dtype)."""
    if adjacency_format != "auto":
        return adjacency_format == "edges"
    return "int" in keras.backend.standardize_dtype(adjacency.dtype)


def num_nodes_of(x: Any) -> Any:
    """The node count of `(batch, nodes, ...)` features.

    A Python int when the shape is static (always on JAX and torch, and in
    eager TensorFlow), else a scalar tensor (a traced TensorFlow graph with
    an unknown node axis).
    """
    if x.shape[1] is not None:
        return x.shape[1]
    return keras.ops.shape(x)[1]


def require_static_nodes(num_nodes: Any) -> None:
    """Refuse a dense adjacency whose node count is unknown."""
    if not isinstance(num_nodes, int):
        raise ValueError(
            "A dense adjacency needs a fixed number of nodes; pass an int "
            "(batch, edges, 2) edge list for graphs of any size."
        )


def dense_with_self_loops(adjacency: Any, num_nodes: int,
                          add_self_loops: bool, dtype: str) -> Any:
    """Cast a dense adjacency and add the identity when asked."""
    adjacency = keras.ops.cast(adjacency, dtype)
    if add_self_loops:
        adjacency = adjacency + keras.ops.eye(num_nodes, dtype=dtype)
    return adjacency


def flat_edges(edges: Any, num_nodes: int, add_self_loops: bool,
               dtype: str) -> tuple[Any, Any, Any, Any]:
    """Flatten a batched edge list to global node ids.

    Node `n` of graph `b` becomes `b * num_nodes + n`, so one segment sum
    aggregates the whole batch.

    Returns:
        `(source, target, weight, total_nodes)`: int vectors of global ids,
        a float vector that is 0 for padding rows, and `batch * nodes`.
    """
    edges = keras.ops.cast(edges, "int32")
    batch = keras.ops.shape(edges)[0]
    source, target = edges[..., 0], edges[..., 1]
    valid = keras.ops.logical_and(source >= 0, target >= 0)
    weight = keras.ops.cast(valid, dtype)
    source = keras.ops.where(valid, source, 0)
    target = keras.ops.where(valid, target, 0)
    if add_self_loops:
        loops = keras.ops.zeros((batch, num_nodes), "int32") + (
            keras.ops.arange(num_nodes, dtype="int32")
        )
        source = keras.ops.concatenate([source, loops], axis=1)
        target = keras.ops.concatenate([target, loops], axis=1)
        weight = keras.ops.concatenate(
            [weight, keras.ops.ones((batch, num_nodes), dtype)], axis=1
        )
    offset = keras.ops.expand_dims(
        keras.ops.arange(batch, dtype="int32") * num_nodes, 1
    )
    total = batch * num_nodes
    return (keras.ops.reshape(source + offset, (-1,)),
            keras.ops.reshape(target + offset, (-1,)),
            keras.ops.reshape(weight, (-1,)), total)


def segment_softmax(scores: Any, segment_ids: Any, valid: Any,
                    num_segments: Any) -> Any:
    """Softmax of edge scores over the edges that share a segment (target).

    Args:
        scores: `(edges, ...)` float scores.
        segment_ids: `(edges,)` int target node of each edge.
        valid: `(edges,)` bool; invalid (padding) edges get weight 0 and
            take no part in any node's softmax.
        num_segments: Number of target nodes.

    Returns:
        `(edges, ...)` weights that sum to 1 over the valid edges of each
        target (a node without valid incoming edges has none).

    Invalid edges go to an extra segment of their own, so every real
    segment's maximum (the stabiliser) is taken over real edges only and
    nothing is ever `inf - inf`, in any precision.
    """
    ids = keras.ops.where(valid, segment_ids, num_segments)
    total = num_segments + 1
    mask = keras.ops.reshape(valid, (-1,) + (1,) * (len(scores.shape) - 1))
    scores = keras.ops.where(mask, scores, keras.ops.zeros_like(scores))
    peak = keras.ops.stop_gradient(
        keras.ops.segment_max(scores, ids, num_segments=total)
    )
    expo = keras.ops.exp(scores - keras.ops.take(peak, ids, axis=0))
    expo = keras.ops.where(mask, expo, keras.ops.zeros_like(expo))
    denom = keras.ops.segment_sum(expo, ids, num_segments=total)
    denom = keras.ops.take(denom, ids, axis=0)
    denom = keras.ops.where(mask, denom, keras.ops.ones_like(denom))
    return expo / denom
