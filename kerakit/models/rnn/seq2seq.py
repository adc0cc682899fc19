"""Sequence-to-sequence encoder-decoder (LSTM or GRU) with attention.

Token convention: id 0 is padding (masked), `start_id` (1) opens every
decoder input and `end_id` (2) closes every target. Training uses teacher
forcing: the model maps `{"source", "target_in"}` (the target shifted right
behind `start_id`) to next-token logits. :func:`greedy_decode` and
:func:`beam_search` decode with any such model, also after loading it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import Literal

import keras
import numpy as np

from kerakit.models.mlp.mlp import check_depth_width
from kerakit.models.rnn.recurrent import recurrent_layer
from kerakit.registry import Knob
from kerakit.registry import register
from kerakit.testing import SweepData

ATTENTIONS = {
    "bahdanau": lambda **kw: keras.layers.AdditiveAttention(**kw),
    "luong": lambda **kw: keras.layers.Attention(score_mode="dot", **kw),
}


@register(
    family="seq2seq",
    task="sequence_to_sequence",
    tiny={"vocabulary_size": 10, "hidden_dim": 8, "embedding_dim": 4,
          "attention": "bahdanau", "source_length": 4, "target_length": 5},
    reference="Sutskever et al., 2014; Bahdanau et al., 2015; Luong et al., "
    "2015.",
    canonical={"vocabulary_size": 10_000, "hidden_dim": 256,
               "embedding_dim": 128, "attention": "luong"},
    # Embeddings 2 * 10,000*128 = 2,560,000; LSTMs 2 * 4*256*(128+256+1)
    # = 788,480; Luong's dot score has no weights; attentional Dense
    # 512*256 + 256 = 131,328; logits 256*10,000 + 10,000 = 2,570,000.
    # Total 6,049,808.
    params=6_049_808,
    knobs=(Knob("depth", "num_layers", min_value=1, max_value=4, step=1),
           Knob("width", "hidden_dim", values=(64, 128, 256, 512))),
    test={"data": lambda kwargs: _seq2seq_data(kwargs)},
)
def seq2seq(
    vocabulary_size: int = 10_000,
    *,
    target_vocabulary_size: int | None = None,
    cell: Literal["lstm", "gru"] = "lstm",
    num_layers: int = 1,
    hidden_dim: int = 256,
    embedding_dim: int = 128,
    attention: Literal["bahdanau", "luong"] | None = "luong",
    dropout: float = 0.0,
    source_length: int | None = None,
    target_length: int | None = None,
    dtype: Any = None,
    name: str = "seq2seq",
) -> keras.Model:
    """Build an RNN encoder-decoder for token sequences.

    The encoder's final states (per layer) initialise the decoder. With
    `attention`, every decoder output attends over the encoder outputs
    (`"bahdanau"`: additive scores, `keras.layers.AdditiveAttention`;
    `"luong"`: dot-product scores, `keras.layers.Attention`); the context
    and decoder output are combined by a tanh Dense layer (Luong's
    attentional hidden state) before the output logits.

    Args:
        vocabulary_size: Source vocabulary size (id 0 = padding).
        target_vocabulary_size: Target vocabulary size; `None` = same.
        cell: `"lstm"` or `"gru"`.
        num_layers: Stacked recurrent layers in encoder and decoder.
        hidden_dim: Units of every recurrent layer.
        embedding_dim: Token embedding width.
        attention: `"bahdanau"`, `"luong"` or `None` (plain encoder-decoder).
        dropout: Dropout on the recurrent layers' inputs.
        source_length: Fixed source length; `None` accepts any length.
        target_length: Fixed decoder length; `None` accepts any length.
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from `{"source": (batch, S), "target_in":
        (batch, T)}` int tokens to logits `(batch, T, target_vocabulary)`.

    Example:
    >>> import kerakit
    >>> m = kerakit.build("seq2seq", vocabulary_size=10, hidden_dim=4,
    ...                   embedding_dim=4)
    >>> m.output_shape
    (None, None, 10)

    Reference:
        Sutskever et al., 2014. https://arxiv.org/abs/1409.3215
    """
    if cell not in ("lstm", "gru"):
        raise ValueError(f"{name}: cell must be 'lstm' or 'gru'. "
                         f"Received: cell={cell!r}")
    if attention is not None and attention not in ATTENTIONS:
        raise ValueError(
            f"{name}: attention must be 'bahdanau', 'luong' or None. "
            f"Received: attention={attention!r}"
        )
    if target_vocabulary_size is None:
        target_vocabulary_size = vocabulary_size
    if min(vocabulary_size, target_vocabulary_size) < 4:
        raise ValueError(
            f"{name}: vocabularies need >= 4 ids (0 pad, 1 start, 2 end, "
            f"tokens). Received: vocabulary_size={vocabulary_size!r}, "
            f"target_vocabulary_size={target_vocabulary_size!r}"
        )
    check_depth_width(num_layers, hidden_dim, dropout, name, min_layers=1)
    source = keras.Input((source_length,), dtype="int32", name="source")
    target_in = keras.Input((target_length,), dtype="int32", name="target_in")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True,
                               dtype=dtype, name=f"{name}_source_embedding")(
        source)
    states = []
    for i in range(1, num_layers + 1):
        x, *state = recurrent_layer(
            cell, hidden_dim, return_sequences=True, return_state=True,
            dropout=dropout, dtype=dtype, name=f"{name}_encoder_{cell}{i}",
        )(x)
        states.append(state)
    encoded = x
    x = keras.layers.Embedding(
        target_vocabulary_size, embedding_dim, mask_zero=True, dtype=dtype,
        name=f"{name}_target_embedding",
    )(target_in)
    for i, state in enumerate(states, start=1):
        x = recurrent_layer(
            cell, hidden_dim, return_sequences=True, dropout=dropout,
            dtype=dtype,
            name=f"{name}_decoder_{cell}{i}",
        )(x, initial_state=state)
    if attention:
        context = ATTENTIONS[attention](
            dtype=dtype, name=f"{name}_{attention}_attention"
        )([x, encoded])
        x = keras.layers.Concatenate(dtype=dtype, name=f"{name}_concat")(
            [x, context])
        x = keras.layers.Dense(hidden_dim, activation="tanh", dtype=dtype,
                               name=f"{name}_attentional")(x)
    logits = keras.layers.Dense(target_vocabulary_size, dtype=dtype,
                                name=f"{name}_logits")(x)
    return keras.Model({"source": source, "target_in": target_in}, logits,
                       name=name)


def _check_source(source: Any) -> np.ndarray:
    source = np.asarray(source)
    if source.ndim != 2 or not np.issubdtype(source.dtype, np.integer):
        raise ValueError(
            "source must be a 2D integer array (batch, steps) of token ids. "
            f"Received: shape {source.shape}, dtype {source.dtype}"
        )
    return source.astype("int32")


def _step_logits(model: keras.Model, source: np.ndarray, target: np.ndarray,
                 t: int) -> np.ndarray:
    # predict_on_batch compiles once per input shape (jit on JAX/TF), and
    # every step of one decode uses the same shape.
    logits = model.predict_on_batch({"source": source, "target_in": target})
    return np.asarray(logits[:, t], "float32")


def _max_length(model: keras.Model, max_length: int | None) -> int:
    fixed = model.input["target_in"].shape[1] if isinstance(
        model.input, dict) else None
    if max_length is None:
        max_length = fixed
    if max_length is None or max_length < 1:
        raise ValueError(
            "max_length must be a positive number of tokens to decode "
            f"(needed when the model's target length is variable). "
            f"Received: max_length={max_length!r}"
        )
    if fixed is not None and fixed != max_length:
        raise ValueError(
            f"This model decodes exactly target_length={fixed} tokens. "
            f"Received: max_length={max_length!r}; leave it as None."
        )
    return max_length


def greedy_decode(model: keras.Model, source: Any, *,
                  max_length: int | None = None, start_id: int = 1,
                  end_id: int = 2) -> np.ndarray:
    """Decode by taking the most likely token at every step.

    Args:
        model: A `seq2seq` model (trained with the same token convention).
        source: Integer source tokens `(batch, steps)`, 0-padded.
        max_length: Number of tokens to produce (including `end_id`);
            `None` uses the model's fixed `target_length`.
        start_id: Decoder start token.
        end_id: End token; positions after it are set to 0.

    Returns:
        `(batch, max_length)` int32 tokens.

    Example:
    >>> m = seq2seq(10, hidden_dim=4, embedding_dim=4)
    >>> greedy_decode(m, np.array([[3, 4, 5]]), max_length=4).shape
    (1, 4)
    """
    source = _check_source(source)
    max_length = _max_length(model, max_length)
    # The decoder input has a fixed width so each step reuses one compiled
    # graph; steps beyond t are padding (masked) and cannot affect step t.
    target = np.zeros((len(source), max_length), "int32")
    target[:, 0] = start_id
    out = np.zeros_like(target)
    for t in range(max_length):
        out[:, t] = _step_logits(model, source, target, t).argmax(-1)
        if t + 1 < max_length:
            target[:, t + 1] = out[:, t]
    return _cut_after_end(out, end_id)


def _cut_after_end(tokens: np.ndarray, end_id: int) -> np.ndarray:
    ended = np.cumsum(tokens == end_id, axis=-1) - (tokens == end_id)
    return np.where(ended > 0, 0, tokens).astype("int32")


def beam_search(model: keras.Model, source: Any, *,
                max_length: int | None = None,
                beam_width: int = 4, start_id: int = 1, end_id: int = 2,
                length_penalty: float = 0.0) -> np.ndarray:
    """Decode with beam search and return the best hypothesis per example.

    Args:
        model: A `seq2seq` model.
        source: Integer source tokens `(batch, steps)`, 0-padded.
        max_length: Maximum number of tokens to produce; `None` uses the
            model's fixed `target_length`.
        beam_width: Hypotheses kept per example (1 = greedy).
        start_id: Decoder start token.
        end_id: End token; a hypothesis stops growing after it.
        length_penalty: Final scores are divided by `length ** penalty`
            (0: plain log-probability).

    Returns:
        `(batch, max_length)` int32 tokens, 0 after `end_id`.

    Example:
    >>> m = seq2seq(10, hidden_dim=4, embedding_dim=4)
    >>> beam_search(m, np.array([[3, 4]]), max_length=3, beam_width=2).shape
    (1, 3)
    """
    source = _check_source(source)
    max_length = _max_length(model, max_length)
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1. Received: {beam_width!r}")
    batch, k = len(source), beam_width
    tiled = np.repeat(source, k, axis=0)
    target = np.zeros((batch * k, max_length), "int32")
    target[:, 0] = start_id
    tokens = np.zeros((batch, k, max_length), "int32")
    scores = np.full((batch, k), -np.inf, "float32")
    scores[:, 0] = 0.0  # All beams start equal: keep one to avoid copies.
    done = np.zeros((batch, k), bool)
    lengths = np.zeros((batch, k), "float32")
    for t in range(max_length):
        logits = _step_logits(model, tiled, target, t)
        logp = logits - logits.max(-1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
        logp = logp.reshape(batch, k, -1)
        vocab = logp.shape[-1]
        # A finished hypothesis only extends with padding at no cost.
        logp = np.where(done[..., None], -np.inf, logp)
        logp[..., 0] = np.where(done, 0.0, -np.inf)
        flat = (scores[..., None] + logp).reshape(batch, k * vocab)
        best = np.argsort(-flat, axis=-1, kind="stable")[:, :k]
        beam, token = best // vocab, best % vocab
        rows = np.arange(batch)[:, None]
        scores = flat[rows, best]
        tokens = tokens[rows, beam]
        tokens[:, :, t] = token
        lengths = lengths[rows, beam] + (~done[rows, beam])
        done = done[rows, beam] | (token == end_id)
        target = target.reshape(batch, k, -1)[rows, beam].reshape(batch * k, -1)
        if t + 1 < max_length:
            target[:, t + 1] = tokens[:, :, t].reshape(-1)
        if done.all():
            break
    final = scores / np.maximum(lengths, 1.0) ** length_penalty
    best = final.argmax(-1)
    return _cut_after_end(tokens[np.arange(batch), best], end_id)


def _seq2seq_data(kwargs: Mapping[str, Any]) -> SweepData:
    from kerakit.data.generated import reversal_task

    x, y = reversal_task(8, vocabulary_size=kwargs["vocabulary_size"],
                         length=4)
    x["source"][4:, 3:] = 0  # Some padded sources.
    return SweepData(
        x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        (8, 5, kwargs["vocabulary_size"]),
    )
