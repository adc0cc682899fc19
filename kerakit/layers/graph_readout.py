"""Graph readout: pool node states per graph of a disjoint union."""

from __future__ import annotations

from typing import Any

import keras

READOUT_MODES = ("mean", "sum", "max")


@keras.saving.register_keras_serializable(package="kerakit")
class GraphReadout(keras.layers.Layer):
    """Pool node states into one vector per graph with segment ops.

    A batch of small graphs is one disjoint union: node states `(batch,
    nodes, channels)` and a graph index `(batch, nodes)` giving the graph
    (`0 .. max_graphs - 1`) of each node; `-1` (any negative id, or one
    `>= max_graphs`) marks a padding node, which is ignored. The output is
    `(batch, max_graphs, channels)`; a graph without nodes gives zeros.

    Args:
        mode: `"mean"`, `"sum"` or `"max"` over each graph's nodes.
        max_graphs: Graphs per union (a static count: segment ops need one
            on JAX); unused graph slots come out as zeros.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
    >>> states = keras.ops.convert_to_tensor([[[1.0], [3.0], [5.0], [9.0]]])
    >>> graph_index = keras.ops.convert_to_tensor([[0, 0, 1, -1]])
    >>> out = GraphReadout("mean", max_graphs=3)([states, graph_index])
    >>> keras.ops.convert_to_numpy(out)[0, :, 0].tolist()
    [2.0, 5.0, 0.0]

    Reference:
        Xu et al., 2019 (sum/mean/max readouts).
        https://arxiv.org/abs/1810.00826
    """

    def __init__(self, mode: str = "mean", max_graphs: int = 1,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in READOUT_MODES:
            raise ValueError(
                f"mode must be one of {READOUT_MODES}. Received: mode={mode!r}"
            )
        if isinstance(max_graphs, bool) or not isinstance(max_graphs, int) \
                or max_graphs < 1:
            raise ValueError(
                "max_graphs must be a positive int (a static count). "
                f"Received: max_graphs={max_graphs!r}"
            )
        # Config
        self.mode = mode
        self.max_graphs = max_graphs

    def call(self, inputs: Any) -> Any:
        states, graph_index = inputs
        graphs = self.max_graphs
        batch = keras.ops.shape(states)[0]
        channels = states.shape[-1]
        graph_index = keras.ops.cast(graph_index, "int32")
        valid = keras.ops.logical_and(graph_index >= 0, graph_index < graphs)
        offset = keras.ops.expand_dims(
            keras.ops.arange(batch, dtype="int32") * graphs, 1
        )
        total = batch * graphs
        # Padding nodes go to an extra segment that is dropped afterwards.
        ids = keras.ops.where(valid, graph_index + offset, total)
        ids = keras.ops.reshape(ids, (-1,))
        flat = keras.ops.reshape(states, (-1, channels))
        if self.mode == "max":
            pooled = keras.ops.segment_max(flat, ids, num_segments=total + 1)
        else:
            pooled = keras.ops.segment_sum(flat, ids, num_segments=total + 1)
        ones = keras.ops.ones_like(ids, dtype=flat.dtype)
        count = keras.ops.segment_sum(ones, ids, num_segments=total + 1)
        count = keras.ops.expand_dims(count[:-1], -1)
        pooled = pooled[:-1]
        if self.mode == "mean":
            pooled = pooled / keras.ops.maximum(count, 1.0)
        elif self.mode == "max":
            # An empty segment's max is -inf (or the lowest float).
            pooled = keras.ops.where(count > 0, pooled,
                                     keras.ops.zeros_like(pooled))
        return keras.ops.reshape(pooled, (-1, graphs, channels))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        states, _ = input_shape
        return (states[0], self.max_graphs, states[-1])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"mode": self.mode, "max_graphs": self.max_graphs})
        return config
