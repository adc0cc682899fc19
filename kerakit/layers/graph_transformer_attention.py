"""Neighbour-restricted multi-head attention of the Graph Transformer."""

from __future__ import annotations

import math
from typing import Any

import keras

from kerakit.layers import graph_utils


@keras.saving.register_keras_serializable(package="kerakit")
class GraphTransformerAttention(keras.layers.Layer):
    """Multi-head attention of each node over its in-neighbours.

    Dwivedi & Bresson's graph attention: for head `k` and every edge
    `j -> i` of the edge list, `s_ij = (Q h_i * K h_j) / sqrt(d_k)` (a
    `d_k` vector, element-wise product); with edge features `s_ij` is also
    multiplied element-wise by `E e_ij`. The score `sum(s_ij)` goes through
    a softmax over the in-neighbours `j` of `i` (segment ops over the edge
    list, never a `nodes x nodes` tensor), and `h_i = sum_j w_ij V h_j`.
    Heads are concatenated; the output projection `O_h`, residuals,
    normalisation and feed-forward layers are the model's.

    Inputs: `[features, edges]` or `[features, edges, edge_features]`:
    features `(batch, nodes, channels)` (the node axis may be `None`), an
    int `(batch, edges, 2)` list of `[source, target]` rows (negative rows
    are padding) and edge features `(batch, edges, edge_channels)`. A node
    attends only over the edges into it (no self loop is added); one
    without any gets zeros.

    Args:
        num_heads: Attention heads.
        key_dim: Channels per head (`d_k`); the output has `num_heads *
            key_dim` channels.
        edge_output: With edge features, also return the edge scores
            `s_ij` of every head, concatenated: `(batch, edges, num_heads *
            key_dim)`, zero on padding rows (the paper's `e_ij` update
            before `O_e`).
        attention_dropout: Dropout on the attention weights in training.
        use_bias: Add biases to the `Q`, `K`, `V` (and `E`) projections.
        kernel_initializer: Initializer of the projections.
        bias_initializer: Initializer of their biases.
        seed: Seed of the attention dropout.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Returns:
        Node outputs `(batch, nodes, num_heads * key_dim)`; a tuple `(node
        outputs, edge outputs)` when `edge_output` and edge features are
        given.

    Example:
    >>> h = keras.Input((None, 4))                 # any number of nodes
    >>> edges = keras.Input((None, 2), dtype="int32")
    >>> GraphTransformerAttention(2, 3)([h, edges]).shape
    (None, None, 6)

    Reference:
        Dwivedi & Bresson, 2020. https://arxiv.org/abs/2012.09699
    """

    def __init__(self, num_heads: int, key_dim: int,
                 edge_output: bool = False, attention_dropout: float = 0.0,
                 use_bias: bool = False,
                 kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(num_heads) < 1 or int(key_dim) < 1:
            raise ValueError(
                "num_heads and key_dim must be positive. Received: "
                f"num_heads={num_heads}, key_dim={key_dim}"
            )
        # Config
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.edge_output = bool(edge_output)
        self.attention_dropout = float(attention_dropout)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        # Layers
        self.dropout = keras.layers.Dropout(
            self.attention_dropout, seed=seed, dtype=self.dtype_policy
        )

    @property
    def output_units(self) -> int:
        """Channels per node (and per edge) in the output."""
        return self.num_heads * self.key_dim

    def _check(self, input_shape: Any) -> tuple:
        if not isinstance(input_shape, (list, tuple)) or len(
                input_shape) not in (2, 3) or not isinstance(
                    input_shape[0], (list, tuple)):
            raise ValueError(
                "GraphTransformerAttention takes [features, edges] or "
                "[features, edges, edge_features]. Received: "
                f"{input_shape}"
            )
        shapes = [tuple(s) for s in input_shape]
        if len(shapes[0]) != 3 or len(shapes[1]) != 3 or shapes[1][-1] not \
                in (None, 2):
            raise ValueError(
                "Expected features (batch, nodes, channels) and an int "
                f"(batch, edges, 2) edge list. Received: {shapes}"
            )
        if len(shapes) == 3 and len(shapes[2]) != 3:
            raise ValueError(
                "Expected edge features (batch, edges, channels). "
                f"Received: {shapes[2]}"
            )
        return shapes

    def _projection(self, name: str, channels: int) -> tuple[Any, Any]:
        kernel = self.add_weight(
            shape=(channels, self.output_units), name=f"{name}_kernel",
            initializer=self.kernel_initializer,
        )
        bias = None
        if self.use_bias:
            bias = self.add_weight(shape=(self.output_units,),
                                   name=f"{name}_bias",
                                   initializer=self.bias_initializer)
        return kernel, bias

    def build(self, input_shape: Any) -> None:
        shapes = self._check(input_shape)
        channels = shapes[0][-1]
        self.query_kernel, self.query_bias = self._projection("query",
                                                              channels)
        self.key_kernel, self.key_bias = self._projection("key", channels)
        self.value_kernel, self.value_bias = self._projection("value",
                                                              channels)
        self.edge_kernel = self.edge_bias = None
        if len(shapes) == 3:
            self.edge_kernel, self.edge_bias = self._projection(
                "edge", shapes[2][-1])

    def _project(self, x: Any, kernel: Any, bias: Any) -> Any:
        y = keras.ops.matmul(x, kernel)
        if bias is not None:
            y = y + bias
        return keras.ops.reshape(y, (-1, self.num_heads, self.key_dim))

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x, edges = inputs[0], inputs[1]
        edge_features = inputs[2] if len(inputs) == 3 else None
        num_nodes = graph_utils.num_nodes_of(x)
        src, dst, weight, total = graph_utils.flat_edges(
            edges, num_nodes, False, x.dtype
        )
        valid = weight > 0
        query = self._project(x, self.query_kernel, self.query_bias)
        key = self._project(x, self.key_kernel, self.key_bias)
        value = self._project(x, self.value_kernel, self.value_bias)
        scale = keras.ops.cast(1.0 / math.sqrt(self.key_dim), x.dtype)
        # (edges, heads, key_dim): the element-wise products per edge.
        scores = (keras.ops.take(query, dst, axis=0)
                  * keras.ops.take(key, src, axis=0) * scale)
        if edge_features is not None:
            scores = scores * self._project(edge_features, self.edge_kernel,
                                            self.edge_bias)
        alpha = graph_utils.segment_softmax(
            keras.ops.sum(scores, axis=-1), dst, valid, total
        )
        alpha = self.dropout(alpha, training=training)
        messages = keras.ops.take(value, src, axis=0)
        messages = messages * keras.ops.expand_dims(alpha, -1)
        out = keras.ops.segment_sum(messages, dst, num_segments=total)
        out = keras.ops.reshape(out, (-1, num_nodes, self.output_units))
        if not (self.edge_output and edge_features is not None):
            return out
        scores = scores * keras.ops.reshape(weight, (-1, 1, 1))
        num_edges = graph_utils.num_nodes_of(edge_features)
        return out, keras.ops.reshape(scores,
                                      (-1, num_edges, self.output_units))

    def compute_output_shape(self, input_shape: Any) -> Any:
        shapes = self._check(input_shape)
        nodes = (shapes[0][0], shapes[0][1], self.output_units)
        if self.edge_output and len(shapes) == 3:
            return nodes, (shapes[2][0], shapes[2][1], self.output_units)
        return nodes

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "edge_output": self.edge_output,
            "attention_dropout": self.attention_dropout,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer),
            "seed": self.seed,
        })
        return config
