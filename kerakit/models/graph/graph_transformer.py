"""Graph Transformer (Dwivedi & Bresson, 2020)."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Literal

import keras

from kerakit.layers import GraphTransformerAttention
from kerakit.layers import RandomSignFlip
from kerakit.models.graph import blocks
from kerakit.registry import Knob
from kerakit.registry import register

_REFERENCE = ("Dwivedi & Bresson, 2020. A generalization of transformer "
              "networks to graphs. https://arxiv.org/abs/2012.09699")
NORMALIZATIONS = ("layer", "batch")
# Cora input (1433 features, 7 classes) at the defaults (10 layers, hidden
# 80, 8 heads, FFN 160, 8 eigenvectors, layer norm, no edge features):
# embedding 1433*80 + 80 = 114,720; positions 8*80 + 80 = 720; per layer
# Q, K, V 3*80*80 = 19,200, O_h 80*80 + 80 = 6,480, two norms 2*160, FFN
# 80*160 + 160 + 160*80 + 80 = 25,840: 51,840, times 10 = 518,400; logits
# 80*7 + 7 = 567. Total 634,407.
_PARAMS = 634_407


def _data(kwargs: Mapping[str, Any]) -> Any:
    return blocks.sweep_data(kwargs, positions=kwargs["num_eigenvectors"],
                             edge_dim=kwargs.get("edge_dim"))


@register(
    family="graph_transformer",
    task="node_classification",
    tiny={"input_shape": (10, 6), "num_classes": 3, "num_layers": 2,
          "hidden_dim": 8, "num_heads": 2, "num_eigenvectors": 3,
          "edge_dim": 2},
    reference=_REFERENCE,
    canonical={"input_shape": (None, 1433), "num_classes": 7},
    params=_PARAMS,
    knobs=(
        Knob("depth", "num_layers", min_value=2, max_value=12, step=2),
        Knob("width", "hidden_dim", values=(32, 64, 80, 128)),
        Knob("heads", "num_heads", values=(1, 2, 4, 8)),
        Knob("normalization", "normalization", values=NORMALIZATIONS),
        Knob("dropout", "dropout", min_value=0.0, max_value=0.5, step=0.1),
    ),
    test={"data": _data},
)
def graph_transformer(
    input_shape: Sequence[int | None] = (None, 1433),
    num_classes: int = 7,
    *,
    num_layers: int = 10,
    hidden_dim: int = 80,
    num_heads: int = 8,
    intermediate_dim: int | None = None,
    num_eigenvectors: int = 8,
    edge_dim: int | None = None,
    normalization: Literal["layer", "batch"] = "layer",
    dropout: float = 0.0,
    attention_dropout: float = 0.0,
    readout: Literal["mean", "sum", "max"] | None = None,
    max_graphs: int | None = None,
    dtype: Any = None,
    name: str = "graph_transformer",
) -> keras.Model:
    """Build a Graph Transformer: attention over each node's neighbours.

    Node features are embedded by a Dense layer; the Laplacian eigenvector
    positions (`"positions"`, `num_eigenvectors` columns) get a random sign
    per eigenvector in training (`RandomSignFlip`, per graph with a
    readout), are projected by a Dense layer and added. Each of the
    `num_layers` layers: multi-head attention of every node over its
    in-neighbours (`GraphTransformerAttention`, softmax per target node over
    the edge list), dropout, output projection `O_h`, residual, norm, then
    FFN (ReLU, `intermediate_dim`, dropout), residual, norm. With
    `edge_dim`, edge features are embedded too, scale the attention scores
    and have their own stream (`O_e`, residual, norm, FFN) updated by every
    layer but the last (whose edge update nothing would use). Node level:
    `Dense(num_classes)` per node. Graph level (`readout` set): pooling per
    graph over `graph_index`, dropout, `Dense(num_classes)`.

    Inputs are a dict (`kerakit.models.graph.blocks`): `"features"` float
    `(batch, nodes, F)`, `"edges"` int32 `(batch, edges, 2)` rows `[source,
    target]` (negative rows are padding; a node attends over the sources of
    its incoming edges, no self loop is added), `"positions"` float `(batch,
    nodes, num_eigenvectors)` from
    `kerakit.models.graph.positions.laplacian_positions` (absent when
    `num_eigenvectors=0`), `"edge_features"` float `(batch, edges,
    edge_dim)` when `edge_dim` is set, and for a readout `"graph_index"`
    int32 `(batch, nodes)` (`-1`: padding node).

    At the defaults on a Cora input (1433 features, 7 classes: 10 layers,
    hidden 80, 8 heads, FFN 160, 8 eigenvectors, layer norm, no edge
    features) `count_params()` is 634,407.

    Args:
        input_shape: `(nodes, features)`; `nodes` may be `None`.
        num_classes: Output logits per node (or per graph).
        num_layers: Transformer layers (>= 1).
        hidden_dim: Width of node (and edge) states; divisible by
            `num_heads`.
        num_heads: Attention heads (`hidden_dim / num_heads` channels each).
        intermediate_dim: FFN width; `None` means `2 * hidden_dim` (the
            paper's).
        num_eigenvectors: Laplacian eigenvectors `k` in `"positions"`; 0
            drops the positional encoding and its input.
        edge_dim: Edge feature size; `None` means no edge features.
        normalization: `"layer"` (LayerNorm, per node) or `"batch"`
            (BatchNorm, the paper's best; its statistics cover every node
            and edge row of the batch, padding rows included, so prefer
            `"layer"` with padded batches).
        dropout: Dropout on the attention output and inside the FFN (and
            before the graph-level head).
        attention_dropout: Dropout on the attention weights.
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
    >>> m = kerakit.build("graph_transformer", input_shape=(None, 4),
    ...                   num_classes=3, num_layers=1, hidden_dim=4,
    ...                   num_heads=2, num_eigenvectors=2)
    >>> sorted(m.input), m.output_shape
    (['edges', 'features', 'positions'], (None, None, 3))

    Reference:
        Dwivedi & Bresson, 2020. https://arxiv.org/abs/2012.09699
    """
    nodes, features = blocks.check_graph_args(
        input_shape, num_classes, num_layers, hidden_dim, dropout, readout,
        max_graphs, name)
    if num_heads < 1 or hidden_dim % num_heads:
        raise ValueError(
            f"{name}: hidden_dim must be a multiple of num_heads >= 1. "
            f"Received: hidden_dim={hidden_dim!r}, num_heads={num_heads!r}"
        )
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"{name}: normalization must be one of {NORMALIZATIONS}. "
            f"Received: normalization={normalization!r}"
        )
    if num_eigenvectors < 0 or (edge_dim is not None and edge_dim < 1) or (
            intermediate_dim is not None and intermediate_dim < 1):
        raise ValueError(
            f"{name}: num_eigenvectors must be >= 0, edge_dim and "
            "intermediate_dim None or >= 1. Received: num_eigenvectors="
            f"{num_eigenvectors!r}, edge_dim={edge_dim!r}, "
            f"intermediate_dim={intermediate_dim!r}"
        )
    if not 0.0 <= attention_dropout < 1.0:
        raise ValueError(
            f"{name}: attention_dropout must be in [0, 1). Received: "
            f"attention_dropout={attention_dropout!r}"
        )
    inputs = blocks.graph_inputs(nodes, features, readout=readout,
                                 num_eigenvectors=num_eigenvectors,
                                 edge_dim=edge_dim)
    settings = {
        "hidden_dim": hidden_dim,
        "intermediate_dim": intermediate_dim or 2 * hidden_dim,
        "normalization": normalization, "dropout": dropout, "dtype": dtype,
    }
    h = keras.layers.Dense(hidden_dim, dtype=dtype,
                           name=f"{name}_embedding")(inputs["features"])
    if num_eigenvectors:
        positions = inputs["positions"]
        flip = RandomSignFlip(max_graphs if readout else None, dtype=dtype,
                              name=f"{name}_sign_flip")
        positions = flip([positions, inputs["graph_index"]] if readout
                         else positions)
        positions = keras.layers.Dense(
            hidden_dim, dtype=dtype, name=f"{name}_position_embedding"
        )(positions)
        h = keras.layers.Add(dtype=dtype, name=f"{name}_add_positions")(
            [h, positions])
    e = None
    if edge_dim is not None:
        e = keras.layers.Dense(hidden_dim, dtype=dtype,
                               name=f"{name}_edge_embedding")(
            inputs["edge_features"])
    for i in range(1, num_layers + 1):
        prefix = f"{name}_layer{i}"
        update_edges = e is not None and i < num_layers
        attended = GraphTransformerAttention(
            num_heads, hidden_dim // num_heads, edge_output=update_edges,
            attention_dropout=attention_dropout, dtype=dtype,
            name=f"{prefix}_attention",
        )([h, inputs["edges"]] + ([e] if e is not None else []))
        if update_edges:
            attended, edge_scores = attended
            e = _residual_ffn(e, edge_scores, f"{prefix}_edge", **settings)
        h = _residual_ffn(h, attended, f"{prefix}_node", **settings)
    if readout is not None:
        return keras.Model(inputs, blocks.graph_head(
            h, inputs, num_classes, readout=readout, max_graphs=max_graphs,
            dropout=dropout, dtype=dtype, name=name), name=name)
    logits = keras.layers.Dense(num_classes, dtype=dtype,
                                name=f"{name}_logits")(h)
    return keras.Model(inputs, logits, name=name)


def _residual_ffn(x: Any, branch: Any, prefix: str, *, hidden_dim: int,
                  intermediate_dim: int, normalization: str, dropout: float,
                  dtype: Any) -> Any:
    """`norm(x + O(dropout(branch)))`, then `norm(y + FFN(y))`."""

    def norm(tensor: Any, index: int) -> Any:
        layer_name = f"{prefix}_norm{index}"
        if normalization == "batch":
            # PyTorch's defaults, as in the reference implementation.
            layer = keras.layers.BatchNormalization(
                momentum=0.9, epsilon=1e-5, dtype=dtype, name=layer_name)
        else:
            layer = keras.layers.LayerNormalization(
                epsilon=1e-5, dtype=dtype, name=layer_name)
        return layer(tensor)

    y = keras.layers.Dropout(dropout, dtype=dtype,
                             name=f"{prefix}_dropout1")(branch)
    y = keras.layers.Dense(hidden_dim, dtype=dtype,
                           name=f"{prefix}_output")(y)
    x = norm(keras.layers.Add(dtype=dtype, name=f"{prefix}_add1")([x, y]), 1)
    y = keras.layers.Dense(intermediate_dim, activation="relu", dtype=dtype,
                           name=f"{prefix}_ffn1")(x)
    y = keras.layers.Dropout(dropout, dtype=dtype,
                             name=f"{prefix}_dropout2")(y)
    y = keras.layers.Dense(hidden_dim, dtype=dtype,
                           name=f"{prefix}_ffn2")(y)
    return norm(keras.layers.Add(dtype=dtype, name=f"{prefix}_add2")([x, y]),
                2)
