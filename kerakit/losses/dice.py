"""Dice loss for segmentation masks."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kerakit")
class DiceLoss(keras.losses.Loss):
    """Soft Dice loss: `1 - (2 |y*p| + s) / (|y| + |p| + s)` per sample.

    `y_true` and `y_pred` share a shape `(batch, ..., classes)` (one-hot or
    soft masks; a single channel for binary masks). The overlap is summed
    over every non-batch axis, or per class and averaged when
    `per_class=True`.

    Args:
        smooth: Added to numerator and denominator; keeps empty masks at 0.
        from_logits: `y_pred` are logits: sigmoid for one channel, softmax
            over the last axis otherwise.
        per_class: Average the Dice of each class instead of pooling them.
        reduction: Keras loss reduction over the batch.
        name: Loss name.
        dtype: Loss computation dtype.

    Example:
    >>> y = keras.ops.convert_to_tensor([[[1.0], [0.0]]])
    >>> round(float(DiceLoss()(y, y)), 4)
    0.0

    Reference:
        Milletari et al., 2016. https://arxiv.org/abs/1606.04797
    """

    def __init__(self, smooth: float = 1.0, from_logits: bool = False,
                 per_class: bool = False,
                 reduction: str = "sum_over_batch_size",
                 name: str = "dice_loss", dtype: str | None = None) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.smooth = float(smooth)
        self.from_logits = bool(from_logits)
        self.per_class = bool(per_class)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = keras.ops.convert_to_tensor(y_pred)
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        if tuple(y_true.shape) != tuple(y_pred.shape) and (
            None not in y_true.shape
        ):
            raise ValueError(
                "DiceLoss needs y_true and y_pred of the same shape (one-hot "
                f"masks). Received {tuple(y_true.shape)} and "
                f"{tuple(y_pred.shape)}"
            )
        if self.from_logits:
            y_pred = (keras.ops.sigmoid(y_pred) if y_pred.shape[-1] == 1
                      else keras.ops.softmax(y_pred, axis=-1))
        rank = len(y_pred.shape)
        axes = tuple(range(1, rank - 1 if self.per_class else rank))
        overlap = keras.ops.sum(y_true * y_pred, axis=axes)
        total = keras.ops.sum(y_true, axis=axes) + keras.ops.sum(y_pred,
                                                                 axis=axes)
        dice = (2.0 * overlap + self.smooth) / (total + self.smooth)
        if self.per_class:
            dice = keras.ops.mean(dice, axis=-1)
        return 1.0 - dice

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"smooth": self.smooth, "from_logits": self.from_logits,
                       "per_class": self.per_class})
        return config
