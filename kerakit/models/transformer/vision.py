"""The image-classifier side of ViT and Swin: input checks and heads.

keras-hub's vision backbones return token sequences. kerakit's head
contract wants a feature map: `include_top=False, pooling=None` gives the
patch tokens laid out on their `(rows, cols, width)` grid, and the usual
`"avg"`, `"max"` and `"flatten"` poolings apply to it (`kerakit.heads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from kerakit import heads
from kerakit.registry import Knob

VISION_KNOBS = (
    Knob("width", "hidden_dim", values=(64, 128, 192, 384, 768)),
    Knob("heads", "num_heads", values=(2, 3, 4, 6, 12)),
    Knob("dropout", "dropout", min_value=0.0, max_value=0.3, step=0.05),
    Knob("patch", "patch_size", values=(1, 2, 4, 8, 16)),
)


@keras.saving.register_keras_serializable(package="kerakit")
class TokenGrid(keras.layers.Layer):
    """Lay patch tokens `(batch, prefix + rows * cols, width)` on a grid.

    Args:
        grid_shape: `(rows, cols)` of the patch grid.
        num_prefix_tokens: Leading tokens that are not patches (ViT's class
            token), dropped.
        **kwargs: Base layer arguments (`name`, `dtype`).

    Example:
    >>> tokens = keras.ops.ones((4, 7, 5))
    >>> tuple(TokenGrid((2, 3), num_prefix_tokens=1)(tokens).shape)
    (4, 2, 3, 5)
    """

    def __init__(self, grid_shape: Sequence[int], num_prefix_tokens: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Config
        self.grid_shape = tuple(grid_shape)
        self.num_prefix_tokens = num_prefix_tokens

    def call(self, tokens: Any) -> Any:
        patches = tokens[:, self.num_prefix_tokens:, :]
        rows, cols = self.grid_shape
        return keras.ops.reshape(patches, (-1, rows, cols, tokens.shape[-1]))

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple:
        return (input_shape[0], *self.grid_shape, input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(grid_shape=self.grid_shape,
                      num_prefix_tokens=self.num_prefix_tokens)
        return config


@keras.saving.register_keras_serializable(package="kerakit")
class ClassToken(keras.layers.Layer):
    """Take the first (class) token of a sequence: `(batch, width)`.

    Example:
    >>> tuple(ClassToken()(keras.ops.ones((4, 7, 5))).shape)
    (4, 5)
    """

    def call(self, tokens: Any) -> Any:
        return tokens[:, 0, :]

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple:
        return (input_shape[0], input_shape[-1])


def check_vision_args(
    input_shape: Sequence[int | None] | None, num_classes: int,
    pooling: str | None, dropout: float, *, model: str,
    divisor: int | None, poolings: tuple = heads.POOLINGS,
) -> None:
    """Validate image input and head arguments for a patch model.

    Args:
        input_shape: `(height, width, channels)`, or `None` for a preset's.
        num_classes, pooling, dropout: As in `kerakit.heads`.
        model: Model name for the messages.
        divisor: Height and width must be multiples of it (the patch size
            times the downsampling); `None` skips the check.
        poolings: Accepted `pooling` values.

    Example:
    >>> check_vision_args((32, 32, 3), 10, "avg", 0.0, model="vit",
    ...                   divisor=4)
    """
    if pooling not in poolings:
        raise ValueError(
            f"{model}: pooling must be one of {list(poolings)}. "
            f"Received: pooling={pooling!r}"
        )
    heads.check_head_args(model=model, num_classes=num_classes,
                          pooling=None, dropout=dropout)
    if input_shape is None:
        return
    height, width, _ = heads.check_image_input(
        input_shape, model=model, data_format="channels_last",
        min_size=divisor or 1, need_static=True,
    )
    if divisor and (height % divisor or width % divisor):
        raise ValueError(
            f"{model}: height and width must be multiples of {divisor} "
            f"(patch_size x the downsampling). Received: input_shape="
            f"{tuple(input_shape)!r}. Change patch_size or resize the "
            "images."
        )


def image_head(
    backbone: keras.Model, *, grid_shape: tuple[int, int],
    num_prefix_tokens: int, num_classes: int, include_top: bool,
    pooling: str | None, dropout: float, classifier_activation: str | None,
    dtype: Any, name: str,
) -> keras.Model:
    """Put kerakit's head on a vision backbone's tokens.

    The result is a plain functional model rather than keras-hub's
    `ViTImageClassifier` / `SwinTransformerImageClassifier` (same layers and
    weights): keras-hub's task `fit` accepts arrays and tf.data but not the
    `keras.utils.PyDataset` batches (augmentation) of kerakit's workflow.

    Args:
        backbone: keras-hub backbone from images to `(batch, tokens, width)`.
        grid_shape: `(rows, cols)` of its patch tokens.
        num_prefix_tokens: Tokens before the patches (a class token).
        num_classes, include_top, pooling, dropout, classifier_activation:
            As in `kerakit.heads.classifier_head`; `pooling="token"` uses
            the class token.
        dtype: Dtype policy of the added layers.
        name: Model name.

    Returns:
        The classifier, or the features when `include_top=False`.

    Example:
    >>> import keras_hub
    >>> b = keras_hub.models.ViTBackbone((8, 8, 1), 4, 1, 1, 4, 4)
    >>> image_head(b, grid_shape=(2, 2), num_prefix_tokens=1, num_classes=3,
    ...            include_top=False, pooling=None, dropout=0.0,
    ...            classifier_activation=None, dtype=None,
    ...            name="m").output_shape
    (None, 2, 2, 4)
    """
    inputs = keras.Input(backbone.input.shape[1:],
                         dtype=heads.input_dtype(dtype), name="images")
    tokens = backbone(inputs)
    if pooling != "token":
        x = TokenGrid(grid_shape, num_prefix_tokens, dtype=dtype,
                      name=f"{name}_grid")(tokens)
        x = heads.classifier_head(
            x, num_classes=num_classes, include_top=include_top,
            pooling=pooling, dropout=dropout,
            classifier_activation=classifier_activation,
            data_format="channels_last", dtype=dtype, name=name,
        )
        return keras.Model(inputs, x, name=name)
    x = ClassToken(dtype=dtype, name=f"{name}_class_token")(tokens)
    if include_top:
        if dropout:
            x = keras.layers.Dropout(dropout, dtype=dtype,
                                     name=f"{name}_dropout")(x)
        x = keras.layers.Dense(
            num_classes, activation=classifier_activation, dtype=dtype,
            name=f"{name}_predictions",
        )(x)
    return keras.Model(inputs, x, name=name)
