"""LeNet-5 (LeCun et al., 1998)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from kerakit import heads
from kerakit.registry import Knob
from kerakit.registry import register

_TINY = {
    "input_shape": (16, 16, 1),
    "num_classes": 3,
    "conv_widths": (2, 4, 8),
    "dense_widths": (8,),
}


@register(
    family="lenet",
    task="image_classification",
    tiny=_TINY,
    reference="LeCun et al., 1998. Gradient-based learning applied to "
    "document recognition.",
    canonical={"input_shape": (32, 32, 1), "num_classes": 10},
    params=61_706,
    knobs=(
        Knob("depth", "dense_widths", values=((84,), (120, 84), (240, 120, 84))),
        Knob("width", "conv_widths", values=((6, 16, 120), (12, 32, 240))),
    ),
)
def lenet5(
    input_shape: Sequence[int | None] = (32, 32, 1),
    num_classes: int = 10,
    *,
    conv_widths: Sequence[int] = (6, 16, 120),
    dense_widths: Sequence[int] = (84,),
    activation: str = "tanh",
    include_top: bool = True,
    pooling: str | None = "flatten",
    dropout: float = 0.0,
    classifier_activation: str | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "lenet5",
) -> keras.Model:
    """Build LeNet-5: two 5x5 conv + average-pool stages, a 5x5 conv, FCs.

    The third convolution ("C5") covers the whole remaining map at 32x32
    input; for smaller inputs its kernel shrinks to the map, so 16x16 and
    28x28 inputs work too.

    Args:
        input_shape: Image shape without batch, at least 16x16.
        num_classes: Number of output logits.
        conv_widths: Filters of C1, C3 and C5.
        dense_widths: Hidden fully connected widths before the classifier.
        activation: Activation of every hidden layer.
        include_top: Whether to add the dense layers and classifier.
        pooling: Head pooling (`"flatten"`, `"avg"`, `"max"` or `None`).
        dropout: Dropout before the classifier.
        classifier_activation: Activation of the output (`None`: logits).
        data_format: `"channels_last"` or `"channels_first"`.
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from images to logits.

    Example:
    >>> import kerakit
    >>> kerakit.build("lenet5").count_params()
    61706

    Reference:
        LeCun et al., 1998. http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf
    """
    fmt = heads.resolve_data_format(data_format)
    heads.check_head_args(
        model=name, num_classes=num_classes, pooling=pooling, dropout=dropout
    )
    height, width, _ = heads.check_image_input(
        input_shape, model=name, data_format=fmt, min_size=16
    )
    if len(conv_widths) != 3:
        raise ValueError(
            f"{name}: conv_widths needs 3 entries (C1, C3, C5). "
            f"Received: conv_widths={conv_widths!r}"
        )
    inputs = keras.Input(tuple(input_shape), dtype=heads.input_dtype(dtype),
                         name="images")
    x = inputs
    for i, filters in enumerate(conv_widths[:2], start=1):
        x = keras.layers.Conv2D(
            filters, 5, activation=activation, data_format=fmt, dtype=dtype,
            name=f"{name}_conv{i}",
        )(x)
        x = keras.layers.AveragePooling2D(
            2, data_format=fmt, dtype=dtype, name=f"{name}_pool{i}"
        )(x)
    known = [s for s in (height, width) if s is not None]
    remaining = ((min(known) - 4) // 2 - 4) // 2 if known else 5
    x = keras.layers.Conv2D(
        conv_widths[2], max(1, min(5, remaining)), activation=activation,
        data_format=fmt, dtype=dtype, name=f"{name}_conv3",
    )(x)
    if not include_top:
        x = heads.pool(x, pooling, data_format=fmt, dtype=dtype, name=name)
        return keras.Model(inputs, x, name=name)
    x = heads.pool(x, pooling or "flatten", data_format=fmt, dtype=dtype,
                   name=name)
    for i, units in enumerate(dense_widths, start=1):
        x = keras.layers.Dense(
            units, activation=activation, dtype=dtype, name=f"{name}_fc{i}"
        )(x)
    if dropout:
        x = keras.layers.Dropout(dropout, dtype=dtype, name=f"{name}_dropout")(x)
    x = keras.layers.Dense(
        num_classes, activation=classifier_activation, dtype=dtype,
        name=f"{name}_predictions",
    )(x)
    return keras.Model(inputs, x, name=name)
