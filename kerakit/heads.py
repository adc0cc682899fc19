"""Shared pieces of every image classifier: input checks and the head."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import keras

POOLINGS = ("avg", "max", "flatten", None)


def resolve_data_format(data_format: str | None) -> str:
    """Return `data_format`, or the Keras default when it is `None`.

    Example:
    >>> resolve_data_format("channels_first")
    'channels_first'
    """
    fmt = data_format or keras.config.image_data_format()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            "data_format must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}"
        )
    return fmt


def check_image_input(
    input_shape: Sequence[int | None],
    *,
    model: str,
    data_format: str,
    min_size: int = 1,
    channels: Sequence[int] | None = None,
    need_static: bool = False,
) -> tuple[int | None, int | None, int]:
    """Validate an image input shape and return `(height, width, channels)`.

    Args:
        input_shape: Shape without batch, in `data_format` layout.
        model: Model name used in error messages.
        data_format: Resolved data format.
        min_size: Smallest height and width the architecture accepts.
        channels: Accepted channel counts, or `None` for any.
        need_static: Whether height and width must be known (e.g. for a
            flatten head).

    Returns:
        `(height, width, channels)`.

    Example:
    >>> check_image_input((32, 32, 3), model="vgg", data_format="channels_last")
    (32, 32, 3)
    """
    shape = tuple(input_shape) if input_shape is not None else ()
    if len(shape) != 3:
        layout = "(H, W, C)" if data_format == "channels_last" else "(C, H, W)"
        raise ValueError(
            f"{model}: input_shape must be an image shape {layout} without "
            f"the batch dimension. Received: input_shape={input_shape!r}"
        )
    if data_format == "channels_last":
        height, width, chans = shape
    else:
        chans, height, width = shape
    # 0 channels would build a model that has no input to learn from.
    positive = isinstance(chans, numbers.Integral) and not isinstance(
        chans, bool) and chans >= 1
    if not positive or (channels is not None and chans not in channels):
        allowed = (f"one of {list(channels)}" if channels
                   else "a positive integer")
        raise ValueError(
            f"{model}: the channel dimension must be {allowed}. "
            f"Received: input_shape={input_shape!r} ({data_format}, "
            f"{chans!r} channels)"
        )
    for size in (height, width):
        if size is None:
            if need_static:
                raise ValueError(
                    f"{model}: height and width must be known for this head "
                    f"(pooling='flatten'). Received: input_shape="
                    f"{input_shape!r}. Give a static size or use "
                    "pooling='avg'."
                )
            continue
        if size < min_size:
            raise ValueError(
                f"{model}: input of {height}x{width} is too small; the "
                f"minimum is {min_size}x{min_size}. Received: "
                f"input_shape={input_shape!r}. Resize the images or use a "
                "model with fewer downsampling stages."
            )
    return height, width, chans


def check_head_args(
    *, model: str, num_classes: int, pooling: str | None, dropout: float
) -> None:
    """Validate the arguments every classifier head shares.

    Example:
    >>> check_head_args(model="vgg", num_classes=10, pooling="avg", dropout=0)
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"{model}: num_classes must be a positive integer. "
            f"Received: num_classes={num_classes!r}"
        )
    if pooling not in POOLINGS:
        raise ValueError(
            f"{model}: pooling must be one of {list(POOLINGS)}. "
            f"Received: pooling={pooling!r}"
        )
    if not 0 <= dropout < 1:
        raise ValueError(
            f"{model}: dropout must be in [0, 1). Received: dropout={dropout!r}"
        )


def pool(
    x: Any,
    pooling: str | None,
    *,
    data_format: str,
    dtype: Any = None,
    name: str,
) -> Any:
    """Reduce a feature map with global `"avg"`/`"max"` pooling or flatten.

    Example:
    >>> x = keras.Input((4, 4, 8))
    >>> pool(x, "avg", data_format="channels_last", name="m").shape
    (None, 8)
    """
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(
            data_format=data_format, dtype=dtype, name=f"{name}_avg_pool"
        )(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(
            data_format=data_format, dtype=dtype, name=f"{name}_max_pool"
        )(x)
    if pooling == "flatten":
        return keras.layers.Flatten(
            data_format=data_format, dtype=dtype, name=f"{name}_flatten"
        )(x)
    return x


def classifier_head(
    x: Any,
    *,
    num_classes: int,
    include_top: bool,
    pooling: str | None,
    dropout: float = 0.0,
    classifier_activation: str | None = None,
    data_format: str,
    dtype: Any = None,
    name: str,
) -> Any:
    """Apply the standard head: pool -> dropout -> Dense(num_classes).

    With `include_top=False` only the pooling is applied, and `pooling=None`
    returns the feature map unchanged.

    Example:
    >>> x = keras.Input((4, 4, 8))
    >>> classifier_head(x, num_classes=3, include_top=True, pooling="avg",
    ...                 data_format="channels_last", name="m").shape
    (None, 3)
    """
    if include_top and pooling is None:
        pooling = "avg"
    x = pool(x, pooling, data_format=data_format, dtype=dtype, name=name)
    if not include_top:
        return x
    if dropout:
        x = keras.layers.Dropout(dropout, dtype=dtype, name=f"{name}_dropout")(x)
    return keras.layers.Dense(
        num_classes,
        activation=classifier_activation,
        dtype=dtype,
        name=f"{name}_predictions",
    )(x)


def input_dtype(dtype: Any) -> str:
    """Dtype of a model input for a layer `dtype` (a dtype or a policy).

    A mixed policy names no tensor dtype: inputs enter in its variable
    dtype (float32) and each layer casts to its compute dtype.

    Example:
    >>> input_dtype("mixed_bfloat16"), input_dtype("bfloat16")
    ('float32', 'bfloat16')
    """
    return keras.dtype_policies.get(dtype or keras.config.floatx()
                                    ).variable_dtype
