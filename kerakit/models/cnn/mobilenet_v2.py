"""MobileNet v2 (Sandler et al., 2018) and the blocks MobileNet v3 shares.

`build("mobilenet")` is MobileNet v2, the family's best-known member.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

from kerakit import heads
from kerakit.layers.fused_batch_norm import FusedBatchNormalization
from kerakit.registry import Knob
from kerakit.registry import register
from kerakit.registry import variant

_REFERENCE = (
    "Sandler et al., 2018. MobileNetV2: Inverted Residuals and Linear "
    "Bottlenecks. https://arxiv.org/abs/1801.04381"
)
_CANONICAL = {"input_shape": (224, 224, 3), "num_classes": 1000}
_KNOBS = (
    Knob("width", "width_multiplier", values=(0.35, 0.5, 0.75, 1.0, 1.3, 1.4)),
    Knob("depth", "depth_multiplier", values=(0.34, 0.5, 0.75, 1.0, 1.5)),
)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to the nearest multiple of `divisor`.

    Never goes below `divisor` nor more than 10% below `value` (the rule of
    the reference MobileNet implementations).

    Example:
    >>> make_divisible(32 * 0.35), make_divisible(1280 * 1.4)
    (16, 1792)
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scale_depths(
    stage_depths: Sequence[int], depth_multiplier: float
) -> list[int]:
    """Scale blocks per stage by `depth_multiplier` (ceil, at least 1).

    Example:
    >>> scale_depths((1, 2, 3, 4), 0.5)
    [1, 1, 2, 2]
    """
    return [
        max(1, math.ceil(d * depth_multiplier - 1e-9)) for d in stage_depths
    ]


def check_multiplier(model: str, arg: str, value: float) -> None:
    """Reject a non-positive width or depth multiplier with a clear error.

    Example:
    >>> check_multiplier("m", "width_multiplier", 0.5)
    """
    if not isinstance(value, (int, float)) or not 0 < value <= 4:
        raise ValueError(
            f"{model}: {arg} must be a number in (0, 4], e.g. 0.35, 0.5, "
            f"1.0 or 1.4. Received: {arg}={value!r}"
        )


def conv_bn(
    x: Any,
    filters: int,
    kernel_size: int,
    *,
    strides: int = 1,
    activation: str | None,
    data_format: str,
    dtype: Any,
    name: str,
) -> Any:
    """Bias-free convolution, batch norm and an optional activation.

    Example:
    >>> x = keras.Input((8, 8, 3))
    >>> conv_bn(x, 4, 3, strides=2, activation="relu6",
    ...         data_format="channels_last", dtype=None, name="m").shape
    (None, 4, 4, 4)
    """
    axis = -1 if data_format == "channels_last" else 1
    x = keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=False,
        data_format=data_format, dtype=dtype, name=f"{name}_conv",
    )(x)
    x = FusedBatchNormalization(
        axis=axis, epsilon=1e-3, dtype=dtype, name=f"{name}_bn"
    )(x)
    if activation:
        x = keras.layers.Activation(activation, dtype=dtype,
                                    name=f"{name}_act")(x)
    return x


def depthwise_bn(
    x: Any,
    kernel_size: int,
    *,
    strides: int,
    activation: str,
    data_format: str,
    dtype: Any,
    name: str,
) -> Any:
    """Bias-free depthwise convolution, batch norm and activation.

    Example:
    >>> x = keras.Input((8, 8, 4))
    >>> depthwise_bn(x, 3, strides=2, activation="relu6",
    ...              data_format="channels_last", dtype=None, name="m").shape
    (None, 4, 4, 4)
    """
    axis = -1 if data_format == "channels_last" else 1
    x = keras.layers.DepthwiseConv2D(
        kernel_size, strides=strides, padding="same", use_bias=False,
        data_format=data_format, dtype=dtype, name=f"{name}_depthwise_conv",
    )(x)
    x = FusedBatchNormalization(
        axis=axis, epsilon=1e-3, dtype=dtype, name=f"{name}_depthwise_bn"
    )(x)
    return keras.layers.Activation(
        activation, dtype=dtype, name=f"{name}_depthwise_act"
    )(x)


def squeeze_excite(
    x: Any, channels: int, reduced: int, *, data_format: str, dtype: Any,
    name: str,
) -> Any:
    """Squeeze-and-excitation gate (ReLU bottleneck, hard-sigmoid gate).

    Example:
    >>> x = keras.Input((4, 4, 8))
    >>> squeeze_excite(x, 8, 8, data_format="channels_last", dtype=None,
    ...                name="m").shape
    (None, 4, 4, 8)
    """
    s = keras.layers.GlobalAveragePooling2D(
        data_format=data_format, keepdims=True, dtype=dtype,
        name=f"{name}_se_pool",
    )(x)
    s = keras.layers.Conv2D(
        reduced, 1, activation="relu", data_format=data_format, dtype=dtype,
        name=f"{name}_se_reduce",
    )(s)
    s = keras.layers.Conv2D(
        channels, 1, activation="hard_sigmoid", data_format=data_format,
        dtype=dtype, name=f"{name}_se_expand",
    )(s)
    return keras.layers.Multiply(dtype=dtype, name=f"{name}_se_gate")([x, s])


def inverted_residual(
    x: Any,
    *,
    in_channels: int,
    expanded: int,
    out_channels: int,
    kernel_size: int = 3,
    strides: int = 1,
    activation: str = "relu6",
    se_ratio: float | None = None,
    data_format: str,
    dtype: Any,
    name: str,
) -> Any:
    """Inverted residual: 1x1 expand, depthwise, optional SE, 1x1 project.

    The expansion is skipped when `expanded == in_channels`; the projection
    is linear, and the input is added back when shapes allow.

    Example:
    >>> x = keras.Input((8, 8, 8))
    >>> inverted_residual(x, in_channels=8, expanded=48, out_channels=8,
    ...                   data_format="channels_last", dtype=None,
    ...                   name="b").shape
    (None, 8, 8, 8)
    """
    shortcut = x
    if expanded != in_channels:
        x = conv_bn(x, expanded, 1, activation=activation,
                    data_format=data_format, dtype=dtype,
                    name=f"{name}_expand")
    x = depthwise_bn(x, kernel_size, strides=strides, activation=activation,
                     data_format=data_format, dtype=dtype, name=name)
    if se_ratio:
        x = squeeze_excite(
            x, expanded, make_divisible(expanded * se_ratio),
            data_format=data_format, dtype=dtype, name=name,
        )
    x = conv_bn(x, out_channels, 1, activation=None, data_format=data_format,
                dtype=dtype, name=f"{name}_project")
    if strides == 1 and in_channels == out_channels:
        x = keras.layers.Add(dtype=dtype, name=f"{name}_add")([shortcut, x])
    return x


# Two stages (the second with a residual block), 8 and 16 channels.
_TINY = {
    "input_shape": (32, 32, 3),
    "num_classes": 3,
    "width_multiplier": 0.5,
    "stage_depths": (1, 2),
    "stage_widths": (16, 32),
    "stage_strides": (1, 2),
    "last_width": 16,
}


@register(
    family="mobilenet",
    task="image_classification",
    tiny=_TINY,
    reference=_REFERENCE,
    canonical=_CANONICAL,
    params=3_538_984,
    knobs=_KNOBS,
)
def mobilenet_v2(
    input_shape: Sequence[int | None] = (224, 224, 3),
    num_classes: int = 1000,
    *,
    width_multiplier: float = 1.0,
    depth_multiplier: float = 1.0,
    stage_depths: Sequence[int] = (1, 2, 3, 4, 3, 3, 1),
    stage_widths: Sequence[int] = (16, 24, 32, 64, 96, 160, 320),
    stage_strides: Sequence[int] = (1, 2, 2, 2, 1, 2, 1),
    expansion: int = 6,
    stem_width: int = 32,
    last_width: int = 1280,
    include_top: bool = True,
    pooling: str | None = "avg",
    dropout: float = 0.0,
    classifier_activation: str | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "mobilenet_v2",
) -> keras.Model:
    """Build MobileNet v2: inverted residuals with linear bottlenecks.

    Stage `i` has `stage_depths[i]` blocks with `stage_widths[i]` output
    channels; its first block uses `stage_strides[i]`. The first stage does
    not expand, the others expand by `expansion`. The layout matches
    `keras.applications.MobileNetV2` (same parameter count), but the head is
    the kerakit one (pool -> dropout -> Dense logits) and convolutions use
    `"same"` padding instead of explicit zero padding.

    Args:
        input_shape: Image shape without batch, at least 32x32 with the
            canonical strides; 1 or 3 channels (any count works).
        num_classes: Number of output logits.
        width_multiplier: Scales every width (rounded to a multiple of 8);
            the last 1x1 conv widens only when it is above 1 (as in the paper).
        depth_multiplier: Scales the blocks per stage (rounded up, at least
            one). Note: not the depthwise channel multiplier that
            `keras.applications.MobileNet` calls `depth_multiplier`.
        stage_depths: Inverted residual blocks per stage.
        stage_widths: Output channels per stage (before `width_multiplier`).
        stage_strides: Stride of each stage's first block.
        expansion: Expansion factor of every stage but the first.
        stem_width: Filters of the stride-2 stem conv.
        last_width: Filters of the final 1x1 conv.
        include_top: Whether to add the classifier.
        pooling: Head pooling (`"avg"`, `"max"`, `"flatten"` or `None`; with
            `include_top=False`, `None` returns the feature map).
        dropout: Dropout before the classifier.
        classifier_activation: Activation of the output (`None`: logits).
        data_format: `"channels_last"` or `"channels_first"`.
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from images to logits (or features when
        `include_top=False`).

    Example:
    >>> import kerakit
    >>> m = kerakit.build("mobilenet", input_shape=(32, 32, 1),
    ...                   num_classes=10, stage_depths=(1, 2),
    ...                   stage_widths=(16, 24), stage_strides=(1, 2))
    >>> m.output_shape
    (None, 10)

    Reference:
        Sandler et al., 2018. https://arxiv.org/abs/1801.04381
    """
    fmt = heads.resolve_data_format(data_format)
    heads.check_head_args(
        model=name, num_classes=num_classes, pooling=pooling, dropout=dropout
    )
    check_multiplier(name, "width_multiplier", width_multiplier)
    check_multiplier(name, "depth_multiplier", depth_multiplier)
    sizes = {len(stage_depths), len(stage_widths), len(stage_strides)}
    if len(sizes) != 1 or not stage_depths:
        raise ValueError(
            f"{name}: stage_depths, stage_widths and stage_strides need the "
            f"same, non-zero length. Received: stage_depths={stage_depths!r}, "
            f"stage_widths={stage_widths!r}, stage_strides={stage_strides!r}"
        )
    if min(stage_depths) < 1 or min(stage_widths) < 1 or not set(
        stage_strides
    ) <= {1, 2}:
        raise ValueError(
            f"{name}: stage depths and widths must be positive and strides 1 "
            f"or 2. Received: stage_depths={stage_depths!r}, "
            f"stage_widths={stage_widths!r}, stage_strides={stage_strides!r}"
        )
    heads.check_image_input(
        input_shape, model=name, data_format=fmt,
        min_size=2 * math.prod(stage_strides), need_static=pooling == "flatten",
    )
    inputs = keras.Input(tuple(input_shape), dtype=heads.input_dtype(dtype),
                         name="images")
    width = make_divisible(stem_width * width_multiplier)
    x = conv_bn(inputs, width, 3, strides=2, activation="relu6",
                data_format=fmt, dtype=dtype, name=f"{name}_stem")
    depths = scale_depths(stage_depths, depth_multiplier)
    for i, (depth, out, stride) in enumerate(
        zip(depths, stage_widths, stage_strides, strict=True), start=1
    ):
        out = make_divisible(out * width_multiplier)
        for j in range(1, depth + 1):
            x = inverted_residual(
                x, in_channels=width,
                expanded=width if i == 1 else width * expansion,
                out_channels=out, strides=stride if j == 1 else 1,
                data_format=fmt, dtype=dtype,
                name=f"{name}_stage{i}_block{j}",
            )
            width = out
    last = last_width
    if width_multiplier > 1:
        last = make_divisible(last_width * width_multiplier)
    x = conv_bn(x, last, 1, activation="relu6", data_format=fmt, dtype=dtype,
                name=f"{name}_head")
    x = heads.classifier_head(
        x, num_classes=num_classes, include_top=include_top, pooling=pooling,
        dropout=dropout, classifier_activation=classifier_activation,
        data_format=fmt, dtype=dtype, name=name,
    )
    return keras.Model(inputs, x, name=name)


mobilenet = register(
    family="mobilenet",
    task="image_classification",
    # Unlike mobilenet_v2's case: grey images, stride 2 twice, max pool.
    tiny={
        "input_shape": (16, 16, 1),
        "num_classes": 3,
        "width_multiplier": 0.5,
        "stage_depths": (1, 1),
        "stage_widths": (16, 16),
        "stage_strides": (2, 2),
        "last_width": 16,
        "pooling": "max",
    },
    reference=_REFERENCE,
    canonical=_CANONICAL,
    params=3_538_984,
    knobs=_KNOBS,
)(
    variant(
        mobilenet_v2,
        "mobilenet",
        "MobileNet family default: MobileNet v2 (see `mobilenet_v2`).",
    )
)
