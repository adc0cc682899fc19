"""The task interface: registry, defaults, and each task's own behaviour."""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

import kerakit
from kerakit.cli import main
from kerakit.tasks import Task
from kerakit.tasks import default_task
from kerakit.tasks import get_task
from kerakit.tasks import list_tasks
from kerakit.tasks import register_task
from kerakit.workflow import training
from kerakit.workflow.inference import predict
from kerakit.workflow.recipes import RecipeError
from kerakit.workflow.recipes import load_recipe
from kerakit.workflow.recipes import recipe_from_dict


def test_the_built_in_tasks_are_listed():
    assert kerakit.list_tasks() == list_tasks() == [
        "classification", "contrastive_image_text", "generative",
        "graph_classification", "image_text_matching", "language_modeling",
        "masked_language_modeling", "node_classification", "reconstruction",
        "regression", "reinforcement_learning", "seq2seq",
        "speech_recognition", "text_classification", "text_to_text",
        "visual_question_answering"]


def test_lazy_facade_names_work_in_a_fresh_process():
    # In this process kerakit.tasks is long imported; a fresh one reaches
    # the facade's lazy lookup first (it once recursed forever).
    code = ("import kerakit; print(kerakit.list_tasks()[0], "
            "kerakit.tasks.get_task('classification').name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    assert out.split() == ["classification", "classification"]


def test_kerakit_tasks_prints_one_line_each(capsys):
    assert main(["tasks"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list_tasks()
    assert all(len(line.split(None, 1)[1]) > 10 for line in lines)


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ValueError, match="Did you mean 'regression'.*"
                       "classification, contrastive_image_text, generative"):
        get_task("regresion")
    with pytest.raises(RecipeError, match="field 'task'.*seq2seq"):
        load_recipe("lenet_digits", {"task": "ranking"})


def test_registering_twice_is_refused():
    class Again(Task):
        name = "classification"

    with pytest.raises(ValueError, match="already registered"):
        register_task(Again)


@pytest.mark.parametrize("model, kwargs, task", [
    ("lenet5", None, "classification"), ("lstm", None, "classification"),
    ("mlp_regressor", None, "regression"),
    ("mlp", {"task": "regression"}, "regression"),
    ("autoencoder", None, "reconstruction"), ("gan", None, "generative"),
    ("vae", None, "generative"), ("seq2seq", None, "seq2seq"),
])
def test_default_task_comes_from_the_registry(model, kwargs, task):
    assert default_task(model, kwargs) == task


def test_task_defaults_fill_a_recipe():
    recipe = recipe_from_dict({"name": "r", "model": "mlp_regressor"})
    assert recipe.task == "regression"
    assert recipe.loss == "mean_squared_error"
    assert recipe.monitor == "val_loss"
    assert list(recipe.metrics) == ["mean_absolute_error"]
    # Shipped recipes name their task.
    for name in ("lenet_digits", "autoencoder_digits", "gan_digits",
                 "seq2seq_reversal"):
        assert load_recipe(name).task == default_task(load_recipe(name).model)


def test_regression_runs_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3)).astype("float32")
    y = (x @ np.array([1.5, -2.0, 0.5]) + 0.25).astype("float32")
    np.savez(tmp_path / "r.npz", x_train=x, y_train=y)
    recipe = recipe_from_dict({
        "name": "reg", "model": "mlp_regressor", "epochs": 3,
        "batch_size": 16, "dataset": {"name": f"npz:{tmp_path / 'r.npz'}"},
        "model_kwargs": {"num_layers": 1, "hidden_dim": 16},
        "optimizer": {"learning_rate": 0.01}})
    result = training.train(recipe, tmp_path / "run", verbose=0)
    assert result.metrics["task"] == "regression"
    assert set(result.metrics["test"]) == {"loss", "mean_absolute_error"}
    splits = training.load_splits(recipe)
    # Real-valued targets are never cast to class ids.
    assert splits.train[1].dtype == np.float32
    assert not np.all(np.mod(splits.train[1], 1) == 0)
    out = predict(tmp_path / "run", x[:4])
    assert set(out) == {"values"} and out["values"].shape == (4, 1)
    expected = result.model.predict(
        splits.preprocessor.transform(x[:4]), verbose=0)
    np.testing.assert_allclose(out["values"], expected, rtol=1e-5,
                               atol=1e-5)


def test_classification_predictions_are_softmax_argmax():
    task = get_task("classification")
    logits = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]], "float32")
    out = task.predict_logits(logits, ["a", "b", "c"])
    np.testing.assert_allclose(out["probabilities"].sum(-1), 1.0, rtol=1e-6)
    assert out["classes"] == [1, 0] and out["class_names"] == ["b", "a"]
    lines = task.describe_predictions(out)
    assert lines[0].split("\t")[:2] == ["0", "b"]
    assert float(lines[0].split("\t")[2]) == pytest.approx(
        out["probabilities"][0, 1], abs=1e-4)


def test_reconstruction_and_seq2seq_pack_their_targets():
    x = np.arange(6.0).reshape(2, 3)
    packed = get_task("reconstruction").fit_data(x, None)
    assert packed[0] is x and packed[1] is x
    assert get_task("generative").fit_data(x, None) == (x,)
    y = np.array([[5, 4, 2], [6, 3, 2]])
    inputs, target = get_task("seq2seq").fit_data(x, y)
    assert inputs["target_in"].tolist() == [[1, 5, 4], [1, 6, 3]]
    assert target is y or (target == y).all()


class _OwnLoopTask(Task):
    """A task that runs its own loop (as an RL agent would) and reports one
    evaluation per period through the workflow's callbacks."""

    name = "own_loop"
    description = "test only: a hand-written training loop"
    defaults = {"loss": "mean_squared_error", "metrics": [],
                "monitor": "val_loss"}
    # The validation losses the loop reports, period by period: the best is
    # period 2, then no improvement, so patience 2 stops after period 4.
    reported = [0.9, 0.5, 0.7, 0.8, 0.1, 0.1]

    def encode_labels(self, preprocessor, y):
        return np.asarray(y, "float32")[:, None]

    def fit(self, model, splits, *, batch_size, seed, epochs, initial_epoch,
            callbacks, verbose="auto", run_dir=None):
        x, y = self.fit_data(*splits.train)
        callbacks = keras.callbacks.CallbackList(callbacks, model=model)
        callbacks.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            callbacks.on_epoch_begin(epoch)
            loss = model.train_on_batch(x[:batch_size], y[:batch_size])
            callbacks.on_epoch_end(epoch, {
                "loss": float(np.asarray(loss).reshape(-1)[0]),
                "val_loss": self.reported[epoch]})
            if model.stop_training:
                break
        callbacks.on_train_end()


def test_a_task_that_owns_its_loop_gets_the_workflow(tmp_path,
                                                     monkeypatch):
    from kerakit import tasks

    monkeypatch.setitem(tasks._TASKS, "own_loop", _OwnLoopTask())
    recipe = recipe_from_dict({
        "name": "loop", "model": "mlp_regressor", "task": "own_loop",
        "epochs": 6, "patience": 2, "batch_size": 16,
        "model_kwargs": {"num_layers": 1, "hidden_dim": 4},
        "dataset": {"name": "digits", "limit": 60}})
    result = training.train(recipe, tmp_path, verbose=0)
    # Best weights on the monitor, early stopping, the history and the
    # single test evaluation all came from the workflow.
    assert result.metrics["best_epoch"] == 2
    assert result.metrics["best_value"] == 0.5
    assert result.metrics["stopped_early"] is True
    assert result.metrics["epochs_run"] == 4
    assert result.history["val_loss"] == [0.9, 0.5, 0.7, 0.8]
    assert set(result.metrics["test"]) == {"loss"}
    assert (tmp_path / "best.keras").is_file()
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["status"] == "finished" and state["epoch"] == 4
