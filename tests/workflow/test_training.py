"""The training workflow: artifacts, test split once, NaN, resume, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from kerakit.cli import main
from kerakit.data.datasets import load_dataset
from kerakit.data.splits import DataError
from kerakit.data.splits import split_raw
from kerakit.workflow import recipes
from kerakit.workflow import schema
from kerakit.workflow import training
from kerakit.workflow.inference import evaluate_run
from kerakit.workflow.inference import predict

# Small but real: 300 digits -> 60 test, 24 validation, 216 training.
FAST = {"epochs": 2, "dataset.limit": 300, "batch_size": 32}


def test_load_splits_are_deterministic_and_disjoint():
    recipe = recipes.load_recipe("lenet_digits", {"dataset.limit": 300})
    a, b = training.load_splits(recipe), training.load_splits(recipe)
    np.testing.assert_array_equal(a.test[0], b.test[0])
    assert [len(s[0]) for s in (a.train, a.validation, a.test)] == [216, 24,
                                                                     60]
    assert a.input_shape == (32, 32, 1) and a.num_classes == 10
    other = training.load_splits(recipe.with_overrides({"seed": 1}))
    assert not np.array_equal(a.test[1], other.test[1])


def test_default_recipe_end_to_end(tmp_path, monkeypatch, capsys):
    calls = []
    original = keras.Model.evaluate

    def counting(self, x=None, *args, **kwargs):
        calls.append(None if x is None else np.asarray(x).copy())
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "evaluate", counting)
    result = training.train("lenet_digits", tmp_path, verbose=0, **{
        k.replace(".", "__"): v for k, v in FAST.items()})
    splits = training.load_splits(recipes.load_recipe("lenet_digits", FAST))
    test_x = splits.test[0]
    on_test = [c for c in calls if c is not None and c.shape == test_x.shape
               and np.array_equal(c, test_x)]
    assert len(on_test) == 1  # the test split is evaluated exactly once

    for name in ("recipe.json", "environment.json", "history.csv",
                 "history.json", "metrics.json", "best.keras",
                 "learning_curves.png", "preprocessing.json", "state.json"):
        assert (tmp_path / name).is_file(), name
    assert any((tmp_path / "tensorboard").rglob("events.out.tfevents*"))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == result.metrics
    assert metrics["backend"] == keras.backend.backend()
    assert 1 <= metrics["best_epoch"] <= 2 and metrics["epochs_run"] == 2
    assert set(metrics["test"]) == {"loss", "accuracy"}
    assert set(metrics["validation"]) == {"loss", "accuracy"}
    assert metrics["examples"] == {"train": 216, "validation": 24,
                                   "test": 60}
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 3
    resolved = json.loads((tmp_path / "recipe.json").read_text())
    assert resolved["epochs"] == 2 and resolved["overrides"]["epochs"] == 2
    env = json.loads((tmp_path / "environment.json").read_text())
    assert env["backend"] == keras.backend.backend() and env["seed"] == 0
    assert env["packages"]["keras"] == keras.__version__
    assert len(result.history["val_loss"]) == 2

    # The restored model is the best one, and predict uses the same steps.
    best = keras.saving.load_model(tmp_path / "best.keras", compile=False)
    np.testing.assert_allclose(best.predict(test_x[:4], verbose=0),
                               result.model.predict(test_x[:4], verbose=0),
                               rtol=1e-5, atol=1e-5)
    raw = split_raw(load_dataset({"name": "digits", "limit": 300}), {},
                    0)[2][0]
    out = predict(tmp_path, raw[:5])
    expected = best.predict(test_x[:5], verbose=0).argmax(-1).tolist()
    assert out["classes"] == expected
    probs = out["probabilities"]
    assert probs.shape == (5, 10)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert out["classes"] == probs.argmax(-1).tolist()
    assert out["class_names"] == [str(c) for c in out["classes"]]

    # The CLI prints `index, class name, its probability` per input.
    np.save(tmp_path / "x.npy", raw[:3])
    capsys.readouterr()
    assert main(["predict", str(tmp_path), str(tmp_path / "x.npy")]) == 0
    # Compared with the same batch through `predict`: a batch of another
    # size may round differently in the last digit printed.
    assert _printed_rows(capsys) == _rows(predict(tmp_path, raw[:3]))
    assert main(["predict", str(tmp_path), str(tmp_path / "x.npy"),
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["classes"] == out["classes"][:3]
    assert printed["class_names"] == out["class_names"][:3]
    np.testing.assert_allclose(printed["probabilities"], probs[:3],
                               atol=1e-6)

    # An image file and an .npz go through the same steps as an array. The
    # PNG holds the digit's 0..16 values as 0..255 grey levels, so it reads
    # back as `grey * 16 / 255`: exactly the array predicted for comparison.
    from PIL import Image

    grey = np.round(raw[5, :, :, 0] * (255 / 16)).astype("uint8")
    Image.fromarray(grey).save(tmp_path / "digit.png")
    as_read = (grey.astype("float32") * (16 / 255.0))[None, :, :, None]
    np.savez(tmp_path / "x.npz", x=raw[6:8])
    from_arrays = predict(tmp_path, np.concatenate([as_read, raw[6:8]]))
    from_files = predict(tmp_path, [tmp_path / "digit.png",
                                    tmp_path / "x.npz"])
    assert from_files["classes"] == from_arrays["classes"]
    np.testing.assert_allclose(from_files["probabilities"],
                               from_arrays["probabilities"], atol=1e-6)
    assert main(["predict", str(tmp_path), str(tmp_path / "digit.png"),
                 str(tmp_path / "x.npz")]) == 0
    assert _printed_rows(capsys) == _rows(from_arrays)

    # `evaluate` prints the test metrics as JSON.
    assert main(["evaluate", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    again = evaluate_run(tmp_path)
    assert set(printed) == set(again) == {"loss", "accuracy"}
    # Two evaluations of the same weights on the same data: equal up to
    # float rounding in the reloaded model's kernels.
    assert printed == pytest.approx(again, rel=1e-6, abs=1e-7)
    assert again == pytest.approx(metrics["test"], rel=1e-6, abs=1e-6)

    # Running the same command again returns the finished run.
    again = training.train("lenet_digits", tmp_path, verbose=0, **{
        k.replace(".", "__"): v for k, v in FAST.items()})
    assert again.metrics == metrics


def _rows(out):
    """What `kerakit predict` prints for classification predictions."""
    probs = out["probabilities"]
    return [[str(i), name, f"{probs[i, c]:.4f}"] for i, (c, name) in
            enumerate(zip(out["classes"], out["class_names"]))]


def _printed_rows(capsys):
    return [line.split("\t") for line in
            capsys.readouterr().out.strip().splitlines()]


def test_nan_loss_stops_with_a_clear_message(tmp_path, monkeypatch):
    # A loss that is NaN by construction: the same on every backend and CPU
    # (inputs that overflow to inf now fail when the data loads).
    def nan_loss(y_true, y_pred):
        return keras.ops.mean(y_pred) * float("nan")

    monkeypatch.setattr(schema, "make_loss", lambda spec: nan_loss)
    with pytest.raises(training.TrainingError,
                       match="NaN.*diverged.*learning_rate") as info:
        training.train("mlp_digits", tmp_path, verbose=0, epochs=3,
                       dataset__limit=100)
    assert "No epoch finished" in str(info.value)
    assert "best.keras" not in str(info.value)  # none was written
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["status"] == "diverged" and state["epoch"] == 0


def test_inputs_that_overflow_in_preprocessing_fail_before_training(
        tmp_path):
    with pytest.raises(DataError, match="after preprocessing.*rescale"):
        training.train("mlp_digits", tmp_path / "run", verbose=0,
                       epochs=3, dataset__limit=100,
                       preprocessing__rescale=1e38,
                       preprocessing__standardize=False)
    assert not (tmp_path / "run").exists()  # nothing left behind


def test_early_stopping(tmp_path):
    result = training.train("mlp_digits", tmp_path, verbose=0, epochs=6,
                            patience=1, dataset__limit=100,
                            optimizer__learning_rate=0.0)
    assert result.metrics["stopped_early"] is True
    assert result.metrics["epochs_run"] == 2
    assert result.metrics["best_epoch"] == 1


def test_run_dir_of_other_settings_is_refused(tmp_path):
    training.train("mlp_digits", tmp_path, verbose=0, epochs=1,
                   dataset__limit=100)
    with pytest.raises(training.TrainingError, match="different settings"):
        training.train("mlp_digits", tmp_path, verbose=0, epochs=2,
                       dataset__limit=100)
    assert (tmp_path / "state.json").is_file()
    with pytest.raises(ValueError, match="Cannot carve"):
        training.train("mlp_digits", tmp_path, verbose=0, epochs=2,
                       dataset__limit=100, restart=True,
                       dataset__test_fraction=0.0)
    # The data is checked before a restart clears anything: a restart that
    # cannot run keeps the previous run.
    assert (tmp_path / "state.json").is_file()
    training.train("mlp_digits", tmp_path, verbose=0, epochs=2,
                   dataset__limit=100, restart=True)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 2 and state["resumed_from"] == []


def test_default_run_dir_is_stable(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAKIT_RUNS_DIR", str(tmp_path))
    a = training.default_run_dir(recipes.load_recipe("lenet_digits"))
    b = training.default_run_dir(recipes.load_recipe("lenet_digits"))
    c = training.default_run_dir(recipes.load_recipe("lenet_digits",
                                                     {"epochs": 3}))
    assert a == b != c and a.parent == tmp_path
    assert keras.backend.backend() in a.name


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT],
                         ids=["kill", "ctrl_c"])
def test_resume_after_interrupt(sig, tmp_path):
    """Stop a training process after an epoch (SIGKILL, or SIGINT as Ctrl-C
    sends); the same command resumes from the last finished epoch."""
    epochs = 4
    sets = {"epochs": epochs, "dataset.limit": 300, "batch_size": 16}
    argv = [sys.executable, "-m", "kerakit", "train", "lenet_digits",
            "--run-dir", str(tmp_path), "--quiet"]
    for key, value in sets.items():
        argv += ["--set", f"{key}={value}"]
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    # A terminal's Ctrl-C reaches a foreground process whose SIGINT is not
    # ignored; pytest-xdist workers ignore it, and children inherit that.
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    state_file = tmp_path / "state.json"
    # Wait for the event (an epoch finished, or the process ended), not for
    # a clock: a hung process is stopped by pytest-timeout.
    try:
        while proc.poll() is None:
            if state_file.exists():
                state = json.loads(state_file.read_text())
                if state["epoch"] >= 1:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, "training ended before it was stopped"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err[-2000:]
        assert "run the same command again" in err
    killed_at = json.loads(state_file.read_text())["epoch"]
    assert 1 <= killed_at < epochs
    result = training.train("lenet_digits", tmp_path, verbose=0, **sets)
    assert result.metrics["resumed_from"] == [killed_at]
    assert result.metrics["epochs_run"] == epochs
    assert len(result.history["loss"]) == epochs
    # The optimizer state (step count, moments) came back with the weights.
    steps = -(-216 // 16)
    assert int(result.model.optimizer.iterations) == epochs * steps
    assert (tmp_path / "best.keras").is_file()


def _mock_tfds(recipe):
    if not recipe.dataset["name"].startswith("tfds:"):
        return None
    # A required dependency (pyproject): a broken install fails, not skips.
    import tensorflow_datasets as tfds

    return tfds.testing.mock_data(num_examples=12)


@pytest.mark.parametrize("name", recipes.list_recipes())
def test_every_shipped_recipe_runs_one_short_epoch(name, tmp_path):
    # TensorFlow runs these 3-step smoke tests eagerly: tracing a full-size
    # model costs minutes there. Eager JAX is far slower than its jit, and
    # torch is eager anyway.
    eager = keras.backend.backend() == "tensorflow"
    recipe = recipes.load_recipe(name, {"epochs": 1, "dataset.limit": 12,
                                        "batch_size": 4,
                                        "run_eagerly": eager})
    if recipe.dataset["name"].startswith("planetoid:"):
        # Small files in the real Planetoid format stand in for Cora's.
        from graph_files import write_planetoid

        write_planetoid(tmp_path / "cora", num_features=12)
        recipe = recipe.with_overrides(
            {"dataset.name": f"planetoid:{tmp_path / 'cora'}"})
        tmp_path = tmp_path / "run"
    if recipe.task == "reinforcement_learning":  # episodes, not examples
        recipe = recipe.with_overrides({
            "agent.steps_per_epoch": 50, "dataset.validation_episodes": 1,
            "dataset.test_episodes": 1})
    mock = _mock_tfds(recipe)
    if mock is None:
        result = training.train(recipe, tmp_path, verbose=0)
    else:
        with mock:
            result = training.train(recipe, tmp_path, verbose=0)
    test = result.metrics["test"]
    assert np.isfinite(test["loss"] if "loss" in test else test["return"])
    assert (tmp_path / "best.keras").is_file()


def test_ctrl_c_stops_training_between_steps_and_restores_the_handler():
    # pytest-xdist workers ignore SIGINT; a terminal's process has Python's
    # default handler, which is what the workflow replaces while training.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with training._InterruptBetweenSteps() as ctrl_c:
            ctrl_c.on_train_batch_end(0)  # nothing asked: training goes on
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)  # the handler runs, and only sets the flag
            assert ctrl_c.requested
            with pytest.raises(KeyboardInterrupt):
                ctrl_c.on_train_batch_end(1)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
