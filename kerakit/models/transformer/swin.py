"""Swin Transformer image classifier (keras-hub's Swin backbone).

`swin` and `swin_t` take the CNNs' image-classifier arguments plus
`patch_size` and `window_size`, so small images train from scratch (8x8
digits with patch 1 and window 4). Stages halve the grid and double the
width and the heads; attention runs in shifted local windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import keras

from kerakit.models.transformer import presets
from kerakit.models.transformer import vision
from kerakit.registry import Knob

_REFERENCE = ("Liu et al., 2021. Swin Transformer: hierarchical vision "
              "transformer using shifted windows. "
              "https://arxiv.org/abs/2103.14030")


def _check_windows(input_shape: Sequence[int], patch_size: int,
                   window_size: int, num_stages: int, model: str) -> None:
    """Each stage's grid must be a multiple of the window or fit in one."""
    for i in range(num_stages):
        side = min(input_shape[:2]) // (patch_size * 2**i)
        if side > window_size and side % window_size:
            raise ValueError(
                f"{model}: stage {i + 1} works on a {side}x{side} grid, "
                f"which window_size={window_size} does not tile. Use a "
                f"window_size that divides {side} (or one >= {side})."
            )


def swin_model(
    input_shape: Sequence[int | None] | None = None,
    num_classes: int = 1000,
    *,
    patch_size: int | None = None,
    window_size: int | None = None,
    stage_depths: Sequence[int] | None = None,
    hidden_dim: int | None = None,
    num_heads: int | Sequence[int] | None = None,
    mlp_ratio: float | None = None,
    dropout: float = 0.0,
    attention_dropout: float = 0.0,
    drop_path: float = 0.1,
    include_top: bool = True,
    pooling: str | None = "avg",
    classifier_activation: str | None = None,
    preset: str | None = None,
    dtype: Any = None,
    name: str = "swin",
) -> keras.Model:
    """Build a Swin Transformer classifier on keras-hub's Swin backbone.

    The registered names (`swin`, `swin_t`) are this builder with default
    sizes; every size stays an argument.

    Args:
        input_shape: `(height, width, channels)`, square; the side must be
            a multiple of `patch_size * 2**(stages - 1)`. Channels last.
        num_classes: Number of output logits.
        patch_size: Side of the square patches embedded by the stem.
        window_size: Side of the local attention windows.
        stage_depths: Swin blocks per stage.
        hidden_dim: Width of the first stage (doubled at every stage).
        num_heads: Attention heads of the first stage (doubled at every
            stage, as in all Swin sizes), or one count per stage.
        mlp_ratio: MLP width as a multiple of the block width.
        dropout: Dropout of embeddings, MLPs and before the classifier.
        attention_dropout: Dropout of the attention weights.
        drop_path: Final stochastic-depth rate (linear over the blocks).
        include_top: Whether to add the classifier.
        pooling: `"avg"` (as keras-hub's `SwinTransformerImageClassifier`;
            also what `None` means with a top), `"max"` or `"flatten"`
            over the last stage's grid. Without a top, `None` returns that
            grid `(rows, cols, width)`.
        classifier_activation: Activation of the output (`None`: logits).
        preset: Path of a local keras-hub `SwinTransformerBackbone` preset
            folder (config and weights). Nothing is downloaded.
        dtype: Dtype or mixed-precision policy of every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` (not compiled) from images to logits, or
        to features when `include_top=False`.

    Example:
    >>> m = swin_model((8, 8, 1), 10, patch_size=1, window_size=4,
    ...                stage_depths=(2, 2), hidden_dim=8, num_heads=2,
    ...                mlp_ratio=2.0)
    >>> m.output_shape
    (None, 10)

    Reference:
        Liu et al., 2021. https://arxiv.org/abs/2103.14030
    """
    saved = presets.read_config(preset, name)["config"] if preset else {}
    depths = stage_depths or saved.get("depths")
    if depths is not None and (not depths or min(depths) < 1):
        raise ValueError(
            f"{name}: stage_depths needs at least one stage, each with at "
            f"least one block. Received: stage_depths={stage_depths!r}"
        )
    presets.check_sizes(name, {"hidden_dim": ("", hidden_dim),
                               "patch_size": ("", patch_size),
                               "window_size": ("", window_size)},
                        dropout, heads=None)
    known = depths is not None and patch_size is not None
    vision.check_vision_args(
        input_shape, num_classes, pooling, dropout, model=name,
        divisor=patch_size * 2 ** (len(depths) - 1) if known else None,
    )
    if known and input_shape is not None and window_size is not None:
        _check_windows(input_shape, patch_size, window_size, len(depths),
                       name)
    heads = num_heads
    if isinstance(num_heads, int) and depths is not None:
        heads = tuple(num_heads * 2**i for i in range(len(depths)))
    arch = {
        "input_shape": ("image_shape", None if input_shape is None
                        else tuple(input_shape)),
        "patch_size": ("patch_size", patch_size),
        "window_size": ("window_size", window_size),
        "stage_depths": ("depths", None if stage_depths is None
                         else tuple(stage_depths)),
        "hidden_dim": ("embed_dim", hidden_dim),
        "num_heads": ("num_heads", None if heads is None else tuple(heads)),
        "mlp_ratio": ("mlp_ratio", mlp_ratio),
    }
    if hidden_dim is not None and heads is not None and hidden_dim % heads[0]:
        raise ValueError(
            f"{name}: hidden_dim must be a multiple of the first stage's "
            f"num_heads. Received: hidden_dim={hidden_dim}, "
            f"num_heads={num_heads!r}"
        )
    backbone = presets.build_backbone(
        "SwinTransformerBackbone", arch, preset=preset, model=name,
        dropout_rate=dropout, attention_dropout=attention_dropout,
        drop_path=drop_path, dtype=dtype, name=f"{name}_backbone",
    )
    side = backbone.image_shape[0] // backbone.patch_size
    side //= 2 ** (len(backbone.depths) - 1)

    return vision.image_head(
        backbone, grid_shape=(side, side), num_prefix_tokens=0,
        num_classes=num_classes, include_top=include_top, pooling=pooling,
        dropout=dropout, classifier_activation=classifier_activation,
        dtype=dtype, name=name,
    )


_TINY = {"input_shape": (8, 8, 3), "num_classes": 3, "patch_size": 2,
         "window_size": 2, "stage_depths": (2, 2), "hidden_dim": 8,
         "num_heads": 2, "mlp_ratio": 2.0, "drop_path": 0.0}
SWIN_T = {"input_shape": (224, 224, 3), "patch_size": 4, "window_size": 7,
          "stage_depths": (2, 2, 6, 2), "hidden_dim": 96, "num_heads": 3,
          "mlp_ratio": 4.0}
_KNOBS = (
    Knob("depth", "stage_depths", values=((2, 2), (2, 2, 2), (2, 2, 6, 2))),
    *vision.VISION_KNOBS,
    Knob("window", "window_size", values=(2, 4, 7)),
)


def _register(name: str, sizes: Mapping[str, Any], doc: str,
              params: int | None) -> Any:
    return presets.register_sized(
        swin_model, name, doc, sizes, params=params,
        canonical={"num_classes": 1000},
        family="swin", task="image_classification", tiny=_TINY,
        reference=_REFERENCE, knobs=_KNOBS,
    )


swin = _register("swin", SWIN_T, "Swin: Swin-T sizes by default (see "
                 "`swin_model` for every argument).", 28_288_354)
swin_t = _register("swin_t", SWIN_T, "Swin-T: 224x224, patch 4, window 7, "
                   "depths 2-2-6-2, width 96, heads 3-6-12-24.", 28_288_354)
