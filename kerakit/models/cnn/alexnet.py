"""AlexNet (Krizhevsky et al., 2012), single-tower torchvision layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from kerakit import heads
from kerakit.models.cnn import blocks
from kerakit.models.cnn.vgg import check_fc_widths
from kerakit.models.cnn.vgg import fc_classifier
from kerakit.registry import Knob
from kerakit.registry import register

_WIDTHS = (64, 192, 384, 256, 256)
# (kernel, stride, padding, max-pool after) of the five convolutions.
_LAYOUT = ((11, 4, 2, True), (5, 1, 2, True), (3, 1, 1, False),
           (3, 1, 1, False), (3, 1, 1, True))
# Smallest input: the conv1 output must survive three 3x3 stride-2 pools,
# so it needs >= 15 cells (15 -> 7 -> 3 -> 1): (H + 4 - 11) // 4 + 1 >= 15.
_MIN_SIZE = 63
_TINY = {
    "input_shape": (_MIN_SIZE, _MIN_SIZE, 3),
    "num_classes": 3,
    "stage_widths": (4, 8, 8, 8, 8),
    "fc_widths": (8, 8),
    # Dropout 0.5 on 8 units makes 5 training steps too noisy to compare.
    "dropout": 0.0,
}


@register(
    family="alexnet",
    task="image_classification",
    tiny=_TINY,
    reference="Krizhevsky, Sutskever & Hinton, 2012. ImageNet "
    "Classification with Deep Convolutional Neural Networks (NeurIPS).",
    canonical={"input_shape": (224, 224, 3), "num_classes": 1000},
    params=61_100_840,
    knobs=(
        Knob("width", "stage_widths",
             values=(tuple(w // 4 for w in _WIDTHS),
                     tuple(w // 2 for w in _WIDTHS), _WIDTHS)),
        Knob("dropout", "dropout", min_value=0.0, max_value=0.5, step=0.1),
    ),
)
def alexnet(
    input_shape: Sequence[int | None] = (224, 224, 3),
    num_classes: int = 1000,
    *,
    stage_widths: Sequence[int] = _WIDTHS,
    fc_widths: Sequence[int] = (4096, 4096),
    include_top: bool = True,
    pooling: str | None = "flatten",
    dropout: float = 0.5,
    classifier_activation: str | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "alexnet",
) -> keras.Model:
    """Build AlexNet: five ReLU convolutions, three max-pools, FC layers.

    The single-tower version of torchvision (no local response
    normalisation, no two-GPU split): conv 11x11/4 -> pool -> conv 5x5 ->
    pool -> three conv 3x3 -> pool, every pool 3x3 with stride 2. At
    224x224 the last feature map is 6x6.

    Args:
        input_shape: Image shape without batch, in `data_format` layout,
            at least 63x63; height and width may be `None` unless the head
            flattens.
        num_classes: Number of output logits.
        stage_widths: Filters of the five convolutions.
        fc_widths: Hidden fully connected layers of the head (may be empty).
        include_top: Whether to add the fully connected head.
        pooling: How the head reduces the feature map: `"flatten"` (paper;
            the first FC size then depends on the input size), `"avg"` or
            `"max"` (the FC layers still follow). `None` means `"flatten"`
            with `include_top=True` and the feature map without it.
        dropout: Dropout after each hidden FC layer.
        classifier_activation: Activation of the output (`None`: logits).
        data_format: `"channels_last"` or `"channels_first"`; `None` uses
            `keras.config.image_data_format()`.
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name and prefix of layer names.

    Returns:
        Functional `keras.Model` from images to logits (or features when
        `include_top=False`).

    Example:
    >>> import kerakit
    >>> m = kerakit.build("alexnet", input_shape=(64, 64, 1), num_classes=10,
    ...                   stage_widths=(4, 8, 8, 8, 8), fc_widths=(16, 16))
    >>> m.output_shape
    (None, 10)

    Reference:
        Krizhevsky et al., 2012. https://papers.nips.cc/paper/4824
    """
    fmt = heads.resolve_data_format(data_format)
    heads.check_head_args(
        model=name, num_classes=num_classes, pooling=pooling, dropout=dropout
    )
    blocks.check_positive_ints(name, "stage_widths", stage_widths,
                               length=len(_LAYOUT))
    check_fc_widths(name, fc_widths)
    flattens = pooling == "flatten" or (include_top and pooling is None)
    heads.check_image_input(
        input_shape, model=name, data_format=fmt, min_size=_MIN_SIZE,
        need_static=flattens,
    )
    inputs = keras.Input(tuple(input_shape), dtype=heads.input_dtype(dtype),
                         name="images")
    x = inputs
    for i, (filters, (kernel, stride, pad, pooled)) in enumerate(
        zip(stage_widths, _LAYOUT), start=1
    ):
        if stride > 1:
            # torchvision pads 2 around the 11x11/4 conv; "same" would not.
            x = keras.layers.ZeroPadding2D(
                pad, data_format=fmt, dtype=dtype, name=f"{name}_conv{i}_pad"
            )(x)
        x = keras.layers.Conv2D(
            filters, kernel, strides=stride,
            padding="valid" if stride > 1 else "same", activation="relu",
            data_format=fmt, dtype=dtype, name=f"{name}_conv{i}",
        )(x)
        if pooled:
            x = keras.layers.MaxPooling2D(
                3, strides=2, data_format=fmt, dtype=dtype,
                name=f"{name}_pool{i}",
            )(x)
    x = fc_classifier(
        x, include_top=include_top, num_classes=num_classes,
        fc_widths=fc_widths, pooling=pooling, dropout=dropout,
        classifier_activation=classifier_activation, data_format=fmt,
        dtype=dtype, name=name,
    )
    return keras.Model(inputs, x, name=name)
