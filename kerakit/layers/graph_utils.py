"""Shared plumbing of the graph layers: dense adjacency and edge lists.

A graph batch is `[features, adjacency]` with features `(batch, nodes,
channels)`. The adjacency is either dense, `(batch, nodes, nodes)` floats
where `a[b, i, j] != 0` means an edge from node `j` into node `i`, or an edge
list, `(batch, edges, 2)` integers whose rows are `[source, target]`; rows
with a negative index are padding and ignored.
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
    if features[1] is None:
        raise ValueError(
            "Graph layers need a fixed number of nodes: give the node axis "
            f"a size, e.g. keras.Input((34, 8)). Received: {features}"
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
