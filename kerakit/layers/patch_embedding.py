"""Split an image into patches and project each patch to a token."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kerakit")
class PatchEmbedding(keras.layers.Layer):
    """Image to a sequence of patch tokens, as in the Vision Transformer.

    A strided convolution with kernel = stride = `patch_size` projects each
    non-overlapping patch to `hidden_dim` features; the grid is flattened to
    `(batch, num_patches, hidden_dim)`. Optionally adds a learned position
    embedding (needs a fixed image size).

    Args:
        patch_size: Patch side (int) or `(height, width)`.
        hidden_dim: Token width.
        use_position_embedding: Add a learned embedding per patch position.
        data_format: `"channels_last"` or `"channels_first"`; `None` uses
            `keras.config.image_data_format()`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
    >>> PatchEmbedding(4, 8)(keras.Input((16, 16, 3))).shape
    (None, 16, 8)

    Reference:
        Dosovitskiy et al., 2020. https://arxiv.org/abs/2010.11929
    """

    def __init__(self, patch_size: int | tuple[int, int] = 16,
                 hidden_dim: int = 768, use_position_embedding: bool = False,
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(patch_size, int):
            patch_size = (patch_size, patch_size)
        patch_size = tuple(int(p) for p in patch_size)
        if len(patch_size) != 2 or min(patch_size) < 1 or hidden_dim < 1:
            raise ValueError(
                "patch_size must be a positive int or (height, width) and "
                f"hidden_dim positive. Received: patch_size={patch_size}, "
                f"hidden_dim={hidden_dim}"
            )
        # Config
        self.patch_size = patch_size
        self.hidden_dim = int(hidden_dim)
        self.use_position_embedding = bool(use_position_embedding)
        self.data_format = data_format or keras.config.image_data_format()
        # Layers
        self.projection = keras.layers.Conv2D(
            self.hidden_dim, patch_size, strides=patch_size,
            data_format=self.data_format, dtype=self.dtype_policy,
            name="projection",
        )

    def _grid(self, input_shape: tuple) -> tuple[int | None, int | None]:
        if len(input_shape) != 4:
            raise ValueError(
                "PatchEmbedding expects images (batch, height, width, "
                f"channels). Received shape {tuple(input_shape)}"
            )
        hw = (input_shape[1:3] if self.data_format == "channels_last"
              else input_shape[2:4])
        grid = []
        for size, patch in zip(hw, self.patch_size, strict=True):
            if size is not None and size < patch:
                raise ValueError(
                    f"Image side {size} is smaller than the patch {patch}."
                )
            grid.append(None if size is None else size // patch)
        return grid[0], grid[1]

    def build(self, input_shape: tuple) -> None:
        gh, gw = self._grid(input_shape)
        self.projection.build(input_shape)
        if self.use_position_embedding:
            if gh is None or gw is None:
                raise ValueError(
                    "use_position_embedding=True needs a fixed image size. "
                    f"Received shape {tuple(input_shape)}"
                )
            self.position_embedding = self.add_weight(
                shape=(gh * gw, self.hidden_dim), name="position_embedding",
                initializer=keras.initializers.RandomNormal(stddev=0.02),
            )

    def call(self, inputs: Any) -> Any:
        x = self.projection(inputs)
        if self.data_format == "channels_first":
            x = keras.ops.transpose(x, (0, 2, 3, 1))
        shape = keras.ops.shape(x)
        x = keras.ops.reshape(x, (shape[0], -1, self.hidden_dim))
        if self.use_position_embedding:
            x = x + keras.ops.cast(self.position_embedding, x.dtype)
        return x

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        gh, gw = self._grid(input_shape)
        n = None if gh is None or gw is None else gh * gw
        return (input_shape[0], n, self.hidden_dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "patch_size": self.patch_size,
            "hidden_dim": self.hidden_dim,
            "use_position_embedding": self.use_position_embedding,
            "data_format": self.data_format,
        })
        return config
