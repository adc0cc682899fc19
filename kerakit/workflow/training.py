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
  no directory behind;
- data-parallel over processes (`processes=N`, the recipe's
  `[distribution]`, or a cluster across hosts) on the backend's own engine
  (`kerakit.workflow.distributed`): the same loop, each process on its
  rows of every batch, the first process alone writing the run directory.

Example:
>>> splits = load_splits("lenet_digits")
>>> splits.input_shape, splits.num_classes, len(splits.test[0])
((32, 32, 1), 10, 359)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
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
from kerakit.workflow.distributed import ALONE
from kerakit.workflow.distributed import ERROR_PREFIX
from kerakit.workflow.distributed import WORKER_SPEC
from kerakit.workflow.distributed import Cluster
from kerakit.workflow.distributed import DistributionError
from kerakit.workflow.distributed import Engine
from kerakit.workflow.distributed import engine_for
from kerakit.workflow.distributed import launch
from kerakit.workflow.rundir import CHECKPOINT
from kerakit.workflow.rundir import STATE
from kerakit.workflow.rundir import RunDirError
from kerakit.workflow.rundir import check_run_dir
from kerakit.workflow.rundir import clear_run_files
from kerakit.workflow.rundir import create_run_dir
from kerakit.workflow.rundir import remove_created
from kerakit.workflow.recipes import Recipe
from kerakit.workflow.recipes import load_recipe
from kerakit.workflow.recipes import recipe_from_dict

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

    def __init__(self, run_dir: Path, state: dict, recipe: Recipe,
                 write: bool = True, engine: Engine | None = None):
        super().__init__()
        self.engine = engine or Engine()
        # The other processes of a distributed run keep the same books (so
        # that they stop when the chief stops) but write nothing.
        self.write = write
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
        improved = best is None or self.sign * (value - best) > 0
        if improved:
            self.state.update(best_value=value, best_epoch=epoch + 1, wait=0)
        else:
            self.state["wait"] += 1
            if self.patience and self.state["wait"] >= self.patience:
                self.state["stopped_early"] = True
                self.model.stop_training = True
        self.state["epoch"] = epoch + 1
        if not self.write:
            return
        with self.engine.alone():
            if improved:
                tmp = self.run_dir / "best.tmp.keras"
                self.model.save(tmp)
                os.replace(tmp, self.run_dir / "best.keras")
            tmp = self.run_dir / "checkpoint.tmp.weights.h5"
            self.model.save_weights(tmp)
            os.replace(tmp, self.run_dir / CHECKPOINT)
        runs.write_json(self.run_dir / STATE, self.state)
        runs.write_history(self.run_dir, history)


class _InterruptBetweenSteps(keras.callbacks.Callback):
    """Ctrl-C stops training between two steps, in the loop's own code.

    Python's default handler raises `KeyboardInterrupt` wherever the main
    thread happens to be, which can be inside library code that does not
    let it through: under load, the Ctrl-C test once saw a TensorFlow run
    take SIGINT and still finish with status 0. Here the signal only sets a
    flag, and the next batch or epoch boundary raises `KeyboardInterrupt`
    (the last finished epoch is checkpointed); a second Ctrl-C interrupts
    at once. Only the main thread's default handler is replaced, and only
    while training.
    """

    def __init__(self):
        super().__init__()
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _InterruptBetweenSteps:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT)
                is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _request(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def _check(self, *args: Any, **kwargs: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt

    on_train_batch_end = _check
    on_epoch_begin = _check
    on_epoch_end = _check


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
          processes: int | None = None, cluster: Cluster | None = None,
          **overrides: Any) -> TrainResult:
    """Train a recipe end to end; continue an interrupted run.

    Args:
        recipe_or_path: A `Recipe`, a shipped recipe name or a `.toml` path.
        run_dir: Run directory; default `default_run_dir(recipe)`. It must
            be new, empty or a kerakit run of the same settings.
        restart: Clear kerakit's files of a previous run in `run_dir` and
            start over, instead of continuing.
        verbose: Keras `fit` verbosity (progress bar when `"auto"`).
        callbacks: Extra Keras callbacks (one-process runs; the chief's in
            a cluster).
        processes: Train data-parallel on this many local processes
            (default: the recipe's `distribution.processes`); this call
            waits for them and returns the finished run.
        cluster: This process's place in a run across hosts (default: the
            launcher's `KERAKIT_*` variables, else alone).
        **overrides: Recipe overrides; write dots as `__`
            (`optimizer__learning_rate=1e-3`) or pass `**{"a.b": v}`.

    Returns:
        `TrainResult(run_dir, metrics, model, history)`.

    Raises:
        TrainingError: The run directory cannot be used, the loss became
            NaN, or a process of a distributed run failed.
        kerakit.data.splits.DataError: The data is wrong (checked before
            any training).

    Example:
        result = kerakit.train("lenet_digits", epochs=5,
                               optimizer__learning_rate=1e-3)
        result.metrics["test"]["accuracy"], result.run_dir
    """
    overrides = _normalise_overrides(overrides)
    cluster = cluster or Cluster.from_environment()
    if processes is not None or cluster is not None:
        # Through the schema, which refuses what cannot be shared out.
        overrides["distribution.processes"] = (
            cluster.num_processes if cluster else processes)
    recipe = load_recipe(recipe_or_path, overrides)
    run_dir = Path(run_dir) if run_dir else default_run_dir(recipe)
    try:
        resume = check_run_dir(run_dir, recipe.fingerprint(), restart)
        engine = engine_for(cluster or ALONE,
                            recipe.distribution["model_parallel"])
    except (RunDirError, DistributionError) as err:
        raise TrainingError(str(err)) from None
    state = runs.read_json(run_dir / STATE) if resume else _fresh_state(
        recipe)
    if cluster is None and recipe.distribution["processes"] > 1:
        if state["status"] != "finished":
            _launch(recipe, run_dir, restart, verbose, callbacks, state)
        return _finished_result(run_dir, runs.read_json(run_dir / STATE))
    if cluster is not None and not cluster.is_chief:
        return _follow(recipe, run_dir, engine, cluster)
    if state["status"] == "finished":
        _start(engine)
        engine.barrier()
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
    _start(engine)  # before the backend computes anything (JAX)
    splits = load_splits(recipe)  # checks the data before anything is written
    if restart:
        clear_run_files(run_dir)
    created = create_run_dir(run_dir)
    try:
        if cluster is not None and not state["epoch"]:
            # The other processes read it once the chief is this far.
            runs.write_json(run_dir / STATE, state)
        engine.barrier()
        return _run(recipe, task, splits, run_dir, state, verbose, callbacks,
                    engine, cluster or ALONE)
    except BaseException:
        if not state["epoch"]:  # nothing finished: leave nothing behind
            remove_created(created)
        raise


def _launch(recipe: Recipe, run_dir: Path, restart: bool, verbose: Any,
            callbacks: list | None, state: dict) -> None:
    """Train on `distribution.processes` local processes (checked here
    first, where an error is cheapest)."""
    count = recipe.distribution["processes"]
    if callbacks:
        raise TrainingError(
            f"callbacks: a run on {count} processes trains in child "
            "processes, which cannot call callbacks of this one: train on "
            "one process (processes=1) to use them.")
    try:
        check_backend(state.get("precision") or resolve_precision(
            recipe.precision))
    except PrecisionError as err:
        raise TrainingError(str(err)) from None
    spec = {"recipe": recipe.fields(), "source": recipe.source,
            "run_dir": str(run_dir.absolute()), "restart": restart,
            "verbose": verbose}
    try:
        launch("kerakit.workflow.training:run_worker", spec, count,
               quiet=verbose == 0)
    except DistributionError as err:
        raise TrainingError(str(err)) from None


def run_worker() -> int:
    """Entry point of a launched process (`distributed.launch`): train the
    spec's recipe as this process's share of the cluster. Known errors end
    as one line that the launcher reports."""
    spec = json.loads(os.environ[WORKER_SPEC])
    # The launcher stops the others with SIGTERM when one fails: exiting
    # through Python lets a run that never finished an epoch clean up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        recipe = recipe_from_dict(spec["recipe"], spec["source"])
        train(recipe, spec["run_dir"], restart=spec["restart"],
              verbose=spec["verbose"], cluster=Cluster.from_environment())
    except (RuntimeError, ValueError) as err:
        traceback.print_exc()
        print(f"{ERROR_PREFIX}{type(err).__name__}: {err}".replace(
            "\n", " "), file=sys.stderr, flush=True)
        return 2
    return 0


def _follow(recipe: Recipe, run_dir: Path, engine: Engine,
            cluster: Cluster) -> TrainResult:
    """A process other than the chief: train its share, write nothing.

    It reads the state the chief prepared (after the barrier), so that it
    continues from the same epoch and stops when the chief stops.
    """
    task = task_of(recipe)
    _start(engine)
    splits = load_splits(recipe)
    engine.barrier()
    state = runs.read_json(run_dir / STATE)
    if state["status"] == "finished":
        return _finished_result(run_dir, state)
    model = _build(recipe, task, splits, state["precision"])
    if state["epoch"]:
        _resume(model, run_dir)
    engine.attach(model)
    run_cb = _RunCallback(run_dir, state, recipe, write=False)
    with graph_rewrite_scope(state["precision"]):
        _fit_remaining(task, model, splits, recipe, state, [run_cb], 0,
                       run_dir, cluster)
    if run_cb.nan_at is not None:
        epoch, batch = run_cb.nan_at
        raise TrainingError(
            f"The loss of process {cluster.process_id} became NaN/inf at "
            f"epoch {epoch}, batch {batch}: lower optimizer.learning_rate "
            f"(now {recipe.optimizer['learning_rate']}) or add "
            "optimizer.clipnorm.")
    engine.finish()
    return TrainResult(run_dir, {}, model, state["history"])


def _run(recipe: Recipe, task: Task, splits: Splits, run_dir: Path,
         state: dict, verbose: Any, callbacks: list | None, engine: Engine,
         cluster: Cluster) -> TrainResult:
    runs.write_json(run_dir / "recipe.json", recipe.to_dict())
    runs.write_json(run_dir / DATASET, {
        "name": recipe.dataset["name"],
        "resolved": resolve_dataset(recipe.dataset),
        "fingerprint": splits.fingerprint})
    splits.preprocessor.save(run_dir / "preprocessing.json")
    precision = state["precision"]
    env = {**runs.environment(recipe.seed),
           "precision": {"requested": recipe.precision, "used": precision,
                         "cpu": cpu_summary()},
           "distribution": engine.describe()}
    if state["epoch"] and (run_dir / CHECKPOINT).exists():
        state["resumed_from"].append(state["epoch"])
        env = {**runs.read_json(run_dir / "environment.json"),
               "resumed": state["resumed_from"],
               "distribution": engine.describe()}
    runs.write_json(run_dir / "environment.json", env)
    model = _build(recipe, task, splits, precision)
    if state["epoch"]:
        _resume(model, run_dir)
    engine.attach(model)
    run_cb = _RunCallback(run_dir, state, recipe, engine=engine)
    started = time.time()
    with graph_rewrite_scope(precision), _InterruptBetweenSteps() as ctrl_c:
        # Ctrl-C last: a finished epoch is saved first.
        _fit_remaining(task, model, splits, recipe, state, [
            run_cb, keras.callbacks.TensorBoard(
                str(run_dir / "tensorboard"), write_graph=False),
            *(callbacks or []), ctrl_c], verbose, run_dir, cluster)
        if run_cb.nan_at is not None:
            _diverged(recipe, run_dir, state, run_cb.nan_at)
        engine.finish()
        if not engine.model_is_local:
            # The trained variables span the processes or devices of a
            # distributed run; the chief tests alone, on a model of its own.
            model = _build(recipe, task, splits, precision)
        return _finish(model, recipe, task, splits, run_dir, state, started)


def _start(engine: Engine) -> None:
    try:
        engine.start()
    except DistributionError as err:
        raise TrainingError(str(err)) from None


def _fit_remaining(task: Task, model: keras.Model, splits: Splits,
                   recipe: Recipe, state: dict, callbacks: list,
                   verbose: Any, run_dir: Path, cluster: Cluster) -> None:
    """`task.fit` from the state's epoch, unless the run is already done."""
    if state["epoch"] >= recipe.epochs or state["stopped_early"]:
        return
    # Only a distributed run passes `shard`, so that a task written before
    # it existed, whose `fit` does not take it, still trains on one process.
    sharding = {"shard": cluster.shard} if cluster.num_processes > 1 else {}
    task.fit(model, splits, batch_size=recipe.batch_size, seed=recipe.seed,
             epochs=recipe.epochs, initial_epoch=state["epoch"],
             callbacks=callbacks, verbose=verbose, run_dir=run_dir,
             **sharding)


def _build(recipe: Recipe, task: Task, splits: Splits,
           precision: str) -> keras.Model:
    return recipe.build_model(
        splits.input_shape, splits.num_classes,
        steps_per_epoch=task.steps_per_epoch(splits, recipe.batch_size),
        precision=precision, **splits.model_arguments)


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
