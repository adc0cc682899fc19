"""Regression: real-valued targets, linear outputs, mean squared error.

Example:
>>> RegressionTask().defaults["loss"]
'mean_squared_error'
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from kerakit.data.splits import DataError
from kerakit.tasks.base import Task


class RegressionTask(Task):
    """Supervised regression from `(x, y)` with real-valued targets."""

    name = "regression"
    description = "real-valued targets -> linear outputs; MSE and MAE"
    model_tasks = ("regression",)
    defaults = {"loss": "mean_squared_error",
                "metrics": ["mean_absolute_error"], "monitor": "val_loss"}

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """Refuse class losses: they would read targets as class ids."""
        super().check_recipe(fields, loss_name)
        if "crossentropy" in loss_name or "hinge" in loss_name:
            raise ValueError(
                f"loss: {loss_name!r} compares classes, but task = "
                "'regression' fits real values: use e.g. "
                "'mean_squared_error' or 'huber'.")

    def encode_labels(self, preprocessor: Any, y: Any) -> np.ndarray:
        """Real-valued targets as float32, never cast to class ids."""
        y = np.asarray(y, dtype="float32")
        return y[:, None] if y.ndim == 1 else y

    def check_raw(self, parts: dict[str, tuple], raw: Any,
                  model_kwargs: dict[str, Any]) -> None:
        """Targets must be numbers (`check_splits` already refused NaN)."""
        for _, y in parts.values():
            if np.asarray(y).dtype.kind not in "iufb":
                raise DataError(
                    f"dataset {raw.name!r}: regression targets must be "
                    f"numbers; found {np.asarray(y).dtype} values.")

    def predict(self, model: keras.Model, x: np.ndarray,
                class_names: list[str]) -> dict[str, Any]:
        """`{"values": (n, outputs) array}`."""
        return {"values": np.asarray(model.predict(x, verbose=0))}
