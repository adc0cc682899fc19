"""BERT: a bidirectional transformer encoder (keras-hub's BERT).

`bert`, `bert_base` and `bert_tiny` return keras-hub's
`BertTextClassifier` (`head="classifier"`), `BertMaskedLM`
(`head="masked_lm"`, the pre-training objective) or, with
`include_top=False`, the `BertBackbone` itself; never with a preprocessor,
so the inputs are token ids, segment ids and a padding mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import Literal

import keras
import numpy as np

from kerakit.models.transformer import presets
from kerakit.testing import SweepData

_REFERENCE = ("Devlin et al., 2019. BERT: Pre-training of deep bidirectional "
              "transformers for language understanding. "
              "https://arxiv.org/abs/1810.04805")
HEADS = ("classifier", "masked_lm")


def bert_model(
    vocabulary_size: int | None = None,
    sequence_length: int | None = None,
    num_classes: int = 2,
    *,
    head: Literal["classifier", "masked_lm"] = "classifier",
    include_top: bool = True,
    num_layers: int | None = None,
    hidden_dim: int | None = None,
    num_heads: int | None = None,
    intermediate_dim: int | None = None,
    num_segments: int | None = None,
    dropout: float = 0.1,
    classifier_activation: str | None = None,
    preset: str | None = None,
    dtype: Any = None,
    name: str = "bert",
) -> keras.Model:
    """Build a BERT text classifier, masked LM or encoder on keras-hub.

    The registered names (`bert`, `bert_base`, `bert_tiny`) are this builder
    with default sizes; every size stays an argument.

    Args:
        vocabulary_size: Number of token ids.
        sequence_length: Longest input: the number of learned positions.
        num_classes: Number of output logits of the classifier head.
        head: `"classifier"`: logits from the pooled `[CLS]` token;
            `"masked_lm"`: vocabulary logits at `mask_positions`.
        include_top: `False` returns the bare `BertBackbone` (outputs
            `sequence_output` and `pooled_output`).
        num_layers: Number of transformer encoder blocks.
        hidden_dim: Width of the token representations.
        num_heads: Attention heads per block; must divide `hidden_dim`.
        intermediate_dim: Width of each block's feed-forward layer.
        num_segments: Number of segment (sentence A/B) ids.
        dropout: Dropout inside the encoder and before the classifier.
        classifier_activation: Activation of the classifier (`None`: logits).
        preset: Path of a local keras-hub `BertBackbone` preset folder; its
            config and weights give the backbone and kerakit adds the head.
            Nothing is downloaded.
        dtype: Dtype or mixed-precision policy of every layer.
        name: Model name.

    Returns:
        A functional `keras.Model` (not compiled). Inputs: `token_ids`,
        `segment_ids`, `padding_mask` (each `(batch, steps)`) and, for
        `"masked_lm"`, `mask_positions` `(batch, masks)`. Outputs: logits
        `(batch, num_classes)` or `(batch, masks, vocabulary_size)`.

    Example:
    >>> m = bert_model(30, 8, 3, num_layers=1, hidden_dim=8, num_heads=2,
    ...                intermediate_dim=16, num_segments=2)
    >>> x = {"token_ids": np.ones((2, 8), "int32"),
    ...      "segment_ids": np.zeros((2, 8), "int32"),
    ...      "padding_mask": np.ones((2, 8), "int32")}
    >>> tuple(m(x).shape)
    (2, 3)

    Reference:
        Devlin et al., 2019. https://arxiv.org/abs/1810.04805
    """
    if head not in HEADS:
        raise ValueError(
            f"{name}: head must be one of {list(HEADS)}. Received: "
            f"head={head!r}"
        )
    if include_top and head == "classifier" and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int)
            or num_classes < 1):
        raise ValueError(
            f"{name}: num_classes must be a positive integer. "
            f"Received: num_classes={num_classes!r}"
        )
    arch = {
        "vocabulary_size": ("vocabulary_size", vocabulary_size),
        "sequence_length": ("max_sequence_length", sequence_length),
        "num_layers": ("num_layers", num_layers),
        "hidden_dim": ("hidden_dim", hidden_dim),
        "num_heads": ("num_heads", num_heads),
        "intermediate_dim": ("intermediate_dim", intermediate_dim),
        "num_segments": ("num_segments", num_segments),
    }
    presets.check_sizes(name, arch, dropout)
    backbone = presets.build_backbone(
        "BertBackbone", arch, preset=preset, model=name, dropout=dropout,
        dtype=dtype, name=name if not include_top else f"{name}_backbone",
    )
    if not include_top:
        return backbone
    models = presets.keras_hub().models
    if head == "masked_lm":
        return models.BertMaskedLM(backbone, preprocessor=None, compile=False,
                                   name=name)
    return models.BertTextClassifier(
        backbone, num_classes, preprocessor=None,
        activation=classifier_activation, dropout=dropout, compile=False,
        name=name,
    )


def _data(kwargs: Mapping[str, Any]) -> SweepData:
    """Two-segment token batches, padded at the end of half of the rows."""
    rng = np.random.default_rng(0)
    batch, steps = 4, kwargs["sequence_length"]
    mask = np.ones((batch, steps), "int32")
    mask[batch // 2:, steps - 2:] = 0
    ids = rng.integers(1, kwargs["vocabulary_size"], size=(batch, steps))
    segments = np.zeros((batch, steps), "int32")
    segments[:, steps // 2:] = 1
    x = {"token_ids": (ids * mask).astype("int32"),
         "segment_ids": segments * mask, "padding_mask": mask}
    y = np.arange(batch) % kwargs["num_classes"]
    return SweepData(
        x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        (batch, kwargs["num_classes"]),
    )


_TINY = {"vocabulary_size": 40, "sequence_length": 8, "num_classes": 3,
         "num_layers": 1, "hidden_dim": 16, "num_heads": 2,
         "intermediate_dim": 32, "dropout": 0.0}
BERT_BASE = {"vocabulary_size": 30522, "sequence_length": 512,
             "num_layers": 12, "hidden_dim": 768, "num_heads": 12,
             "intermediate_dim": 3072, "num_segments": 2}
BERT_TINY = {**BERT_BASE, "num_layers": 2, "hidden_dim": 128,
             "num_heads": 2, "intermediate_dim": 512}


def _register(name: str, sizes: Mapping[str, Any], doc: str,
              params: int | None) -> Any:
    return presets.register_sized(
        bert_model, name, doc, sizes, params=params,
        canonical={"include_top": False},
        family="bert", task="text_classification", tiny=_TINY,
        reference=_REFERENCE, knobs=presets.TEXT_KNOBS,
        test={"data": _data},
    )


bert = _register("bert", BERT_BASE, "BERT: BERT-base sizes by default (see "
                 "`bert_model` for every argument).", 109_482_240)
bert_base = _register("bert_base", BERT_BASE, "BERT-base: 12 layers, 768 "
                      "wide, 12 heads, 512 positions, vocab 30522.",
                      109_482_240)
bert_tiny = _register("bert_tiny", BERT_TINY, "BERT-Tiny (Turc et al., "
                      "2019): 2 layers, 128 wide, 2 heads.", 4_385_920)
