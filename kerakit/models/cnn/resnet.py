"""ResNet (He et al., 2015), torchvision design ("v1.5")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from kerakit import heads
from kerakit.models.cnn import blocks
from kerakit.registry import Knob
from kerakit.registry import register
from kerakit.registry import variant

_BLOCKS = ("basic", "bottleneck")
_EXPANSION = {"basic": 1, "bottleneck": 4}
_REFERENCE = (
    "He et al., 2015. Deep Residual Learning for Image Recognition. "
    "https://arxiv.org/abs/1512.03385"
)
_CANONICAL = {"input_shape": (224, 224, 3), "num_classes": 1000}
_DEPTHS = {
    "resnet18": ("basic", (2, 2, 2, 2), 11_699_112),
    "resnet34": ("basic", (3, 4, 6, 3), 21_814_696),
    "resnet50": ("bottleneck", (3, 4, 6, 3), 25_610_152),
    "resnet101": ("bottleneck", (3, 4, 23, 3), 44_654_504),
    "resnet152": ("bottleneck", (3, 8, 36, 3), 60_344_232),
}
_WIDTH_KNOB = Knob("width", "width_multiplier", values=(0.25, 0.5, 1.0, 2.0))
_VARIANT_KNOBS = (Knob("depth", "model", values=tuple(_DEPTHS)), _WIDTH_KNOB)


def _check_args(name: str, block: str, stage_depths: Sequence[int],
                stage_widths: Sequence[int], width_multiplier: float) -> None:
    if block not in _BLOCKS:
        raise ValueError(
            f"{name}: block must be one of {list(_BLOCKS)}. "
            f"Received: block={block!r}"
        )
    blocks.check_positive_ints(name, "stage_depths", stage_depths)
    blocks.check_positive_ints(name, "stage_widths", stage_widths,
                               length=len(stage_depths))
    if not width_multiplier > 0:
        raise ValueError(
            f"{name}: width_multiplier must be positive. "
            f"Received: width_multiplier={width_multiplier!r}"
        )


def residual_block(
    x: Any,
    width: int,
    *,
    block: str,
    strides: int,
    data_format: str,
    dtype: Any = None,
    name: str,
) -> Any:
    """Apply one residual block (`"basic"` or `"bottleneck"`).

    A basic block is two 3x3 conv-BN layers; a bottleneck is 1x1 (reduce
    to `width`) -> 3x3 -> 1x1 (expand to `4 * width`), with the stride on
    the 3x3 conv (torchvision's "v1.5"). The shortcut is a 1x1 conv-BN
    projection whenever the stride or channel count changes.

    Args:
        x: Input feature map.
        width: Block width (output channels of a basic block, inner
            channels of a bottleneck).
        block: `"basic"` or `"bottleneck"`.
        strides: Stride of the block (2 at the start of a downsampling
            stage).
        data_format: Resolved data format.
        dtype: Dtype or policy for the layers.
        name: Layer name prefix, e.g. `"resnet50_stage2_block1"`.

    Returns:
        The block output, after the final ReLU.

    Example:
    >>> x = keras.Input((8, 8, 4))
    >>> residual_block(x, 4, block="bottleneck", strides=2,
    ...                data_format="channels_last", name="b").shape
    (None, 4, 4, 16)
    """
    fmt = {"data_format": data_format, "dtype": dtype}
    out_channels = width * _EXPANSION[block]
    in_channels = x.shape[blocks.channel_axis(data_format)]
    shortcut = x
    if strides != 1 or in_channels != out_channels:
        shortcut = blocks.conv_bn(x, out_channels, 1, strides=strides,
                                  activation=False, **fmt,
                                  name=f"{name}_shortcut")
    if block == "basic":
        x = blocks.conv_bn(x, width, 3, strides=strides, **fmt,
                           name=f"{name}_1")
        x = blocks.conv_bn(x, width, 3, activation=False, **fmt,
                           name=f"{name}_2")
    else:
        x = blocks.conv_bn(x, width, 1, **fmt, name=f"{name}_1")
        x = blocks.conv_bn(x, width, 3, strides=strides, **fmt,
                           name=f"{name}_2")
        x = blocks.conv_bn(x, out_channels, 1, activation=False, **fmt,
                           name=f"{name}_3")
    x = keras.layers.Add(dtype=dtype, name=f"{name}_add")([shortcut, x])
    return blocks.relu(x, dtype=dtype, name=f"{name}_out")


@register(
    family="resnet",
    task="image_classification",
    tiny={
        "input_shape": (32, 32, 3),
        "num_classes": 3,
        "stage_depths": (1, 1),
        "stage_widths": (4, 8),
        "small_stem": True,
    },
    reference=_REFERENCE,
    canonical=_CANONICAL,
    params=_DEPTHS["resnet50"][2],
    knobs=(
        Knob("depth", "stage_depths",
             values=((2, 2, 2, 2), (3, 4, 6, 3), (3, 4, 23, 3),
                     (3, 8, 36, 3))),
        _WIDTH_KNOB,
        Knob("block", "block", values=_BLOCKS),
    ),
)
def resnet(
    input_shape: Sequence[int | None] = (224, 224, 3),
    num_classes: int = 1000,
    *,
    block: str = "bottleneck",
    stage_depths: Sequence[int] = (3, 4, 6, 3),
    stage_widths: Sequence[int] = (64, 128, 256, 512),
    width_multiplier: float = 1.0,
    small_stem: bool = False,
    include_top: bool = True,
    pooling: str | None = "avg",
    dropout: float = 0.0,
    classifier_activation: str | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "resnet",
) -> keras.Model:
    """Build a ResNet: a stem, then stages of residual blocks.

    The defaults give ResNet-50. Each stage after the first halves the
    resolution in its first block. Convolutions have no bias (batch norm
    follows), as in the paper and torchvision.

    Args:
        input_shape: Image shape without batch, in `data_format` layout,
            1 or more channels. Height and width must be at least the total
            stride (`4 * 2**(stages - 1)`, or `2**(stages - 1)` with
            `small_stem`); `None` spatial dims are allowed unless
            `pooling="flatten"`.
        num_classes: Number of output logits.
        block: `"basic"` (ResNet-18/34) or `"bottleneck"` (ResNet-50+).
        stage_depths: Residual blocks per stage.
        stage_widths: Block width per stage (bottleneck blocks output four
            times as many channels); the stem has `stage_widths[0]`.
        width_multiplier: Scales every width (rounded, at least 1).
        small_stem: Use a 3x3 stride-1 stem without max-pool, for small
            (e.g. 32x32 CIFAR) images, instead of 7x7 stride 2 + max-pool.
        include_top: Whether to add the classifier.
        pooling: Head pooling (`"avg"`, `"max"`, `"flatten"` or `None`;
            `None` with `include_top=False` returns the feature map).
        dropout: Dropout before the classifier.
        classifier_activation: Activation of the output (`None`: logits).
        data_format: `"channels_last"` or `"channels_first"`; `None` uses
            the Keras default.
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name and layer-name prefix.

    Returns:
        Functional `keras.Model` from images to logits (or features when
        `include_top=False`).

    Example:
    >>> import kerakit
    >>> m = kerakit.build("resnet", input_shape=(32, 32, 3), num_classes=10,
    ...                   block="basic", stage_depths=(1, 1),
    ...                   stage_widths=(8, 16), small_stem=True)
    >>> m.output_shape
    (None, 10)

    Reference:
        He et al., 2015. https://arxiv.org/abs/1512.03385
    """
    _check_args(name, block, stage_depths, stage_widths, width_multiplier)
    fmt = blocks.check_classifier_input(
        model=name, input_shape=input_shape, num_classes=num_classes,
        include_top=include_top, pooling=pooling, dropout=dropout,
        data_format=data_format,
        min_size=blocks.stem_stride(small_stem) * 2 ** (len(stage_depths) - 1),
    )
    widths = [max(1, round(w * width_multiplier)) for w in stage_widths]
    inputs = keras.Input(tuple(input_shape), dtype=heads.input_dtype(dtype),
                         name="images")
    x = blocks.stem(inputs, widths[0], small=small_stem, data_format=fmt,
                    dtype=dtype, name=name)
    for i, (depth, width) in enumerate(zip(stage_depths, widths), start=1):
        for j in range(1, depth + 1):
            x = residual_block(
                x, width, block=block,
                strides=2 if i > 1 and j == 1 else 1,
                data_format=fmt, dtype=dtype,
                name=f"{name}_stage{i}_block{j}",
            )
    x = heads.classifier_head(
        x, num_classes=num_classes, include_top=include_top, pooling=pooling,
        dropout=dropout, classifier_activation=classifier_activation,
        data_format=fmt, dtype=dtype, name=name,
    )
    return keras.Model(inputs, x, name=name)


def _tiny(block: str, depths: Sequence[int]) -> dict[str, Any]:
    # Fixed depths stay (resnet152 keeps its 50 blocks); only widths shrink.
    # 32x32 with the ImageNet stem ends at 1x1, where batch-4 BatchNorm over
    # single pixels through 16-50 bottleneck blocks makes the training loss
    # erratic; 64x64 (2x2 at the last stage) trains smoothly.
    size = 64 if block == "bottleneck" else 32
    return {
        "input_shape": (size, size, 3),
        "num_classes": 3,
        "stage_widths": (8, 8, 8, 8) if block == "basic" else (4, 4, 4, 4),
    }


# The deep bottleneck variants need a smaller Adam step in the standard
# training check (see kerakit.testing.SweepData).
_DEEP_TEST = {"learning_rate": 1e-6}


def _variant(name: str) -> Any:
    block, depths, params = _DEPTHS[name]
    fn = variant(
        resnet,
        name,
        f"ResNet-{name[6:]}: {block} blocks, stage depths "
        f"{'-'.join(map(str, depths))}.",
        block=block,
        stage_depths=depths,
    )
    return register(
        family="resnet",
        task="image_classification",
        tiny=_tiny(block, depths),
        reference=_REFERENCE,
        canonical=_CANONICAL,
        params=params,
        knobs=_VARIANT_KNOBS,
        test=_DEEP_TEST if block == "bottleneck" else {},
    )(fn)


resnet18 = _variant("resnet18")
resnet34 = _variant("resnet34")
resnet50 = _variant("resnet50")
resnet101 = _variant("resnet101")
resnet152 = _variant("resnet152")
