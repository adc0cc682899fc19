"""DenseNet-BC (Huang et al., 2016)."""

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
    "Huang et al., 2016. Densely Connected Convolutional Networks. "
    "https://arxiv.org/abs/1608.06993"
)
_CANONICAL = {"input_shape": (224, 224, 3), "num_classes": 1000}
_SIZES = {
    "densenet121": ((6, 12, 24, 16), 8_062_504),
    "densenet169": ((6, 12, 32, 32), 14_307_880),
    "densenet201": ((6, 12, 48, 32), 20_242_984),
}
_WIDTH_KNOB = Knob("width", "growth_rate", min_value=8, max_value=64, step=8)
# Tiny configs keep every fixed depth (densenet201 keeps its 98 layers);
# growth 4 gives an 8-channel stem and 16-channel bottlenecks.
_TINY = {"input_shape": (32, 32, 3), "num_classes": 3, "growth_rate": 4}


def _check_args(name: str, block_sizes: Sequence[int], growth_rate: int,
                compression: float) -> None:
    blocks.check_positive_ints(name, "block_sizes", block_sizes)
    if not isinstance(growth_rate, int) or growth_rate < 1:
        raise ValueError(
            f"{name}: growth_rate must be a positive integer. "
            f"Received: growth_rate={growth_rate!r}"
        )
    if not 0 < compression <= 1:
        raise ValueError(
            f"{name}: compression must be in (0, 1]. "
            f"Received: compression={compression!r}"
        )


def _bn_relu_conv(x: Any, filters: int, kernel_size: int, *,
                  data_format: str, dtype: Any, name: str) -> Any:
    """Pre-activation unit: BN -> ReLU -> conv (no bias)."""
    x = blocks.batch_norm(x, data_format=data_format, dtype=dtype,
                          name=f"{name}_bn")
    x = blocks.relu(x, dtype=dtype, name=f"{name}_relu")
    return blocks.conv2d(x, filters, kernel_size, data_format=data_format,
                         dtype=dtype, name=f"{name}_conv")


def dense_block(
    x: Any,
    num_layers: int,
    growth_rate: int,
    *,
    data_format: str,
    dtype: Any = None,
    name: str,
) -> Any:
    """Apply a dense block of `num_layers` bottleneck layers.

    Each layer is BN-ReLU-1x1 conv (`4 * growth_rate` channels) then
    BN-ReLU-3x3 conv (`growth_rate` channels), and its output is
    concatenated to its input, so the block adds
    `num_layers * growth_rate` channels.

    Example:
    >>> x = keras.Input((4, 4, 8))
    >>> dense_block(x, 2, 4, data_format="channels_last", name="b").shape
    (None, 4, 4, 16)
    """
    fmt = {"data_format": data_format, "dtype": dtype}
    axis = blocks.channel_axis(data_format)
    for j in range(1, num_layers + 1):
        y = _bn_relu_conv(x, 4 * growth_rate, 1, **fmt,
                          name=f"{name}_layer{j}_1")
        y = _bn_relu_conv(y, growth_rate, 3, **fmt, name=f"{name}_layer{j}_2")
        x = keras.layers.Concatenate(
            axis=axis, dtype=dtype, name=f"{name}_layer{j}_concat"
        )([x, y])
    return x


def transition(
    x: Any,
    compression: float,
    *,
    data_format: str,
    dtype: Any = None,
    name: str,
) -> Any:
    """Apply a transition: BN-ReLU-1x1 conv (compressing) and 2x2 avg-pool.

    Example:
    >>> x = keras.Input((4, 4, 8))
    >>> transition(x, 0.5, data_format="channels_last", name="t").shape
    (None, 2, 2, 4)
    """
    channels = x.shape[blocks.channel_axis(data_format)]
    x = _bn_relu_conv(x, max(1, int(channels * compression)), 1,
                      data_format=data_format, dtype=dtype, name=name)
    return keras.layers.AveragePooling2D(
        2, strides=2, data_format=data_format, dtype=dtype,
        name=f"{name}_pool",
    )(x)


@register(
    family="densenet",
    task="image_classification",
    tiny={**_TINY, "block_sizes": (2, 2), "small_stem": True},
    reference=_REFERENCE,
    canonical=_CANONICAL,
    params=_SIZES["densenet121"][1],
    knobs=(
        Knob("depth", "block_sizes",
             values=tuple(sizes for sizes, _ in _SIZES.values())),
        _WIDTH_KNOB,
    ),
)
def densenet(
    input_shape: Sequence[int | None] = (224, 224, 3),
    num_classes: int = 1000,
    *,
    block_sizes: Sequence[int] = (6, 12, 24, 16),
    growth_rate: int = 32,
    compression: float = 0.5,
    small_stem: bool = False,
    include_top: bool = True,
    pooling: str | None = "avg",
    dropout: float = 0.0,
    classifier_activation: str | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "densenet",
) -> keras.Model:
    """Build a DenseNet-BC: a stem, then dense blocks joined by transitions.

    The defaults give DenseNet-121. The stem has `2 * growth_rate`
    channels; every dense layer has a `4 * growth_rate` bottleneck; each
    transition multiplies the channels by `compression` and halves the
    resolution. A final BN-ReLU precedes the head.

    Args:
        input_shape: Image shape without batch, in `data_format` layout,
            1 or more channels. Height and width must be at least the total
            stride (`4 * 2**(blocks - 1)`, or `2**(blocks - 1)` with
            `small_stem`); `None` spatial dims are allowed unless
            `pooling="flatten"`.
        num_classes: Number of output logits.
        block_sizes: Dense layers per block.
        growth_rate: Channels each dense layer adds (`k` in the paper).
        compression: Channel factor of each transition (`theta`).
        small_stem: Use a 3x3 stride-1 stem without max-pool, for small
            (e.g. 32x32) images, instead of 7x7 stride 2 + max-pool.
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
    >>> m = kerakit.build("densenet", input_shape=(32, 32, 3),
    ...                   num_classes=10, block_sizes=(2, 2), growth_rate=4,
    ...                   small_stem=True)
    >>> m.output_shape
    (None, 10)

    Reference:
        Huang et al., 2016. https://arxiv.org/abs/1608.06993
    """
    _check_args(name, block_sizes, growth_rate, compression)
    fmt = blocks.check_classifier_input(
        model=name, input_shape=input_shape, num_classes=num_classes,
        include_top=include_top, pooling=pooling, dropout=dropout,
        data_format=data_format,
        min_size=blocks.stem_stride(small_stem) * 2 ** (len(block_sizes) - 1),
    )
    inputs = keras.Input(tuple(input_shape), dtype=heads.input_dtype(dtype),
                         name="images")
    x = blocks.stem(inputs, 2 * growth_rate, small=small_stem,
                    data_format=fmt, dtype=dtype, name=name)
    for i, size in enumerate(block_sizes, start=1):
        x = dense_block(x, size, growth_rate, data_format=fmt, dtype=dtype,
                        name=f"{name}_block{i}")
        if i < len(block_sizes):
            x = transition(x, compression, data_format=fmt, dtype=dtype,
                           name=f"{name}_transition{i}")
    x = blocks.batch_norm(x, data_format=fmt, dtype=dtype,
                          name=f"{name}_final_bn")
    x = blocks.relu(x, dtype=dtype, name=f"{name}_final_relu")
    x = heads.classifier_head(
        x, num_classes=num_classes, include_top=include_top, pooling=pooling,
        dropout=dropout, classifier_activation=classifier_activation,
        data_format=fmt, dtype=dtype, name=name,
    )
    return keras.Model(inputs, x, name=name)


def _variant(name: str) -> Any:
    sizes, params = _SIZES[name]
    fn = variant(
        densenet,
        name,
        f"DenseNet-{name[8:]}: block sizes {'-'.join(map(str, sizes))}.",
        block_sizes=sizes,
    )
    return register(
        family="densenet",
        task="image_classification",
        # 64x64 keeps 2x2 maps in the last dense block (BatchNorm over
        # single pixels at batch 4 makes the loss erratic), and the 121-201
        # layer networks need a smaller Adam step in the training check.
        tiny={**_TINY, "input_shape": (64, 64, 3)},
        reference=_REFERENCE,
        canonical=_CANONICAL,
        params=params,
        knobs=(Knob("depth", "model", values=tuple(_SIZES)), _WIDTH_KNOB),
        test={"learning_rate": 1e-5},
    )(fn)


densenet121 = _variant("densenet121")
densenet169 = _variant("densenet169")
densenet201 = _variant("densenet201")
