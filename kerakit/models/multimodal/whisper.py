"""Whisper: an encoder-decoder transformer from log-mel frames to text.

`whisper`, `whisper_tiny` and `whisper_micro` wrap keras-hub's
`WhisperBackbone` (two 1-D convolutions, the second with stride 2, then
pre-norm transformer blocks; a causal text decoder with cross-attention)
in a `WhisperTranscriber`: the decoder's output is scored against the
token embedding itself (tied, as in Whisper), giving next-token logits.
keras-hub 0.32 has no Whisper task model, hence this one.

The model takes log-mel features, not waveforms: keras-hub's
`WhisperAudioConverter` computes them outside the graph (in numpy, on
every backend; `kerakit.data.audio.log_mel`), so the exported model is
the network alone. `transcribe_tokens` decodes greedily or by beam search
with keras-hub's samplers; the encoder runs once per batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import Literal

import keras
import numpy as np

from kerakit.models.transformer import presets
from kerakit.testing import SweepData

_REFERENCE = ("Radford et al., 2022. Robust speech recognition via "
              "large-scale weak supervision. https://arxiv.org/abs/2212.04356")
# Mel frames per second of audio (16 kHz, hop of 160 samples).
FRAMES_PER_SECOND = 100


def sinusoids(length: int, channels: int) -> np.ndarray:
    """Whisper's fixed sinusoidal position table `(length, channels)`.

    Example:
    >>> print(sinusoids(3, 4)[1].round(3))
    [0.841 0.    0.54  1.   ]
    """
    increment = np.log(10000) / (channels // 2 - 1)
    scales = np.exp(-increment * np.arange(channels // 2))
    angles = np.arange(length)[:, None] * scales[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], 1).astype(
        "float32")


@keras.saving.register_keras_serializable(package="kerakit")
class WhisperTranscriber(keras.Model):
    """A `WhisperBackbone` with Whisper's tied output layer.

    Inputs are the backbone's (`encoder_features` `(batch, frames,
    num_mels)`, `decoder_token_ids` and `decoder_padding_mask` `(batch,
    steps)`); the output is the decoder's next-token logits `(batch,
    steps, vocabulary_size)`, the decoder states times the transposed
    token embedding.

    Args:
        backbone: A `keras_hub.models.WhisperBackbone`.
        **kwargs: `keras.Model` arguments (`name`).
    """

    def __init__(self, backbone: keras.Model, **kwargs: Any) -> None:
        inputs = backbone.input
        states = backbone(inputs)["decoder_sequence_output"]
        logits = backbone.token_embedding(states, reverse=True)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = backbone

    def get_config(self) -> dict[str, Any]:
        """The backbone's config, name and trainability."""
        return {"backbone": keras.saving.serialize_keras_object(
            self.backbone), "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> WhisperTranscriber:
        """Rebuild from `get_config` (the backbone revived first)."""
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(
            config["backbone"])
        return cls(**config)


def whisper_model(
    vocabulary_size: int | None = None,
    *,
    num_layers: int | None = None,
    hidden_dim: int | None = None,
    num_heads: int | None = None,
    intermediate_dim: int | None = None,
    num_mels: int | None = None,
    max_encoder_sequence_length: int | None = None,
    max_decoder_sequence_length: int | None = None,
    dropout: float = 0.0,
    preset: str | None = None,
    dtype: Any = None,
    name: str = "whisper",
) -> keras.Model:
    """Build a Whisper speech-to-text model on keras-hub.

    The registered names (`whisper`, `whisper_tiny`, `whisper_micro`) are
    this builder with default sizes; every size stays an argument. The
    encoder's position table is Whisper's fixed sinusoids (keras-hub
    draws it at random until a preset's weights load).

    Args:
        vocabulary_size: Number of text token ids (the output classes).
        num_layers: Transformer blocks in the encoder, and in the decoder.
        hidden_dim: Width of the token and frame representations.
        num_heads: Attention heads per block; must divide `hidden_dim`.
        intermediate_dim: Width of each block's feed-forward layer.
        num_mels: Mel bands per frame (80 in Whisper up to large-v2).
        max_encoder_sequence_length: Most mel frames per input (100 a
            second: 3000 is Whisper's 30 s); must be even.
        max_decoder_sequence_length: Most decoder steps.
        dropout: Dropout inside the encoder and decoder.
        preset: Path of a local keras-hub `WhisperBackbone` preset folder;
            its config and weights give the backbone. Nothing is
            downloaded.
        dtype: Dtype or mixed-precision policy of every layer.
        name: Model name.

    Returns:
        `WhisperTranscriber` (not compiled) from `{"encoder_features",
        "decoder_token_ids", "decoder_padding_mask"}` to logits
        `(batch, decoder_steps, vocabulary_size)`.

    Example:
    >>> m = whisper_model(12, num_layers=1, hidden_dim=8, num_heads=2,
    ...                   intermediate_dim=16, num_mels=4,
    ...                   max_encoder_sequence_length=20,
    ...                   max_decoder_sequence_length=6)
    >>> x = {"encoder_features": np.zeros((2, 20, 4), "float32"),
    ...      "decoder_token_ids": np.zeros((2, 3), "int32"),
    ...      "decoder_padding_mask": np.ones((2, 3), "int32")}
    >>> tuple(m(x).shape)
    (2, 3, 12)

    Reference:
        Radford et al., 2022. https://arxiv.org/abs/2212.04356
    """
    arch = {
        "vocabulary_size": ("vocabulary_size", vocabulary_size),
        "num_layers": ("num_layers", num_layers),
        "hidden_dim": ("hidden_dim", hidden_dim),
        "num_heads": ("num_heads", num_heads),
        "intermediate_dim": ("intermediate_dim", intermediate_dim),
        "num_mels": ("num_mels", num_mels),
        "max_encoder_sequence_length": ("max_encoder_sequence_length",
                                        max_encoder_sequence_length),
        "max_decoder_sequence_length": ("max_decoder_sequence_length",
                                        max_decoder_sequence_length),
    }
    presets.check_sizes(name, arch, dropout)
    if isinstance(max_encoder_sequence_length, int) and (
            max_encoder_sequence_length % 2):
        raise ValueError(
            f"{name}: max_encoder_sequence_length must be even (the "
            "encoder's second convolution halves the frames). Received: "
            f"max_encoder_sequence_length={max_encoder_sequence_length}")
    backbone = presets.build_backbone(
        "WhisperBackbone", arch, preset=preset, model=name, dropout=dropout,
        dtype=dtype, name=f"{name}_backbone",
    )
    if preset is None:
        table = backbone.encoder_position_embedding.position_embeddings
        table.assign(sinusoids(*table.shape))
    return WhisperTranscriber(backbone, name=name)


def _encoder(model: keras.Model) -> keras.Model:
    """The backbone's encoder half as a model of the features alone."""
    backbone = model.backbone
    return keras.Model(backbone.input["encoder_features"],
                       backbone.output["encoder_sequence_output"])


def _next_logits(model: keras.Model) -> Any:
    """keras-hub sampler `next`: logits of the token at `index` given the
    ids before it; the cache is the (fixed) encoder output."""
    backbone = model.backbone

    def step(prompt: Any, cache: Any, index: Any) -> tuple:
        x = backbone.decoder_embeddings(prompt)
        for layer in backbone.decoder_transformer_layers:
            # Causal attention: the ids after `index` are not seen.
            x = layer(decoder_sequence=x, encoder_sequence=cache)
        x = backbone.decoder_layer_norm(x)
        state = keras.ops.take(x, index - 1, axis=1)
        logits = backbone.token_embedding(state, reverse=True)
        return keras.ops.cast(logits, "float32"), state, cache

    return step


def transcribe_tokens(
    model: keras.Model,
    encoder_features: Any,
    max_length: int,
    start_id: int = 0,
    end_id: int = 1,
    sampler: Literal["greedy", "beam"] = "greedy",
    num_beams: int = 4,
) -> np.ndarray:
    """Decode token ids for log-mel features with a Whisper model.

    Decoding starts from `start_id` and stops at `end_id` (kept); later
    positions are 0. keras-hub's `GreedySampler` or `BeamSampler` pick the
    ids; the encoder runs once and each step re-reads the ids so far.

    Args:
        model: A `WhisperTranscriber` (e.g. `kerakit.build("whisper_micro",
            ...)`).
        encoder_features: float `(batch, frames, num_mels)`.
        max_length: Number of ids returned (after the start id); at most
            the model's `max_decoder_sequence_length - 1`.
        start_id: Decoder start id.
        end_id: End-of-transcript id.
        sampler: `"greedy"` or `"beam"` search.
        num_beams: Beams of `"beam"` search.

    Returns:
        int32 array `(batch, max_length)`.

    Example:
    >>> m = whisper_model(9, num_layers=1, hidden_dim=8, num_heads=2,
    ...                   intermediate_dim=8, num_mels=4,
    ...                   max_encoder_sequence_length=8,
    ...                   max_decoder_sequence_length=6)
    >>> transcribe_tokens(m, np.zeros((2, 8, 4), "float32"), 4).shape
    (2, 4)
    """
    features = np.asarray(encoder_features, "float32")
    if features.ndim != 3:
        raise ValueError(
            "transcribe_tokens: encoder_features must be (batch, frames, "
            f"num_mels). Received shape {features.shape}.")
    limit = model.backbone.max_decoder_sequence_length - 1
    if not isinstance(max_length, int) or not 1 <= max_length <= limit:
        raise ValueError(
            f"transcribe_tokens: max_length must be in 1..{limit} (the "
            "model's max_decoder_sequence_length - 1). Received: "
            f"max_length={max_length!r}")
    samplers = presets.keras_hub().samplers
    if sampler == "greedy":
        chosen = samplers.GreedySampler()
    elif sampler == "beam":
        if not isinstance(num_beams, int) or num_beams < 1:
            raise ValueError(
                "transcribe_tokens: num_beams must be a positive integer. "
                f"Received: num_beams={num_beams!r}")
        chosen = samplers.BeamSampler(num_beams=num_beams)
    else:
        raise ValueError("transcribe_tokens: sampler must be 'greedy' or "
                         f"'beam'. Received: sampler={sampler!r}")
    encoded = _encoder(model)(features, training=False)
    prompt = np.zeros((len(features), max_length + 1), "int32")
    prompt[:, 0] = start_id
    fixed = np.zeros(prompt.shape, bool)
    fixed[:, 0] = True
    ids = chosen(_next_logits(model), keras.ops.convert_to_tensor(prompt),
                 cache=encoded, index=1,
                 mask=keras.ops.convert_to_tensor(fixed),
                 stop_token_ids=(end_id,), model=model)
    ids = np.asarray(keras.ops.convert_to_numpy(ids))[:, 1:]
    ended = np.cumsum(ids == end_id, axis=1)
    after_end = (ended - (ids == end_id)) > 0
    return np.where(after_end, 0, ids).astype("int32")


def _data(kwargs: Mapping[str, Any]) -> SweepData:
    """Random log-mel frames and teacher-forced target ids."""
    rng = np.random.default_rng(0)
    batch, target = 4, 6
    vocab = kwargs["vocabulary_size"]
    frames = kwargs["max_encoder_sequence_length"]
    features = rng.normal(size=(batch, frames, kwargs["num_mels"]))
    labels = rng.integers(2, vocab, size=(batch, target)).astype("int32")
    labels[:, -1] = 1
    dec = np.concatenate([np.zeros((batch, 1), "int32"), labels[:, :-1]], 1)
    x = {"encoder_features": features.astype("float32"),
         "decoder_token_ids": dec,
         "decoder_padding_mask": np.ones_like(dec)}
    return SweepData(
        x, labels, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        (batch, target, vocab),
    )


_TINY = {"vocabulary_size": 20, "num_layers": 1, "hidden_dim": 16,
         "num_heads": 2, "intermediate_dim": 32, "num_mels": 8,
         "max_encoder_sequence_length": 64,
         "max_decoder_sequence_length": 32, "dropout": 0.0}
WHISPER_TINY = {"vocabulary_size": 51865, "num_layers": 4, "hidden_dim": 384,
                "num_heads": 6, "intermediate_dim": 1536, "num_mels": 80,
                "max_encoder_sequence_length": 3000,
                "max_decoder_sequence_length": 448}
WHISPER_MICRO = {**WHISPER_TINY, "num_layers": 2, "hidden_dim": 64,
                 "num_heads": 4, "intermediate_dim": 256}
KNOBS = presets.TEXT_KNOBS


def _register(name: str, sizes: Mapping[str, Any], doc: str,
              params: int | None) -> Any:
    return presets.register_sized(
        whisper_model, name, doc, sizes, params=params,
        family="whisper", task="speech_recognition", tiny=_TINY,
        reference=_REFERENCE, knobs=KNOBS, test={"data": _data},
    )


whisper = _register("whisper", WHISPER_TINY, "Whisper: whisper-tiny sizes "
                    "by default (see `whisper_model` for every argument).",
                    37_760_640)
whisper_tiny = _register(
    "whisper_tiny", WHISPER_TINY, "Whisper tiny: 4+4 layers, 384 wide, 6 "
    "heads, 80 mels, 30 s of audio, vocab 51865.", 37_760_640)
whisper_micro = _register(
    "whisper_micro", WHISPER_MICRO, "A small Whisper for tests and quick "
    "recipes: 2+2 layers, 64 wide, 4 heads.", None)
