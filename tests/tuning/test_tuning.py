"""Hyper-parameter tuning (kerakit.tuning) on the backend of this run.

Tiny data (a capped digits split, one epoch) and two-trial searches keep
this fast; the resume and distributed tests run `kerakit tune` in
subprocesses and kill one with SIGKILL in the middle of a trial.
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
import pytest

import kerakit
from kerakit import cli
from kerakit.workflow import recipes
from kerakit.workflow import training
from kerakit import tuning

TINY = {"epochs": 1, "dataset.limit": 120}
TINY_SET = ["--set", "epochs=1", "--set", "dataset.limit=120"]


def _space_file(tmp_path: Path, body: str, recipe: str = "mlp_digits"
                ) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(f'recipe = "{recipe}"\n{body}')
    return path


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
    assert model.optimizer is not None  # compiled through the recipe
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
    with pytest.raises(ValueError, match="different space"):
        tuning.write_space_record(tmp_path, tuning.load_space("mlp_digits"),
                                  "random", 2, False)
        tuning.write_space_record(tmp_path, tuning.load_space("mlp_digits"),
                                  "grid", 2, False)


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
    assert result.best_value is not None and result.run is None
    if tuner == "hyperband":
        assert all("epochs" in r for r in result.table)


# ------------------------------------------------- resume and distribution
def _cli(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(),
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "kerakit", "tune", *args], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(predicate, proc, timeout=900.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"exited early ({proc.returncode}):\n"
                        f"{proc.stdout.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out:\n{proc.stdout.read()}")


def _finish(proc, timeout=900.0) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def test_killed_search_resumes_without_repeating_trials(tmp_path):
    args = ["mlp_digits", "--max-trials", "2", "--dir", "tune",
            "--no-retrain", *TINY_SET]
    proc = _cli(args, tmp_path)
    project = tmp_path / "tune" / tuning.PROJECT
    # Trial 1 exists once trial 0 has finished: kill in the middle of it.
    _wait_for(lambda: (project / "trial_1" / "trial.json").exists(), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = json.loads((project / "trial_0" / "trial.json").read_text())
    assert first["status"] == "COMPLETED"

    out = _finish(_cli(args, tmp_path))
    assert "trial 2/2 completed" in out and "trial 1/2" not in out
    rows = _rows(tmp_path / "tune")
    assert [(r["trial"], r["status"]) for r in rows] == [
        ("0", "COMPLETED"), ("1", "COMPLETED")]


def test_chief_and_two_workers_survive_a_killed_worker(tmp_path):
    proc = _cli(["mlp_digits", "--max-trials", "2", "--workers", "2",
                 "--dir", "tune", "--no-retrain", *TINY_SET], tmp_path)
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
