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


def _check_run(run_dir: str | os.PathLike) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / "best.keras").is_file():
        raise FileNotFoundError(
            f"{run_dir} is not a finished kerakit run (no best.keras). "
            "Train first: kerakit train RECIPE --run-dir DIR."
        )
    return run_dir


def load_run(run_dir: str | os.PathLike) -> tuple[Any, Preprocessor, Any]:
    """Return `(model, preprocessor, recipe)` of a run directory."""
    import keras

    from kerakit.workflow.recipes import recipe_from_dict

    run_dir = _check_run(run_dir)
    model = keras.saving.load_model(run_dir / "best.keras", compile=False)
    pre = Preprocessor.load(run_dir / "preprocessing.json")
    data = runs.read_json(run_dir / "recipe.json")
    data.pop("overrides", None)  # already applied in the resolved values
    recipe = recipe_from_dict(data, data.pop("source", "<run>"))
    return model, pre, recipe


def evaluate_run(run_dir: str | os.PathLike) -> dict[str, float]:
    """Re-evaluate a run's best model on its test split.

    Returns:
        Test metrics, e.g. `{"loss": 0.08, "accuracy": 0.98}`.
    """
    from kerakit.tasks import legacy as recipe_tasks
    from kerakit.workflow.training import load_splits

    model, _, recipe = load_run(run_dir)
    splits = load_splits(recipe)
    recipe.compile(model)
    # The recipe's target says how the split feeds the model (labels,
    # reconstruction, no targets, teacher forcing; GANs have no evaluate).
    return recipe_tasks.evaluate(model, splits.test, recipe.target,
                                 recipe.batch_size, recipe.seed)


def read_inputs(paths: Sequence[str | os.PathLike],
                pre: Preprocessor) -> np.ndarray:
    """Read `.npy`/`.npz` arrays or image files as raw model inputs.

    Image files are resized to the dataset's raw size, converted to its
    channels and scaled to its value range (e.g. 0..16 for digits).
    """
    arrays = []
    for path in map(Path, paths):
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
            inputs: Any) -> dict[str, Any]:
    """Predict classes for raw inputs with a run's best model.

    Args:
        run_dir: A finished run directory.
        inputs: A raw array (dataset format), or a path / list of paths to
            `.npy`, `.npz` or image files. For a text run (the recipe sets
            `preprocessing.tokenizer`), a string or list of strings is the
            text to classify, unless every item names a `.npy`/`.npz`
            file.

    Returns:
        `{"classes": [...], "class_names": [...], "probabilities": array}`.
    """
    import keras

    model, pre, _ = load_run(run_dir)
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if isinstance(inputs, (list, tuple)) and inputs and isinstance(
            inputs[0], (str, os.PathLike)):
        if pre.tokenizer and not all(_is_array_file(i) for i in inputs):
            # A text run: strings are the texts themselves.
            inputs = np.array([str(i) for i in inputs], dtype=object)
        else:
            inputs = read_inputs(inputs, pre)
    x = pre.transform(inputs)
    expected = tuple(model.input_shape[1:])
    if tuple(x.shape[1:]) != expected and None not in expected:
        raise ValueError(
            f"After preprocessing the inputs have shape {x.shape[1:]}, but "
            f"the model expects {expected}. Give inputs shaped like the "
            f"training data ({pre.raw_shape})."
        )
    logits = model.predict(x, verbose=0)
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))
    classes = probs.argmax(axis=-1).tolist()
    names = [pre.class_names[c] if c < len(pre.class_names) else str(c)
             for c in classes]
    return {"classes": classes, "class_names": names, "probabilities": probs}
