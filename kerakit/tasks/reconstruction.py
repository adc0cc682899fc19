"""Reconstruction: the model is fitted against its own inputs (autoencoders).

With augmentation the target is the augmented input the model sees; a
denoising autoencoder adds its noise inside the model, at training time.

Example:
>>> import numpy as np
>>> x = np.ones((2, 3))
>>> ReconstructionTask().fit_data(x, None)[1] is x
True
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from kerakit.tasks.base import Task


class ReconstructionTask(Task):
    """`fit(x, x)`: reconstruct the inputs; labels are ignored."""

    name = "reconstruction"
    description = "inputs -> the same inputs (autoencoders); MSE"
    model_tasks = ("reconstruction",)
    defaults = {"loss": "mean_squared_error", "metrics": [],
                "monitor": "val_loss"}

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """Refuse losses that compare integer labels."""
        super().check_recipe(fields, loss_name)
        if loss_name.startswith("sparse_"):
            raise ValueError(
                f"loss: {loss_name!r} compares integer labels, but task = "
                "'reconstruction' reconstructs the inputs: use e.g. "
                "'mse' or 'binary_crossentropy'.")

    def fit_data(self, x: Any, y: Any) -> tuple:
        """`(x, x)`."""
        return x, x

    def predict(self, model: keras.Model, x: np.ndarray,
                class_names: list[str]) -> dict[str, Any]:
        """`{"reconstructions": array shaped like x}`."""
        return {"reconstructions": np.asarray(model.predict(x, verbose=0))}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """Each reconstruction's shape and value range."""
        return describe_reconstructions(out["reconstructions"])


def describe_reconstructions(reconstructions: np.ndarray) -> list[str]:
    """One line per reconstruction: its shape and value range."""
    return [f"{i}\treconstruction {r.shape}, range "
            f"{float(r.min()):.4f}..{float(r.max()):.4f}"
            for i, r in enumerate(reconstructions)]
