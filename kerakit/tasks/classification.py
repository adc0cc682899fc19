"""Classification: integer labels, logits out, softmax probabilities.

Labels are checked before training: integer-valued, non-negative and below
the class count (the model's `num_classes` when the recipe sets it, else the
dataset's), and a class count implied by one stray large label is refused.

Example:
>>> import numpy as np
>>> task = ClassificationTask()
>>> out = task.predict_logits(np.array([[0.0, 2.0]]), ["cat", "dog"])
>>> out["class_names"], round(float(out["probabilities"].sum()), 6)
(['dog'], 1.0)
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from kerakit.data.splits import DataError
from kerakit.tasks.base import Task


def check_class_labels(parts: dict[str, tuple], dataset: str,
                       num_classes: int) -> None:
    """Refuse labels that are not class ids below `num_classes`.

    Example:
    >>> y = np.array([0, 1, 2.5])
    >>> try:
    ...     check_class_labels({"train": (y, y)}, "d", 3)
    ... except DataError as err:
    ...     print(str(err).split(":")[1])
     the train labels must be integer class ids, but 1 of 3 are not whole numbers (e.g. 2.5)
    """
    for name, (_, y) in parts.items():
        y = np.asarray(y)
        if y.dtype == object or y.dtype.kind in "USc":
            raise DataError(
                f"dataset {dataset!r}: the {name} labels are "
                f"{y.dtype} values, not integer class ids: encode the "
                "classes as 0..num_classes-1.")
        if not y.size:
            continue
        whole = np.equal(np.mod(y, 1), 0) if y.dtype.kind == "f" else (
            np.ones(y.shape, bool))
        if not whole.all():
            raise DataError(
                f"dataset {dataset!r}: the {name} labels must be integer "
                f"class ids, but {int((~whole).sum())} of {y.size} are not "
                f"whole numbers (e.g. {float(y[~whole].flat[0]):g}): encode the "
                "classes as 0..num_classes-1.")
        low, high = y.min(), y.max()
        if low < 0 or high >= num_classes:
            raise DataError(
                f"dataset {dataset!r}: the {name} labels must lie in "
                f"0..{num_classes - 1} (num_classes = {num_classes}), but "
                f"they range over {low:g}..{high:g}: fix the labels, or set "
                "model_kwargs.num_classes to the real class count.")


class ClassificationTask(Task):
    """Supervised classification from `(x, y)` with integer labels."""

    name = "classification"
    description = ("labels -> logits; accuracy; predict gives classes and "
                   "probabilities")
    model_tasks = ("classification", "image_classification",
                   "sequence_classification")

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """Classification takes any loss but `"none"`; one-hot allowed."""
        if loss_name == "none":
            super().check_recipe(fields, loss_name)

    def check_raw(self, parts: dict[str, tuple], raw: Any,
                  model_kwargs: dict[str, Any]) -> None:
        """Labels are class ids below the class count (see module doc)."""
        given = model_kwargs.get("num_classes")
        num_classes = int(given) if isinstance(given, int) else (
            raw.num_classes)
        check_class_labels(parts, raw.name, num_classes)
        if given is not None:
            return
        seen = np.unique(np.concatenate([np.asarray(y).reshape(-1)
                                         for _, y in parts.values()]))
        names_given = len(raw.class_names) == raw.num_classes and not all(
            str(n) == str(i) for i, n in enumerate(raw.class_names))
        if not names_given and raw.num_classes > 2 and (
                len(seen) * 2 < raw.num_classes):
            raise DataError(
                f"dataset {raw.name!r}: the labels imply "
                f"{raw.num_classes} classes (largest label "
                f"{raw.num_classes - 1}) but only {len(seen)} distinct "
                "labels occur: relabel the classes as "
                f"0..{len(seen) - 1}, or set model_kwargs.num_classes if "
                "the classes really are that many.")

    def predict_logits(self, logits: Any,
                       class_names: list[str]) -> dict[str, Any]:
        """Classes, their names and softmax probabilities from logits."""
        probs = keras.ops.convert_to_numpy(
            keras.ops.softmax(keras.ops.convert_to_tensor(logits), axis=-1))
        classes = probs.argmax(axis=-1).tolist()
        names = [class_names[c] if c < len(class_names) else str(c)
                 for c in classes]
        return {"classes": classes, "class_names": names,
                "probabilities": probs}

    def predict(self, model: keras.Model, x: np.ndarray,
                class_names: list[str]) -> dict[str, Any]:
        """`{"classes", "class_names", "probabilities"}` for inputs `x`."""
        return self.predict_logits(model.predict(x, verbose=0), class_names)

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """`index, class name, probability of that class` per input."""
        probs = out["probabilities"]
        return [f"{i}\t{name}\t{probs[i, cls]:.4f}" for i, (cls, name) in
                enumerate(zip(out["classes"], out["class_names"]))]
