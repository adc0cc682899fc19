"""Image regions and their boxes to visual tokens, behind an [IMG] token."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

LOCATION_DIM = 5  # x1, y1, x2, y2 (fractions of the image), area fraction


def grid_locations(rows: int, cols: int) -> np.ndarray:
    """The 5-d boxes of a `rows x cols` grid of regions, row by row.

    Example:
    >>> grid_locations(1, 2).tolist()
    [[0.0, 0.0, 0.5, 1.0, 0.5], [0.5, 0.0, 1.0, 1.0, 0.5]]
    """
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    r, c = r.ravel(), c.ravel()
    return np.stack([c / cols, r / rows, (c + 1) / cols, (r + 1) / rows,
                     np.full(r.shape, 1.0 / (rows * cols))],
                    axis=1).astype("float32")


@keras.saving.register_keras_serializable(package="kerakit")
class RegionEmbedding(keras.layers.Layer):
    """ViLBERT's visual embedding: region features plus their locations.

    Each region's feature vector and its 5-d box (`[x1, y1, x2, y2, area]`
    as fractions of the image) are projected to `hidden_dim` and summed,
    then layer-normalised. An `[IMG]` token comes first: the mean of the
    region features with the whole-image box `[0, 0, 1, 1, 1]`, as in
    ViLBERT. With `grid_shape=(rows, cols)` the inputs are only the
    features of a row-major grid (a CNN feature map or patches) and the
    boxes are the grid cells; otherwise the inputs are `[features (batch,
    regions, features), boxes (batch, regions, 5)]` (detector regions).

    Args:
        hidden_dim: Width of the visual tokens.
        grid_shape: `(rows, cols)` of a fixed region grid, or `None`.
        dropout: Dropout of the embeddings.
        layer_norm_epsilon: Epsilon of the layer normalisation.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
    >>> layer = RegionEmbedding(8, grid_shape=(2, 2))
    >>> tuple(layer(keras.ops.ones((3, 4, 6))).shape)
    (3, 5, 8)

    Reference:
        Lu et al., 2019. ViLBERT. https://arxiv.org/abs/1908.02265
    """

    def __init__(self, hidden_dim: int, grid_shape: Any = None,
                 dropout: float = 0.0, layer_norm_epsilon: float = 1e-12,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if hidden_dim < 1 or (grid_shape is not None and (
                len(grid_shape) != 2 or min(grid_shape) < 1)):
            raise ValueError(
                "hidden_dim must be positive and grid_shape (rows, cols) "
                f"positive or None. Received: hidden_dim={hidden_dim}, "
                f"grid_shape={grid_shape}")
        # Config
        self.hidden_dim = int(hidden_dim)
        self.grid_shape = (None if grid_shape is None
                           else tuple(int(g) for g in grid_shape))
        self.dropout = float(dropout)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        # Layers
        policy = self.dtype_policy
        self.feature_projection = keras.layers.Dense(
            self.hidden_dim, dtype=policy, name="feature_projection")
        self.location_projection = keras.layers.Dense(
            self.hidden_dim, dtype=policy, name="location_projection")
        self.norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="norm")
        self.embedding_dropout = keras.layers.Dropout(
            self.dropout, dtype=policy, name="embedding_dropout")

    def _feature_shape(self, input_shape: Any) -> tuple:
        if self.grid_shape is None:
            return tuple(input_shape[0])
        return tuple(input_shape)

    def build(self, input_shape: Any) -> None:
        shape = self._feature_shape(input_shape)
        self.feature_projection.build(shape)
        self.location_projection.build((*shape[:-1], LOCATION_DIM))
        self.norm.build((*shape[:-1], self.hidden_dim))

    def call(self, inputs: Any, training: Any = None) -> Any:
        ops = keras.ops
        if self.grid_shape is None:
            features, boxes = inputs
            boxes = ops.cast(boxes, features.dtype)
        else:
            features = inputs
            grid = ops.convert_to_tensor(grid_locations(*self.grid_shape),
                                         features.dtype)
            boxes = ops.zeros_like(features[..., :1]) + grid[None]
        whole = ops.zeros_like(boxes[:, :1]) + ops.convert_to_tensor(
            [0.0, 0.0, 1.0, 1.0, 1.0], features.dtype)
        features = ops.concatenate(
            [ops.mean(features, axis=1, keepdims=True), features], axis=1)
        boxes = ops.concatenate([whole, boxes], axis=1)
        tokens = self.feature_projection(features) + self.location_projection(
            boxes)
        return self.embedding_dropout(self.norm(tokens), training=training)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = self._feature_shape(input_shape)
        regions = None if shape[1] is None else shape[1] + 1
        return (shape[0], regions, self.hidden_dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim,
                       "grid_shape": self.grid_shape,
                       "dropout": self.dropout,
                       "layer_norm_epsilon": self.layer_norm_epsilon})
        return config
