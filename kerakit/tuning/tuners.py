"""KerasTuner tuners for kerakit searches.

`make_tuner` creates a random, Bayesian, Hyperband or grid tuner whose
oracle runs the recipe itself as the first trial (`_BaselineFirst`), writes
its state files atomically, and reports each finished trial in one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

from kerakit.tuning import space as ss
from kerakit.tuning.space import SearchSpace

PROJECT = "search"


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
    if isinstance(result.oracle, kt.Oracle):  # not a distributed worker's
        _baseline_first(result.oracle)
    if tuner == "hyperband" and max_trials:
        # HyperbandOracle has no max_trials argument; the base Oracle still
        # stops creating trials once the cap is reached.
        result.oracle.max_trials = max_trials
    result.kerakit_report = report
    return result


class _BaselineFirst:
    """Oracle mixin: the first random draw is the recipe itself.

    Random search, the initial points of Bayesian optimisation and every
    Hyperband bracket draw through `Oracle._random_values`; returning the
    defaults (the recipe's values) while they are untried makes the recipe
    the first trial of every tuner (Hyperband trains it for its bracket's
    epochs). Grid search already starts from the defaults. A resumed search
    remembers what it tried, so the baseline never runs twice.
    """

    def _random_values(self) -> dict[str, Any] | None:
        import keras_tuner

        defaults = keras_tuner.HyperParameters()
        for hp in self.hyperparameters.space:  # as the base class walks it
            defaults.merge([hp])
            if defaults.is_active(hp):
                defaults.values[hp.name] = hp.default
        if defaults.values and not self._duplicate(defaults.values):
            return defaults.values
        return super()._random_values()


def _baseline_first(oracle: Any) -> None:
    """Give `oracle` the `_BaselineFirst` behaviour (the tuner makes the
    oracle itself, so the mixin is added to its class afterwards)."""
    base = type(oracle)
    if not issubclass(base, _BaselineFirst):
        oracle.__class__ = type(f"Kerakit{base.__name__}",
                                (_BaselineFirst, base), {})


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
        try:
            super().on_trial_end(trial)
        finally:  # also when KerasTuner stops after failed trials
            if self.kerakit_report is not None:
                done = self.oracle.get_trial(trial.trial_id)
                seconds = time.time() - getattr(self, "_kerakit_start",
                                                time.time())
                self.kerakit_report(done, seconds)


@contextlib.contextmanager
def quiet_failures() -> Iterator[None]:
    """Keep KerasTuner from printing a traceback per failed trial.

    Each failed trial gets one progress line with its error instead; the
    full traceback stays in its `trial.json` (`message`).

    Example:
    >>> from keras_tuner.src import config
    >>> with quiet_failures():
    ...     config.DEBUG
    False
    """
    from keras_tuner.src import config

    debug, config.DEBUG = config.DEBUG, False
    try:
        yield
    finally:
        config.DEBUG = debug
