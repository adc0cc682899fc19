"""Triplet loss with online (in-batch) mining."""

from __future__ import annotations

from typing import Any

import keras

MININGS = ("all", "hard")


def pairwise_distances(embeddings: Any, squared: bool = False) -> Any:
    """Euclidean distance matrix `(batch, batch)` of `(batch, dim)` vectors.

    Example:
    >>> e = keras.ops.convert_to_tensor([[0.0, 0.0], [3.0, 4.0]])
    >>> keras.ops.convert_to_numpy(pairwise_distances(e)).tolist()
    [[0.0, 5.0], [5.0, 0.0]]
    """
    dot = keras.ops.matmul(embeddings, keras.ops.transpose(embeddings))
    norms = keras.ops.diagonal(dot)
    dist = keras.ops.expand_dims(norms, 1) - 2.0 * dot + (
        keras.ops.expand_dims(norms, 0)
    )
    dist = keras.ops.maximum(dist, 0.0)
    if squared:
        return dist
    zero = keras.ops.cast(dist == 0.0, dist.dtype)
    # sqrt has an infinite gradient at 0: shift the zeros, then restore them.
    return keras.ops.sqrt(dist + zero * 1e-16) * (1.0 - zero)


@keras.saving.register_keras_serializable(package="kerakit")
class TripletLoss(keras.losses.Loss):
    """Triplet margin loss `max(d(a, p) - d(a, n) + margin, 0)`.

    `y_true` holds integer labels `(batch,)`, `y_pred` the embeddings
    `(batch, dim)`; triplets are mined inside the batch:

    - `"all"`: every valid triplet (distinct anchor and positive with the
      same label, negative with another label); the loss is the mean over
      the triplets whose loss is positive.
    - `"hard"`: per anchor, the farthest positive and the nearest negative;
      the loss is the mean over anchors that have both.

    Args:
        margin: Margin between positive and negative distances.
        mining: `"all"` or `"hard"`.
        squared: Use squared Euclidean distances.
        name: Loss name.
        dtype: Loss computation dtype.

    Example:
    >>> labels = keras.ops.convert_to_tensor([0, 0, 1])
    >>> emb = keras.ops.convert_to_tensor([[0.0, 0.0], [0.0, 1.0],
    ...                                    [0.0, 1.5]])
    >>> round(float(TripletLoss(margin=1.0)(labels, emb)), 4)
    1.0

    Reference:
        Hermans et al., 2017. https://arxiv.org/abs/1703.07737
    """

    def __init__(self, margin: float = 1.0, mining: str = "all",
                 squared: bool = False, name: str = "triplet_loss",
                 dtype: str | None = None) -> None:
        super().__init__(name=name, reduction="sum_over_batch_size",
                         dtype=dtype)
        if mining not in MININGS:
            raise ValueError(
                f"mining must be one of {MININGS}. Received: mining={mining!r}"
            )
        self.margin = float(margin)
        self.mining = mining
        self.squared = bool(squared)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = keras.ops.convert_to_tensor(y_pred)
        if len(y_pred.shape) != 2:
            raise ValueError(
                "TripletLoss wants embeddings (batch, dim). Received shape "
                f"{tuple(y_pred.shape)}"
            )
        labels = keras.ops.reshape(y_true, (-1,))
        dist = pairwise_distances(y_pred, self.squared)
        same = keras.ops.equal(keras.ops.expand_dims(labels, 0),
                               keras.ops.expand_dims(labels, 1))
        batch = keras.ops.shape(dist)[0]
        not_self = keras.ops.logical_not(
            keras.ops.cast(keras.ops.eye(batch), "bool")
        )
        positive = keras.ops.cast(keras.ops.logical_and(same, not_self),
                                  dist.dtype)
        negative = keras.ops.cast(keras.ops.logical_not(same), dist.dtype)
        if self.mining == "hard":
            return self._hard(dist, positive, negative)
        return self._all(dist, positive, negative)

    def _all(self, dist: Any, positive: Any, negative: Any) -> Any:
        # loss[a, p, n] = d(a, p) - d(a, n) + margin on valid triplets.
        loss = (keras.ops.expand_dims(dist, 2) - keras.ops.expand_dims(dist, 1)
                + self.margin)
        valid = keras.ops.expand_dims(positive, 2) * keras.ops.expand_dims(
            negative, 1
        )
        loss = keras.ops.relu(loss) * valid
        active = keras.ops.sum(keras.ops.cast(loss > 1e-16, loss.dtype))
        return keras.ops.sum(loss) / keras.ops.maximum(active, 1.0)

    def _hard(self, dist: Any, positive: Any, negative: Any) -> Any:
        hardest_pos = keras.ops.max(dist * positive, axis=1)
        # Push non-negatives beyond the row maximum before taking the min.
        row_max = keras.ops.max(dist, axis=1, keepdims=True)
        hardest_neg = keras.ops.min(dist + row_max * (1.0 - negative), axis=1)
        has_both = (keras.ops.max(positive, axis=1)
                    * keras.ops.max(negative, axis=1))
        loss = keras.ops.relu(hardest_pos - hardest_neg + self.margin)
        loss = loss * has_both
        return keras.ops.sum(loss) / keras.ops.maximum(
            keras.ops.sum(has_both), 1.0
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("reduction", None)
        config.update({"margin": self.margin, "mining": self.mining,
                       "squared": self.squared})
        return config
