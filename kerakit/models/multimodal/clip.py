"""CLIP: a contrastive image-text model on keras-hub's CLIP encoders.

kerakit builds the same graph as keras-hub's `CLIPBackbone` (vision
encoder -> class-token pooler -> projection; text encoder -> end-token
pooler -> projection; `CLIPHead` with its learned logit scale) from
keras-hub's `CLIPVisionEncoder` and `CLIPTextEncoder` (keras-hub's
poolers and head are not serialisable on their own, so kerakit's
`EndTokenPooling` and `ContrastiveLogits` stand in, with the same weights),
adding only an optional dropout on the pooled features (keras-hub's
encoders have none); the canonical `clip_b32` counts equal keras-hub's.

Outputs `{"vision_logits": (images, texts), "text_logits": (texts,
images)}`: scaled cosine similarities of every image with every text of
the batch. The text pooler reads the position of the largest token id, so
the end-of-text token must have the largest id (`vocabulary_size - 1`), as
in CLIP's own vocabulary; kerakit's contrastive task tokenises that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from kerakit.layers.contrastive_logits import ContrastiveLogits
from kerakit.models.transformer import presets
from kerakit.registry import Knob
from kerakit.testing import SweepData

_REFERENCE = ("Radford et al., 2021. Learning transferable visual models "
              "from natural language supervision. "
              "https://arxiv.org/abs/2103.00020")
OUTPUTS = ("vision_logits", "text_logits")


@keras.saving.register_keras_serializable(package="kerakit")
class EndTokenPooling(keras.layers.Layer):
    """Features at each text's largest token id (CLIP's end-of-text token).

    As keras-hub's `CLIPTextPooler`: `(features (batch, length, width),
    token_ids (batch, length))` -> `(batch, width)`.

    Example:
    >>> features = keras.ops.reshape(keras.ops.arange(12.0), (2, 3, 2))
    >>> ids = keras.ops.convert_to_tensor([[5, 9, 0], [4, 6, 9]])
    >>> keras.ops.convert_to_numpy(EndTokenPooling()(features, ids)).tolist()
    [[2.0, 3.0], [10.0, 11.0]]
    """

    def call(self, features: Any, token_ids: Any) -> Any:
        index = keras.ops.argmax(token_ids, axis=-1)[:, None, None]
        return keras.ops.take_along_axis(features, index, axis=1)[:, 0, :]

    def compute_output_shape(self, features_shape: Any,
                             token_ids_shape: Any) -> tuple:
        return (features_shape[0], features_shape[-1])


def clip_model(
    *,
    image_size: int | None = None,
    num_channels: int = 3,
    patch_size: int | None = None,
    vocabulary_size: int | None = None,
    sequence_length: int | None = None,
    num_layers: int | None = None,
    hidden_dim: int | None = None,
    num_heads: int | None = None,
    intermediate_dim: int | None = None,
    text_num_layers: int | None = None,
    text_hidden_dim: int | None = None,
    text_num_heads: int | None = None,
    text_intermediate_dim: int | None = None,
    projection_dim: int | None = None,
    dropout: float = 0.0,
    dtype: Any = None,
    name: str = "clip",
) -> keras.Model:
    """Build CLIP from keras-hub's vision and text encoders.

    The tower knobs: `num_layers`, `hidden_dim`, `num_heads` and
    `intermediate_dim` size the vision tower, and the text tower too
    unless its own `text_*` argument is given (CLIP ViT-B/32 has a 768-wide
    vision tower and a 512-wide text tower). `dropout` applies to both
    towers' pooled features, before the projections.

    Args:
        image_size: Side of the square input images; a multiple of
            `patch_size`.
        num_channels: Image channels (1 for grayscale digits).
        patch_size: Side of the square patches.
        vocabulary_size: Token ids; the end-of-text id is the largest.
        sequence_length: Tokens per text (positions of the text tower).
        num_layers: Transformer blocks of the vision tower.
        hidden_dim: Width of the vision tower.
        num_heads: Attention heads of the vision tower.
        intermediate_dim: MLP width of the vision tower.
        text_num_layers: Blocks of the text tower (`None`: `num_layers`).
        text_hidden_dim: Width of the text tower (`None`: `hidden_dim`).
        text_num_heads: Heads of the text tower (`None`: `num_heads`).
        text_intermediate_dim: MLP width of the text tower (`None`:
            `intermediate_dim`).
        projection_dim: Width of the shared image-text embedding.
        dropout: Dropout on the pooled features of both towers.
        dtype: Dtype or mixed-precision policy of every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` (not compiled) from `{"images",
        "token_ids"}` to `{"vision_logits", "text_logits"}`.

    Example:
    >>> m = clip_model(image_size=8, num_channels=1, patch_size=4,
    ...                vocabulary_size=12, sequence_length=5, num_layers=1,
    ...                hidden_dim=8, num_heads=2, intermediate_dim=16,
    ...                projection_dim=4)
    >>> sorted(m.output), tuple(m.output["vision_logits"].shape)
    (['text_logits', 'vision_logits'], (None, None))

    Reference:
        Radford et al., 2021. https://arxiv.org/abs/2103.00020
    """
    text = {"num_layers": text_num_layers or num_layers,
            "hidden_dim": text_hidden_dim or hidden_dim,
            "num_heads": text_num_heads or num_heads,
            "intermediate_dim": text_intermediate_dim or intermediate_dim}
    sizes = {"image_size": image_size, "num_channels": num_channels,
             "patch_size": patch_size, "vocabulary_size": vocabulary_size,
             "sequence_length": sequence_length, "num_layers": num_layers,
             "hidden_dim": hidden_dim, "num_heads": num_heads,
             "intermediate_dim": intermediate_dim,
             "projection_dim": projection_dim,
             **{f"text_{k}": v for k, v in text.items()}}
    missing = [k for k, v in sizes.items() if v is None]
    if missing:
        raise ValueError(f"{name}: {', '.join(missing)} must be given.")
    presets.check_sizes(name, {k: (k, v) for k, v in sizes.items()}, dropout)
    presets.check_sizes(name, {"hidden_dim": ("", hidden_dim),
                               "num_heads": ("", num_heads)}, dropout)
    presets.check_sizes(name, {"hidden_dim": ("", text["hidden_dim"]),
                               "num_heads": ("", text["num_heads"])}, dropout)
    if image_size % patch_size:
        raise ValueError(f"{name}: image_size must be a multiple of "
                         f"patch_size. Received: image_size={image_size}, "
                         f"patch_size={patch_size}.")
    hub = presets.keras_hub().models
    vision_encoder = hub.CLIPVisionEncoder(
        patch_size=patch_size, hidden_dim=hidden_dim, num_layers=num_layers,
        num_heads=num_heads, intermediate_dim=intermediate_dim,
        image_shape=(image_size, image_size, num_channels),
        data_format="channels_last", dtype=dtype,
        name=f"{name}_vision_encoder")
    text_encoder = hub.CLIPTextEncoder(
        vocabulary_size=vocabulary_size, embedding_dim=text["hidden_dim"],
        hidden_dim=text["hidden_dim"], num_layers=text["num_layers"],
        num_heads=text["num_heads"],
        intermediate_dim=text["intermediate_dim"],
        max_sequence_length=sequence_length, dtype=dtype,
        name=f"{name}_text_encoder")

    images = keras.Input((image_size, image_size, num_channels),
                         name="images")
    token_ids = keras.Input((sequence_length,), dtype="int32",
                            name="token_ids")
    # The class token, as keras-hub's `CLIPVisionPooler`.
    pooled_images = vision_encoder({"images": images})[:, 0, :]
    pooled_texts = EndTokenPooling(dtype=dtype, name="text_pooler")(
        text_encoder({"token_ids": token_ids}), token_ids)
    embeddings = []
    for side, pooled in (("vision", pooled_images), ("text", pooled_texts)):
        pooled = keras.layers.Dropout(dropout, dtype=dtype,
                                      name=f"{side}_dropout")(pooled)
        embeddings.append(keras.layers.Dense(
            projection_dim, use_bias=False, dtype=dtype,
            name=f"{side}_projection")(pooled))
    # CLIP's learned logit scale, exp(log(1 / 0.07)) at first, at most 100.
    head = ContrastiveLogits(0.07, max_scale=100.0, dtype=dtype,
                             name="clip_head")
    outputs = {"vision_logits": head(embeddings),
               "text_logits": head(embeddings[::-1])}
    return keras.Model({"images": images, "token_ids": token_ids}, outputs,
                       name=name)


def embedders(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """The image and text towers of a CLIP model, up to the projections.

    Returns:
        `(image model: images -> (batch, projection_dim), text model:
        token_ids -> (batch, projection_dim))`, sharing the weights of
        `model` (embeddings are not normalised).

    Example:
    >>> import kerakit
    >>> m = kerakit.build("clip_tiny")
    >>> images, texts = embedders(m)
    >>> images.output_shape, texts.output_shape
    ((None, 32), (None, 32))
    """
    inputs = model.input
    return (keras.Model(inputs["images"],
                        model.get_layer("vision_projection").output),
            keras.Model(inputs["token_ids"],
                        model.get_layer("text_projection").output))


def logit_scale(model: keras.Model) -> float:
    """The learned logit scale (1 / temperature) of a CLIP model.

    Example:
    >>> import kerakit
    >>> round(logit_scale(kerakit.build("clip_tiny")), 3)  # log(1/0.07)
    14.286
    """
    head = model.get_layer("clip_head")
    return float(np.exp(keras.ops.convert_to_numpy(head.log_scale)))


def sweep_data(kwargs: Mapping[str, Any], batch: int = 4) -> SweepData:
    """Images, token ids (end id last) and symmetric InfoNCE targets."""
    rng = np.random.default_rng(0)
    size, channels = kwargs["image_size"], kwargs.get("num_channels", 3)
    vocabulary, length = kwargs["vocabulary_size"], kwargs["sequence_length"]
    tokens = rng.integers(1, vocabulary - 1, size=(batch, length))
    ends = rng.integers(1, length, size=batch)
    tokens[np.arange(batch), ends] = vocabulary - 1
    tokens[np.arange(length)[None, :] > ends[:, None]] = 0
    x = {"images": rng.uniform(size=(batch, size, size, channels)).astype(
        "float32"), "token_ids": tokens.astype("int32")}
    targets = np.eye(batch, dtype="float32")
    loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    return SweepData(x, {k: targets for k in OUTPUTS},
                     {k: loss for k in OUTPUTS},
                     {k: (batch, batch) for k in OUTPUTS})


_TINY = {"image_size": 8, "num_channels": 1, "patch_size": 4,
         "vocabulary_size": 12, "sequence_length": 5, "num_layers": 1,
         "hidden_dim": 8, "num_heads": 2, "intermediate_dim": 16,
         "projection_dim": 8}
CLIP_B32 = {"image_size": 224, "num_channels": 3, "patch_size": 32,
            "vocabulary_size": 49408, "sequence_length": 77,
            "num_layers": 12, "hidden_dim": 768, "num_heads": 12,
            "intermediate_dim": 3072, "text_num_layers": 12,
            "text_hidden_dim": 512, "text_num_heads": 8,
            "text_intermediate_dim": 2048, "projection_dim": 512}
CLIP_TINY = {"image_size": 8, "num_channels": 1, "patch_size": 2,
             "vocabulary_size": 64, "sequence_length": 24, "num_layers": 2,
             "hidden_dim": 64, "num_heads": 4, "intermediate_dim": 128,
             "projection_dim": 32}
_KNOBS = (
    Knob("depth", "num_layers", min_value=1, max_value=12, step=1),
    Knob("width", "hidden_dim", values=(32, 64, 128, 256, 768)),
    Knob("heads", "num_heads", values=(2, 4, 8, 12)),
    Knob("dropout", "dropout", min_value=0.0, max_value=0.3, step=0.05),
    Knob("patch", "patch_size", values=(1, 2, 4, 8, 16, 32)),
    Knob("width", "projection_dim", values=(16, 32, 64, 128, 512)),
)


def _register(name: str, sizes: Mapping[str, Any], doc: str,
              params: int | None) -> Any:
    return presets.register_sized(
        clip_model, name, doc, sizes, params=params, family="clip",
        task="contrastive_image_text", tiny=_TINY, reference=_REFERENCE,
        knobs=_KNOBS, test={"data": sweep_data})


clip = _register("clip", CLIP_B32, "CLIP: ViT-B/32 sizes by default (see "
                 "`clip_model` for every argument).", 151_277_363)
clip_b32 = _register(
    "clip_b32", CLIP_B32, "CLIP ViT-B/32: 224x224 RGB, patch 32, 12x768 "
    "vision tower, 12x512 text tower (vocabulary 49,408, 77 positions), "
    "projection 512.", 151_277_363)
clip_tiny = _register(
    "clip_tiny", CLIP_TINY, "A small CLIP for 8x8 grayscale digits: patch "
    "2, 2x64 towers, projection 32.", None)
