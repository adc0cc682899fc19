"""Hyper-parameter tuning (kerakit.tuning) on the backend of this run.

Tiny data (a capped digits split, one epoch) and two-trial searches keep
this fast; the resume and distributed tests run `kerakit tune` in
subprocesses and kill one with SIGKILL in the middle of a trial. Those wait
on events (a file appearing, a process exiting), never on a clock: a hung
process is left to pytest-timeout, and every process is killed at teardown.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import pytest

import kerakit
from kerakit import cli
from kerakit import tuning
from kerakit.workflow import recipes
from kerakit.workflow import training

TINY = {"epochs": 1, "dataset.limit": 120}
TINY_SET = ["--set", "epochs=1", "--set", "dataset.limit=120"]


def _space_file(tmp_path: Path, body: str, recipe: str = "mlp_digits"
                ) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(f'recipe = "{recipe}"\n{body}')
    return path


def _settings(recipe) -> dict:
    """What a recipe trains with: its fields, factory defaults filled in
    (a tuned recipe names the defaults its space sets)."""
    out = recipe.to_dict()
    for key in ("source", "overrides", "model_kwargs"):
        out.pop(key)
    arguments = dict(kerakit.model_info(recipe.model)["arguments"])
    arguments.update(recipe.model_arguments())
    out["arguments"] = {k: tuple(v) if isinstance(v, list) else v
                        for k, v in arguments.items()}
    return out


def _rows(directory: Path) -> list[dict]:
    with open(directory / "results.csv") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------ spaces
@pytest.mark.parametrize("ref", ["lenet_digits", "mlp_digits"])
def test_default_hyperparameters_reproduce_the_recipe(ref):
    space = tuning.load_space(ref)
    recipe = space.recipe
    shape = (32, 32, 1) if recipe.model == "lenet5" else (64,)
    hypermodel = tuning.RecipeHyperModel(space, shape, 10)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    expected = kerakit.build(recipe.model,
                             **recipe.model_arguments(shape, 10))
    assert model.get_config() == expected.get_config()
    tuned = hypermodel.recipe_for(hp)
    assert tuned.batch_size == recipe.batch_size
    assert tuned.optimizer == recipe.optimizer
    assert _settings(tuned) == _settings(recipe)
    # Compiled through the recipe: its optimizer, learning rate and loss.
    assert type(model.optimizer).__name__.lower() == recipe.optimizer["name"]
    lr = float(np.asarray(model.optimizer.learning_rate))  # at step 0
    assert lr == pytest.approx(recipe.optimizer["learning_rate"], rel=1e-6)
    assert keras.losses.serialize(model.loss)["config"]["name"] == (
        recipe.loss)
    names = [p.name for p in space.params]
    assert "optimizer.learning_rate" in names and "batch_size" in names


def test_auto_space_uses_the_registry_depth_knob():
    mlp = recipes.load_recipe("mlp_digits")
    space = tuning.load_space(mlp)
    depth = {p.name: p for p in space.params}["model_kwargs.num_layers"]
    assert (depth.kind, depth.default) == ("int", 2)
    lr = {p.name: p for p in space.params}["optimizer.learning_rate"]
    assert lr.log and lr.min_value < lr.default < lr.max_value

    # A depth knob that switches registered variants sets `model`.
    resnet = recipes.recipe_from_dict({"name": "r", "model": "resnet18"})
    space = tuning.load_space(resnet)
    param = {p.name: p for p in space.params}["model"]
    assert param.default == "resnet18" and "resnet50" in param.values
    hp = keras_tuner.HyperParameters()
    hypermodel = tuning.RecipeHyperModel(space, (32, 32, 3), 10)
    assert hypermodel.recipe_for(hp).model == "resnet18"
    hp.values["model"] = "resnet34"
    assert hypermodel.recipe_for(hp).model == "resnet34"

    # Tuple-valued knobs (stage depths) survive KerasTuner's scalar choices.
    generic = recipes.recipe_from_dict({"name": "g", "model": "resnet"})
    param = {p.name: p for p in tuning.load_space(generic).params}[
        "model_kwargs.stage_depths"]
    assert param.declare(keras_tuner.HyperParameters()) == param.default


BAD_SPACES = [
    ('[hyperparameters]\n"optimizer.lr" = { min = 1e-4, max = 1e-2 }\n',
     "unknown hyper-parameter 'optimizer.lr'.*optimizer.learning_rate"),
    ('[hyperparameters]\n"model_kwargs.num_layer" = { min = 1, max = 3 }\n',
     "Did you mean 'model_kwargs.num_layers'"),
    ("[hyperparameters]\nbatch_size = { values = [] }\n", "empty range"),
    ('[hyperparameters]\n"optimizer.learning_rate" = '
     "{ min = 1e-2, max = 1e-4 }\n", "empty range"),
    ("[hyperparameters]\nbatch_size = { values = [8, 16] }\n",
     "recipe's value 32 is not among"),
    ('knobs = ["depth", "colour"]\n', "has no 'colour' knob"),
    ('[hyperparameters]\n"optimizer.learning_rate" = '
     "{ min = 0.0, max = 1e-2, log = true }\n", "log range needs min > 0"),
    ('tuner = "annealing"\nknobs = ["depth"]\n', "Unknown tuner"),
]


def test_bad_space_is_rejected_before_any_trial(tmp_path):
    for body, message in BAD_SPACES:
        path = _space_file(tmp_path, body)
        with pytest.raises(ValueError, match=message):
            tuning.tune(path, directory=tmp_path / "run", retrain=False,
                        verbose=False)
        assert not (tmp_path / "run" / tuning.PROJECT).exists()


def test_missing_knob_and_cli_errors_are_plain(tmp_path, capsys):
    path = _space_file(tmp_path, 'knobs = ["block"]\n', recipe="lenet_digits")
    code = cli.main(["tune", str(path), "--dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "'lenet5' has no 'block' knob" in err
    assert "Traceback" not in err
    space = tuning.load_space("mlp_digits")
    tuning.write_space_record(tmp_path, space, "random", 2, False)
    with pytest.raises(ValueError, match="different space"):
        tuning.write_space_record(tmp_path, space, "grid", 2, False)


def test_an_int_range_on_a_log_scale_is_declared():
    param = tuning.HyperParam("model_kwargs.hidden_dim", "int", 32,
                              min_value=8, max_value=256, log=True)
    hp = keras_tuner.HyperParameters()
    assert param.declare(hp) == 32
    assert {param.declare(hp) for _ in range(2)} == {32}
    assert param.checked_values() == (8, 256)


def _baseline(space) -> dict:
    """The values of the recipe itself, as KerasTuner stores them."""
    return {p.name: p.encode(p.default) for p in space.params}


def _searched(trial) -> dict:
    return {k: v for k, v in trial.hyperparameters.values.items()
            if not k.startswith("tuner/")}  # Hyperband's bookkeeping


@pytest.mark.parametrize("tuner", ["random", "bayesian", "hyperband", "grid"])
def test_every_tuner_runs_the_recipe_as_its_first_trial(tmp_path, tuner):
    space = tuning.load_space("lenet_digits")
    hypermodel = tuning.RecipeHyperModel(space, (32, 32, 1), 10)
    search = tuning.make_tuner(space, hypermodel, tuner, tmp_path, 4)
    oracle = search.oracle
    first = oracle.create_trial("tuner0")
    assert _searched(first) == _baseline(space)
    recipe = hypermodel.recipe_for(first.hyperparameters)
    assert _settings(recipe) == _settings(space.recipe)
    # The values of the report (issue 13): the recipe's, not a random draw
    # (lenet_digits leaves dense_widths at the factory's default).
    assert recipe.optimizer["learning_rate"] == 0.002
    assert recipe.model_arguments()["dense_widths"] == tuple(
        kerakit.model_info("lenet5")["arguments"]["dense_widths"])
    assert recipe.model_arguments()["dropout"] == 0.0
    oracle.update_trial(first.trial_id, {"val_loss": 1.0})
    first.status = "COMPLETED"
    oracle.end_trial(first)
    search.save()  # as after each trial of a search
    # Resumed from disk, the search goes on to new points: the baseline
    # never runs twice.
    again = tuning.make_tuner(space, hypermodel, tuner, tmp_path, 4).oracle
    second = again.create_trial("tuner0")
    assert second.trial_id != first.trial_id
    assert _searched(second) != _baseline(space)


# ----------------------------------------------------------------- searches
def test_search_writes_results_and_retrains_the_best(tmp_path, capsys):
    result = kerakit.tune("mlp_digits", max_trials=2, overrides=TINY,
                          directory=tmp_path)
    out = capsys.readouterr().out
    assert "trial 1/2 completed" in out and "trial 2/2 completed" in out
    rows = _rows(tmp_path)
    assert [r["status"] for r in rows] == ["COMPLETED"] * 2
    names = [p.name for p in result.space.params]
    assert list(rows[0]) == ["trial", "status", *names, "val_loss"]
    # The first trial is the recipe itself: the baseline to beat.
    assert {n: result.table[0][n] for n in names} == {
        p.name: p.default for p in result.space.params}
    best = json.loads((tmp_path / "best_hyperparameters.json").read_text())
    assert best["objective"] == "val_loss" and best["direction"] == "min"
    assert best["value"] == min(float(r["val_loss"]) for r in rows)
    assert set(best["hyperparameters"]) == set(names)
    assert result.best_hyperparameters == best["hyperparameters"]
    assert (tmp_path / "objective_vs_hyperparameters.png").stat().st_size
    run = result.run
    assert run.run_dir == tmp_path / "best_run"
    assert "accuracy" in run.metrics["test"]
    retrained = json.loads((run.run_dir / "recipe.json").read_text())
    assert retrained["batch_size"] == best["hyperparameters"]["batch_size"]


class _Untouchable:
    """A test split that fails the test on any use."""

    def __getattr__(self, name):
        raise AssertionError("the test split was used during the search")

    def __iter__(self):
        raise AssertionError("the test split was used during the search")

    def __getitem__(self, index):
        raise AssertionError("the test split was used during the search")

    def __len__(self):
        raise AssertionError("the test split was used during the search")


@pytest.mark.parametrize("tuner", ["bayesian", "hyperband", "grid"])
def test_each_tuner_searches_without_the_test_split(tmp_path, monkeypatch,
                                                     tuner):
    load = training.load_splits
    monkeypatch.setattr(training, "load_splits", lambda recipe: (
        dataclasses.replace(load(recipe), test=_Untouchable())))
    result = tuning.tune("mlp_digits", tuner=tuner, max_trials=2,
                         overrides=TINY, directory=tmp_path, retrain=False,
                         verbose=False)
    assert [r["status"] for r in result.table] == ["COMPLETED"] * 2
    params = result.space.params
    assert {p.name: result.table[0][p.name] for p in params} == {
        p.name: p.default for p in params}  # the recipe comes first
    losses = [r["val_loss"] for r in result.table]
    assert all(isinstance(v, float) and v > 0 for v in losses)
    best = min(result.table, key=lambda r: r["val_loss"])
    assert result.best_value == best["val_loss"]  # val_loss is minimised
    assert result.best_hyperparameters == {
        p.name: list(best[p.name]) if isinstance(best[p.name], tuple)
        else best[p.name] for p in params}
    assert result.run is None and not (tmp_path / "best_run").exists()
    if tuner == "hyperband":
        assert all(r["epochs"] >= 1 for r in result.table)


# --------------------------------------------- checked before, failed after
def test_a_value_the_model_rejects_stops_the_search_first(tmp_path, capsys):
    # A range whose upper bound the factory refuses (dropout must be < 1).
    path = _space_file(tmp_path, '[hyperparameters]\n"model_kwargs.dropout"'
                       " = { min = 0.0, max = 1.5 }\n")
    with pytest.raises(ValueError, match=(
            r"'model_kwargs.dropout' value 1.5 is rejected by mlp: "
            r"ValueError: mlp: dropout must be in \[0, 1\)")):
        tuning.tune(path, overrides=TINY, directory=tmp_path / "api",
                    retrain=False, verbose=False)
    assert not (tmp_path / "api").exists()  # nothing written, no trial
    # A choice, from the command line: one line, exit code 2.
    path = _space_file(tmp_path, '[hyperparameters]\n"model_kwargs.dropout"'
                       " = { values = [0.2, 1.5] }\n")
    code = cli.main(["tune", str(path), "--dir", str(tmp_path / "cli"),
                     *TINY_SET])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines() == [
        f"kerakit tune: error: {path}: hyper-parameter "
        "'model_kwargs.dropout' value 1.5 is rejected by mlp: ValueError: "
        "mlp: dropout must be in [0, 1). Received: dropout=1.5 Narrow the "
        "range or drop the value, so that no trial fails on it."]
    assert "trial" not in out and not (tmp_path / "cli").exists()


def _failing_fit(self, hp, model, *args, **kwargs):
    raise RuntimeError("out of memory (simulated)")


def test_a_search_whose_trials_all_fail_raises_and_exits_non_zero(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tuning.RecipeHyperModel, "fit", _failing_fit)
    # Two trials: both fail, no best configuration.
    with pytest.raises(RuntimeError, match=(
            r"^No trial finished: 2 failed, trial 1 with RuntimeError: out "
            r"of memory \(simulated\) \(tracebacks: ")):
        tuning.tune("mlp_digits", max_trials=2, overrides=TINY,
                    directory=tmp_path / "two", verbose=False)
    assert not (tmp_path / "two" / "best_run").exists()
    # KerasTuner's own stop after three failures in a row, from the CLI.
    code = cli.main(["tune", "mlp_digits", "--max-trials", "5", "--dir",
                     str(tmp_path / "five"), *TINY_SET])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines() == [
        "kerakit tune: error: The search stopped: 3 trials failed in a row, "
        "the last with RuntimeError: out of memory (simulated) (tracebacks: "
        f"{tmp_path / 'five' / tuning.PROJECT}/trial_*/trial.json)"]
    failed = [line for line in out.splitlines() if " failed: " in line]
    assert len(failed) == 3 and all(line.endswith(
        "RuntimeError: out of memory (simulated)") for line in failed), out
    assert "Traceback" not in out + err
    trial = json.loads((tmp_path / "five" / tuning.PROJECT / "trial_0" /
                        "trial.json").read_text())
    assert "Traceback" in trial["message"]  # the full trace is kept


def test_a_tuning_dir_that_is_a_file_is_refused_in_one_line(tmp_path,
                                                            capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    for directory, where in ((notes, "is"),
                             (notes / "sub", f"lies inside {notes},")):
        code = cli.main(["tune", "mlp_digits", "--dir", str(directory),
                         "--max-trials", "1", *TINY_SET])
        out, err = capsys.readouterr()
        assert code == 2
        assert err.strip().splitlines() == [
            f"kerakit tune: error: The tuning directory {directory} {where} "
            "a file, not a directory: choose another --dir (directory=)."]
    with pytest.raises(ValueError, match="is a file, not a directory"):
        tuning.tune("mlp_digits", directory=notes, verbose=False)
    assert notes.read_text() == "mine"


# ------------------------------------------------- resume and distribution
@pytest.fixture
def run_cli(tmp_path):
    """Start `kerakit tune ARGS` in `tmp_path`; output goes to a log file
    (a pipe nobody reads could fill up and block the process)."""
    started = []

    def start(args: list[str]) -> subprocess.Popen:
        env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(),
               "OMP_NUM_THREADS": "1"}
        log = open(tmp_path / f"tune{len(started)}.log", "w+")
        proc = subprocess.Popen(
            [sys.executable, "-m", "kerakit", "tune", *args], cwd=tmp_path,
            env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        proc.log = log
        started.append(proc)
        return proc

    yield start
    for proc in started:  # a failed or timed-out test leaves no process
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.log.close()


def _output(proc: subprocess.Popen) -> str:
    proc.log.flush()
    return Path(proc.log.name).read_text()


def _wait_for(predicate, proc) -> None:
    """Wait until `predicate()` holds; fail if `proc` exits first.

    No deadline: a process that hangs is stopped by pytest-timeout.
    """
    while not predicate():
        if proc.poll() is not None and not predicate():
            pytest.fail(f"exited early ({proc.returncode}):\n"
                        f"{_output(proc)}")
        time.sleep(0.05)


def _finish(proc) -> str:
    """Wait for `proc` to exit; return its output, checking success."""
    proc.wait()
    out = _output(proc)
    assert proc.returncode == 0, out
    return out


def test_killed_search_resumes_without_repeating_trials(tmp_path, run_cli):
    args = ["mlp_digits", "--max-trials", "2", "--dir", "tune",
            "--no-retrain", *TINY_SET]
    proc = run_cli(args)
    project = tmp_path / "tune" / tuning.PROJECT
    # Trial 1 exists once trial 0 has finished: kill in the middle of it.
    _wait_for(lambda: (project / "trial_1" / "trial.json").exists(), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = json.loads((project / "trial_0" / "trial.json").read_text())
    assert first["status"] == "COMPLETED"

    out = _finish(run_cli(args))
    assert "trial 2/2 completed" in out and "trial 1/2" not in out
    rows = _rows(tmp_path / "tune")
    assert [(r["trial"], r["status"]) for r in rows] == [
        ("0", "COMPLETED"), ("1", "COMPLETED")]


def test_chief_and_two_workers_survive_a_killed_worker(tmp_path, run_cli):
    proc = run_cli(["mlp_digits", "--max-trials", "2", "--workers", "2",
                    "--dir", "tune", "--no-retrain", *TINY_SET])
    directory = tmp_path / "tune"
    oracle = directory / tuning.PROJECT / "oracle.json"

    def ongoing():
        try:
            return json.loads(oracle.read_text())["ongoing_trials"]
        except (OSError, ValueError, KeyError):
            return {}

    _wait_for(lambda: ongoing() and (directory / "workers.json").exists(),
              proc)
    victim = sorted(ongoing())[0]
    pid = json.loads((directory / "workers.json").read_text())[victim]
    os.kill(pid, signal.SIGKILL)
    out = _finish(proc)
    assert f"{victim} exited with code -9; restarting" in out
    rows = _rows(directory)
    assert sorted(r["status"] for r in rows) == ["COMPLETED"] * 2
    assert "[tuner" in out  # per-trial progress relayed from the workers


def test_trials_train_in_the_recipes_precision(tmp_path, monkeypatch):
    """A trial fits inside the precision's graph rewrite (TensorFlow's
    onednn_bfloat16); other backends refuse it before anything is written."""
    overrides = {**TINY, "precision": "onednn_bfloat16"}
    if keras.backend.backend() != "tensorflow":
        with pytest.raises(ValueError, match="'mixed_bfloat16'"):
            tuning.tune("mlp_digits", max_trials=1, overrides=overrides,
                        directory=tmp_path / "run", retrain=False,
                        verbose=False)
        assert not (tmp_path / "run").exists()
        return
    import tensorflow as tf

    seen = []
    task_type = type(training.task_of(recipes.load_recipe("mlp_digits")))
    original_fit = task_type.fit

    def recording_fit(self, *args, **kwargs):
        seen.append(tf.config.optimizer.get_experimental_options().get(
            "auto_mixed_precision_onednn_bfloat16", False))
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(task_type, "fit", recording_fit)
    tuning.tune("mlp_digits", max_trials=1, overrides=overrides,
                directory=tmp_path / "run", retrain=False, verbose=False)
    assert seen == [True]
