"""MobileNet v1 (Howard et al., 2017): depthwise separable convolutions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from kerakit import heads
from kerakit.models.cnn.mobilenet_v2 import check_multiplier
from kerakit.models.cnn.mobilenet_v2 import conv_bn
from kerakit.models.cnn.mobilenet_v2 import depthwise_bn
from kerakit.models.cnn.mobilenet_v2 import scale_depths
from kerakit.registry import Knob
from kerakit.registry import register

_TINY = {
    "input_shape": (32, 32, 3),
    "num_classes": 3,
    "width_multiplier": 0.125,
    "stage_depths": (1, 2),
    "stage_widths": (64, 128),
    "dropout": 0.0,
}


@register(
    family="mobilenet",
    task="image_classification",
    tiny=_TINY,
    reference="Howard et al., 2017. MobileNets: Efficient Convolutional "
    "Neural Networks for Mobile Vision Applications. "
    "https://arxiv.org/abs/1704.04861",
    canonical={"input_shape": (224, 224, 3), "num_classes": 1000},
    params=4_253_864,
    knobs=(
        Knob("width", "width_multiplier", values=(0.25, 0.5, 0.75, 1.0)),
        Knob("depth", "depth_multiplier", values=(0.5, 0.75, 1.0)),
    ),
)
def mobilenet_v1(
    input_shape: Sequence[int | None] = (224, 224, 3),
    num_classes: int = 1000,
    *,
    width_multiplier: float = 1.0,
    depth_multiplier: float = 1.0,
    stage_depths: Sequence[int] = (1, 2, 2, 6, 2),
    stage_widths: Sequence[int] = (64, 128, 256, 512, 1024),
    stem_width: int = 32,
    include_top: bool = True,
    pooling: str | None = "avg",
    dropout: float = 1e-3,
    classifier_activation: str | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "mobilenet_v1",
) -> keras.Model:
    """Build MobileNet v1: a stride-2 stem, then depthwise separable blocks.

    Each block is a 3x3 depthwise conv and a 1x1 pointwise conv, each
    followed by batch norm and ReLU6. Stage `i` has `stage_depths[i]` blocks
    of `stage_widths[i]` channels; every stage but the first starts with a
    stride-2 block. The canonical depths (1, 2, 2, 6, 2) are the paper's
    13 separable layers; (1, 2, 2, 1, 2) is its "shallow" MobileNet.

    The layout matches `keras.applications.MobileNet` (same parameter
    count). Its head is a 1x1 conv on the pooled map; here it is the kerakit
    head (pool -> dropout -> Dense logits), with the same parameters.

    Args:
        input_shape: Image shape without batch, at least 32x32; 1 or 3
            channels (any count works).
        num_classes: Number of output logits.
        width_multiplier: Scales every width (the paper's alpha; widths are
            truncated to integers as in keras.applications).
        depth_multiplier: Scales the blocks per stage (rounded up, at least
            one). Note: not the depthwise channel multiplier that
            `keras.applications.MobileNet` calls `depth_multiplier`.
        stage_depths: Separable blocks per stage.
        stage_widths: Pointwise filters per stage (before the multiplier).
        stem_width: Filters of the stride-2 stem conv.
        include_top: Whether to add the classifier.
        pooling: Head pooling (`"avg"`, `"max"`, `"flatten"` or `None`; with
            `include_top=False`, `None` returns the feature map).
        dropout: Dropout before the classifier (keras.applications' 1e-3).
        classifier_activation: Activation of the output (`None`: logits).
        data_format: `"channels_last"` or `"channels_first"`.
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from images to logits (or features when
        `include_top=False`).

    Example:
    >>> import kerakit
    >>> m = kerakit.build("mobilenet_v1", input_shape=(32, 32, 1),
    ...                   num_classes=10, depth_multiplier=0.5)
    >>> m.output_shape
    (None, 10)

    Reference:
        Howard et al., 2017. https://arxiv.org/abs/1704.04861
    """
    fmt = heads.resolve_data_format(data_format)
    heads.check_head_args(
        model=name, num_classes=num_classes, pooling=pooling, dropout=dropout
    )
    check_multiplier(name, "width_multiplier", width_multiplier)
    check_multiplier(name, "depth_multiplier", depth_multiplier)
    if (
        len(stage_depths) != len(stage_widths)
        or not stage_depths
        or min(stage_depths) < 1
        or min(stage_widths) < 1
    ):
        raise ValueError(
            f"{name}: stage_depths and stage_widths need the same, non-zero "
            f"length and positive entries. Received: stage_depths="
            f"{stage_depths!r}, stage_widths={stage_widths!r}"
        )
    heads.check_image_input(
        input_shape, model=name, data_format=fmt,
        min_size=2 ** len(stage_depths), need_static=pooling == "flatten",
    )
    inputs = keras.Input(tuple(input_shape), dtype=heads.input_dtype(dtype),
                         name="images")
    x = conv_bn(inputs, max(1, int(stem_width * width_multiplier)), 3,
                strides=2, activation="relu6", data_format=fmt, dtype=dtype,
                name=f"{name}_stem")
    depths = scale_depths(stage_depths, depth_multiplier)
    for i, (depth, filters) in enumerate(
        zip(depths, stage_widths, strict=True), start=1
    ):
        for j in range(1, depth + 1):
            block = f"{name}_stage{i}_block{j}"
            x = depthwise_bn(
                x, 3, strides=2 if i > 1 and j == 1 else 1,
                activation="relu6", data_format=fmt, dtype=dtype, name=block,
            )
            x = conv_bn(x, max(1, int(filters * width_multiplier)), 1,
                        activation="relu6", data_format=fmt, dtype=dtype,
                        name=f"{block}_pointwise")
    x = heads.classifier_head(
        x, num_classes=num_classes, include_top=include_top, pooling=pooling,
        dropout=dropout, classifier_activation=classifier_activation,
        data_format=fmt, dtype=dtype, name=name,
    )
    return keras.Model(inputs, x, name=name)

