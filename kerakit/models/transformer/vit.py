"""ViT: the Vision Transformer image classifier (keras-hub's ViT).

`vit`, `vit_b16` and `vit_ti16` take the CNNs' image-classifier arguments
plus `patch_size`, so small images train from scratch (8x8 digits with
patch 2, 32x32 with patch 4). The default head is a Dense layer on the
class token, as in keras-hub's `ViTImageClassifier`.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import keras

from kerakit.models.transformer import presets
from kerakit.models.transformer import vision
from kerakit.registry import Knob

_REFERENCE = ("Dosovitskiy et al., 2021. An image is worth 16x16 words: "
              "transformers for image recognition at scale. "
              "https://arxiv.org/abs/2010.11929")
POOLINGS = ("token", "avg", "max", "flatten", None)


def vit_model(
    input_shape: Sequence[int | None] | None = None,
    num_classes: int = 1000,
    *,
    patch_size: int | None = None,
    num_layers: int | None = None,
    hidden_dim: int | None = None,
    num_heads: int | None = None,
    intermediate_dim: int | None = None,
    dropout: float = 0.0,
    attention_dropout: float = 0.0,
    include_top: bool = True,
    pooling: str | None = "token",
    classifier_activation: str | None = None,
    preset: str | None = None,
    dtype: Any = None,
    name: str = "vit",
) -> keras.Model:
    """Build a Vision Transformer classifier on keras-hub's `ViTBackbone`.

    The image is cut into `patch_size` squares, each embedded, and a class
    token plus learned positions go through `num_layers` encoder blocks.
    The registered names (`vit`, `vit_b16`, `vit_ti16`) are this builder
    with default sizes; every size stays an argument.

    Args:
        input_shape: `(height, width, channels)`; height and width must be
            multiples of `patch_size`. Channels last only.
        num_classes: Number of output logits.
        patch_size: Side of the square patches.
        num_layers: Number of transformer encoder blocks.
        hidden_dim: Width of the patch embeddings.
        num_heads: Attention heads per block; must divide `hidden_dim`.
        intermediate_dim: Width of each block's MLP.
        dropout: Dropout in the encoder and before the classifier.
        attention_dropout: Dropout of the attention weights.
        include_top: Whether to add the classifier.
        pooling: `"token"` (the class token, as keras-hub's
            `ViTImageClassifier`; also what `None` means with a top),
            `"avg"`, `"max"` or `"flatten"` over the patch grid. Without a
            top, `None` returns the patch grid `(rows, cols, hidden_dim)`.
        classifier_activation: Activation of the output (`None`: logits).
        preset: Path of a local keras-hub `ViTBackbone` preset folder; its
            config (image size, patch size, sizes) and weights give the
            backbone, and kerakit adds a new head. Nothing is downloaded.
        dtype: Dtype or mixed-precision policy of every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` (not compiled) from images to logits, or
        to features when `include_top=False`.

    Example:
    >>> m = vit_model((8, 8, 1), 10, patch_size=2, num_layers=1,
    ...               hidden_dim=8, num_heads=2, intermediate_dim=16)
    >>> m.output_shape
    (None, 10)

    Reference:
        Dosovitskiy et al., 2021. https://arxiv.org/abs/2010.11929
    """
    patches = None if patch_size is None else (patch_size, patch_size)
    arch = {
        "input_shape": ("image_shape", None if input_shape is None
                        else tuple(input_shape)),
        "patch_size": ("patch_size", patches),
        "num_layers": ("num_layers", num_layers),
        "hidden_dim": ("hidden_dim", hidden_dim),
        "num_heads": ("num_heads", num_heads),
        "intermediate_dim": ("mlp_dim", intermediate_dim),
    }
    presets.check_sizes(name, {**{k: v for k, v in arch.items()
                                  if k != "input_shape"},
                               "patch_size": ("patch_size", patch_size)},
                        dropout)
    vision.check_vision_args(
        input_shape, num_classes, pooling, dropout, model=name,
        divisor=patch_size, poolings=POOLINGS,
    )
    extra = {} if preset else {"data_format": "channels_last"}
    backbone = presets.build_backbone(
        "ViTBackbone", arch, preset=preset, model=name, dropout_rate=dropout,
        attention_dropout=attention_dropout, dtype=dtype,
        name=f"{name}_backbone", **extra,
    )
    height, width, _ = backbone.image_shape
    rows, cols = backbone.patch_size

    return vision.image_head(
        backbone, grid_shape=(height // rows, width // cols),
        num_prefix_tokens=int(backbone.use_class_token),
        num_classes=num_classes, include_top=include_top,
        pooling="token" if include_top and pooling is None else pooling,
        dropout=dropout, classifier_activation=classifier_activation,
        dtype=dtype, name=name,
    )


_TINY = {"input_shape": (8, 8, 3), "num_classes": 3, "patch_size": 4,
         "num_layers": 1, "hidden_dim": 16, "num_heads": 2,
         "intermediate_dim": 32}
VIT_B16 = {"input_shape": (224, 224, 3), "patch_size": 16, "num_layers": 12,
           "hidden_dim": 768, "num_heads": 12, "intermediate_dim": 3072}
VIT_TI16 = {**VIT_B16, "hidden_dim": 192, "num_heads": 3,
            "intermediate_dim": 768}
_KNOBS = (
    Knob("depth", "num_layers", min_value=1, max_value=12, step=1),
    *vision.VISION_KNOBS,
    Knob("ffn", "intermediate_dim", values=(128, 256, 512, 768, 3072)),
)


def _register(name: str, sizes: Mapping[str, Any], doc: str,
              params: int | None) -> Any:
    return presets.register_sized(
        vit_model, name, doc, sizes, params=params,
        canonical={"num_classes": 1000},
        family="vit", task="image_classification", tiny=_TINY,
        reference=_REFERENCE, knobs=_KNOBS,
    )


vit = _register("vit", VIT_B16, "ViT: ViT-B/16 sizes by default (see "
                "`vit_model` for every argument).", 86_567_656)
vit_b16 = _register("vit_b16", VIT_B16, "ViT-B/16: 224x224, patch 16, 12 "
                    "layers, 768 wide, 12 heads, MLP 3072.", 86_567_656)
vit_ti16 = _register("vit_ti16", VIT_TI16, "ViT-Ti/16 (DeiT-Tiny sizes): "
                     "patch 16, 12 layers, 192 wide, 3 heads.", 5_717_416)
