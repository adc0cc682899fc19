"""Hyper-parameter tuning of a recipe with KerasTuner.

`tune("lenet_digits")` loads a search space (a `tuning/*.toml` file, or the
recipe's learning rate, batch size and depth knob when no file exists), runs
a KerasTuner search on the training split with the validation split as the
objective, writes a results table, the best hyper-parameters and a plot, and
retrains the best configuration with the full recipe workflow. The test
split is never touched during the search. See `kerakit.tuning.space` for
the file format and the hyper-parameter names.

Files under the tuning directory:
`search/` (KerasTuner's project: trials, oracle state; reused to resume),
`space.json`, `results.csv`, `best_hyperparameters.json`,
`objective_vs_hyperparameters.png` and `best_run/` (the retrained run).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from kerakit.tuning import space as ss
from kerakit.tuning import report as report_mod
from kerakit.tuning.space import find_space_file
from kerakit.tuning.space import list_spaces
from kerakit.tuning.report import read_space_record
from kerakit.tuning.report import write_space_record
from kerakit.tuning.space import SearchSpace

PROJECT = "search"


def load_space(ref: Any, overrides: dict[str, Any] | None = None
               ) -> SearchSpace:
    """Load a search space from a space file, a recipe name/path or Recipe.

    Every hyper-parameter name, range and registry knob is checked here,
    before any trial runs.

    Args:
        ref: Space name or file (`tuning/*.toml`), recipe name or file, or
            a `Recipe` (then the automatic space is used).
        overrides: Dotted recipe overrides applied first, e.g.
            `{"epochs": 1}`.

    Returns:
        A checked `SearchSpace`.

    Example:
    >>> space = load_space("mlp_digits")
    >>> [p.name for p in space.params][:2]
    ['model_kwargs.num_layers', 'model_kwargs.hidden_dim']
    """
    from kerakit.workflow import recipes

    overrides = dict(overrides or {})
    space_file = None
    if not isinstance(ref, recipes.Recipe):
        space_file = find_space_file(ref)
    if space_file is None:
        recipe = recipes.load_recipe(ref, overrides)
        params = ss.auto_space(recipe, source=f"recipe {recipe.name!r}")
        ss.check_params(recipe, params, f"recipe {recipe.name!r}")
        return SearchSpace(recipe.name, recipe, tuple(params))
    data = ss.read_space_file(space_file)
    recipe_ref = data["recipe"]
    beside = space_file.parent / str(recipe_ref)
    if beside.suffix == ".toml" and beside.is_file():
        recipe_ref = beside
    recipe = recipes.load_recipe(
        recipe_ref, {**data.get("overrides", {}), **overrides})
    params = ss.space_params(recipe, data, str(space_file))
    ss.check_params(recipe, params, str(space_file))
    tuner = data.get("tuner", "random")
    check_tuner(tuner)
    return SearchSpace(space_file.stem, recipe, tuple(params),
                       source=str(space_file), tuner=tuner,
                       max_trials=data.get("max_trials", 10))


def check_tuner(name: str) -> str:
    """Raise a clear error unless `name` is a known tuner.

    Example:
    >>> check_tuner("hyperband")
    'hyperband'
    """
    if name not in ss.TUNERS:
        raise ValueError(f"Unknown tuner {name!r}. Choose one of: "
                         f"{', '.join(ss.TUNERS)}.")
    return name


def _hypermodel_base() -> type:
    import keras_tuner

    return keras_tuner.HyperModel


class RecipeHyperModel(_hypermodel_base()):
    """A KerasTuner `HyperModel` made from a search space.

    `build(hp)` applies the hyper-parameter values to the recipe, calls
    `kerakit.build` and compiles through `Recipe.compile`; `fit(hp, ...)`
    takes the batch size from the recipe with `hp` applied and adds the
    recipe's early stopping.

    Args:
        space: The `SearchSpace`.
        input_shape: Model input shape (from the data).
        num_classes: Number of classes (from the data).
        splits: `kerakit.workflow.training.Splits`; when given, `fit` without data
            trains on the recipe's shuffled (and augmented) batches.

    Example:
    >>> import keras_tuner
    >>> space = load_space("mlp_digits")
    >>> hm = RecipeHyperModel(space, (64,), 10)
    >>> hm.recipe_for(keras_tuner.HyperParameters()).batch_size
    32
    """

    def __init__(self, space: SearchSpace, input_shape: Any,
                 num_classes: int | None, splits: Any = None):
        super().__init__(name=space.name)
        self.space = space
        self.input_shape = input_shape
        self.num_classes = num_classes
        self.splits = splits

    def recipe_for(self, hp: Any) -> Any:
        """The recipe with this trial's hyper-parameter values applied."""
        values = {p.name: p.declare(hp) for p in self.space.params}
        return self.space.recipe.with_overrides(values)

    def build(self, hp: Any) -> Any:
        """Build and compile the trial's model (the recipe's by default)."""
        import keras

        import kerakit

        recipe = self.recipe_for(hp)
        keras.utils.set_random_seed(recipe.seed)
        model = kerakit.build(recipe.model, **recipe.model_arguments(
            self.input_shape, self.num_classes))
        steps = None
        if self.splits is not None:
            steps = math.ceil(len(self.splits.train[0]) / recipe.batch_size)
        return recipe.compile(model, steps_per_epoch=steps)

    def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
        """Fit with the trial's batch size and the recipe's early stopping."""
        import keras

        recipe = self.recipe_for(hp)
        if not args and "x" not in kwargs and self.splits is not None:
            # The recipe workflow's batches: shuffled, augmented, seeded.
            epoch = kwargs.get("initial_epoch", 0)
            args = (self.splits.train_batches(recipe.batch_size, recipe.seed,
                                              epoch),)
            kwargs.setdefault("validation_batch_size", recipe.batch_size)
        else:
            kwargs["batch_size"] = recipe.batch_size
        callbacks = list(kwargs.pop("callbacks", []))
        if recipe.patience:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=recipe.monitor, patience=recipe.patience,
                mode=self.space.direction))
        return model.fit(*args, callbacks=callbacks, **kwargs)


def make_tuner(space: SearchSpace, hypermodel: Any, tuner: str,
               directory: str | os.PathLike, max_trials: int | None,
               overwrite: bool = False, report: Any = None) -> Any:
    """Create a KerasTuner tuner (resumes from `directory` unless told).

    Args:
        space: The search space (gives objective, direction and epochs).
        hypermodel: A `RecipeHyperModel`.
        tuner: `"random"`, `"bayesian"`, `"hyperband"` or `"grid"`.
        directory: Tuning directory; the KerasTuner project is `search/`.
        max_trials: Trial budget (caps hyperband too when given).
        overwrite: Start a new search instead of resuming.
        report: Called as `report(trial, seconds)` after each trial.
    """
    import keras_tuner as kt

    _atomic_json_writes()
    classes = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization,
               "hyperband": kt.Hyperband, "grid": kt.GridSearch}
    base = classes[check_tuner(tuner)]
    cls = type(f"Kerakit{base.__name__}", (_Progress, base), {})
    kwargs = dict(hypermodel=hypermodel,
                  objective=kt.Objective(space.objective, space.direction),
                  seed=space.recipe.seed, directory=str(directory),
                  project_name=PROJECT, overwrite=overwrite)
    if tuner == "hyperband":
        kwargs["max_epochs"] = max(2, space.recipe.epochs)
    else:
        kwargs["max_trials"] = max_trials
    result = cls(**kwargs)
    if tuner == "hyperband" and max_trials:
        # HyperbandOracle has no max_trials argument; the base Oracle still
        # stops creating trials once the cap is reached.
        result.oracle.max_trials = max_trials
    result.kerakit_report = report
    return result


def _atomic_json_writes() -> None:
    """Make KerasTuner write its state files atomically.

    KerasTuner writes `oracle.json`, `trial.json` and the tuner file in
    place; a process killed mid-write leaves an empty file and the search
    cannot resume ("Expecting value: line 1 column 1"). Writing to a
    temporary file and renaming it makes a kill at any moment safe.
    """
    from keras_tuner.src import utils

    if getattr(utils.save_json, "kerakit_atomic", False):
        return
    original = utils.save_json

    def save_json(path: Any, obj: Any) -> str:
        if "://" in str(path):  # remote file systems: keep KerasTuner's way
            return original(path, obj)
        text = json.dumps(obj)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        return text

    save_json.kerakit_atomic = True
    utils.save_json = save_json


class _Progress:
    """Tuner mixin: report each finished trial."""

    kerakit_report = None

    def on_trial_begin(self, trial: Any) -> None:
        self._kerakit_start = time.time()
        super().on_trial_begin(trial)

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)
        if self.kerakit_report is not None:
            done = self.oracle.get_trial(trial.trial_id)
            seconds = time.time() - getattr(self, "_kerakit_start", time.time())
            self.kerakit_report(done, seconds)


def run_search(space: SearchSpace, tuner: str, directory: str | os.PathLike,
               max_trials: int | None, overwrite: bool = False,
               verbose: bool = True) -> Any:
    """Run (or resume) the search in this process; returns the tuner.

    With `KERASTUNER_TUNER_ID=chief` and `KERASTUNER_ORACLE_IP/PORT` set,
    this process serves the oracle instead (see `kerakit.tuning.distributed`).
    """
    from kerakit.workflow import training

    # Only the train and validation splits are used; test stays untouched.
    splits = training.load_splits(space.recipe)

    def report(trial: Any, seconds: float) -> None:
        if verbose:
            print(report_mod.trial_line(space, trial, seconds, max_trials),
                  flush=True)

    hypermodel = RecipeHyperModel(space, splits.input_shape,
                                  splits.num_classes, splits)
    search = make_tuner(space, hypermodel, tuner, directory, max_trials,
                        overwrite=overwrite, report=report)
    if os.environ.get("KERASTUNER_TUNER_ID", "").startswith("chief"):
        from kerakit.tuning import distributed as distributed_tuning

        search.oracle.verbose = 0
        search.save()
        distributed_tuning.serve_oracle(search.oracle)
        return search
    search.search(epochs=space.recipe.epochs, verbose=0,
                  validation_data=tuple(splits.validation))
    return search


@dataclasses.dataclass(frozen=True)
class TuneResult:
    """What `tune` returns.

    Attributes:
        directory: The tuning directory.
        space: The `SearchSpace` searched.
        table: One dict per trial (`trial`, `status`, hyper-parameters,
            objective); also in `results.csv`.
        best_hyperparameters: Best values by recipe key (`{}` if no trial
            finished); also in `best_hyperparameters.json`.
        best_value: The best objective value (None if no trial finished).
        run: The `kerakit.train` result of the retrained best configuration
            (None with `retrain=False`).
    """

    directory: Path
    space: SearchSpace
    table: list
    best_hyperparameters: dict
    best_value: float | None
    run: Any = None


def tune(recipe_or_space: Any, *, tuner: str | None = None,
         max_trials: int | None = None,
         directory: str | os.PathLike | None = None, workers: int = 0,
         overrides: dict[str, Any] | None = None, retrain: bool = True,
         overwrite: bool = False, verbose: bool = True) -> TuneResult:
    """Search hyper-parameters of a recipe, then retrain the best setting.

    Args:
        recipe_or_space: A space name or file (`tuning/*.toml`), a recipe
            name or file, or a `Recipe` (automatic space: learning rate,
            batch size and the model's depth knob).
        tuner: `"random"`, `"bayesian"`, `"hyperband"` or `"grid"`
            (default: the space file's, else random).
        max_trials: Number of trials (default: the space file's, else 10;
            Hyperband runs its full schedule unless given).
        directory: Tuning directory (default `runs/tune/<space>_<tuner>`).
            Running again with the same directory resumes the search:
            finished trials are not repeated.
        workers: 0 to search in this process; N to start a chief and N
            worker processes on this machine. Across hosts, run the same
            call on every host with `KERASTUNER_TUNER_ID` (`chief`,
            `tuner0`, ...), `KERASTUNER_ORACLE_IP` and
            `KERASTUNER_ORACLE_PORT` set: workers return an empty result,
            the chief writes the results and retrains.
        overrides: Dotted recipe overrides applied first, e.g.
            `{"epochs": 1}`.
        retrain: Retrain the best configuration with `kerakit.train` into
            `directory/best_run` (best weights, test split evaluated once).
        overwrite: Discard an earlier search in `directory`.
        verbose: Print one line per trial.

    Returns:
        A `TuneResult`.

    Example:
        result = kerakit.tune("lenet_digits", max_trials=8)
        result.best_hyperparameters  # {"optimizer.learning_rate": ...}
    """
    space = load_space(recipe_or_space, overrides)
    tuner = check_tuner(tuner or space.tuner)
    if max_trials is None and tuner != "hyperband":
        max_trials = space.max_trials
    if max_trials is not None and max_trials < 1:
        raise ValueError(f"max_trials must be >= 1. Received: {max_trials}")
    directory = Path(directory or Path("runs", "tune",
                                       f"{space.name}_{tuner}"))
    write_space_record(directory, space, tuner, max_trials, overwrite)
    if verbose:
        names = ", ".join(p.name for p in space.params)
        print(f"tuning {space.recipe.name} with {tuner} search over {names}; "
              f"objective {space.direction} {space.objective}; "
              f"directory {directory}", flush=True)
    role = os.environ.get("KERASTUNER_TUNER_ID") if os.environ.get(
        "KERASTUNER_ORACLE_IP") else None
    if workers and role:
        raise ValueError("KERASTUNER_ORACLE_IP is set, so this process is "
                         f"already the tuner {role!r} of a distributed "
                         "search; drop --workers or unset the variables.")
    if workers:
        from kerakit.tuning import distributed as distributed_tuning

        distributed_tuning.run_distributed(directory, workers, verbose)
    else:
        run_search(space, tuner, directory, max_trials, verbose=verbose)
    if role and not role.startswith("chief"):
        # A worker host: the chief collects the results and retrains.
        return TuneResult(directory, space, [], {}, None, None)
    rows = report_mod.collect(space, directory / PROJECT)
    record = report_mod.write_all(space, directory, rows)
    if record is None:
        raise RuntimeError(f"No trial finished; see the trial messages in "
                           f"{directory / PROJECT}.")
    if verbose:
        print(f"best: {record['hyperparameters']} -> {space.objective}="
              f"{record['value']:.4f} (results in {directory})", flush=True)
    run = None
    if retrain:
        from kerakit.workflow import training

        best = space.recipe.with_overrides(record["hyperparameters"])
        run_dir = directory / "best_run"
        state = run_dir / "state.json"
        # A later, better trial replaces an earlier retrained run.
        restart = state.is_file() and json.loads(state.read_text()).get(
            "fingerprint") != best.fingerprint()
        run = training.train(best, run_dir=run_dir, restart=restart,
                             verbose=2 if verbose else 0)
    return TuneResult(directory, space, rows, record["hyperparameters"],
                      record["value"], run)
