"""T5: an encoder-decoder transformer for text-to-text (keras-hub's T5).

`t5`, `t5_small` and `t5_tiny` return `keras_hub.models.T5Seq2SeqLM`
around a `T5Backbone` without a preprocessor. T5's id conventions: 0 is
padding and also the decoder's start id, 1 ends a sequence.
`generate_text_tokens` decodes greedily or with beam search, reusing
keras-hub's self- and cross-attention caches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import Literal

import keras
import numpy as np

from kerakit import precision
from kerakit.models.transformer import presets
from kerakit.models.transformer.gpt import run_generate
from kerakit.testing import SweepData

_REFERENCE = ("Raffel et al., 2020. Exploring the limits of transfer "
              "learning with a unified text-to-text transformer. "
              "https://arxiv.org/abs/1910.10683")


def t5_model(
    vocabulary_size: int | None = None,
    *,
    num_layers: int | None = None,
    hidden_dim: int | None = None,
    num_heads: int | None = None,
    intermediate_dim: int | None = None,
    activation: str | None = None,
    use_gated_activation: bool | None = None,
    tie_embedding_weights: bool | None = None,
    dropout: float = 0.1,
    preset: str | None = None,
    dtype: Any = None,
    name: str = "t5",
) -> keras.Model:
    """Build a T5 encoder-decoder language model on keras-hub.

    The registered names (`t5`, `t5_small`, `t5_tiny`) are this builder
    with default sizes; every size stays an argument. Positions are
    relative (learned attention biases), so any sequence length works.

    Args:
        vocabulary_size: Number of token ids (shared by encoder and
            decoder).
        num_layers: Transformer blocks in the encoder, and in the decoder.
        hidden_dim: Width of the token representations.
        num_heads: Attention heads per block; must divide `hidden_dim`.
        intermediate_dim: Width of each block's feed-forward layer.
        activation: Feed-forward activation (`"relu"` in T5 v1.0).
        use_gated_activation: Whether the feed-forward layer is gated
            (T5 v1.1 uses gated GELU).
        tie_embedding_weights: Whether the output layer reuses the token
            embedding.
        dropout: Dropout inside the encoder and decoder.
        preset: Path of a local keras-hub `T5Backbone` preset folder; its
            config and weights give the backbone. Nothing is downloaded.
        dtype: Dtype or mixed-precision policy of every layer.
        name: Model name.

    Returns:
        `keras_hub.models.T5Seq2SeqLM` (not compiled) from
        `{"encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
        "decoder_padding_mask"}` to decoder logits
        `(batch, decoder_steps, vocabulary_size)`.

    Example:
    >>> m = t5_model(20, num_layers=1, hidden_dim=8, num_heads=2,
    ...              intermediate_dim=16, activation="relu",
    ...              use_gated_activation=False, tie_embedding_weights=True)
    >>> x = {"encoder_token_ids": np.ones((2, 5), "int32"),
    ...      "encoder_padding_mask": np.ones((2, 5), "int32"),
    ...      "decoder_token_ids": np.zeros((2, 3), "int32"),
    ...      "decoder_padding_mask": np.ones((2, 3), "int32")}
    >>> tuple(m(x).shape)
    (2, 3, 20)

    Reference:
        Raffel et al., 2020. https://arxiv.org/abs/1910.10683
    """
    policy = precision.policy_of(dtype)
    if policy.compute_dtype == "float16":
        raise ValueError(
            f"{name}: T5 does not run in float16 (dtype={policy.name!r}): "
            "its unscaled attention logits and feed-forward activations "
            "overflow float16's range (65504) and the outputs become "
            "inf/NaN; T5 was trained in bfloat16. Use dtype="
            "'mixed_bfloat16' (recipe precision = \"mixed_bfloat16\") or "
            "'float32'.")
    arch = {
        "vocabulary_size": ("vocabulary_size", vocabulary_size),
        "num_layers": ("num_layers", num_layers),
        "hidden_dim": ("hidden_dim", hidden_dim),
        "num_heads": ("num_heads", num_heads),
        "intermediate_dim": ("intermediate_dim", intermediate_dim),
        "activation": ("activation", activation),
        "use_gated_activation": ("use_gated_activation",
                                 use_gated_activation),
        "tie_embedding_weights": ("tie_embedding_weights",
                                  tie_embedding_weights),
    }
    presets.check_sizes(name, {k: v for k, v in arch.items()
                               if not isinstance(v[1], (bool, str))},
                        dropout)
    backbone = presets.build_backbone(
        "T5Backbone", arch, preset=preset, model=name, dropout=dropout,
        dtype=dtype, name=f"{name}_backbone",
    )
    return presets.keras_hub().models.T5Seq2SeqLM(
        backbone, preprocessor=None, compile=False, name=name
    )


def generate_text_tokens(
    model: keras.Model,
    encoder_token_ids: Any,
    max_length: int,
    start_id: int = 0,
    end_id: int = 1,
    sampler: Literal["greedy", "beam"] = "greedy",
    num_beams: int = 4,
) -> np.ndarray:
    """Decode output ids for encoder inputs with a T5 model.

    The encoder's padding mask is `encoder_token_ids != 0`. Decoding starts
    from `start_id` and stops at `end_id` (kept); later positions are 0.

    Args:
        model: A `T5Seq2SeqLM` (e.g. `kerakit.build("t5_tiny", ...)`).
        encoder_token_ids: int `(batch, source_steps)`, padded with 0.
        max_length: Number of decoder ids returned (after the start id).
        start_id: Decoder start id (T5: 0, the pad id).
        end_id: End-of-sequence id (T5: 1).
        sampler: `"greedy"` or `"beam"` search.
        num_beams: Beams of `"beam"` search.

    Returns:
        int32 array `(batch, max_length)`.

    Example:
    >>> m = t5_model(12, num_layers=1, hidden_dim=4, num_heads=1,
    ...              intermediate_dim=4, activation="relu",
    ...              use_gated_activation=False, tie_embedding_weights=True)
    >>> generate_text_tokens(m, np.array([[5, 6, 1]]), 4).shape
    (1, 4)
    """
    source = np.asarray(encoder_token_ids)
    if source.ndim != 2 or not np.issubdtype(source.dtype, np.integer):
        raise ValueError(
            "generate_text_tokens: encoder_token_ids must be an integer "
            f"array (batch, steps). Received shape {source.shape}, dtype "
            f"{source.dtype}."
        )
    if not isinstance(max_length, int) or max_length < 1:
        raise ValueError(
            "generate_text_tokens: max_length must be a positive integer. "
            f"Received: max_length={max_length!r}"
        )
    samplers = presets.keras_hub().samplers
    if sampler == "greedy":
        chosen = samplers.GreedySampler()
    elif sampler == "beam":
        if not isinstance(num_beams, int) or num_beams < 1:
            raise ValueError(
                "generate_text_tokens: num_beams must be a positive integer."
                f" Received: num_beams={num_beams!r}"
            )
        chosen = samplers.BeamSampler(num_beams=num_beams)
    else:
        raise ValueError(
            "generate_text_tokens: sampler must be 'greedy' or 'beam'. "
            f"Received: sampler={sampler!r}"
        )
    batch = len(source)
    decoder = np.zeros((batch, max_length + 1), "int32")
    decoder[:, 0] = start_id
    started = np.zeros((batch, max_length + 1), bool)
    started[:, 0] = True
    out = run_generate(model, chosen, {
        "encoder_token_ids": source.astype("int32"),
        "encoder_padding_mask": source != 0,
        "decoder_token_ids": decoder,
        "decoder_padding_mask": started,
    }, (end_id,), key=(sampler, num_beams))
    tokens = np.asarray(keras.ops.convert_to_numpy(out["decoder_token_ids"]))
    keep = np.asarray(keras.ops.convert_to_numpy(out["decoder_padding_mask"]))
    return np.where(keep, tokens, 0)[:, 1:].astype("int32")


def _data(kwargs: Mapping[str, Any]) -> SweepData:
    """Source and teacher-forced target batches, padded with 0."""
    rng = np.random.default_rng(0)
    batch, source, target = 4, 8, 6
    vocab = kwargs["vocabulary_size"]
    enc = rng.integers(2, vocab, size=(batch, source)).astype("int32")
    enc_mask = np.ones_like(enc)
    enc_mask[batch // 2:, source - 2:] = 0
    labels = rng.integers(2, vocab, size=(batch, target)).astype("int32")
    labels[:, -1] = 1
    dec = np.concatenate([np.zeros((batch, 1), "int32"), labels[:, :-1]], 1)
    x = {"encoder_token_ids": enc * enc_mask, "encoder_padding_mask": enc_mask,
         "decoder_token_ids": dec,
         "decoder_padding_mask": np.ones_like(dec)}
    return SweepData(
        x, labels, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        (batch, target, vocab),
    )


_TINY = {"vocabulary_size": 40, "num_layers": 1, "hidden_dim": 16,
         "num_heads": 2, "intermediate_dim": 32, "dropout": 0.0}
T5_SMALL = {"vocabulary_size": 32128, "num_layers": 6, "hidden_dim": 512,
            "num_heads": 8, "intermediate_dim": 2048, "activation": "relu",
            "use_gated_activation": False, "tie_embedding_weights": True}
T5_TINY = {**T5_SMALL, "num_layers": 2, "hidden_dim": 128, "num_heads": 4,
           "intermediate_dim": 512}


def _register(name: str, sizes: Mapping[str, Any], doc: str,
              params: int | None) -> Any:
    return presets.register_sized(
        t5_model, name, doc, sizes, params=params,
        family="t5", task="text_to_text", tiny=_TINY,
        reference=_REFERENCE, knobs=presets.TEXT_KNOBS,
        test={"data": _data},
    )


t5 = _register("t5", T5_SMALL, "T5: T5-small (v1.0) sizes by default (see "
               "`t5_model` for every argument).", 60_506_624)
t5_small = _register("t5_small", T5_SMALL, "T5-small v1.0: 6+6 layers, 512 "
                     "wide, 8 heads, ReLU, tied embeddings, vocab 32128.",
                     60_506_624)
t5_tiny = _register("t5_tiny", T5_TINY, "A tiny T5: 2+2 layers, 128 wide, "
                    "4 heads.", None)
