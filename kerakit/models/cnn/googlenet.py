"""GoogLeNet / Inception v1 (Szegedy et al., 2014), torchvision layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from kerakit import heads
from kerakit.layers.fused_batch_norm import FusedBatchNormalization
from kerakit.models.cnn import blocks
from kerakit.registry import Knob
from kerakit.registry import register

# Inception modules of stages 3, 4, 5 (3a, 3b, 4a ... 4e, 5a, 5b), each
# (1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool proj). As in torchvision,
# the "5x5" branch uses a 3x3 kernel. A max-pool (3x3/2, then 2x2/2 before
# stage 5) separates the stages.
_STAGES = (
    ("3", ((64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64))),
    ("4", ((192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64),
           (128, 128, 256, 24, 64, 64), (112, 144, 288, 32, 64, 64),
           (256, 160, 320, 32, 128, 128))),
    ("5", ((256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128))),
)
_AUX_DROPOUT = 0.7
_BN_EPSILON = 1e-3
# Five stride-2 steps: one output cell per 32x32 pixels.
_MIN_SIZE = 32
_TINY = {
    "input_shape": (32, 32, 3),
    "num_classes": 3,
    "width_multiplier": 0.0625,
    # Fewer modules: graph tracing time grows with the layer count.
    "stage_depths": (1, 2, 1),
}
_REFERENCE = (
    "Szegedy et al., 2014. Going Deeper with Convolutions. "
    "https://arxiv.org/abs/1409.4842"
)


def _basic_conv(x: Any, filters: int, kernel: int, *, strides: int = 1,
                data_format: str, dtype: Any, name: str) -> Any:
    """Conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU, torchvision's unit."""
    x = blocks.conv2d(x, filters, kernel, strides=strides,
                      data_format=data_format, dtype=dtype,
                      name=f"{name}_conv")
    x = FusedBatchNormalization(
        axis=blocks.channel_axis(data_format), epsilon=_BN_EPSILON,
        momentum=blocks.BN_MOMENTUM, dtype=dtype, name=f"{name}_bn",
    )(x)
    return blocks.relu(x, dtype=dtype, name=f"{name}_relu")


def _max_pool(x: Any, size: int, strides: int, *, data_format: str,
              dtype: Any, name: str) -> Any:
    # "same" equals torchvision's ceil_mode=True on even sizes.
    return keras.layers.MaxPooling2D(
        size, strides=strides, padding="same", data_format=data_format,
        dtype=dtype, name=name,
    )(x)


def _inception(x: Any, widths: Sequence[int], *, data_format: str,
               dtype: Any, name: str) -> Any:
    """Four parallel branches concatenated along the channels."""
    c1, c3r, c3, c5r, c5, proj = widths
    kw = {"data_format": data_format, "dtype": dtype}
    b1 = _basic_conv(x, c1, 1, name=f"{name}_b1", **kw)
    b2 = _basic_conv(x, c3r, 1, name=f"{name}_b2_reduce", **kw)
    b2 = _basic_conv(b2, c3, 3, name=f"{name}_b2", **kw)
    b3 = _basic_conv(x, c5r, 1, name=f"{name}_b3_reduce", **kw)
    b3 = _basic_conv(b3, c5, 3, name=f"{name}_b3", **kw)
    b4 = _max_pool(x, 3, 1, name=f"{name}_b4_pool", **kw)
    b4 = _basic_conv(b4, proj, 1, name=f"{name}_b4", **kw)
    return keras.layers.Concatenate(
        axis=blocks.channel_axis(data_format), dtype=dtype,
        name=f"{name}_concat",
    )([b1, b2, b3, b4])


def _aux_head(x: Any, *, num_classes: int, scale: Any,
              classifier_activation: str | None, data_format: str,
              dtype: Any, name: str) -> Any:
    """Auxiliary classifier: pool to 4x4 -> 1x1 conv -> FC -> logits."""
    x = keras.layers.AdaptiveAveragePooling2D(
        4, data_format=data_format, dtype=dtype, name=f"{name}_pool"
    )(x)
    x = _basic_conv(x, scale(128), 1, data_format=data_format, dtype=dtype,
                    name=name)
    x = keras.layers.Flatten(data_format=data_format, dtype=dtype,
                             name=f"{name}_flatten")(x)
    x = keras.layers.Dense(scale(1024), activation="relu", dtype=dtype,
                           name=f"{name}_fc")(x)
    x = keras.layers.Dropout(_AUX_DROPOUT, dtype=dtype,
                             name=f"{name}_dropout")(x)
    return keras.layers.Dense(
        num_classes, activation=classifier_activation, dtype=dtype,
        name=f"{name}_predictions",
    )(x)


@register(
    family="googlenet",
    task="image_classification",
    tiny=_TINY,
    reference=_REFERENCE,
    canonical={"input_shape": (224, 224, 3), "num_classes": 1000},
    params=6_639_464,
    knobs=(
        Knob("depth", "stage_depths", values=((1, 2, 1), (2, 3, 2),
                                              (2, 5, 2))),
        Knob("width", "width_multiplier", values=(0.25, 0.5, 1.0)),
        Knob("dropout", "dropout", min_value=0.0, max_value=0.5, step=0.1),
    ),
)
def googlenet(
    input_shape: Sequence[int | None] = (224, 224, 3),
    num_classes: int = 1000,
    *,
    aux_heads: bool = False,
    stage_depths: Sequence[int] = (2, 5, 2),
    width_multiplier: float = 1.0,
    include_top: bool = True,
    pooling: str | None = "avg",
    dropout: float = 0.2,
    classifier_activation: str | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "googlenet",
) -> keras.Model:
    """Build GoogLeNet (Inception v1) with batch norm, as torchvision does.

    Every convolution is conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU. The
    stem (7x7/2 conv, pool, 1x1 and 3x3 convs, pool) feeds nine inception
    modules in three stages split by max-pools, then the standard head.
    Max-pools use "same" padding, which equals torchvision's `ceil_mode`
    on even sizes.

    Args:
        input_shape: Image shape without batch, in `data_format` layout,
            at least 32x32 (pad 28x28 digits to 32x32); height and width
            may be `None` unless `pooling="flatten"`.
        num_classes: Number of output logits.
        aux_heads: Whether to add the two auxiliary classifiers (after
            modules 4a and 4d; 4x4 adaptive average pool, 1x1 conv of 128,
            FC 1024, dropout 0.7). The model then returns the list
            `[logits, aux1_logits, aux2_logits]`; the paper weights the
            auxiliary losses by 0.3 (`compile(loss_weights=[1, .3, .3])`).
            Ignored when `include_top=False`. They follow the first and
            the second-to-last module of stage 4.
        stage_depths: Inception modules in stages 3, 4 and 5, at most
            (2, 5, 2); a stage keeps the first modules of the paper's table.
        width_multiplier: Scales every channel count (at least 1 each).
        include_top: Whether to add the classifier.
        pooling: Head pooling: `"avg"` (paper), `"max"`, `"flatten"`, or
            `None` (the feature map, with `include_top=False`).
        dropout: Dropout before the classifier.
        classifier_activation: Activation of the outputs (`None`: logits).
        data_format: `"channels_last"` or `"channels_first"`; `None` uses
            `keras.config.image_data_format()`.
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name and prefix of layer names.

    Returns:
        Functional `keras.Model` from images to logits (a list of three
        logits with `aux_heads=True`), or features with
        `include_top=False`.

    Example:
    >>> import kerakit
    >>> m = kerakit.build("googlenet", input_shape=(32, 32, 3),
    ...                   num_classes=10, width_multiplier=0.0625,
    ...                   stage_depths=(1, 2, 1), aux_heads=True)
    >>> [tuple(o.shape) for o in m.outputs]
    [(None, 10), (None, 10), (None, 10)]

    Reference:
        Szegedy et al., 2014. https://arxiv.org/abs/1409.4842
    """
    fmt = heads.resolve_data_format(data_format)
    heads.check_head_args(
        model=name, num_classes=num_classes, pooling=pooling, dropout=dropout
    )
    if not isinstance(width_multiplier, (int, float)) or width_multiplier <= 0:
        raise ValueError(
            f"{name}: width_multiplier must be a positive number. "
            f"Received: width_multiplier={width_multiplier!r}"
        )
    blocks.check_positive_ints(name, "stage_depths", stage_depths, length=3)
    if any(d > len(m) for d, (_, m) in zip(stage_depths, _STAGES)):
        raise ValueError(
            f"{name}: stage_depths allows at most (2, 5, 2) modules. "
            f"Received: stage_depths={stage_depths!r}"
        )
    heads.check_image_input(
        input_shape, model=name, data_format=fmt, min_size=_MIN_SIZE,
        need_static=pooling == "flatten",
    )

    def scale(channels: int) -> int:
        return max(1, int(round(channels * width_multiplier)))

    kw = {"data_format": fmt, "dtype": dtype}
    inputs = keras.Input(tuple(input_shape), dtype=heads.input_dtype(dtype),
                         name="images")
    x = _basic_conv(inputs, scale(64), 7, strides=2, name=f"{name}_conv1",
                    **kw)
    x = _max_pool(x, 3, 2, name=f"{name}_pool1", **kw)
    x = _basic_conv(x, scale(64), 1, name=f"{name}_conv2", **kw)
    x = _basic_conv(x, scale(192), 3, name=f"{name}_conv3", **kw)
    x = _max_pool(x, 3, 2, name=f"{name}_pool2", **kw)
    aux = []
    for (stage, table), depth in zip(_STAGES, stage_depths):
        if stage != "3":
            x = _max_pool(x, 3 if stage == "4" else 2, 2,
                          name=f"{name}_pool{stage}", **kw)
        # Aux heads after the first and second-to-last module of stage 4
        # (4a and 4d); they share a module when stage 4 is shorter than 3.
        aux_at = [0, max(depth - 2, 0)] if stage == "4" else []
        for j, widths in enumerate(table[:depth]):
            x = _inception(x, [scale(w) for w in widths],
                           name=f"{name}_inception{stage}{'abcde'[j]}", **kw)
            if not (aux_heads and include_top):
                continue
            for _ in range(aux_at.count(j)):
                aux.append(_aux_head(
                    x, num_classes=num_classes, scale=scale,
                    classifier_activation=classifier_activation,
                    name=f"{name}_aux{len(aux) + 1}", **kw,
                ))
    x = heads.classifier_head(
        x, num_classes=num_classes, include_top=include_top, pooling=pooling,
        dropout=dropout, classifier_activation=classifier_activation,
        name=name, **kw,
    )
    return keras.Model(inputs, [x, *aux] if aux else x, name=name)
