"""The training workflow: recipe -> splits -> fit -> best weights -> test.

:func:`train` runs a recipe end to end in a run directory:
- deterministic train/validation/test splits from the seed (validation is
  carved from training when the dataset has none);
- `model.fit` with validation every epoch, best weights written atomically
  on the monitored metric, early stopping, a clear error on a NaN loss;
- a checkpoint (weights + optimizer state + history) after every epoch, so
  running the same command again after Ctrl-C or a kill continues from the
  last finished epoch;
- at the end the best weights are restored and the test split is evaluated
  exactly once;
- the recipe's `target` says what the model fits against (labels, its
  inputs, nothing for models that own their loss, or teacher forcing);
  task reports (sample grids, greedy decoding) come from
  `kerakit.tasks.legacy`.

Example:
>>> splits = load_splits("lenet_digits")
>>> splits.input_shape, splits.num_classes, len(splits.test[0])
((32, 32, 1), 10, 359)
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.tasks import legacy as recipe_tasks
from kerakit.workflow import runs
from kerakit.data.datasets import RawData
from kerakit.data.datasets import load_dataset
from kerakit.data.preprocessing import Preprocessor
from kerakit.data.preprocessing import TrainBatches
from kerakit.workflow.recipes import Recipe
from kerakit.workflow.recipes import load_recipe

CHECKPOINT = "checkpoint.weights.h5"


class TrainingError(RuntimeError):
    """Training cannot go on (NaN loss, mismatched run directory)."""


@dataclasses.dataclass
class Splits:
    """Preprocessed train/validation/test arrays and what the model needs.

    Attributes:
        train: `(x, y)`, preprocessed, not augmented.
        validation: `(x, y)`.
        test: `(x, y)`; left untouched until the end of training.
        input_shape: Model input shape without batch.
        num_classes: Number of classes.
        class_names: Class names.
        preprocessor: The fitted `Preprocessor` (saved with the run).
        target: The recipe's `target` (how `(x, y)` feed the model).
    """

    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    input_shape: tuple
    num_classes: int
    class_names: list[str]
    preprocessor: Preprocessor
    target: str = "labels"

    def train_batches(self, batch_size: int, seed: int = 0,
                      epoch: int = 0) -> TrainBatches:
        """Shuffled (and augmented, if the recipe says so) batches."""
        return recipe_tasks.TargetBatches(
            *self.train, batch_size, self.preprocessor, seed=seed,
            epoch=epoch, target=self.target)

    def fit_data(self, part: str) -> tuple:
        """A split packed for `fit`/`evaluate`, e.g. `fit_data("test")`."""
        return recipe_tasks.pack(*getattr(self, part), self.target)


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the run directory, metrics, model, history."""

    run_dir: Path
    metrics: dict[str, Any]
    model: keras.Model
    history: dict[str, list]


def _carve(x: np.ndarray, y: np.ndarray, fraction: float, seed: int,
           what: str) -> tuple[tuple, tuple]:
    """Split off `fraction` of (x, y), stratified when possible."""
    from sklearn.model_selection import train_test_split

    n = len(x)
    take = max(1, round(n * fraction))
    if not 0 < fraction < 1 or n - take < 1:
        raise ValueError(
            f"Cannot carve a {what} split of {fraction} from {n} examples: "
            f"set dataset.{what}_fraction between 0 and 1 (exclusive), or "
            "give the dataset more examples."
        )
    stratify = None
    if y.ndim == 1:  # class labels; not token sequences
        counts = np.bincount(y.astype(int))
        counts = counts[counts > 0]
        stratify = y if counts.min() >= 2 and take >= len(counts) and (
            n - take >= len(counts)) else None
    xa, xb, ya, yb = train_test_split(x, y, test_size=take,
                                      random_state=seed, stratify=stratify)
    return (xa, ya), (xb, yb)


def split_raw(raw: RawData, spec: dict[str, Any], seed: int) -> tuple:
    """Return deterministic `(train, validation, test)` raw pairs."""
    train, validation, test = raw.train, raw.validation, raw.test
    if test is None:
        train, test = _carve(*train, spec.get("test_fraction", 0.2), seed,
                             "test")
    if validation is None:
        train, validation = _carve(*train,
                                   spec.get("validation_fraction", 0.1),
                                   seed + 1, "validation")
    return train, validation, test


def load_splits(recipe: Recipe | str) -> Splits:
    """Load, split and preprocess a recipe's data (statistics from train).

    Args:
        recipe: A `Recipe`, or a recipe name/path.

    Returns:
        `Splits`, ready for `model.fit`.
    """
    recipe = load_recipe(recipe) if not isinstance(recipe, Recipe) else recipe
    raw = load_dataset(recipe.dataset)
    train, validation, test = split_raw(raw, recipe.dataset, recipe.seed)
    pre = Preprocessor.from_recipe(recipe.preprocessing, raw).fit(train[0])

    def prepare(pair: tuple) -> tuple[np.ndarray, np.ndarray]:
        return pre.transform(pair[0]), pre.encode_labels(pair[1])

    train, validation, test = map(prepare, (train, validation, test))
    return Splits(train, validation, test, tuple(train[0].shape[1:]),
                  raw.num_classes, list(raw.class_names), pre, recipe.target)


def default_run_dir(recipe: Recipe) -> Path:
    """`runs/<recipe>-<settings hash>-<backend>` under `$KERAKIT_RUNS_DIR`.

    The same recipe and overrides map to the same directory, which is what
    lets an interrupted run continue when the same command runs again.
    """
    root = Path(os.environ.get("KERAKIT_RUNS_DIR", "runs"))
    return root / (f"{recipe.name}-{recipe.fingerprint()}-"
                   f"{keras.backend.backend()}")


def _mode(monitor: str) -> str:
    # Losses and the GAN's sample distance (`mmd`) fall as models improve.
    return "min" if monitor.endswith(("loss", "mmd")) else "max"


class _RunCallback(keras.callbacks.Callback):
    """Best weights, early stopping, NaN stop and the per-epoch checkpoint."""

    def __init__(self, run_dir: Path, state: dict, recipe: Recipe):
        super().__init__()
        self.run_dir = run_dir
        self.state = state
        self.monitor = recipe.monitor
        self.patience = recipe.patience
        self.sign = -1.0 if _mode(recipe.monitor) == "min" else 1.0
        self.nan_at: tuple[int, int] | None = None
        self.epoch = state["epoch"]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None
                           ) -> None:
        # Every logged loss: a GAN logs `d_loss` and `g_loss`, no `loss`.
        losses = [v for k, v in (logs or {}).items() if k.endswith("loss")]
        if not all(math.isfinite(float(v)) for v in losses):
            self.nan_at = (self.epoch + 1, batch + 1)
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.nan_at is not None:
            return
        logs = {k: float(v) for k, v in (logs or {}).items()}
        history = self.state["history"]
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
        if self.monitor not in logs:
            raise TrainingError(
                f"monitor {self.monitor!r} is not logged; logged: "
                f"{sorted(logs)}. Set monitor to one of them."
            )
        value = logs[self.monitor]
        best = self.state["best_value"]
        if best is None or self.sign * (value - best) > 0:
            self.state.update(best_value=value, best_epoch=epoch + 1, wait=0)
            tmp = self.run_dir / "best.tmp.keras"
            self.model.save(tmp)
            os.replace(tmp, self.run_dir / "best.keras")
        else:
            self.state["wait"] += 1
            if self.patience and self.state["wait"] >= self.patience:
                self.state["stopped_early"] = True
                self.model.stop_training = True
        self.state["epoch"] = epoch + 1
        tmp = self.run_dir / "checkpoint.tmp.weights.h5"
        self.model.save_weights(tmp)
        os.replace(tmp, self.run_dir / CHECKPOINT)
        runs.write_json(self.run_dir / "state.json", self.state)
        runs.write_history(self.run_dir, history)


def _fresh_state(recipe: Recipe) -> dict[str, Any]:
    return {"fingerprint": recipe.fingerprint(), "status": "running",
            "epoch": 0, "best_value": None, "best_epoch": 0, "wait": 0,
            "stopped_early": False, "history": {}, "resumed_from": []}


def _load_state(run_dir: Path, recipe: Recipe, restart: bool) -> dict:
    path = run_dir / "state.json"
    if restart or not path.exists():
        for name in ("state.json", CHECKPOINT, "best.keras", "metrics.json"):
            if (run_dir / name).exists():
                (run_dir / name).unlink()
        return _fresh_state(recipe)
    state = runs.read_json(path)
    if state.get("fingerprint") != recipe.fingerprint():
        raise TrainingError(
            f"{run_dir} holds a run of different settings (recipe or "
            "overrides changed). Use another --run-dir, or restart=True "
            "(--restart) to start this directory over."
        )
    return state


def _build_model(recipe: Recipe, splits: Splits, steps: int) -> keras.Model:
    keras.utils.set_random_seed(recipe.seed)
    import kerakit

    model = kerakit.build(recipe.model, **recipe.model_arguments(
        splits.input_shape, splits.num_classes))
    return recipe.compile(model, steps_per_epoch=steps)


def _resume(model: keras.Model, run_dir: Path) -> None:
    """Load weights and optimizer state of the last finished epoch."""
    model.optimizer.build(model.trainable_variables)
    model.load_weights(run_dir / CHECKPOINT)


def _normalise_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    return {k.replace("__", "."): v for k, v in overrides.items()}


def train(recipe_or_path: Recipe | str | os.PathLike = "lenet_digits",
          run_dir: str | os.PathLike | None = None, *, restart: bool = False,
          verbose: Any = "auto", callbacks: list | None = None,
          **overrides: Any) -> TrainResult:
    """Train a recipe end to end; continue an interrupted run.

    Args:
        recipe_or_path: A `Recipe`, a shipped recipe name or a `.toml` path.
        run_dir: Run directory; default `default_run_dir(recipe)`.
        restart: Discard a previous run in `run_dir` instead of continuing.
        verbose: Keras `fit` verbosity (progress bar when `"auto"`).
        callbacks: Extra Keras callbacks.
        **overrides: Recipe overrides; write dots as `__`
            (`optimizer__learning_rate=1e-3`) or pass `**{"a.b": v}`.

    Returns:
        `TrainResult(run_dir, metrics, model, history)`.

    Example:
        result = kerakit.train("lenet_digits", epochs=5,
                               optimizer__learning_rate=1e-3)
        result.metrics["test"]["accuracy"], result.run_dir
    """
    recipe = load_recipe(recipe_or_path, _normalise_overrides(overrides))
    run_dir = Path(run_dir) if run_dir else default_run_dir(recipe)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = _load_state(run_dir, recipe, restart)
    if state["status"] == "finished":
        return _finished_result(run_dir, state)
    splits = load_splits(recipe)
    steps = math.ceil(len(splits.train[0]) / recipe.batch_size)
    runs.write_json(run_dir / "recipe.json", recipe.to_dict())
    splits.preprocessor.save(run_dir / "preprocessing.json")
    env = runs.environment(recipe.seed)
    if state["epoch"] and (run_dir / CHECKPOINT).exists():
        state["resumed_from"].append(state["epoch"])
        env = {**runs.read_json(run_dir / "environment.json"),
               "resumed": state["resumed_from"]}
    runs.write_json(run_dir / "environment.json", env)
    model = _build_model(recipe, splits, steps)
    if state["epoch"]:
        _resume(model, run_dir)
    run_cb = _RunCallback(run_dir, state, recipe)
    started = time.time()
    # A GAN has no validation step: its val_* logs come from a callback.
    validation, first = (None, [recipe_tasks.AdversarialValidation(
        splits.validation[0], recipe.batch_size, recipe.seed)]) if (
        recipe_tasks.is_gan(model)) else (splits.fit_data("validation"), [])
    if state["epoch"] < recipe.epochs and not state["stopped_early"]:
        model.fit(
            splits.train_batches(recipe.batch_size, recipe.seed,
                                 state["epoch"]),
            validation_data=validation,
            validation_batch_size=recipe.batch_size,
            epochs=recipe.epochs, initial_epoch=state["epoch"],
            callbacks=[*first, run_cb, keras.callbacks.TensorBoard(
                str(run_dir / "tensorboard"), write_graph=False),
                *(callbacks or [])],
            verbose=verbose,
        )
    if run_cb.nan_at is not None:
        state["status"] = "diverged"
        runs.write_json(run_dir / "state.json", state)
        epoch, batch = run_cb.nan_at
        raise TrainingError(
            f"The loss became NaN/inf at epoch {epoch}, batch {batch}; "
            "training stopped. Lower optimizer.learning_rate (now "
            f"{recipe.optimizer['learning_rate']}), add optimizer.clipnorm, "
            "or check the inputs are normalised (preprocessing.rescale / "
            f"standardize). Best weights so far: {run_dir / 'best.keras'}."
        )
    return _finish(model, recipe, splits, run_dir, state, started)


def _finish(model: keras.Model, recipe: Recipe, splits: Splits,
            run_dir: Path, state: dict, started: float) -> TrainResult:
    best = keras.saving.load_model(run_dir / "best.keras", compile=False)
    model.set_weights(best.get_weights())
    test = recipe_tasks.evaluate(model, splits.test, recipe.target,
                                 recipe.batch_size, recipe.seed)
    history = state["history"]
    best_index = state["best_epoch"] - 1
    metrics = {
        "recipe": recipe.name,
        "backend": keras.backend.backend(),
        "monitor": recipe.monitor,
        "best_epoch": state["best_epoch"],
        "best_value": state["best_value"],
        "epochs_run": state["epoch"],
        "stopped_early": state["stopped_early"],
        "resumed_from": state["resumed_from"],
        "train": {k: v[best_index] for k, v in history.items()
                  if not k.startswith("val_")},
        "validation": {k[4:]: v[best_index] for k, v in history.items()
                       if k.startswith("val_")},
        "test": {k: float(v) for k, v in test.items()},
        "examples": {"train": len(splits.train[0]),
                     "validation": len(splits.validation[0]),
                     "test": len(splits.test[0])},
        "seconds_last_session": round(time.time() - started, 2),
    }
    extra = recipe_tasks.report(model, recipe.target, splits, run_dir,
                                recipe.seed)
    metrics["test"].update(extra.pop("test", {}))
    metrics.update(extra)
    runs.write_json(run_dir / "metrics.json", metrics)
    runs.plot_history(run_dir / "learning_curves.png", history,
                      state["best_epoch"], f"{recipe.name} ({recipe.model})")
    state["status"] = "finished"
    runs.write_json(run_dir / "state.json", state)
    return TrainResult(run_dir, metrics, model, history)


def _finished_result(run_dir: Path, state: dict) -> TrainResult:
    model = keras.saving.load_model(run_dir / "best.keras", compile=False)
    return TrainResult(run_dir, runs.read_json(run_dir / "metrics.json"),
                       model, state["history"])
