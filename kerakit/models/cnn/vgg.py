"""VGG (Simonyan & Zisserman, 2014): stacks of 3x3 convolutions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from kerakit import heads
from kerakit.models.cnn import blocks
from kerakit.registry import Knob
from kerakit.registry import register
from kerakit.registry import variant

_REFERENCE = (
    "Simonyan & Zisserman, 2014. Very Deep Convolutional Networks for "
    "Large-Scale Image Recognition. https://arxiv.org/abs/1409.1556"
)
_CANONICAL = {"input_shape": (224, 224, 3), "num_classes": 1000}
_WIDTHS = (64, 128, 256, 512, 512)
# Conv layers per stage of each named depth (configurations A, B, D, E).
_DEPTHS = {
    "vgg11": (1, 1, 2, 2, 2),
    "vgg13": (2, 2, 2, 2, 2),
    "vgg16": (2, 2, 3, 3, 3),
    "vgg19": (2, 2, 4, 4, 4),
}
# Width choices a tuner may pick from (full, half, quarter).
_WIDTH_CHOICES = (
    tuple(w // 4 for w in _WIDTHS),
    tuple(w // 2 for w in _WIDTHS),
    _WIDTHS,
)
# Variants fix the depth (and batch norm); the sweep shrinks widths only.
_TINY_VARIANT = {
    "input_shape": (32, 32, 3),
    "num_classes": 3,
    "stage_widths": (4, 4, 8, 8, 8),
    "fc_widths": (8, 8),
    # Dropout 0.5 on 8 units makes 5 training steps too noisy to compare.
    "dropout": 0.0,
}
_TINY = {
    "input_shape": (16, 16, 3),
    "num_classes": 3,
    "stage_depths": (1, 2),
    "stage_widths": (4, 8),
    "fc_widths": (8,),
    "batch_norm": True,
    "dropout": 0.0,
}


def conv_stack(
    x: Any,
    widths: Sequence[int],
    *,
    batch_norm: bool,
    data_format: str,
    dtype: Any,
    name: str,
) -> Any:
    """Apply 3x3 'same' convolutions with ReLU (and batch norm) in sequence.

    Layer names are `f"{name}_conv{j}"` (and `_bn{j}`, `_relu{j}`), j from 1.

    Example:
    >>> x = keras.Input((8, 8, 3))
    >>> conv_stack(x, (4, 4), batch_norm=True, data_format="channels_last",
    ...            dtype=None, name="s").shape
    (None, 8, 8, 4)
    """
    for j, filters in enumerate(widths, start=1):
        x = keras.layers.Conv2D(
            filters, 3, padding="same",
            activation=None if batch_norm else "relu",
            data_format=data_format, dtype=dtype, name=f"{name}_conv{j}",
        )(x)
        if batch_norm:
            # Conv bias kept before BN, as in torchvision's vgg*_bn.
            x = blocks.batch_norm(x, data_format=data_format, dtype=dtype,
                                  name=f"{name}_bn{j}")
            x = blocks.relu(x, dtype=dtype, name=f"{name}_relu{j}")
    return x


def fc_classifier(
    x: Any,
    *,
    include_top: bool = True,
    num_classes: int,
    fc_widths: Sequence[int],
    pooling: str | None,
    dropout: float,
    classifier_activation: str | None,
    data_format: str,
    dtype: Any,
    name: str,
) -> Any:
    """The AlexNet/VGG head: pool -> [Dense+ReLU -> Dropout]* -> logits.

    `pooling=None` means `"flatten"`, the paper head. With
    `include_top=False` only `pooling` is applied (`None`: feature map).

    Example:
    >>> x = keras.Input((2, 2, 8))
    >>> fc_classifier(x, num_classes=3, fc_widths=(8,), pooling=None,
    ...               dropout=0.5, classifier_activation=None,
    ...               data_format="channels_last", dtype=None, name="m").shape
    (None, 3)
    """
    if not include_top:
        return heads.pool(x, pooling, data_format=data_format, dtype=dtype,
                          name=name)
    x = heads.pool(x, pooling or "flatten", data_format=data_format,
                   dtype=dtype, name=name)
    for i, units in enumerate(fc_widths, start=1):
        x = keras.layers.Dense(
            units, activation="relu", dtype=dtype, name=f"{name}_fc{i}"
        )(x)
        if dropout:
            x = keras.layers.Dropout(
                dropout, dtype=dtype, name=f"{name}_fc{i}_dropout"
            )(x)
    return keras.layers.Dense(
        num_classes, activation=classifier_activation, dtype=dtype,
        name=f"{name}_predictions",
    )(x)


def check_fc_widths(model: str, fc_widths: Sequence[int]) -> None:
    """Raise a clear ValueError unless `fc_widths` are positive integers.

    Example:
    >>> check_fc_widths("vgg", ())
    """
    if not isinstance(fc_widths, (tuple, list)) or not all(
        isinstance(v, int) and v >= 1 for v in fc_widths
    ):
        raise ValueError(
            f"{model}: fc_widths must be a (possibly empty) sequence of "
            f"positive integers. Received: fc_widths={fc_widths!r}"
        )


@register(
    family="vgg",
    task="image_classification",
    tiny=_TINY,
    reference=_REFERENCE,
    canonical=_CANONICAL,
    params=138_357_544,
    knobs=(
        Knob("depth", "stage_depths", values=tuple(_DEPTHS.values())),
        Knob("width", "stage_widths", values=_WIDTH_CHOICES),
        Knob("normalization", "batch_norm", values=(False, True)),
        Knob("dropout", "dropout", min_value=0.0, max_value=0.5, step=0.1),
    ),
)
def vgg(
    input_shape: Sequence[int | None] = (224, 224, 3),
    num_classes: int = 1000,
    *,
    stage_depths: Sequence[int] = (2, 2, 3, 3, 3),
    stage_widths: Sequence[int] = _WIDTHS,
    fc_widths: Sequence[int] = (4096, 4096),
    batch_norm: bool = False,
    include_top: bool = True,
    pooling: str | None = "flatten",
    dropout: float = 0.5,
    classifier_activation: str | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "vgg",
) -> keras.Model:
    """Build a VGG network: 3x3 conv stages separated by max-pooling.

    Each stage is `stage_depths[i]` 3x3 convolutions of `stage_widths[i]`
    filters (conv -> BN -> ReLU with `batch_norm`, conv -> ReLU without),
    then a 2x2 max-pool. The defaults are VGG-16 (configuration D).

    Args:
        input_shape: Image shape without batch, in `data_format` layout,
            1 or more channels. Height and width must be at least
            `2 ** len(stage_depths)` (32 for the five-stage nets); they may
            be `None` unless the head flattens.
        num_classes: Number of output logits.
        stage_depths: Conv layers per stage; same length as `stage_widths`.
        stage_widths: Filters per stage.
        fc_widths: Hidden fully connected layers of the head (may be empty).
        batch_norm: Whether to add batch norm after every convolution (the
            `_bn` variants).
        include_top: Whether to add the fully connected head. Without it the
            model ends after the last max-pool.
        pooling: How the head reduces the feature map: `"flatten"` (paper),
            `"avg"` or `"max"` (global pooling; the FC layers still follow).
            `None` means `"flatten"` with `include_top=True` and returns the
            feature map with `include_top=False`. With `"flatten"` the size
            of the first FC layer depends on the input size.
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
    >>> m = kerakit.build("vgg", input_shape=(32, 32, 3), num_classes=10,
    ...                   stage_depths=(1, 1), stage_widths=(8, 16),
    ...                   fc_widths=(16,))
    >>> m.output_shape
    (None, 10)

    Reference:
        Simonyan & Zisserman, 2014. https://arxiv.org/abs/1409.1556
    """
    fmt = heads.resolve_data_format(data_format)
    heads.check_head_args(
        model=name, num_classes=num_classes, pooling=pooling, dropout=dropout
    )
    blocks.check_positive_ints(name, "stage_depths", stage_depths)
    blocks.check_positive_ints(name, "stage_widths", stage_widths)
    check_fc_widths(name, fc_widths)
    if len(stage_depths) != len(stage_widths):
        raise ValueError(
            f"{name}: stage_depths and stage_widths need the same length. "
            f"Received: stage_depths={stage_depths!r}, "
            f"stage_widths={stage_widths!r}"
        )
    flattens = pooling == "flatten" or (include_top and pooling is None)
    heads.check_image_input(
        input_shape, model=name, data_format=fmt,
        min_size=2 ** len(stage_depths), need_static=flattens,
    )
    inputs = keras.Input(tuple(input_shape), dtype=heads.input_dtype(dtype),
                         name="images")
    x = inputs
    for i, (depth, width) in enumerate(zip(stage_depths, stage_widths), 1):
        x = conv_stack(
            x, (width,) * depth, batch_norm=batch_norm, data_format=fmt,
            dtype=dtype, name=f"{name}_stage{i}",
        )
        x = keras.layers.MaxPooling2D(
            2, data_format=fmt, dtype=dtype, name=f"{name}_stage{i}_pool"
        )(x)
    x = fc_classifier(
        x, include_top=include_top, num_classes=num_classes,
        fc_widths=fc_widths, pooling=pooling, dropout=dropout,
        classifier_activation=classifier_activation, data_format=fmt,
        dtype=dtype, name=name,
    )
    return keras.Model(inputs, x, name=name)


def _bn_params(depths: Sequence[int]) -> int:
    # Keras counts 4 numbers per BN channel (gamma, beta, moving mean and
    # variance); torchvision's count leaves out the 2 moving statistics.
    return 4 * sum(d * w for d, w in zip(depths, _WIDTHS))


_PARAMS = {
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
}


def _make(depth_name: str, batch_norm: bool = False) -> Any:
    """Create and register the named variant `vgg11` ... `vgg19_bn`."""
    depths = _DEPTHS[depth_name]
    key = f"{depth_name}_bn" if batch_norm else depth_name
    doc = (
        f"VGG-{sum(depths) + 3}{' with batch norm' if batch_norm else ''}: "
        f"3x3 conv stages of depths {'-'.join(map(str, depths))}."
    )
    fn = variant(vgg, key, doc, stage_depths=depths, batch_norm=batch_norm)
    suffix = "_bn" if batch_norm else ""
    register(
        family="vgg",
        task="image_classification",
        tiny=_TINY_VARIANT,
        reference=_REFERENCE,
        canonical=_CANONICAL,
        params=_PARAMS[depth_name] + (_bn_params(depths) if batch_norm else 0),
        knobs=(
            Knob("depth", "model", values=tuple(n + suffix for n in _DEPTHS)),
            Knob("width", "stage_widths", values=_WIDTH_CHOICES),
            Knob("dropout", "dropout", min_value=0.0, max_value=0.5, step=0.1),
        ),
    )(fn)
    return fn


vgg11 = _make("vgg11")
vgg13 = _make("vgg13")
vgg16 = _make("vgg16")
vgg19 = _make("vgg19")
vgg11_bn = _make("vgg11", batch_norm=True)
vgg13_bn = _make("vgg13", batch_norm=True)
vgg16_bn = _make("vgg16", batch_norm=True)
vgg19_bn = _make("vgg19", batch_norm=True)
