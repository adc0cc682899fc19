"""Shared CNN building blocks: padded convs, batch norm, the ImageNet stem.

Convolutions follow the torchvision convention: no bias before batch norm
and symmetric `kernel_size // 2` padding, so strided convolutions give the
same output size and alignment as the PyTorch reference models (checkpoint
converters rely on it). Batch norm uses PyTorch's epsilon and momentum.
"""

from __future__ import annotations

from typing import Any

import keras

from kerakit import heads
from kerakit.layers.fused_batch_norm import FusedBatchNormalization

BN_EPSILON = 1e-5
# PyTorch momentum 0.1 updates running stats by 10% per step; Keras counts
# the share that is kept.
BN_MOMENTUM = 0.9


def channel_axis(data_format: str) -> int:
    """Return the channel axis of a 4D tensor in `data_format`.

    Example:
    >>> channel_axis("channels_first")
    1
    """
    return -1 if data_format == "channels_last" else 1


def conv2d(
    x: Any,
    filters: int,
    kernel_size: int,
    *,
    strides: int = 1,
    use_bias: bool = False,
    data_format: str,
    dtype: Any = None,
    name: str,
) -> Any:
    """Apply a square convolution with symmetric `kernel_size // 2` padding.

    Stride-1 convolutions with odd kernels use `"same"` padding (already
    symmetric); strided ones get an explicit `ZeroPadding2D` and `"valid"`
    padding, which matches PyTorch (`"same"` would pad bottom/right only).

    Args:
        x: 4D input tensor.
        filters: Output channels.
        kernel_size: Square kernel size.
        strides: Square stride.
        use_bias: Whether the convolution has a bias (not before BN).
        data_format: Resolved data format.
        dtype: Dtype or policy for the layers.
        name: Layer name; the padding layer is `f"{name}_pad"`.

    Returns:
        The convolved tensor.

    Example:
    >>> x = keras.Input((8, 8, 3))
    >>> conv2d(x, 4, 3, strides=2, data_format="channels_last",
    ...        name="c").shape
    (None, 4, 4, 4)
    """
    padding = "same"
    pad = kernel_size // 2
    if strides > 1:
        padding = "valid"
        if pad:
            x = keras.layers.ZeroPadding2D(
                pad, data_format=data_format, dtype=dtype, name=f"{name}_pad"
            )(x)
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        data_format=data_format,
        dtype=dtype,
        name=name,
    )(x)


def batch_norm(x: Any, *, data_format: str, dtype: Any = None,
               name: str) -> Any:
    """Apply batch norm over the channel axis with PyTorch's settings.

    Example:
    >>> x = keras.Input((4, 4, 3))
    >>> batch_norm(x, data_format="channels_last", name="bn").shape
    (None, 4, 4, 3)
    """
    return FusedBatchNormalization(
        axis=channel_axis(data_format),
        epsilon=BN_EPSILON,
        momentum=BN_MOMENTUM,
        dtype=dtype,
        name=name,
    )(x)


def relu(x: Any, *, dtype: Any = None, name: str) -> Any:
    """Apply a named ReLU layer.

    Example:
    >>> relu(keras.Input((3,)), name="act").shape
    (None, 3)
    """
    return keras.layers.ReLU(dtype=dtype, name=name)(x)


def conv_bn(
    x: Any,
    filters: int,
    kernel_size: int,
    *,
    strides: int = 1,
    activation: bool = True,
    data_format: str,
    dtype: Any = None,
    name: str,
) -> Any:
    """Apply conv (no bias) -> batch norm -> optional ReLU.

    Layers are named `f"{name}_conv"`, `f"{name}_bn"` and `f"{name}_relu"`.

    Example:
    >>> x = keras.Input((8, 8, 3))
    >>> conv_bn(x, 4, 3, data_format="channels_last", name="b").shape
    (None, 8, 8, 4)
    """
    x = conv2d(x, filters, kernel_size, strides=strides,
               data_format=data_format, dtype=dtype, name=f"{name}_conv")
    x = batch_norm(x, data_format=data_format, dtype=dtype, name=f"{name}_bn")
    if activation:
        x = relu(x, dtype=dtype, name=f"{name}_relu")
    return x


def stem(
    x: Any,
    filters: int,
    *,
    small: bool = False,
    data_format: str,
    dtype: Any = None,
    name: str,
) -> Any:
    """Apply the ImageNet stem, or a small-image stem for CIFAR-size inputs.

    The ImageNet stem is a 7x7 stride-2 conv-BN-ReLU and a 3x3 stride-2
    max-pool (4x downsampling). The small stem is a single 3x3 stride-1
    conv-BN-ReLU without pooling, which keeps the full resolution of 32x32
    images.

    Args:
        x: Image tensor.
        filters: Stem output channels.
        small: Whether to use the small-image stem.
        data_format: Resolved data format.
        dtype: Dtype or policy for the layers.
        name: Model name; layers are called `f"{name}_stem_..."`.

    Returns:
        The stem output.

    Example:
    >>> x = keras.Input((32, 32, 3))
    >>> stem(x, 8, data_format="channels_last", name="m").shape
    (None, 8, 8, 8)
    """
    if small:
        return conv_bn(x, filters, 3, data_format=data_format, dtype=dtype,
                       name=f"{name}_stem")
    x = conv_bn(x, filters, 7, strides=2, data_format=data_format,
                dtype=dtype, name=f"{name}_stem")
    x = keras.layers.ZeroPadding2D(
        1, data_format=data_format, dtype=dtype, name=f"{name}_stem_pool_pad"
    )(x)
    return keras.layers.MaxPooling2D(
        3, strides=2, data_format=data_format, dtype=dtype,
        name=f"{name}_stem_pool",
    )(x)


def stem_stride(small: bool) -> int:
    """Return the downsampling factor of `stem(..., small=small)`.

    Example:
    >>> stem_stride(False), stem_stride(True)
    (4, 1)
    """
    return 1 if small else 4


def check_positive_ints(model: str, arg: str, value: Any,
                        length: int | None = None) -> None:
    """Raise a clear `ValueError` unless `value` is a sequence of ints >= 1.

    Args:
        model: Model name for the message.
        arg: Argument name for the message.
        value: The value to check.
        length: Required length, or `None` for any non-empty length.

    Example:
    >>> check_positive_ints("resnet", "stage_depths", (3, 4, 6, 3))
    """
    ok = (
        isinstance(value, (tuple, list))
        and len(value) > 0
        and (length is None or len(value) == length)
        and all(isinstance(v, int) and v >= 1 for v in value)
    )
    if not ok:
        count = "a non-empty sequence of " if length is None else f"{length} "
        raise ValueError(
            f"{model}: {arg} must be {count}positive integers (one per "
            f"stage). Received: {arg}={value!r}"
        )


def check_classifier_input(
    *,
    model: str,
    input_shape: Any,
    num_classes: int,
    include_top: bool,
    pooling: str | None,
    dropout: float,
    data_format: str | None,
    min_size: int,
) -> str:
    """Validate the input and head arguments of an image classifier.

    Args:
        model: Model name for messages.
        input_shape: Image shape without batch.
        num_classes: Number of classes.
        include_top: Whether the classifier is added.
        pooling: Head pooling.
        dropout: Head dropout.
        data_format: Requested data format (`None`: Keras default).
        min_size: Smallest accepted height and width (the total stride).

    Returns:
        The resolved data format.

    Example:
    >>> check_classifier_input(model="m", input_shape=(32, 32, 3),
    ...     num_classes=10, include_top=True, pooling="avg", dropout=0.0,
    ...     data_format="channels_last", min_size=32)
    'channels_last'
    """
    fmt = heads.resolve_data_format(data_format)
    heads.check_head_args(
        model=model, num_classes=num_classes, pooling=pooling, dropout=dropout
    )
    heads.check_image_input(
        input_shape, model=model, data_format=fmt, min_size=min_size,
        need_static=pooling == "flatten",
    )
    return fmt
