"""A recipe's `precision`: applied to the model, recorded, kept on resume."""

from __future__ import annotations

import json

import keras
import pytest

from kerakit import cli
from kerakit import precision as precision_module
from kerakit.workflow import recipes
from kerakit.workflow import training

TINY = {"epochs": 1, "dataset.limit": 100, "batch_size": 32}


def _train(tmp_path, **sets):
    return training.train("mlp_digits", tmp_path, verbose=0,
                          **{**TINY, **sets})


def _dense_policies(model):
    return {layer.dtype_policy.name for layer in model.layers
            if isinstance(layer, keras.layers.Dense)}


def _cpu_with(monkeypatch, *flags):
    monkeypatch.setattr(precision_module, "cpu_flags",
                        lambda: frozenset(flags))


def test_mixed_bfloat16_recipe_trains_and_is_recorded(tmp_path):
    result = _train(tmp_path, precision="mixed_bfloat16")
    assert result.metrics["precision"] == "mixed_bfloat16"
    env = json.loads((tmp_path / "environment.json").read_text())
    assert env["precision"]["requested"] == "mixed_bfloat16"
    assert env["precision"]["used"] == "mixed_bfloat16"
    assert set(env["precision"]["cpu"]) == {"model", "flags",
                                            "native_bfloat16"}
    assert _dense_policies(result.model) == {"mixed_bfloat16"}
    # The saved best model keeps the policy; variables stay float32.
    saved = keras.saving.load_model(tmp_path / "best.keras")
    assert _dense_policies(saved) == {"mixed_bfloat16"}
    assert {v.dtype for v in saved.trainable_variables} == {"float32"}
    # Building and compiling leave the global policy as it was.
    assert keras.config.dtype_policy().name == "float32"


# What "auto" means on a CPU with native bfloat16, per backend.
_BFLOAT16 = {"tensorflow": "onednn_bfloat16"}.get(keras.backend.backend(),
                                                  "mixed_bfloat16")


@pytest.mark.parametrize("flags, expected", [
    (("avx512f", "avx512_bf16"), _BFLOAT16),
    (("avx2",), "float32"),
], ids=["native_bfloat16", "no_bfloat16"])
def test_auto_follows_the_cpu(tmp_path, monkeypatch, flags, expected):
    _cpu_with(monkeypatch, *flags)
    result = _train(tmp_path, precision="auto")
    assert result.metrics["precision"] == expected
    assert _dense_policies(result.model) == {
        precision_module.policy_name(expected)}
    env = json.loads((tmp_path / "environment.json").read_text())
    assert env["precision"]["requested"] == "auto"


def test_mixed_float16_scales_the_loss(tmp_path):
    result = _train(tmp_path, precision="mixed_float16")
    assert isinstance(result.model.optimizer,
                      keras.optimizers.LossScaleOptimizer)
    assert result.metrics["precision"] == "mixed_float16"


def test_a_resumed_run_keeps_its_precision(tmp_path, monkeypatch):
    """"auto" resolved on a bfloat16 CPU; the run resumes on one without:
    it goes on in the precision it started with."""

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    _cpu_with(monkeypatch, "amx_bf16")
    with pytest.raises(KeyboardInterrupt):
        training.train("mlp_digits", tmp_path, verbose=0, precision="auto",
                       callbacks=[StopAfterFirstEpoch()],
                       **{**TINY, "epochs": 2})
    _cpu_with(monkeypatch, "avx2")
    result = training.train("mlp_digits", tmp_path, verbose=0,
                            precision="auto", **{**TINY, "epochs": 2})
    assert result.metrics["resumed_from"] == [1]
    assert result.metrics["precision"] == _BFLOAT16
    assert _dense_policies(result.model) == {
        precision_module.policy_name(_BFLOAT16)}


class _RecordRewrite(keras.callbacks.Callback):
    """Records, at every batch, whether TensorFlow's rewrite is on."""

    seen: set = set()

    def on_train_batch_end(self, batch, logs=None):
        import tensorflow as tf

        self.seen.add(tf.config.optimizer.get_experimental_options().get(
            "auto_mixed_precision_onednn_bfloat16", False))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="TensorFlow's rewrite; refused elsewhere by "
                    "test_the_graph_rewrite_is_refused_off_tensorflow")
def test_onednn_bfloat16_recipe_trains_with_the_rewrite_on(tmp_path):
    import tensorflow as tf

    record = _RecordRewrite()
    record.seen = set()
    result = training.train("mlp_digits", tmp_path, verbose=0,
                            precision="onednn_bfloat16", callbacks=[record],
                            **TINY)
    assert record.seen == {True}
    assert not tf.config.optimizer.get_experimental_options().get(
        "auto_mixed_precision_onednn_bfloat16")
    assert result.metrics["precision"] == "onednn_bfloat16"
    assert _dense_policies(result.model) == {"float32"}
    env = json.loads((tmp_path / "environment.json").read_text())
    assert env["precision"]["used"] == "onednn_bfloat16"


@pytest.mark.skipif(keras.backend.backend() == "tensorflow",
                    reason="TensorFlow trains in it "
                    "(test_onednn_bfloat16_recipe_trains_with_the_rewrite_on)")
def test_the_graph_rewrite_is_refused_off_tensorflow(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(training.TrainingError) as err:
        training.train("mlp_digits", run_dir, verbose=0,
                       precision="onednn_bfloat16", **TINY)
    assert "'mixed_bfloat16'" in str(err.value)
    assert not run_dir.exists()  # refused before anything is written


@pytest.mark.parametrize("recipe", ["gan_digits", "dqn_cartpole"])
def test_mixed_float16_is_refused_where_nothing_scales_the_loss(recipe):
    with pytest.raises(recipes.RecipeError) as err:
        recipes.load_recipe(recipe, {"precision": "mixed_float16"})
    message = str(err.value)
    assert "precision" in message and "mixed_bfloat16" in message


def test_an_unknown_precision_names_the_choices():
    with pytest.raises(recipes.RecipeError) as err:
        recipes.load_recipe("mlp_digits", {"precision": "bf16"})
    message = str(err.value)
    assert "'bf16'" in message
    for name in precision_module.RECIPE_PRECISIONS:
        assert name in message


def test_float32_keeps_old_run_directory_names():
    plain = recipes.load_recipe("mlp_digits")
    assert plain.precision == "float32"
    explicit = recipes.load_recipe("mlp_digits", {"precision": "float32"})
    assert explicit.fingerprint() == plain.fingerprint()
    other = recipes.load_recipe("mlp_digits", {"precision": "auto"})
    assert other.fingerprint() != plain.fingerprint()


def test_command_line_precision(tmp_path, capsys):
    code = cli.main(["train", "mlp_digits", "--run-dir", str(tmp_path),
                     "--precision", "mixed_bfloat16", "--quiet",
                     "--set", "epochs=1", "--set", "dataset.limit=100"])
    out = capsys.readouterr().out
    assert code == 0
    assert "precision: mixed_bfloat16" in out
    recorded = json.loads((tmp_path / "recipe.json").read_text())
    assert recorded["precision"] == "mixed_bfloat16"
