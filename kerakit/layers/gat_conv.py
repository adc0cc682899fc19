"""Graph attention convolution (GAT)."""

from __future__ import annotations

from typing import Any

import keras

from kerakit.layers import graph_utils

_NEG = -1e9


@keras.saving.register_keras_serializable(package="kerakit")
class GATConv(keras.layers.Layer):
    """Graph attention: each node attends over its in-neighbours.

    For head `k`, `e_ij = LeakyReLU(a_t . W x_i + a_s . W x_j)` for every edge
    `j -> i`, normalised with a softmax over `j`, then `h_i = sum_j alpha_ij
    W x_j`. Heads are concatenated or averaged. Inputs are `[features,
    adjacency]` as for `GCNConv`: a dense `(batch, nodes, nodes)` adjacency
    (non-zero means an edge) or an integer `(batch, edges, 2)` edge list of
    `[source, target]` rows (negative rows are padding); both agree. The
    edge list path is sparse (a softmax per target node with segment ops,
    no `nodes x nodes` tensor) and lets the node axis be `None`.

    Args:
        units: Output channels per head.
        num_heads: Attention heads.
        concat_heads: Concatenate heads (`units * num_heads` outputs) or
            average them (`units` outputs).
        negative_slope: Slope of the LeakyReLU on attention scores.
        attention_dropout: Dropout on attention weights in training.
        activation: Activation name or callable; `None` is linear.
        use_bias: Add a bias.
        add_self_loops: Let each node attend to itself (an edge list must
            then not contain self loops itself).
        adjacency_format: `"auto"` (integer dtype means edge list),
            `"dense"` or `"edges"`.
        kernel_initializer: Initializer of `W` and the attention vectors.
        bias_initializer: Initializer of the bias.
        seed: Seed of the attention dropout.
        kernel_regularizer: Regulariser of the kernel and of both attention
            vectors (the GAT reference code's L2 covers all three).
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
    >>> nodes = keras.Input((3, 2))      # 3 nodes, 2 features
    >>> adjacency = keras.Input((3, 3))  # dense
    >>> GATConv(4, num_heads=2)([nodes, adjacency]).shape
    (None, 3, 8)

    Reference:
        Velickovic et al., 2017. https://arxiv.org/abs/1710.10903
    """

    def __init__(self, units: int, num_heads: int = 1,
                 concat_heads: bool = True, negative_slope: float = 0.2,
                 attention_dropout: float = 0.0, activation: Any = None,
                 use_bias: bool = True, add_self_loops: bool = True,
                 adjacency_format: str = "auto",
                 kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", seed: int | None = None,
                 kernel_regularizer: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(units) < 1 or int(num_heads) < 1:
            raise ValueError(
                "units and num_heads must be positive. Received: "
                f"units={units}, num_heads={num_heads}"
            )
        # Config
        self.units = int(units)
        self.num_heads = int(num_heads)
        self.concat_heads = bool(concat_heads)
        self.negative_slope = float(negative_slope)
        self.attention_dropout = float(attention_dropout)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.add_self_loops = bool(add_self_loops)
        self.adjacency_format = graph_utils.check_adjacency_format(
            adjacency_format
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = seed
        # Layers
        self.dropout = keras.layers.Dropout(
            self.attention_dropout, seed=seed, dtype=self.dtype_policy
        )

    @property
    def output_units(self) -> int:
        """Channels per node in the output."""
        return self.units * self.num_heads if self.concat_heads else self.units

    def build(self, input_shape: Any) -> None:
        features, _ = graph_utils.check_graph_shapes(input_shape,
                                                     self.adjacency_format)
        heads, units = self.num_heads, self.units
        self.kernel = self.add_weight(
            shape=(features[-1], heads * units), name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.attention_source = self.add_weight(
            shape=(heads, units), name="attention_source",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.attention_target = self.add_weight(
            shape=(heads, units), name="attention_target",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.output_units,), name="bias",
                initializer=self.bias_initializer,
            )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x, adjacency = inputs
        num_nodes = graph_utils.num_nodes_of(x)
        h = keras.ops.matmul(x, self.kernel)
        h = keras.ops.reshape(h, (-1, num_nodes, self.num_heads, self.units))
        score_source = keras.ops.sum(h * self.attention_source, axis=-1)
        score_target = keras.ops.sum(h * self.attention_target, axis=-1)
        if graph_utils.uses_edge_list(adjacency, self.adjacency_format):
            out = self._attend_edges(h, score_source, score_target, adjacency,
                                     num_nodes, training)
        else:
            graph_utils.require_static_nodes(num_nodes)
            out = self._attend_dense(h, score_source, score_target, adjacency,
                                     num_nodes, training)
        if self.concat_heads:
            out = keras.ops.reshape(out, (-1, num_nodes, self.output_units))
        else:
            out = keras.ops.mean(out, axis=2)
        if self.use_bias:
            out = out + self.bias
        return self.activation(out)

    def _attend_dense(self, h: Any, source: Any, target: Any, adjacency: Any,
                      num_nodes: int, training: bool | None) -> Any:
        a = graph_utils.dense_with_self_loops(
            adjacency, num_nodes, self.add_self_loops, h.dtype
        )
        mask = keras.ops.expand_dims(keras.ops.not_equal(a, 0), -1)
        # scores[b, i, j, k] for the edge j -> i in head k.
        scores = (keras.ops.expand_dims(target, 2)
                  + keras.ops.expand_dims(source, 1))
        scores = keras.ops.leaky_relu(scores, self.negative_slope)
        scores = keras.ops.where(mask, scores, _NEG)
        alpha = keras.ops.softmax(scores, axis=2)
        alpha = alpha * keras.ops.cast(mask, alpha.dtype)
        alpha = self.dropout(alpha, training=training)
        return keras.ops.einsum("bijk,bjku->biku", alpha, h)

    def _attend_edges(self, h: Any, source: Any, target: Any, edges: Any,
                      num_nodes: int, training: bool | None) -> Any:
        src, dst, weight, total = graph_utils.flat_edges(
            edges, num_nodes, self.add_self_loops, h.dtype
        )
        heads = self.num_heads
        source = keras.ops.reshape(source, (-1, heads))
        target = keras.ops.reshape(target, (-1, heads))
        scores = (keras.ops.take(target, dst, axis=0)
                  + keras.ops.take(source, src, axis=0))
        scores = keras.ops.leaky_relu(scores, self.negative_slope)
        alpha = graph_utils.segment_softmax(scores, dst, weight > 0, total)
        alpha = self.dropout(alpha, training=training)
        flat = keras.ops.reshape(h, (-1, heads, self.units))
        messages = keras.ops.take(flat, src, axis=0)
        messages = messages * keras.ops.expand_dims(alpha, -1)
        out = keras.ops.segment_sum(messages, dst, num_segments=total)
        return keras.ops.reshape(out, (-1, num_nodes, heads, self.units))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        features, _ = graph_utils.check_graph_shapes(input_shape,
                                                     self.adjacency_format)
        return (features[0], features[1], self.output_units)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "units": self.units,
            "num_heads": self.num_heads,
            "concat_heads": self.concat_heads,
            "negative_slope": self.negative_slope,
            "attention_dropout": self.attention_dropout,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "add_self_loops": self.add_self_loops,
            "adjacency_format": self.adjacency_format,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer),
            "seed": self.seed,
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer),
        })
        return config
