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
- the recipe's task (`kerakit.tasks`) loads and checks the data, feeds
  it to the model, runs the loop, evaluates and writes its own reports
  (sample grids, greedy decoding): no task has a branch here;
- nothing a user saved is lost: a directory that holds anything but a
  kerakit run of the same settings is refused, `restart` clears only
  kerakit's own files, and a run that fails before its first epoch leaves
  no directory behind.

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

from kerakit.data.splits import Splits
from kerakit.precision import PrecisionError
from kerakit.precision import check_backend
from kerakit.precision import cpu_summary
from kerakit.precision import graph_rewrite_scope
from kerakit.precision import resolve_precision
from kerakit.saving import load_model
from kerakit.tasks import Task
from kerakit.tasks import get_task
from kerakit.workflow import runs
from kerakit.workflow.rundir import CHECKPOINT
from kerakit.workflow.rundir import STATE
from kerakit.workflow.rundir import RunDirError
from kerakit.workflow.rundir import check_run_dir
from kerakit.workflow.rundir import clear_run_files
from kerakit.workflow.rundir import create_run_dir
from kerakit.workflow.rundir import remove_created
from kerakit.workflow.recipes import Recipe
from kerakit.workflow.recipes import load_recipe

DATASET = "dataset.json"


class TrainingError(RuntimeError):
    """Training cannot go on (NaN loss, unusable run directory)."""


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the run directory, metrics, model, history."""

    run_dir: Path
    metrics: dict[str, Any]
    model: keras.Model
    history: dict[str, list]


def task_of(recipe: Recipe) -> Task:
    """The recipe's task (`kerakit.tasks`)."""
    return get_task(recipe.task)


def load_splits(recipe: Recipe | str) -> Splits:
    """Load, check, split and preprocess a recipe's data (statistics from
    the training split), through the recipe's task.

    Args:
        recipe: A `Recipe`, or a recipe name/path.

    Returns:
        `Splits`, ready for the task to feed to `model.fit`.

    Raises:
        kerakit.data.splits.DataError: Labels, NaN or shapes are wrong.
    """
    recipe = load_recipe(recipe) if not isinstance(recipe, Recipe) else recipe
    return task_of(recipe).load_splits(recipe.dataset, recipe.preprocessing,
                                       recipe.seed, recipe.model_kwargs)


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
        runs.write_json(self.run_dir / STATE, self.state)
        runs.write_history(self.run_dir, history)


def _fresh_state(recipe: Recipe) -> dict[str, Any]:
    return {"fingerprint": recipe.fingerprint(), "status": "running",
            "epoch": 0, "best_value": None, "best_epoch": 0, "wait": 0,
            "stopped_early": False, "history": {}, "resumed_from": []}


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
        run_dir: Run directory; default `default_run_dir(recipe)`. It must
            be new, empty or a kerakit run of the same settings.
        restart: Clear kerakit's files of a previous run in `run_dir` and
            start over, instead of continuing.
        verbose: Keras `fit` verbosity (progress bar when `"auto"`).
        callbacks: Extra Keras callbacks.
        **overrides: Recipe overrides; write dots as `__`
            (`optimizer__learning_rate=1e-3`) or pass `**{"a.b": v}`.

    Returns:
        `TrainResult(run_dir, metrics, model, history)`.

    Raises:
        TrainingError: The run directory cannot be used, or the loss
            became NaN.
        kerakit.data.splits.DataError: The data is wrong (checked before
            any training).

    Example:
        result = kerakit.train("lenet_digits", epochs=5,
                               optimizer__learning_rate=1e-3)
        result.metrics["test"]["accuracy"], result.run_dir
    """
    recipe = load_recipe(recipe_or_path, _normalise_overrides(overrides))
    run_dir = Path(run_dir) if run_dir else default_run_dir(recipe)
    try:
        resume = check_run_dir(run_dir, recipe.fingerprint(), restart)
    except RunDirError as err:
        raise TrainingError(str(err)) from None
    state = runs.read_json(run_dir / STATE) if resume else _fresh_state(
        recipe)
    if state["status"] == "finished":
        return _finished_result(run_dir, state)
    task = task_of(recipe)
    # A resumed run keeps the precision it started with, even where "auto"
    # would resolve otherwise on this CPU.
    precision = state.setdefault("precision",
                                 resolve_precision(recipe.precision))
    try:
        check_backend(precision)
    except PrecisionError as err:
        raise TrainingError(str(err)) from None
    splits = load_splits(recipe)  # checks the data before anything is written
    if restart:
        clear_run_files(run_dir)
    created = create_run_dir(run_dir)
    try:
        return _run(recipe, task, splits, run_dir, state, verbose, callbacks)
    except BaseException:
        if not state["epoch"]:  # nothing finished: leave nothing behind
            remove_created(created)
        raise


def _run(recipe: Recipe, task: Task, splits: Splits, run_dir: Path,
         state: dict, verbose: Any, callbacks: list | None) -> TrainResult:
    steps = task.steps_per_epoch(splits, recipe.batch_size)
    runs.write_json(run_dir / "recipe.json", recipe.to_dict())
    runs.write_json(run_dir / DATASET, {
        "name": recipe.dataset["name"],
        "resolved": resolve_dataset(recipe.dataset),
        "fingerprint": splits.fingerprint})
    splits.preprocessor.save(run_dir / "preprocessing.json")
    precision = state["precision"]
    env = {**runs.environment(recipe.seed),
           "precision": {"requested": recipe.precision, "used": precision,
                         "cpu": cpu_summary()}}
    if state["epoch"] and (run_dir / CHECKPOINT).exists():
        state["resumed_from"].append(state["epoch"])
        env = {**runs.read_json(run_dir / "environment.json"),
               "resumed": state["resumed_from"]}
    runs.write_json(run_dir / "environment.json", env)
    model = recipe.build_model(
        splits.input_shape, splits.num_classes, steps_per_epoch=steps,
        precision=precision, **splits.model_arguments)
    if state["epoch"]:
        _resume(model, run_dir)
    run_cb = _RunCallback(run_dir, state, recipe)
    started = time.time()
    with graph_rewrite_scope(precision):
        if state["epoch"] < recipe.epochs and not state["stopped_early"]:
            task.fit(model, splits, batch_size=recipe.batch_size,
                     seed=recipe.seed, epochs=recipe.epochs,
                     initial_epoch=state["epoch"],
                     callbacks=[run_cb, keras.callbacks.TensorBoard(
                         str(run_dir / "tensorboard"), write_graph=False),
                         *(callbacks or [])], verbose=verbose,
                     run_dir=run_dir)
        if run_cb.nan_at is not None:
            _diverged(recipe, run_dir, state, run_cb.nan_at)
        return _finish(model, recipe, task, splits, run_dir, state, started)


def _diverged(recipe: Recipe, run_dir: Path, state: dict,
              nan_at: tuple[int, int]) -> None:
    state["status"] = "diverged"
    runs.write_json(run_dir / STATE, state)
    epoch, batch = nan_at
    best = run_dir / "best.keras"
    kept = (f" Best weights so far: {best}." if best.exists() else
            " No epoch finished, so no weights were kept.")
    raise TrainingError(
        f"The loss became NaN/inf at epoch {epoch}, batch {batch}; "
        "training stopped. The data was checked and is finite, so the "
        "optimisation diverged: lower optimizer.learning_rate (now "
        f"{recipe.optimizer['learning_rate']}) or add "
        f"optimizer.clipnorm.{kept}"
    )


def resolve_dataset(dataset: dict[str, Any]) -> str:
    """The dataset name with a local path made absolute, so that a run can
    be evaluated from another working directory.

    Example:
    >>> resolve_dataset({"name": "digits"})
    'digits'
    """
    name = dataset["name"]
    for prefix in ("npz:", "folder:", "graph:", "planetoid:", "tudataset:",
                   "text:", "audio:", "pairs:"):
        if name.startswith(prefix):
            return prefix + str(Path(name[len(prefix):]).expanduser()
                                .absolute())
    if name.endswith(".npz") or (os.path.isdir(name) and ":" not in name):
        return str(Path(name).expanduser().absolute())
    return name


def _finish(model: keras.Model, recipe: Recipe, task: Task, splits: Splits,
            run_dir: Path, state: dict, started: float) -> TrainResult:
    best = load_model(run_dir / "best.keras")
    model.set_weights(best.get_weights())
    test = task.evaluate(model, splits.test, recipe.batch_size, recipe.seed)
    history = state["history"]
    best_index = state["best_epoch"] - 1
    metrics = {
        "recipe": recipe.name,
        "task": recipe.task,
        "backend": keras.backend.backend(),
        "precision": state.get("precision", "float32"),
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
        "examples": task.count_examples(splits),
        "seconds_last_session": round(time.time() - started, 2),
    }
    extra = task.report(model, splits, run_dir, recipe.seed)
    metrics["test"].update(extra.pop("test", {}))
    metrics.update(extra)
    runs.write_json(run_dir / "metrics.json", metrics)
    runs.plot_history(run_dir / "learning_curves.png", history,
                      state["best_epoch"], f"{recipe.name} ({recipe.model})")
    state["status"] = "finished"
    runs.write_json(run_dir / STATE, state)
    return TrainResult(run_dir, metrics, model, history)


def _finished_result(run_dir: Path, state: dict) -> TrainResult:
    model = load_model(run_dir / "best.keras")
    return TrainResult(run_dir, runs.read_json(run_dir / "metrics.json"),
                       model, state["history"])
