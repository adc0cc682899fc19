"""Graph convolutional network (Kipf & Welling, 2017)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import Literal

import keras

from kerakit.layers import GCNConv
from kerakit.models.graph import blocks
from kerakit.registry import Knob
from kerakit.registry import register
from kerakit.registry import variant

_REFERENCE = ("Kipf & Welling, 2017. Semi-supervised classification with "
              "graph convolutional networks. https://arxiv.org/abs/1609.02907")
_CANONICAL = {"input_shape": (None, 1433), "num_classes": 7}
# Cora: 1433 * 16 + 16 * 7 = 22,928 + 112, no biases (REFERENCE gcn_cora).
_PARAMS = 23_040
_TINY = {"input_shape": (10, 6), "num_classes": 3, "num_layers": 2,
         "hidden_dim": 8, "dropout": 0.0}
_KNOBS = (
    Knob("depth", "num_layers", min_value=1, max_value=4, step=1),
    Knob("width", "hidden_dim", values=(16, 32, 64, 128)),
    Knob("dropout", "dropout", min_value=0.0, max_value=0.8, step=0.1),
)


@register(
    family="gcn",
    task="node_classification",
    tiny=_TINY,
    reference=_REFERENCE,
    canonical=_CANONICAL,
    params=_PARAMS,
    knobs=_KNOBS,
    test={"data": lambda kwargs: blocks.sweep_data(kwargs)},
)
def gcn(
    input_shape: Sequence[int | None] = (None, 1433),
    num_classes: int = 7,
    *,
    num_layers: int = 2,
    hidden_dim: int = 16,
    dropout: float = 0.5,
    use_bias: bool = False,
    weight_decay: float = 0.0,
    readout: Literal["mean", "sum", "max"] | None = None,
    max_graphs: int | None = None,
    dtype: Any = None,
    name: str = "gcn",
) -> keras.Model:
    """Build a GCN: stacked graph convolutions over a sparse edge list.

    Each layer is dropout on its input, then `GCNConv` (self loops and
    symmetric normalisation, `D^-1/2 (A + I) D^-1/2 X W`, computed with
    gathers and segment sums over the edge list). Hidden layers use ReLU.
    Node level (`readout=None`): the last layer outputs the class logits
    of every node, as in the paper. Graph level (`readout` set): all
    `num_layers` layers are hidden, node states are pooled per graph over
    `graph_index`, then dropout and `Dense(num_classes)` (with a bias).
    The defaults are the paper's Cora model.

    Inputs are a dict (`kerakit.models.graph.blocks`): `"features"` float
    `(batch, nodes, F)`, `"edges"` int32 `(batch, edges, 2)` rows `[source,
    target]` (negative rows are padding; list undirected edges both ways),
    and for a readout `"graph_index"` int32 `(batch, nodes)` (`-1`:
    padding node).

    Args:
        input_shape: `(nodes, features)`; `nodes` may be `None`.
        num_classes: Output logits per node (or per graph).
        num_layers: Graph convolutions (>= 1).
        hidden_dim: Channels of every hidden convolution.
        dropout: Dropout on the input of every layer (and before the
            graph-level head).
        use_bias: Biases in the convolutions (the paper has none).
        weight_decay: The paper's L2 penalty on the first layer's weights,
            `weight_decay * sum(W**2) / 2` added to the loss (the paper:
            5e-4). Unlike an optimizer's decoupled `weight_decay`, it
            takes part in the gradient as the paper's did.
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
    >>> m = kerakit.build("gcn", input_shape=(None, 4), num_classes=3,
    ...                   hidden_dim=8)
    >>> m.output_shape
    (None, None, 3)
    >>> kerakit.build("gcn").count_params()  # Cora: 1433 -> 16 -> 7
    23040

    Reference:
        Kipf & Welling, 2017. https://arxiv.org/abs/1609.02907
    """
    nodes, features = blocks.check_graph_args(
        input_shape, num_classes, num_layers, hidden_dim, dropout, readout,
        max_graphs, name)
    penalty = blocks.l2_penalty(weight_decay, name)
    inputs = blocks.graph_inputs(nodes, features, readout=readout)
    x, edges = inputs["features"], inputs["edges"]
    for i in range(1, num_layers + 1):
        last = i == num_layers and readout is None
        x = keras.layers.Dropout(dropout, dtype=dtype,
                                 name=f"{name}_dropout{i}")(x)
        x = GCNConv(
            num_classes if last else hidden_dim,
            activation=None if last else "relu", use_bias=use_bias,
            kernel_regularizer=penalty if i == 1 else None,
            dtype=dtype, name=f"{name}_gcn{i}",
        )([x, edges])
    if readout is not None:
        x = blocks.graph_head(x, inputs, num_classes, readout=readout,
                              max_graphs=max_graphs, dropout=dropout,
                              dtype=dtype, name=name)
    return keras.Model(inputs, x, name=name)


gcn_cora = register(
    family="gcn",
    task="node_classification",
    tiny={"input_shape": (10, 6), "num_classes": 3, "dropout": 0.0},
    reference=_REFERENCE,
    canonical=_CANONICAL,
    params=_PARAMS,
    knobs=_KNOBS[2:],
    test={"data": lambda kwargs: blocks.sweep_data(kwargs)},
)(variant(gcn, "gcn_cora",
          "GCN on Cora: 2 layers, 16 hidden, no bias, dropout 0.5 by "
          "default (Kipf & Welling, 2017).",
          num_layers=2, hidden_dim=16, use_bias=False))
