"""Hyper-parameter tuning of a recipe with KerasTuner.

`tune("lenet_digits")` loads a search space (a `tuning/*.toml` file, or the
recipe's learning rate, batch size and depth knob when no file exists), runs
a KerasTuner search on the training split with the validation split as the
objective, writes a results table, the best hyper-parameters and a plot, and
retrains the best configuration with the full recipe workflow. The test
split is never touched during the search. See `kerakit.tuning.space` for
the file format and the hyper-parameter names.

Every tuner runs the recipe itself (each hyper-parameter at its default) as
its first trial: it is the baseline the search must beat. Every value of the
space is tried on the model factory before that first trial, so a value the
model rejects stops the search at once, in one line.

Files under the tuning directory:
`search/` (KerasTuner's project: trials, oracle state; reused to resume),
`space.json`, `results.csv`, `best_hyperparameters.json`,
`objective_vs_hyperparameters.png` and `best_run/` (the retrained run).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from kerakit.tuning import report as report_mod
from kerakit.tuning import space as ss
from kerakit.tuning.hypermodel import RecipeHyperModel
from kerakit.tuning.hypermodel import check_values
from kerakit.tuning.report import write_space_record
from kerakit.tuning.space import SearchSpace
from kerakit.tuning.space import find_space_file
from kerakit.tuning.tuners import PROJECT
from kerakit.tuning.tuners import check_tuner
from kerakit.tuning.tuners import make_tuner
from kerakit.tuning.tuners import quiet_failures


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


def run_search(space: SearchSpace, tuner: str, directory: str | os.PathLike,
               max_trials: int | None, overwrite: bool = False,
               verbose: bool = True, splits: Any = None,
               check: bool = True) -> Any:
    """Run (or resume) the search in this process; returns the tuner.

    With `KERASTUNER_TUNER_ID=chief` and `KERASTUNER_ORACLE_IP/PORT` set,
    this process serves the oracle instead (see `kerakit.tuning.distributed`).

    Args:
        space: The `SearchSpace`.
        tuner: Tuner name.
        directory: Tuning directory.
        max_trials: Trial budget.
        overwrite: Start a new search instead of resuming.
        verbose: Print one line per trial.
        splits: The recipe's loaded splits (loaded here when `None`).
        check: Try every value of the space first (`check_values`).

    Raises:
        ValueError: A value of the space is rejected by the model.
        RuntimeError: KerasTuner stopped after trials failed in a row; the
            message is one line with the last error.
    """
    from kerakit.workflow import training

    # Only the train and validation splits are used; test stays untouched.
    if splits is None:
        splits = training.load_splits(space.recipe)

    def report(trial: Any, seconds: float) -> None:
        if verbose:
            print(report_mod.trial_line(space, trial, seconds, max_trials),
                  flush=True)

    hypermodel = RecipeHyperModel(space, splits.input_shape,
                                  splits.num_classes, splits)
    if check:
        check_values(space, hypermodel)
    search = make_tuner(space, hypermodel, tuner, directory, max_trials,
                        overwrite=overwrite, report=report)
    if os.environ.get("KERASTUNER_TUNER_ID", "").startswith("chief"):
        from kerakit.tuning import distributed as distributed_tuning

        search.oracle.verbose = 0
        search.save()
        distributed_tuning.serve_oracle(search.oracle)
        return search
    try:
        with quiet_failures():
            search.search(epochs=space.recipe.epochs, verbose=0)
    except RuntimeError as err:
        if "consecutive failures" not in str(err):
            raise
        raise RuntimeError(
            f"The search stopped: "
            f"{search.oracle.max_consecutive_failed_trials} trials failed "
            f"in a row, the last with {report_mod.last_error(str(err))} "
            f"(tracebacks: {Path(directory) / PROJECT}/trial_*/trial.json)"
        ) from None
    return search


def check_directory(directory: str | os.PathLike) -> Path:
    """Refuse a tuning directory that is, or lies inside, a regular file.

    Example:
    >>> check_directory("runs/tune/lenet").name
    'lenet'
    """
    directory = Path(directory)
    for path in (directory, *directory.parents):
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                where = "is" if path == directory else f"lies inside {path},"
                raise ValueError(
                    f"The tuning directory {directory} {where} a file, not "
                    "a directory: choose another --dir (directory=).")
            break
    return directory


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

    Raises:
        ValueError: The space, a value of it, the data or the directory is
            wrong (all checked before the first trial).
        RuntimeError: No trial finished (every trial failed); the message
            gives the first error in one line.

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
    directory = check_directory(directory or Path(
        "runs", "tune", f"{space.name}_{tuner}"))
    role = os.environ.get("KERASTUNER_TUNER_ID") if os.environ.get(
        "KERASTUNER_ORACLE_IP") else None
    if workers and role:
        raise ValueError("KERASTUNER_ORACLE_IP is set, so this process is "
                         f"already the tuner {role!r} of a distributed "
                         "search; drop --workers or unset the variables.")
    from kerakit.precision import check_backend
    from kerakit.precision import resolve_precision
    from kerakit.workflow import training

    check_backend(resolve_precision(space.recipe.precision))
    # The data is checked, and every value of the space tried on the model,
    # before anything is written.
    splits = training.load_splits(space.recipe)
    check_values(space, RecipeHyperModel(space, splits.input_shape,
                                         splits.num_classes, splits))
    try:
        write_space_record(directory, space, tuner, max_trials, overwrite)
    except OSError as err:
        raise ValueError(f"Cannot use the tuning directory {directory}: "
                         f"{err.strerror or err}.") from None
    if verbose:
        names = ", ".join(p.name for p in space.params)
        print(f"tuning {space.recipe.name} with {tuner} search over {names}; "
              f"objective {space.direction} {space.objective}; "
              f"directory {directory}", flush=True)
    if workers:
        from kerakit.tuning import distributed as distributed_tuning

        del splits  # each worker loads its own
        distributed_tuning.run_distributed(directory, workers, verbose)
    else:
        run_search(space, tuner, directory, max_trials, verbose=verbose,
                   splits=splits, check=False)
    if role and not role.startswith("chief"):
        # A worker host: the chief collects the results and retrains.
        return TuneResult(directory, space, [], {}, None, None)
    rows = report_mod.collect(space, directory / PROJECT)
    record = report_mod.write_all(space, directory, rows)
    if record is None:
        raise RuntimeError(report_mod.no_trial_message(directory / PROJECT))
    if verbose:
        print(f"best: {record['hyperparameters']} -> {space.objective}="
              f"{record['value']:.4f} (results in {directory})", flush=True)
    run = None
    if retrain:
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
