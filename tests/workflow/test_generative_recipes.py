"""Recipes beyond (x, label): autoencoder, VAE, GAN and seq2seq (issue 7)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kerakit.workflow import recipes
from kerakit.workflow import training
from kerakit.workflow.recipes import RecipeError

# The module-scoped fixtures below are costly: keep these tests on one
# pytest-xdist worker so they are built once (tests/run_backends.sh).
pytestmark = pytest.mark.xdist_group("generative_recipes")

# A few seconds each: 120 examples -> 24 test, 10 validation, 86 training.
FAST = {"epochs": 2, "dataset.limit": 120, "batch_size": 32}
GENERATIVE = ["autoencoder_digits", "vae_digits", "gan_digits",
              "seq2seq_reversal"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train each recipe once per module (FAST settings); return a getter."""
    cache = {}

    def get(name):
        if name not in cache:
            run_dir = tmp_path_factory.mktemp(name)
            recipe = recipes.load_recipe(name, FAST)
            cache[name] = training.train(recipe, run_dir, verbose=0)
        return cache[name]

    return get


@pytest.mark.parametrize("name", GENERATIVE)
def test_recipe_runs_end_to_end(name, trained):
    result = trained(name)
    tmp_path = result.run_dir
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == result.metrics
    assert metrics["epochs_run"] == 2
    assert np.isfinite(metrics["test"]["loss"])
    assert np.isfinite(metrics["best_value"])
    assert metrics["examples"] == {"train": 86, "validation": 10, "test": 24}
    for file in ("best.keras", "learning_curves.png", "state.json"):
        assert (tmp_path / file).is_file(), file
    assert metrics["monitor"] in result.history
    has_samples = name in ("vae_digits", "gan_digits")
    assert (tmp_path / "samples.png").is_file() == has_samples
    assert ("samples" in metrics) == has_samples


@pytest.mark.parametrize("name", ["autoencoder_digits", "seq2seq_reversal"])
def test_evaluate_run_reproduces_the_test_metrics(name, trained):
    from kerakit.workflow.inference import evaluate_run

    result = trained(name)
    again = evaluate_run(result.run_dir)
    for key, value in again.items():
        assert value == pytest.approx(result.metrics["test"][key], rel=1e-4,
                                      abs=1e-5), key


@pytest.mark.parametrize("name", ["vae_digits", "gan_digits"])
def test_samples_png_is_a_grid_of_prior_draws(name, trained):
    from matplotlib import image

    result = trained(name)
    metrics = result.metrics
    assert metrics["samples"] == {"path": "samples.png", "count": 64,
                                  "source": "prior"}
    png = image.imread(result.run_dir / metrics["samples"]["path"])
    # 8 x 8 digits of 8 x 8 pixels with 1-pixel borders, scaled 4 times.
    assert png.shape[:2] == (4 * (8 * 9 + 1), 4 * (8 * 9 + 1))
    gray = png[..., :3].mean(-1)
    cells = gray[4:4 + 32, 4:4 + 32]  # the first sample, borders excluded
    assert gray.std() > 0.01 and cells.std() > 0.0


def test_autoencoder_reconstructs_the_inputs(trained):
    result = trained("autoencoder_digits")
    splits = training.load_splits(recipes.load_recipe("autoencoder_digits",
                                                      FAST))
    x = splits.test[0]
    out = result.model.predict(x, verbose=0)
    assert out.shape == x.shape
    mse = float(np.mean((out - x) ** 2))
    assert mse == pytest.approx(result.metrics["test"]["loss"], rel=1e-3)


def test_gan_monitors_held_out_sample_distance(trained):
    result = trained("gan_digits")
    history = result.history
    for key in ("d_loss", "g_loss", "val_d_loss", "val_g_loss", "val_mmd"):
        assert len(history[key]) == 2, key
    assert all(v > 0 for v in history["val_mmd"])
    best = int(np.argmin(history["val_mmd"])) + 1
    assert result.metrics["best_epoch"] == best
    assert set(result.metrics["test"]) >= {"loss", "d_loss", "g_loss", "mmd"}


def test_seq2seq_reports_greedy_exact_match(trained):
    test = trained("seq2seq_reversal").metrics["test"]
    assert 0.0 <= test["greedy_exact_match"] <= 1.0
    assert 0.0 <= test["accuracy"] <= 1.0


def test_generated_reversal_splits_keep_integer_tokens():
    recipe = recipes.load_recipe("seq2seq_reversal", {"dataset.examples": 50})
    splits = training.load_splits(recipe)
    assert [len(s[0]) for s in (splits.train, splits.validation,
                                splits.test)] == [36, 4, 10]
    x, y = splits.test
    assert x.dtype == np.int32 and x.shape[1] == 5 and y.shape[1] == 6
    np.testing.assert_array_equal(y[:, :5], x[:, ::-1])
    packed, target = training.task_of(recipe).fit_data(*splits.test)
    assert packed["target_in"][:, 0].tolist() == [1] * 10
    np.testing.assert_array_equal(packed["target_in"][:, 1:], y[:, :5])


def _assert_recipe_error(name, overrides, field, words):
    with pytest.raises(RecipeError) as info:
        recipes.load_recipe(name, overrides)
    text = str(info.value)
    assert f"field {field}" in text
    for word in words:
        assert word in text


@pytest.mark.parametrize("overrides, field, words", [
    ({"task": "clasification"}, "'task'", ["Did you mean 'classification'",
                                            "generative, reconstruction"]),
    ({"task": "generative"}, "'loss'", ["loss = 'none'"]),
    ({"loss": "none"}, "'loss'", ["task = 'generative'"]),
    ({"task": "generative", "loss": "none"}, "'metrics'", ["must be []"]),
    ({"task": "reconstruction"}, "'loss'", ["reconstructs the inputs"]),
    ({"task": "regression"}, "'loss'", ["fits real values"]),
    ({"task": "seq2seq", "preprocessing.one_hot": True},
     "'preprocessing.one_hot'", ["only applies to task = 'classification'"]),
    ({"task": 3}, "'task'", ["must be a string"]),
    # The `target` field of older recipes maps to its task.
    ({"target": "inputs"}, "'target'", ["target is now 'task'"]),
    ({"target": "label"}, "'target'", ["now 'task'"]),
])
def test_bad_task_is_a_clear_error(overrides, field, words):
    _assert_recipe_error("lenet_digits", overrides, field, words)


def test_older_target_field_maps_to_its_task():
    recipe = recipes.recipe_from_dict({
        "name": "old", "model": "autoencoder", "target": "inputs",
        "loss": "mean_squared_error", "metrics": [], "monitor": "val_loss"})
    assert recipe.task == "reconstruction"
    assert recipes.recipe_from_dict({
        "name": "old", "model": "lenet5", "target": "labels"}).task == (
        "classification")


@pytest.mark.parametrize("overrides, field, words", [
    ({"dataset.name": "generated:reverse"}, "'dataset.name'",
     ["generated:reversal"]),
    ({"preprocessing.sequence_length": 0}, "'preprocessing.sequence_length'",
     ["dataset.sequence_length (5)"]),
    ({"model_kwargs.vocabulary_size": 6}, "'model_kwargs.vocabulary_size'",
     ["dataset.vocabulary_size is 10"]),
    ({"dataset.examples": 2}, "'dataset.examples'", [">= 3"]),
])
def test_bad_generated_dataset_is_a_clear_error(overrides, field, words):
    _assert_recipe_error("seq2seq_reversal", overrides, field, words)


def test_new_fields_leave_existing_fingerprints_unchanged():
    # Values computed by the code before `target` (now `task`) and the
    # generated-dataset fields existed: run directories of existing recipes
    # keep their names.
    recipe = recipes.recipe_from_dict({"name": "fp2", "model": "lenet5"})
    assert recipe.task == "classification"
    assert recipe.fingerprint() == "a798b27332"
    other = recipes.recipe_from_dict({
        "name": "fp", "model": "mlp", "epochs": 3,
        "dataset": {"name": "digits", "limit": 50}})
    assert other.fingerprint() == "433362edff"
    changed = other.with_overrides({"dataset.examples": 10})
    assert changed.fingerprint() != other.fingerprint()
