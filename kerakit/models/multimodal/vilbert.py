"""ViLBERT: two-stream vision-and-language BERT with co-attention.

No library ships ViLBERT, so kerakit assembles it: keras-hub's
`TokenAndPositionEmbedding` and `TransformerEncoder` for the text stream and
the visual stream's own layers, kerakit's `RegionEmbedding` for image
regions and their boxes, and kerakit's `CoAttention` layer (Co-TRM), where
each stream's queries attend over the other stream's keys and values.

Layout (as the authors' code, `v_biattention_id = 0..5`, `t_biattention_id
= 6..11`): the text stream runs `num_layers - co_attention_layers` plain
transformer layers; then `co_attention_layers` times a Co-TRM layer,
followed by one transformer layer in each stream. The `[IMG]` and `[CLS]`
tokens are pooled (Dense + ReLU to `co_attention_dim`) and fused by an
elementwise product; `head="matching"` gives one logit (does the text
describe the image), `head="answer"` `num_answers` logits through the
VQA classifier (Dense 2x, GELU, LayerNorm, Dense).

Image regions: with `input_shape` an image goes through a small CNN (a 3x3
convolution, then one with stride `patch_size`: `PatchEmbedding` + ReLU)
to a grid of `region_dim`-wide region features whose boxes are the grid
cells; with
`input_shape=None` the model takes detector regions as the paper does
(`region_features` `(batch, regions, region_dim)` and `region_locations`
`(batch, regions, 5)`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import Literal

import keras
import numpy as np

from kerakit.layers.co_attention import CoAttention
from kerakit.layers.patch_embedding import PatchEmbedding
from kerakit.layers.region_embedding import LOCATION_DIM
from kerakit.layers.region_embedding import RegionEmbedding
from kerakit.models.transformer import presets
from kerakit.registry import Knob
from kerakit.testing import SweepData

_REFERENCE = ("Lu et al., 2019. ViLBERT: Pretraining task-agnostic "
              "visiolinguistic representations for vision-and-language "
              "tasks. https://arxiv.org/abs/1908.02265")
HEADS = ("matching", "answer")
_EPSILON = 1e-12  # BERT's layer-norm epsilon


def vilbert_model(
    input_shape: tuple | list | None = None,
    *,
    head: Literal["matching", "answer"] = "matching",
    num_answers: int = 2,
    vocabulary_size: int | None = None,
    sequence_length: int | None = None,
    patch_size: int | None = None,
    stem_filters: int = 32,
    region_dim: int | None = None,
    num_layers: int | None = None,
    hidden_dim: int | None = None,
    num_heads: int | None = None,
    intermediate_dim: int | None = None,
    visual_hidden_dim: int | None = None,
    visual_num_heads: int | None = None,
    visual_intermediate_dim: int | None = None,
    co_attention_layers: int | None = None,
    co_attention_dim: int | None = None,
    co_attention_heads: int | None = None,
    pooler_activation: str = "relu",
    normalize_first: bool = False,
    dropout: float = 0.1,
    dtype: Any = None,
    name: str = "vilbert",
) -> keras.Model:
    """Build a ViLBERT image-text model (matching or answer head).

    The registered names (`vilbert`: the paper's base configuration,
    `vilbert_tiny`) are this builder with default sizes; every size stays
    an argument.

    Args:
        input_shape: `(height, width, channels)` of images (multiples of
            `patch_size`), or `None` for precomputed detector regions.
        head: `"matching"` (one logit: the text matches the image) or
            `"answer"` (`num_answers` logits, VQA-style).
        num_answers: Number of answers of the `"answer"` head.
        vocabulary_size: Number of token ids (0 is padding).
        sequence_length: Most text tokens (learned positions).
        patch_size: Side of the image cells that become regions.
        stem_filters: Filters of a 3x3 convolution (ReLU) before the
            cells, so each region feature sees its neighbourhood (a small
            CNN feature grid); 0 takes the cells straight from the pixels.
        region_dim: Width of a region feature (2048 from the paper's
            Faster R-CNN).
        num_layers: Transformer layers of the text stream (co-attention
            layers not counted).
        hidden_dim: Width of the text stream.
        num_heads: Attention heads of the text stream.
        intermediate_dim: Feed-forward width of the text stream.
        visual_hidden_dim: Width of the visual stream.
        visual_num_heads: Attention heads of the visual stream.
        visual_intermediate_dim: Feed-forward width of the visual stream.
        co_attention_layers: Co-TRM layers; each is followed by one
            transformer layer per stream (at most `num_layers`).
        co_attention_dim: Width of the exchanged keys, queries and values,
            and of the pooled, fused representation.
        co_attention_heads: Attention heads of the co-attention.
        pooler_activation: Activation of the `[IMG]` and `[CLS]` poolers
            (ReLU in the paper; from scratch, `"tanh"` cannot die, whereas
            a ReLU pooler that goes all zero silences the product).
        normalize_first: Pre-norm transformer and co-attention layers,
            with a final layer norm per stream before pooling: they train
            from scratch, where post-norm (BERT's and the paper's, which
            starts from pretrained BERT) stalls for many epochs.
        dropout: Dropout everywhere (attention, residuals, embeddings, head).
        dtype: Dtype or mixed-precision policy of every layer.
        name: Model name.

    Returns:
        A functional `keras.Model` (not compiled). Inputs: `images` (or
        `region_features` and `region_locations`), `token_ids` and
        `padding_mask` `(batch, tokens)`; output: logits `(batch, 1)` or
        `(batch, num_answers)`.

    Example:
    >>> m = vilbert_model((8, 8, 1), vocabulary_size=20, sequence_length=6,
    ...     patch_size=4, region_dim=8, num_layers=1, hidden_dim=8,
    ...     num_heads=2, intermediate_dim=16, visual_hidden_dim=8,
    ...     visual_num_heads=2, visual_intermediate_dim=16,
    ...     co_attention_layers=1, co_attention_dim=8, co_attention_heads=2)
    >>> m.output_shape
    (None, 1)

    Reference:
        Lu et al., 2019. https://arxiv.org/abs/1908.02265
    """
    arch = {k: (k, v) for k, v in {
        "vocabulary_size": vocabulary_size, "sequence_length":
        sequence_length, "region_dim": region_dim, "num_layers": num_layers,
        "hidden_dim": hidden_dim, "num_heads": num_heads,
        "intermediate_dim": intermediate_dim,
        "visual_hidden_dim": visual_hidden_dim,
        "visual_num_heads": visual_num_heads,
        "visual_intermediate_dim": visual_intermediate_dim,
        "co_attention_layers": co_attention_layers,
        "co_attention_dim": co_attention_dim,
        "co_attention_heads": co_attention_heads}.items()}
    _check_arguments(name, arch, dropout, input_shape, patch_size,
                     stem_filters, head, num_answers)
    kw = {"dtype": dtype}
    tokens = keras.Input((None,), dtype="int32", name="token_ids")
    padding = keras.Input((None,), dtype="int32", name="padding_mask")
    visual_inputs, visual = _regions(input_shape, patch_size, stem_filters,
                                     region_dim, visual_hidden_dim, dropout,
                                     name, kw)

    text = presets.keras_hub().layers.TokenAndPositionEmbedding(
        vocabulary_size, sequence_length, hidden_dim,
        embeddings_initializer=keras.initializers.TruncatedNormal(
            stddev=0.02), name=f"{name}_text_embedding", **kw)(tokens)
    text = keras.layers.LayerNormalization(
        epsilon=_EPSILON, name=f"{name}_text_embedding_norm", **kw)(text)
    text = keras.layers.Dropout(dropout, name=f"{name}_text_embedding_"
                                "dropout", **kw)(text)

    def encoder(width_ffn: int, heads: int, label: str) -> Any:
        return presets.keras_hub().layers.TransformerEncoder(
            width_ffn, heads, dropout=dropout, activation="gelu",
            layer_norm_epsilon=_EPSILON, normalize_first=normalize_first,
            name=f"{name}_{label}", **kw)

    single = num_layers - co_attention_layers
    for i in range(single):
        text = encoder(intermediate_dim, num_heads, f"text_layer{i}")(
            text, padding_mask=padding)
    for i in range(co_attention_layers):
        visual, text = CoAttention(
            co_attention_dim, co_attention_heads, visual_intermediate_dim,
            intermediate_dim, dropout=dropout, layer_norm_epsilon=_EPSILON,
            normalize_first=normalize_first,
            name=f"{name}_co_attention{i}", **kw)(
            [visual, text], text_mask=padding)
        visual = encoder(visual_intermediate_dim, visual_num_heads,
                         f"visual_layer{i}")(visual)
        text = encoder(intermediate_dim, num_heads,
                       f"text_layer{single + i}")(text, padding_mask=padding)

    if normalize_first:
        visual, text = (keras.layers.LayerNormalization(
            epsilon=_EPSILON, name=f"{name}_{stream}_final_norm", **kw)(x)
            for stream, x in (("visual", visual), ("text", text)))
    pooled_visual = keras.layers.Dense(
        co_attention_dim, activation=pooler_activation,
        name=f"{name}_image_pooler",
        **kw)(visual[:, 0, :])
    pooled_text = keras.layers.Dense(
        co_attention_dim, activation=pooler_activation,
        name=f"{name}_text_pooler",
        **kw)(text[:, 0, :])
    fused = keras.layers.Multiply(name=f"{name}_fusion", **kw)(
        [pooled_visual, pooled_text])
    fused = keras.layers.Dropout(dropout, name=f"{name}_head_dropout",
                                 **kw)(fused)
    if head == "matching":
        logits = keras.layers.Dense(1, name=f"{name}_matching", **kw)(fused)
    else:
        hidden = keras.layers.Dense(2 * co_attention_dim, activation="gelu",
                                    name=f"{name}_answer_hidden", **kw)(fused)
        hidden = keras.layers.LayerNormalization(
            epsilon=_EPSILON, name=f"{name}_answer_norm", **kw)(hidden)
        logits = keras.layers.Dense(num_answers, name=f"{name}_answer",
                                    **kw)(hidden)
    inputs = {**visual_inputs, "token_ids": tokens, "padding_mask": padding}
    return keras.Model(inputs, logits, name=name)


def _regions(input_shape: Any, patch_size: int | None, stem_filters: int,
             region_dim: int, width: int, dropout: float, name: str,
             kw: dict) -> tuple[dict, Any]:
    """The visual inputs and the embedded regions, `[IMG]` first."""
    if input_shape is None:
        features = keras.Input((None, region_dim), name="region_features")
        boxes = keras.Input((None, LOCATION_DIM), name="region_locations")
        visual = RegionEmbedding(width, dropout=dropout,
                                 name=f"{name}_region_embedding",
                                 **kw)([features, boxes])
        return {"region_features": features,
                "region_locations": boxes}, visual
    images = keras.Input(tuple(input_shape), name="images")
    grid = images
    if stem_filters:
        grid = keras.layers.Conv2D(
            stem_filters, 3, padding="same", activation="relu",
            data_format="channels_last", name=f"{name}_stem", **kw)(grid)
    grid = PatchEmbedding(patch_size, region_dim,
                          data_format="channels_last",
                          name=f"{name}_region_features", **kw)(grid)
    grid = keras.layers.ReLU(name=f"{name}_region_relu", **kw)(grid)
    rows, cols = (int(s) // patch_size for s in input_shape[:2])
    visual = RegionEmbedding(width, grid_shape=(rows, cols), dropout=dropout,
                             name=f"{name}_region_embedding", **kw)(grid)
    return {"images": images}, visual


def _check_arguments(name: str, arch: dict, dropout: float,
                     input_shape: Any, patch_size: int | None,
                     stem_filters: int, head: str, num_answers: int) -> None:
    """One clear error for a bad size, head or image shape."""
    if head not in HEADS:
        raise ValueError(f"{name}: head must be one of {list(HEADS)}. "
                         f"Received: head={head!r}")
    missing = [arg for arg, (_, value) in arch.items() if value is None]
    if missing:
        raise ValueError(f"{name}: {', '.join(missing)} must be given.")
    presets.check_sizes(name, arch, dropout)
    for width, heads in (("hidden_dim", "num_heads"),
                         ("visual_hidden_dim", "visual_num_heads"),
                         ("co_attention_dim", "co_attention_heads")):
        presets.check_sizes(name, {width: arch[width], heads: arch[heads]},
                            dropout, heads=(width, heads))
    if arch["co_attention_layers"][1] > arch["num_layers"][1]:
        raise ValueError(
            f"{name}: co_attention_layers must be at most num_layers (each "
            "co-attention layer is followed by one of the text stream's "
            "transformer layers). Received: co_attention_layers="
            f"{arch['co_attention_layers'][1]}, num_layers="
            f"{arch['num_layers'][1]}")
    if head == "answer" and (isinstance(num_answers, bool) or not isinstance(
            num_answers, int) or num_answers < 1):
        raise ValueError(f"{name}: num_answers must be a positive integer. "
                         f"Received: num_answers={num_answers!r}")
    if input_shape is None:
        return
    if isinstance(stem_filters, bool) or not isinstance(
            stem_filters, int) or stem_filters < 0:
        raise ValueError(f"{name}: stem_filters must be an integer >= 0. "
                         f"Received: stem_filters={stem_filters!r}")
    if len(input_shape) != 3 or not isinstance(patch_size, int) or (
            patch_size < 1) or any(
            s is None or s % patch_size for s in input_shape[:2]):
        raise ValueError(
            f"{name}: images need input_shape (height, width, channels) with "
            "height and width known multiples of patch_size (or "
            "input_shape=None for detector regions). Received: "
            f"input_shape={input_shape!r}, patch_size={patch_size!r}")


def sweep_data(kwargs: Mapping[str, Any], batch: int = 4) -> SweepData:
    """Images, padded token batches and match labels for `kwargs`.

    Example:
    >>> data = sweep_data(_TINY, batch=2)
    >>> sorted(data.x), data.expected_output_shape
    (['images', 'padding_mask', 'token_ids'], (2, 1))
    """
    rng = np.random.default_rng(0)
    steps = kwargs["sequence_length"]
    mask = np.ones((batch, steps), "int32")
    mask[batch // 2:, steps - 2:] = 0
    ids = rng.integers(1, kwargs["vocabulary_size"], size=(batch, steps))
    x = {"images": rng.uniform(size=(batch, *kwargs["input_shape"])).astype(
        "float32"), "token_ids": (ids * mask).astype("int32"),
        "padding_mask": mask}
    y = (np.arange(batch) % 2).astype("float32")[:, None]
    return SweepData(x, y, keras.losses.BinaryCrossentropy(from_logits=True),
                     (batch, 1))


_TINY = {"input_shape": (8, 8, 1), "vocabulary_size": 40,
         "sequence_length": 8, "patch_size": 4, "stem_filters": 4,
         "region_dim": 8,
         "num_layers": 2, "hidden_dim": 16, "num_heads": 2,
         "intermediate_dim": 32, "visual_hidden_dim": 12,
         "visual_num_heads": 2, "visual_intermediate_dim": 24,
         "co_attention_layers": 1, "co_attention_dim": 8,
         "co_attention_heads": 2, "pooler_activation": "tanh",
         "dropout": 0.0}
# The paper's base configuration (Lu et al., 2019, sec. 4 and the
# authors' bert_base_6layer_6conect.json): BERT-base text stream, 1024-wide
# visual stream with 8 heads, 6 co-attention layers of width 1024 and 8
# heads, 2048-d Faster R-CNN region features.
VILBERT_BASE = {"input_shape": None, "vocabulary_size": 30522,
                "sequence_length": 512, "region_dim": 2048,
                "num_layers": 12, "hidden_dim": 768, "num_heads": 12,
                "intermediate_dim": 3072, "visual_hidden_dim": 1024,
                "visual_num_heads": 8, "visual_intermediate_dim": 1024,
                "co_attention_layers": 6, "co_attention_dim": 1024,
                "co_attention_heads": 8}
VILBERT_TINY = {**VILBERT_BASE, "input_shape": (8, 8, 1), "patch_size": 2,
                "region_dim": 64, "num_layers": 2, "hidden_dim": 64,
                "num_heads": 2, "intermediate_dim": 128,
                "visual_hidden_dim": 64, "visual_num_heads": 2,
                "visual_intermediate_dim": 128, "co_attention_layers": 2,
                "co_attention_dim": 64, "co_attention_heads": 2}
_KNOBS = (
    Knob("depth", "num_layers", min_value=1, max_value=12, step=1),
    Knob("depth", "co_attention_layers", min_value=1, max_value=6, step=1),
    Knob("width", "hidden_dim", values=(32, 64, 128, 256, 768)),
    Knob("width", "visual_hidden_dim", values=(32, 64, 128, 256, 1024)),
    Knob("heads", "num_heads", values=(2, 4, 8)),
    Knob("dropout", "dropout", min_value=0.0, max_value=0.3, step=0.05),
)


def _register(name: str, sizes: Mapping[str, Any], doc: str,
              params: int | None) -> Any:
    return presets.register_sized(
        vilbert_model, name, doc, sizes, params=params,
        family="vilbert", task="image_text_matching", tiny=_TINY,
        reference=_REFERENCE, knobs=_KNOBS, test={"data": sweep_data})


# The count at the base configuration, detector regions in (2048-d, as
# the paper's Faster R-CNN gives them; the detector itself not counted),
# the matching head out: see tests/models/test_vilbert.py.
VILBERT_BASE_PARAMS = 235_705_345
vilbert = _register(
    "vilbert", VILBERT_BASE, "ViLBERT: the paper's base configuration by "
    "default (see `vilbert_model` for every argument).", VILBERT_BASE_PARAMS)
vilbert_tiny = _register(
    "vilbert_tiny", VILBERT_TINY, "ViLBERT, tiny: 2 text layers (both "
    "with co-attention), 64 wide, 8x8 images in 2x2 regions.", None)
