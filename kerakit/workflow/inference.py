"""Use a finished run: evaluate its best model, predict on new inputs.

Prediction applies the run's saved `preprocessing.json`, the same steps as
training (without augmentation), so raw inputs in the dataset's own format
(or image files) go straight in.

Example:
    run = kerakit.train("lenet_digits").run_dir
    predict(run, "digits.npy")["classes"]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerakit.workflow import runs
from kerakit.data.datasets import read_image
from kerakit.data.preprocessing import Preprocessor
from kerakit.saving import load_model


def _check_run(run_dir: str | os.PathLike) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / "best.keras").is_file():
        raise FileNotFoundError(
            f"{run_dir} is not a finished kerakit run (no best.keras). "
            "Train first: kerakit train RECIPE --run-dir DIR."
        )
    return run_dir


def load_run(run_dir: str | os.PathLike) -> tuple[Any, Preprocessor, Any]:
    """Return `(model, preprocessor, recipe)` of a run directory.

    The run's task reads its preprocessing (`Task.load_preprocessor`): a
    `Preprocessor` for array data, the task's own object otherwise.
    """
    from kerakit.workflow.training import task_of

    run_dir = _check_run(run_dir)
    model = load_model(run_dir / "best.keras")
    recipe = run_recipe(run_dir)
    pre = task_of(recipe).load_preprocessor(run_dir / "preprocessing.json")
    return model, pre, recipe


def run_recipe(run_dir: str | os.PathLike) -> Any:
    """The resolved `Recipe` a run was trained with (its `recipe.json`)."""
    from kerakit.workflow.recipes import recipe_from_dict

    data = runs.read_json(Path(run_dir) / "recipe.json")
    data.pop("overrides", None)  # already applied in the resolved values
    return recipe_from_dict(data, data.pop("source", "<run>"))


class DataChangedError(ValueError):
    """The data a run was trained on has changed since."""


def evaluate_run(run_dir: str | os.PathLike) -> dict[str, float]:
    """Re-evaluate a run's best model on its test split, through its task.

    The dataset is read from the path recorded at training time (absolute,
    so any working directory works), and its fingerprint must match the
    one recorded then: changed data is refused, saying what changed.

    Returns:
        Test metrics, e.g. `{"loss": 0.08, "accuracy": 0.98}`.

    Raises:
        DataChangedError: The dataset differs from the one trained on.
    """
    from kerakit.data.splits import compare_fingerprints
    from kerakit.workflow.training import DATASET
    from kerakit.workflow.training import load_splits
    from kerakit.workflow.training import task_of

    model, _, recipe = load_run(run_dir)
    record_path = Path(run_dir) / DATASET
    record = runs.read_json(record_path) if record_path.is_file() else {}
    recipe = _recorded_dataset(recipe, record)
    splits = load_splits(recipe)
    changes = compare_fingerprints(record.get("fingerprint", {}),
                                   splits.fingerprint)
    if changes:
        raise DataChangedError(
            f"{run_dir}: the dataset {recipe.dataset['name']!r} changed "
            f"since training ({'; '.join(changes)}), so its scores would "
            "not describe this run: restore the data, or train a new run "
            "on the new data.")
    recipe.compile(model)
    return task_of(recipe).evaluate(model, splits.test, recipe.batch_size,
                                    recipe.seed)


def _recorded_dataset(recipe: Any, record: dict) -> Any:
    """The recipe with its dataset path as recorded at training time
    (absolute, so any working directory works)."""
    if record.get("resolved") and record["resolved"] != recipe.dataset[
            "name"]:
        return recipe.with_overrides({"dataset.name": record["resolved"]})
    return recipe


def read_inputs(paths: Sequence[str | os.PathLike],
                pre: Preprocessor) -> np.ndarray:
    """Read `.npy`/`.npz` arrays or image files as raw model inputs.

    Image files are resized to the dataset's raw size, converted to its
    channels and scaled to its value range (e.g. 0..16 for digits).
    """
    arrays = []
    for path in map(Path, paths):
        if path.is_dir():
            raise IsADirectoryError(
                f"Input {str(path)!r} is a directory: give .npy/.npz "
                "arrays or image files (e.g. a shell glob DIR/*.png).")
        if not path.is_file():
            raise FileNotFoundError(f"Input {str(path)!r} not found.")
        if path.suffix == ".npy":
            arrays.append(np.load(path, allow_pickle=False))
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                key = next((k for k in ("x", "x_test", "inputs")
                            if k in data), None) or data.files[0]
                arrays.append(data[key])
        else:
            arrays.append(_read_image_input(path, pre)[None])
    shapes = {a.shape[1:] if a.ndim > len(pre.raw_shape or ()) else a.shape
              for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"Inputs have different shapes: {sorted(shapes)}.")
    return np.concatenate([
        a if pre.raw_shape is None or a.ndim > len(pre.raw_shape)
        else a[None] for a in arrays])


def _read_image_input(path: Path, pre: Preprocessor) -> np.ndarray:
    shape = pre.raw_shape
    if not shape or len(shape) != 3:
        raise ValueError(
            f"{path}: this run's model does not take images (raw input "
            f"shape {shape}); give a .npy or .npz array."
        )
    try:
        image = read_image(path, shape[:2]).astype("float32")
    except OSError as err:
        raise ValueError(f"Cannot read image {str(path)!r}: {err}") from None
    if shape[2] == 1 and image.shape[2] == 3:
        image = image.mean(axis=2, keepdims=True)
    elif shape[2] == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return image * (pre.value_max / 255.0)


def _is_array_file(item: str | os.PathLike) -> bool:
    path = Path(item)
    return path.suffix in (".npy", ".npz") and path.is_file()


def predict(run_dir: str | os.PathLike,
            inputs: Any = None) -> dict[str, Any]:
    """Predict with a run's best model; the run's task shapes the output.

    Args:
        run_dir: A finished run directory.
        inputs: A raw array (dataset format), or a path / list of paths to
            `.npy`, `.npz` or image files. For a text run (the recipe sets
            `preprocessing.tokenizer`), a string or list of strings is the
            text to classify, unless every item names a `.npy`/`.npz`
            file. A graph run reads graphs instead
            (`Task.predict_inputs`): `None` predicts on the run's own
            dataset, a path or `graph:PATH` on another graph (see
            `kerakit.tasks.node_classification`).

    Returns:
        The task's predictions: for classification `{"classes": [...],
        "class_names": [...], "probabilities": array}`; regression
        `{"values"}`, reconstruction `{"reconstructions"}`, seq2seq
        `{"tokens"}`; node classification adds `"nodes"`.

    Raises:
        ValueError: Inputs of the wrong rank or shape, or holding NaN.
    """
    from kerakit.data.splits import check_finite
    from kerakit.workflow.training import DATASET
    from kerakit.workflow.training import task_of

    model, pre, recipe = load_run(run_dir)
    task = task_of(recipe)
    record_path = Path(run_dir) / DATASET
    record = runs.read_json(record_path) if record_path.is_file() else {}
    prepared = task.predict_inputs(inputs, pre,
                                   _recorded_dataset(recipe, record))
    if prepared is not None:
        return task.predict(model, prepared, list(pre.class_names))
    if inputs is None:
        raise ValueError("No inputs: give an array, or paths of .npy/.npz "
                         "or image files.")
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if isinstance(inputs, (list, tuple)) and inputs and isinstance(
            inputs[0], (str, os.PathLike)):
        if pre.tokenizer and not all(_is_array_file(i) for i in inputs):
            # A text run: strings are the texts themselves.
            inputs = np.array([str(i) for i in inputs], dtype=object)
        else:
            inputs = read_inputs(inputs, pre)
    inputs = np.asarray(inputs) if not isinstance(inputs, np.ndarray) else (
        inputs)
    check_raw_shape(inputs, pre)
    check_finite(inputs, "the inputs")
    x = pre.transform(inputs)
    expected = (tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1
                else None)
    if expected and tuple(x.shape[1:]) != expected and None not in expected:
        raise ValueError(
            f"After preprocessing the inputs have shape {x.shape[1:]}, but "
            f"the model expects {expected}. Give inputs shaped like the "
            f"training data ({pre.raw_shape})."
        )
    return task.predict(model, x, list(pre.class_names))


def check_raw_shape(inputs: np.ndarray, pre: Preprocessor) -> None:
    """Refuse inputs whose examples are not shaped like the training data.

    The raw examples of a run have shape `pre.raw_shape`; the inputs must be
    a batch of them, `(n, *raw_shape)`. (Text runs take a vector of
    strings.)
    """
    shape = pre.raw_shape
    if shape is None or (pre.tokenizer and inputs.dtype == object):
        return
    if inputs.ndim != len(shape) + 1 or tuple(inputs.shape[1:]) != tuple(
            shape):
        raise ValueError(
            f"The inputs have shape {inputs.shape}, but this run takes a "
            f"batch of raw examples shaped like its training data: "
            f"(N, {', '.join(map(str, shape))}). Give an array of that "
            "shape (for one example, add the batch axis).")
