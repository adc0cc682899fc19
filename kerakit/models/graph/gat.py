"""Graph attention network (Velickovic et al., 2018)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import Literal

import keras

from kerakit.layers import GATConv
from kerakit.models.graph import blocks
from kerakit.registry import Knob
from kerakit.registry import register
from kerakit.registry import variant

_REFERENCE = ("Velickovic et al., 2018. Graph attention networks. "
              "https://arxiv.org/abs/1710.10903")
_CANONICAL = {"input_shape": (None, 1433), "num_classes": 7}
# Cora, no biases (REFERENCE gat_cora): layer 1 W 1433 * 64 = 91,712 plus
# attention vectors 2 * 8 heads * 8 = 128; layer 2 W 64 * 7 = 448 plus
# 2 * 1 * 7 = 14. Total 92,302.
_PARAMS = 92_302
_TINY = {"input_shape": (10, 6), "num_classes": 3, "num_layers": 2,
         "hidden_dim": 4, "num_heads": 2, "dropout": 0.0}
_KNOBS = (
    Knob("depth", "num_layers", min_value=1, max_value=4, step=1),
    Knob("width", "hidden_dim", values=(4, 8, 16, 32)),
    Knob("heads", "num_heads", values=(1, 2, 4, 8)),
    Knob("dropout", "dropout", min_value=0.0, max_value=0.8, step=0.1),
)


@register(
    family="gat",
    task="node_classification",
    tiny=_TINY,
    reference=_REFERENCE,
    canonical=_CANONICAL,
    params=_PARAMS,
    knobs=_KNOBS,
    test={"data": lambda kwargs: blocks.sweep_data(kwargs)},
)
def gat(
    input_shape: Sequence[int | None] = (None, 1433),
    num_classes: int = 7,
    *,
    num_layers: int = 2,
    hidden_dim: int = 8,
    num_heads: int = 8,
    output_heads: int = 1,
    dropout: float = 0.6,
    attention_dropout: float | None = None,
    negative_slope: float = 0.2,
    use_bias: bool = False,
    weight_decay: float = 0.0,
    readout: Literal["mean", "sum", "max"] | None = None,
    max_graphs: int | None = None,
    dtype: Any = None,
    name: str = "gat",
) -> keras.Model:
    """Build a GAT: stacked multi-head graph attention over an edge list.

    Each layer is dropout on its input, then `GATConv` (every node attends
    over its in-neighbours and itself; softmax per target node with segment
    ops over the edge list). Hidden layers have `num_heads` heads of
    `hidden_dim` channels, concatenated, with ELU. Node level
    (`readout=None`): the last layer has `output_heads` heads of
    `num_classes` channels, averaged, giving logits, as in the paper.
    Graph level (`readout` set): all `num_layers` layers are hidden, node
    states are pooled per graph over `graph_index`, then dropout and
    `Dense(num_classes)` (with a bias). The defaults are the paper's Cora
    model.

    Inputs are a dict (`kerakit.models.graph.blocks`): `"features"` float
    `(batch, nodes, F)`, `"edges"` int32 `(batch, edges, 2)` rows `[source,
    target]` (negative rows are padding; list undirected edges both ways;
    no self loops, the layer adds them), and for a readout `"graph_index"`
    int32 `(batch, nodes)` (`-1`: padding node).

    Args:
        input_shape: `(nodes, features)`; `nodes` may be `None`.
        num_classes: Output logits per node (or per graph).
        num_layers: Attention layers (>= 1).
        hidden_dim: Channels per head of every hidden layer.
        num_heads: Heads of every hidden layer (concatenated).
        output_heads: Heads of the node-level output layer (averaged; the
            paper uses 1 on Cora, 8 on PubMed).
        dropout: Dropout on the input of every layer (and before the
            graph-level head).
        attention_dropout: Dropout on the attention weights; `None` means
            the same as `dropout` (the paper's 0.6 for both).
        negative_slope: LeakyReLU slope of the attention scores.
        use_bias: Biases in the attention layers (the reference count has
            none).
        weight_decay: The paper's L2 penalty on every layer's weights and
            attention vectors, `weight_decay * sum(W**2) / 2` added to the
            loss (the paper: 5e-4), not an optimizer's decoupled decay.
        readout: `None` (node level) or `"mean"`, `"sum"`, `"max"` pooling
            of node states per graph (graph level).
        max_graphs: Graphs per batch for a readout (static; required with
            `readout`, `None` otherwise).
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from the input dict to logits `(batch,
        nodes, num_classes)`, or `(batch, max_graphs, num_classes)` with a
        readout (a graph slot without nodes pools to zeros, so its logits
        are the head's bias: give it weight 0 in the loss).

    Example:
    >>> import kerakit
    >>> m = kerakit.build("gat", input_shape=(None, 4), num_classes=3,
    ...                   hidden_dim=2, num_heads=2)
    >>> m.output_shape
    (None, None, 3)
    >>> kerakit.build("gat").count_params()  # Cora: 8 x 8 heads -> 7
    92302

    Reference:
        Velickovic et al., 2018. https://arxiv.org/abs/1710.10903
    """
    nodes, features = blocks.check_graph_args(
        input_shape, num_classes, num_layers, hidden_dim, dropout, readout,
        max_graphs, name)
    if num_heads < 1 or output_heads < 1:
        raise ValueError(
            f"{name}: num_heads and output_heads must be >= 1. Received: "
            f"num_heads={num_heads!r}, output_heads={output_heads!r}"
        )
    if attention_dropout is None:
        attention_dropout = dropout
    if not 0.0 <= attention_dropout < 1.0:
        raise ValueError(
            f"{name}: attention_dropout must be in [0, 1). Received: "
            f"attention_dropout={attention_dropout!r}"
        )
    penalty = blocks.l2_penalty(weight_decay, name)
    inputs = blocks.graph_inputs(nodes, features, readout=readout)
    x, edges = inputs["features"], inputs["edges"]
    for i in range(1, num_layers + 1):
        last = i == num_layers and readout is None
        x = keras.layers.Dropout(dropout, dtype=dtype,
                                 name=f"{name}_dropout{i}")(x)
        x = GATConv(
            num_classes if last else hidden_dim,
            num_heads=output_heads if last else num_heads,
            concat_heads=not last, negative_slope=negative_slope,
            attention_dropout=attention_dropout,
            activation=None if last else "elu", use_bias=use_bias,
            kernel_regularizer=penalty, dtype=dtype, name=f"{name}_gat{i}",
        )([x, edges])
    if readout is not None:
        x = blocks.graph_head(x, inputs, num_classes, readout=readout,
                              max_graphs=max_graphs, dropout=dropout,
                              dtype=dtype, name=name)
    return keras.Model(inputs, x, name=name)


gat_cora = register(
    family="gat",
    task="node_classification",
    tiny={"input_shape": (10, 6), "num_classes": 3, "dropout": 0.0},
    reference=_REFERENCE,
    canonical=_CANONICAL,
    params=_PARAMS,
    knobs=(_KNOBS[3],),
    test={"data": lambda kwargs: blocks.sweep_data(kwargs)},
)(variant(gat, "gat_cora",
          "GAT on Cora: 8 heads x 8 (concatenated, ELU), 1 output head, no "
          "bias, dropout 0.6 (Velickovic et al., 2018).",
          num_layers=2, hidden_dim=8, num_heads=8, output_heads=1,
          use_bias=False))
