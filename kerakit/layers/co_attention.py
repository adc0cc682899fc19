"""ViLBERT's co-attentional transformer block: two streams trade keys and
values."""

from __future__ import annotations

from typing import Any

import keras


def key_mask(mask: Any) -> Any:
    """A `(batch, 1, keys)` attention mask from a `(batch, keys)` padding
    mask (`None` stays `None`); it broadcasts over the queries.

    Example:
    >>> m = key_mask(keras.ops.convert_to_tensor([[True, False]]))
    >>> tuple(m.shape)
    (1, 1, 2)
    """
    if mask is None:
        return None
    return keras.ops.expand_dims(keras.ops.cast(mask, "bool"), 1)


@keras.saving.register_keras_serializable(package="kerakit")
class CoAttention(keras.layers.Layer):
    """A co-attentional transformer layer (Co-TRM) over two streams.

    Each stream's queries attend over the *other* stream's keys and values
    (the visual stream reads the text, the text reads the image regions),
    in `attention_dim`-wide multi-head attention; each result is projected
    back to its stream's width, added to the stream and layer-normalised,
    then each stream has its own feed-forward block (post-norm, as BERT).
    Inputs are `[visual (batch, regions, visual_dim), text (batch, tokens,
    text_dim)]`; the two widths may differ. `visual_mask` and `text_mask`
    (`(batch, regions)`, `(batch, tokens)`, true where real) hide padding
    from the other stream's queries.

    Args:
        attention_dim: Width of the exchanged queries, keys and values
            (ViLBERT's `bi_hidden_size`); a multiple of `num_heads`.
        num_heads: Attention heads of each direction.
        visual_intermediate_dim: Feed-forward width of the visual stream.
        text_intermediate_dim: Feed-forward width of the text stream.
        dropout: Dropout of the attention weights and the residual
            branches.
        activation: Feed-forward activation.
        layer_norm_epsilon: Epsilon of the layer normalisations.
        normalize_first: Pre-norm: normalise each stream before the
            attention (queries, keys and values) and before the
            feed-forward block, keeping the residual stream unnormalised
            (trains more easily from scratch); `False` is BERT's and
            ViLBERT's post-norm.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
    >>> layer = CoAttention(8, 2, 16, 16)
    >>> v, t = layer([keras.ops.ones((2, 5, 6)), keras.ops.ones((2, 3, 4))])
    >>> tuple(v.shape), tuple(t.shape)
    ((2, 5, 6), (2, 3, 4))

    Reference:
        Lu et al., 2019. ViLBERT. https://arxiv.org/abs/1908.02265
    """

    def __init__(self, attention_dim: int, num_heads: int,
                 visual_intermediate_dim: int, text_intermediate_dim: int,
                 dropout: float = 0.0, activation: str = "gelu",
                 layer_norm_epsilon: float = 1e-12,
                 normalize_first: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if min(attention_dim, num_heads, visual_intermediate_dim,
               text_intermediate_dim) < 1 or attention_dim % num_heads:
            raise ValueError(
                "attention_dim, num_heads and the intermediate widths must "
                "be positive, and attention_dim a multiple of num_heads. "
                f"Received: attention_dim={attention_dim}, num_heads="
                f"{num_heads}, visual_intermediate_dim="
                f"{visual_intermediate_dim}, text_intermediate_dim="
                f"{text_intermediate_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1). Received: {dropout}")
        # Config
        self.attention_dim = int(attention_dim)
        self.num_heads = int(num_heads)
        self.visual_intermediate_dim = int(visual_intermediate_dim)
        self.text_intermediate_dim = int(text_intermediate_dim)
        self.dropout = float(dropout)
        self.activation = activation
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.normalize_first = bool(normalize_first)
        self.supports_masking = False

    _PARTS = ("attention", "attention_norm", "intermediate", "output",
              "output_norm", "dropout")

    def _make_stream(self, stream: str, width: int,
                     intermediate: int) -> None:
        """Create one stream's sublayers as attributes `{stream}_{part}`
        (their weights save and load under these names)."""
        policy = self.dtype_policy
        made = {
            # Queries from this stream; keys and values from the other.
            "attention": keras.layers.MultiHeadAttention(
                self.num_heads, self.attention_dim // self.num_heads,
                dropout=self.dropout, output_shape=width, dtype=policy,
                name=f"{stream}_attention"),
            "attention_norm": keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=policy,
                name=f"{stream}_attention_norm"),
            "intermediate": keras.layers.Dense(
                intermediate, activation=self.activation, dtype=policy,
                name=f"{stream}_intermediate"),
            "output": keras.layers.Dense(width, dtype=policy,
                                         name=f"{stream}_output"),
            "output_norm": keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=policy,
                name=f"{stream}_output_norm"),
            "dropout": keras.layers.Dropout(self.dropout, dtype=policy,
                                            name=f"{stream}_dropout"),
        }
        for part, layer in made.items():
            setattr(self, f"{stream}_{part}", layer)

    def _stream(self, stream: str) -> dict[str, Any]:
        return {part: getattr(self, f"{stream}_{part}")
                for part in self._PARTS}

    def build(self, input_shape: Any) -> None:
        visual_shape, text_shape = (tuple(s) for s in input_shape)
        self._make_stream("visual", visual_shape[-1],
                          self.visual_intermediate_dim)
        self._make_stream("text", text_shape[-1],
                          self.text_intermediate_dim)
        for stream, own, other in (("visual", visual_shape, text_shape),
                                   ("text", text_shape, visual_shape)):
            layers = self._stream(stream)
            layers["attention"].build(own, other)
            layers["attention_norm"].build(own)
            layers["intermediate"].build(own)
            layers["output"].build((*own[:-1], layers[
                "intermediate"].units))
            layers["output_norm"].build(own)

    def _update(self, stream: str, own: Any, query: Any, other: Any,
                other_mask: Any, training: Any) -> Any:
        layers = self._stream(stream)
        attended = layers["attention"](
            query, other, other, attention_mask=key_mask(other_mask),
            training=training)
        own = own + layers["dropout"](attended, training=training)
        if not self.normalize_first:
            own = layers["attention_norm"](own)
        hidden = layers["output"](layers["intermediate"](
            layers["output_norm"](own) if self.normalize_first else own))
        own = own + layers["dropout"](hidden, training=training)
        return own if self.normalize_first else layers["output_norm"](own)

    def call(self, inputs: Any, visual_mask: Any = None,
             text_mask: Any = None, training: Any = None) -> list:
        visual, text = inputs
        seen_visual, seen_text = visual, text
        if self.normalize_first:
            seen_visual = self.visual_attention_norm(visual)
            seen_text = self.text_attention_norm(text)
        # Both directions read the streams as they came in (simultaneous
        # exchange, as in ViLBERT), not one stream's update.
        return [self._update("visual", visual, seen_visual, seen_text,
                             text_mask, training),
                self._update("text", text, seen_text, seen_visual,
                             visual_mask, training)]

    def compute_output_shape(self, input_shape: Any) -> list:
        return [tuple(s) for s in input_shape]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "attention_dim": self.attention_dim,
            "num_heads": self.num_heads,
            "visual_intermediate_dim": self.visual_intermediate_dim,
            "text_intermediate_dim": self.text_intermediate_dim,
            "dropout": self.dropout,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "normalize_first": self.normalize_first,
        })
        return config
