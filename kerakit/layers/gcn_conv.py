"""Graph convolution of Kipf & Welling (GCN)."""

from __future__ import annotations

from typing import Any

import keras

from kerakit.layers import graph_utils


@keras.saving.register_keras_serializable(package="kerakit")
class GCNConv(keras.layers.Layer):
    """Graph convolution: `act(D^-1/2 (A + I) D^-1/2 X W + b)`.

    Takes `[features, adjacency]`: features `(batch, nodes, channels)` and
    either a dense `(batch, nodes, nodes)` adjacency (may be weighted;
    `a[b, i, j]` is the edge `j -> i`) or an integer `(batch, edges, 2)`
    edge list of `[source, target]` rows (negative rows are padding). Both
    give the same result; the edge list scales with the number of edges
    (gathers and segment sums, no `nodes x nodes` tensor) and lets the node
    axis be `None`. The degree `D` counts incoming edges plus the self loop;
    list an undirected edge in both directions.

    Args:
        units: Output channels per node.
        activation: Activation name or callable; `None` is linear.
        use_bias: Add a bias.
        add_self_loops: Add `I` to the adjacency (an edge list must then
            not contain self loops itself).
        adjacency_format: `"auto"` (integer dtype means edge list),
            `"dense"` or `"edges"`.
        kernel_initializer: Initializer of `W`.
        bias_initializer: Initializer of `b`.
        kernel_regularizer: Regulariser of `W` (a penalty added to the
            model's loss), e.g. `keras.regularizers.L2(2.5e-4)`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
    >>> nodes = keras.Input((3, 2))                # 3 nodes, 2 features
    >>> edges = keras.Input((5, 2), dtype="int32")  # 5 [source, target]
    >>> GCNConv(4)([nodes, edges]).shape
    (None, 3, 4)

    Reference:
        Kipf & Welling, 2016. https://arxiv.org/abs/1609.02907
    """

    def __init__(self, units: int, activation: Any = None,
                 use_bias: bool = True, add_self_loops: bool = True,
                 adjacency_format: str = "auto",
                 kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"units must be positive. Received: {units}")
        # Config
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.add_self_loops = bool(add_self_loops)
        self.adjacency_format = graph_utils.check_adjacency_format(
            adjacency_format
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape: Any) -> None:
        features, _ = graph_utils.check_graph_shapes(input_shape,
                                                     self.adjacency_format)
        self.kernel = self.add_weight(
            shape=(features[-1], self.units), name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), name="bias",
                                        initializer=self.bias_initializer)

    def call(self, inputs: Any) -> Any:
        x, adjacency = inputs
        num_nodes = graph_utils.num_nodes_of(x)
        h = keras.ops.matmul(x, self.kernel)
        if graph_utils.uses_edge_list(adjacency, self.adjacency_format):
            out = self._propagate_edges(h, adjacency, num_nodes)
        else:
            graph_utils.require_static_nodes(num_nodes)
            a = graph_utils.dense_with_self_loops(
                adjacency, num_nodes, self.add_self_loops, h.dtype
            )
            degree = keras.ops.sum(a, axis=-1)
            scale = keras.ops.where(
                degree > 0, keras.ops.rsqrt(keras.ops.maximum(degree, 1e-12)),
                0.0,
            )
            a = a * keras.ops.expand_dims(scale, -1)
            a = a * keras.ops.expand_dims(scale, -2)
            out = keras.ops.matmul(a, h)
        if self.use_bias:
            out = out + self.bias
        return self.activation(out)

    def _propagate_edges(self, h: Any, edges: Any, num_nodes: int) -> Any:
        source, target, weight, total = graph_utils.flat_edges(
            edges, num_nodes, self.add_self_loops, h.dtype
        )
        degree = keras.ops.segment_sum(weight, target, num_segments=total)
        scale = keras.ops.where(
            degree > 0, keras.ops.rsqrt(keras.ops.maximum(degree, 1e-12)), 0.0
        )
        norm = (weight * keras.ops.take(scale, source, axis=0)
                * keras.ops.take(scale, target, axis=0))
        flat = keras.ops.reshape(h, (-1, self.units))
        messages = keras.ops.take(flat, source, axis=0)
        messages = messages * keras.ops.expand_dims(norm, -1)
        out = keras.ops.segment_sum(messages, target, num_segments=total)
        return keras.ops.reshape(out, (-1, num_nodes, self.units))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        features, _ = graph_utils.check_graph_shapes(input_shape,
                                                     self.adjacency_format)
        return (features[0], features[1], self.units)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "add_self_loops": self.add_self_loops,
            "adjacency_format": self.adjacency_format,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer),
        })
        return config
