"""Data-parallel training over processes (kerakit.workflow.distributed).

The runs start real processes on 127.0.0.1 with the backend under test, so
each costs the processes' start-up (a few seconds) on top of a tiny LeNet
on 300 digits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import keras
import numpy as np
import psutil
import pytest

from kerakit.cli import main
from kerakit.workflow import training
from kerakit.workflow.distributed import ALONE
from kerakit.workflow.distributed import Cluster
from kerakit.workflow.distributed import DistributionError
from kerakit.workflow.distributed import _tf_config
from kerakit.workflow.distributed import engine_for
from kerakit.workflow.distributed import free_port
from kerakit.workflow.recipes import RecipeError
from kerakit.workflow.recipes import load_recipe
from kerakit.workflow.recipes import recipe_from_dict

# 216 training digits in batches of 32: the last batch (24) splits 12 + 12.
FAST = {"epochs": 2, "dataset.limit": 300, "batch_size": 32}
BACKEND = keras.backend.backend()

pytestmark = pytest.mark.xdist_group("distributed")


def _weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path):
    two = training.train("lenet_digits", tmp_path / "two", processes=2,
                         verbose=0, **{k.replace(".", "__"): v
                                       for k, v in FAST.items()})
    one = training.train(load_recipe("lenet_digits", FAST), tmp_path / "one",
                         verbose=0)
    # Same global batches, gradients averaged over the processes: the same
    # training, up to the order of float32 sums.
    for a, b in zip(_weights(two.model), _weights(one.model)):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert two.metrics["best_epoch"] == one.metrics["best_epoch"]
    assert two.run_dir == tmp_path / "two"
    # One process wrote the run: one TensorBoard log, one history.
    logs = list((tmp_path / "two" / "tensorboard" / "train").iterdir())
    assert len(logs) == 1
    assert len(two.history["loss"]) == 2
    env = json.loads((tmp_path / "two" / "environment.json").read_text())
    assert env["distribution"]["processes"] == 2
    assert env["distribution"]["engine"].startswith(BACKEND)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir())


def _follower():
    for child in psutil.Process().children(recursive=True):
        try:
            if child.environ().get("KERAKIT_PROCESS_ID") == "1":
                return child
        except psutil.Error:
            continue
    return None


def test_a_killed_process_ends_the_run_and_the_rerun_resumes(tmp_path):
    run_dir = tmp_path / "run"
    overrides = {**{k.replace(".", "__"): v for k, v in FAST.items()},
                 "epochs": 8, "patience": 0}
    outcome = {}

    def train():
        try:
            training.train("lenet_digits", run_dir, processes=2, verbose=0,
                           **overrides)
        except training.TrainingError as err:
            outcome["error"] = str(err)

    thread = threading.Thread(target=train)
    thread.start()
    state = run_dir / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline and thread.is_alive():
        if state.exists():
            try:
                if json.loads(state.read_text())["epoch"] >= 1:
                    break
            except (ValueError, KeyError):
                pass  # being replaced right now
        time.sleep(0.1)
    follower = _follower()
    assert follower is not None, outcome
    follower.kill()
    killed = time.time()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the run did not end after the kill"
    assert time.time() - killed < 120
    assert "process 1 of the run was killed by SIGKILL" in outcome["error"]
    assert "Run the same command again" in outcome["error"]
    assert not psutil.Process().children(recursive=True)
    finished = json.loads(state.read_text())["epoch"]
    assert 1 <= finished < 8

    again = training.train("lenet_digits", run_dir, processes=2, verbose=0,
                           **overrides)
    assert again.metrics["resumed_from"] == [finished]
    assert again.metrics["epochs_run"] == 8
    assert len(again.history["loss"]) == 8


def test_the_cross_host_command_runs_on_every_host(tmp_path):
    """`kerakit train --coordinator --num-processes --process-id`, as the
    README has every host run it (here both "hosts" are 127.0.0.1)."""
    port = free_port()
    env = {**os.environ, "KERAS_BACKEND": BACKEND}
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    commands = []
    for rank in range(2):
        if BACKEND == "tensorflow":  # as each host sets it
            env = {**env, "TF_CONFIG": json.dumps({
                "cluster": {"worker": workers},
                "task": {"type": "worker", "index": rank}})}
        commands.append(subprocess.Popen(
            [sys.executable, "-m", "kerakit", "train", "lenet_digits",
             "--set", "epochs=1", "--set", "dataset.limit=300", "--quiet",
             "--run-dir", str(tmp_path / "run"),
             "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
             "--process-id", str(rank)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True))
    outputs = [c.communicate(timeout=600)[0] for c in commands]
    assert [c.returncode for c in commands] == [0, 0], outputs
    assert "best epoch 1" in outputs[0]
    assert "process 1 trained its share" in outputs[1]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1


def test_bad_data_is_refused_before_anything_is_written(tmp_path):
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    x[3, 1] = np.nan
    data = tmp_path / "data.npz"
    np.savez(data, x_train=x, y_train=np.arange(64) % 2)
    recipe = recipe_from_dict({
        "name": "nan", "model": "mlp", "epochs": 1, "batch_size": 16,
        "model_kwargs": {"num_layers": 1, "hidden_dim": 8},
        "dataset": {"name": f"npz:{data}"}})
    with pytest.raises(training.TrainingError,
                       match=r"process \d of the run exited with status 2"
                       r"[\s\S]*DataError.*NaN"):
        training.train(recipe, tmp_path / "run", processes=2, verbose=0)
    assert not (tmp_path / "run").exists()


def test_what_cannot_be_shared_out_is_refused_by_name(tmp_path):
    with pytest.raises(RecipeError, match="batch_size = 32 evenly"):
        training.train("lenet_digits", tmp_path / "r", processes=3)
    with pytest.raises(RecipeError, match="node_classification' does not "
                       "train data-parallel"):
        training.train("gcn_karate", tmp_path / "r", processes=2)
    with pytest.raises(training.TrainingError, match="callbacks"):
        training.train("lenet_digits", tmp_path / "r", processes=2,
                       callbacks=[keras.callbacks.Callback()])
    assert not (tmp_path / "r").exists()


def test_a_finished_run_is_returned_without_starting_processes(tmp_path):
    done = training.train("lenet_digits", tmp_path / "run", verbose=0,
                          **{k.replace(".", "__"): v
                             for k, v in FAST.items()})
    again = training.train("lenet_digits", tmp_path / "run", processes=2,
                           verbose=0, **{k.replace(".", "__"): v
                                         for k, v in FAST.items()})
    assert again.metrics == done.metrics


def test_cluster_settings_are_checked():
    with pytest.raises(DistributionError, match="HOST:PORT"):
        Cluster("nohost", 2, 0)
    with pytest.raises(DistributionError, match=r"0\.\.1"):
        Cluster("127.0.0.1:9000", 2, 2)
    assert Cluster.from_environment({}) is None
    with pytest.raises(DistributionError, match="must be integers"):
        Cluster.from_environment({"KERAKIT_COORDINATOR": "h:1",
                                  "KERAKIT_NUM_PROCESSES": "two",
                                  "KERAKIT_PROCESS_ID": "0"})
    env = Cluster("10.0.0.1:9000", 4, 3).environment()
    assert Cluster.from_environment(env) == Cluster("10.0.0.1:9000", 4, 3)


def test_engines_refuse_what_their_backend_cannot_do():
    if BACKEND != "jax":
        with pytest.raises(DistributionError, match="JAX only"):
            engine_for(ALONE, model_parallel=2)
    with pytest.raises(DistributionError, match="one process"):
        engine_for(Cluster("127.0.0.1:9000", 2, 0), model_parallel=2,
                   backend="jax")
    assert engine_for(ALONE).name == "one process"
    engine = engine_for(Cluster("127.0.0.1:9000", 2, 1))
    assert engine.name.startswith(BACKEND)


def test_tf_config_is_made_on_one_host_and_checked_across_hosts(
        monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    config = _tf_config(Cluster("127.0.0.1:9000", 2, 1))
    assert config == {"cluster": {"worker": ["127.0.0.1:9001",
                                             "127.0.0.1:9002"]},
                      "task": {"type": "worker", "index": 1}}
    with pytest.raises(DistributionError, match="sets TF_CONFIG"):
        _tf_config(Cluster("10.0.0.1:9000", 2, 1))
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    with pytest.raises(DistributionError, match="index 1.*process 0"):
        _tf_config(Cluster("10.0.0.1:9000", 2, 0))
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(DistributionError, match="not a valid cluster spec"):
        _tf_config(Cluster("10.0.0.1:9000", 2, 0))


def test_command_line_flags_are_checked(capsys):
    assert main(["train", "--coordinator", "h:1"]) != 0
    assert "go together" in capsys.readouterr().err
    assert main(["train", "--processes", "2", "--coordinator", "h:1",
                 "--num-processes", "2", "--process-id", "0"]) != 0
    assert "not both" in capsys.readouterr().err
    assert main(["train", "--coordinator", "h:x", "--num-processes", "2",
                 "--process-id", "0"]) != 0
    assert "HOST:PORT" in capsys.readouterr().err
    assert main(["train", "--processes", "0"]) != 0
    assert "at least 1" in capsys.readouterr().err


_MODEL_PARALLEL = textwrap.dedent("""
    import json, sys
    import numpy as np
    import kerakit
    from kerakit.workflow import training
    from kerakit.workflow.distributed import ALONE, engine_for

    engine = engine_for(ALONE, model_parallel=2)
    engine.start()
    model = kerakit.build("gpt_tiny", vocabulary_size=32, sequence_length=8,
                          num_layers=1, hidden_dim=16, num_heads=2,
                          intermediate_dim=32)
    specs = {v.path: list(v.value.sharding.spec) for v in model.weights}
    engine.finish()
    text = sys.argv[1]
    result = training.train(
        "gpt_char", sys.argv[2], verbose=0, epochs=2, batch_size=8,
        distribution__model_parallel=2,
        dataset__name="text:" + text, preprocessing__sequence_length=16,
        optimizer__warmup_epochs=0,
        model_kwargs={"num_layers": 1, "hidden_dim": 16, "num_heads": 2,
                      "intermediate_dim": 32, "dropout": 0.0})
    print(json.dumps({"specs": specs, "history": result.history,
                      "env": json.loads(
                          (result.run_dir / "environment.json").read_text())}))
""")


def test_model_parallel_shards_a_transformer_over_two_devices(tmp_path):
    """JAX's ModelParallel; Keras implements it on JAX only, so the other
    backends refuse the recipe by name, before anything is written."""
    if BACKEND != "jax":
        with pytest.raises(training.TrainingError,
                           match="ModelParallel, which Keras implements on "
                           "JAX only.*KERAS_BACKEND=jax"):
            training.train("gpt_char", tmp_path / "run",
                           distribution__model_parallel=2)
        assert not (tmp_path / "run").exists()
        return
    import jax

    if jax.local_device_count() == 1:  # this test process: one CPU device
        with pytest.raises(training.TrainingError, match="must divide the "
                           "devices of each process.*device_count"):
            training.train("gpt_char", tmp_path / "run",
                           distribution__model_parallel=2)
        assert not (tmp_path / "run").exists()
    words = ["the", "cat", "sat", "on", "a", "mat"]
    rng = np.random.default_rng(0)
    text = tmp_path / "tiny.txt"
    text.write_text("\n".join(" ".join(rng.choice(words, 8))
                              for _ in range(150)))
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": (
        os.environ.get("XLA_FLAGS", "") +
        " --xla_force_host_platform_device_count=2")}
    done = subprocess.run(
        [sys.executable, "-c", _MODEL_PARALLEL, str(text),
         str(tmp_path / "run")], env=env, capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    specs = out["specs"]
    layer = "transformer_layer_0/"
    assert specs["token_embedding/embeddings"] == [None, "model"]
    assert specs[layer + "self_attention/query/kernel"] == [
        None, "model", None]
    assert specs[layer + "self_attention/attention_output/kernel"] == [
        "model", None, None]
    assert specs[layer + "feedforward_intermediate_dense/kernel"] == [
        None, "model"]
    assert specs[layer + "feedforward_output_dense/kernel"] == ["model", None]
    # Small tables stay whole on every device.
    assert set(specs["position_embedding/embeddings"]) == {None}
    loss = out["history"]["loss"]
    assert loss[1] < loss[0]
    assert out["env"]["distribution"]["model_parallel"] == 2
    assert out["env"]["distribution"]["devices"] == 2


def _even_text(path, batch_size):
    """A tiny text whose training windows fill whole batches, so that two
    processes and one see exactly the same batches (no padded last one)."""
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran"]
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(words, 8)) + "." for _ in range(160)]
    for count in range(100, 160):
        path.write_text("\n".join(lines[:count]), encoding="utf-8")
        recipe = _text_recipe(path, batch_size)
        splits = training.load_splits(recipe)
        windows = training.task_of(recipe).count_examples(splits)["train"]
        if windows % batch_size == 0:
            return recipe
    raise AssertionError("no text length gives whole batches")


def _text_recipe(path, batch_size):
    return recipe_from_dict({
        "name": "lm_tiny", "model": "gpt_tiny", "epochs": 2,
        "batch_size": batch_size,
        "model_kwargs": {"num_layers": 1, "hidden_dim": 16, "num_heads": 2,
                         "intermediate_dim": 32, "dropout": 0.0},
        "dataset": {"name": f"text:{path}", "validation_fraction": 0.1,
                    "test_fraction": 0.1},
        "preprocessing": {"sequence_length": 16}})


def test_a_keras_hub_language_model_trains_data_parallel(tmp_path):
    """A keras-hub task model (dict inputs, its own fit path, validation
    callbacks) through the same workflow."""
    recipe = _even_text(tmp_path / "tiny.txt", batch_size=16)
    two = training.train(recipe, tmp_path / "two", processes=2, verbose=0)
    one = training.train(recipe, tmp_path / "one", verbose=0)
    for a, b in zip(_weights(two.model), _weights(one.model)):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert two.metrics["test"]["perplexity"] == pytest.approx(
        one.metrics["test"]["perplexity"], rel=1e-4)


_EVERY_TRANSFORMER = textwrap.dedent("""
    import json, sys
    import keras
    from kerakit import testing
    from kerakit.workflow.distributed import ALONE, engine_for

    engine_for(ALONE, model_parallel=2).start()
    out = {}
    for name in sys.argv[1].split(","):
        factory, kwargs, data = testing.sweep_case(name)
        model = factory(**kwargs)
        sharded = sum("model" in tuple(v.value.sharding.spec)
                      for v in model.weights)
        model.compile(optimizer=keras.optimizers.Adam(
            data.learning_rate or 1e-3), loss=data.loss)
        x = data.x
        rows = len(next(iter(x.values())) if isinstance(x, dict) else x)
        history = keras.Model.fit(model, x, data.y, batch_size=rows,
                                  epochs=3, verbose=0, shuffle=False,
                                  **data.fit_kwargs).history
        out[name] = {"sharded": sharded, "loss": history[data.loss_key]}
    print(json.dumps(out))
""")
# One tiny model per transformer module whose layers the layout map names.
_TRANSFORMERS = ("bert_tiny", "gpt_tiny", "vit_ti16", "swin", "t5_tiny",
                 "clip_tiny", "vilbert_tiny", "whisper_micro")


@pytest.mark.skipif(
    os.environ.get("KERAKIT_MODEL_PARALLEL_ALL") != "1" or BACKEND != "jax",
    reason="KERAKIT_MODEL_PARALLEL_ALL=1 with KERAS_BACKEND=jax runs it "
    "(ModelParallel is JAX's; gpt is checked in every run above)")
def test_every_transformer_trains_model_parallel(tmp_path):
    env = {**os.environ, "XLA_FLAGS": (
        os.environ.get("XLA_FLAGS", "") +
        " --xla_force_host_platform_device_count=2")}
    done = subprocess.run(
        [sys.executable, "-c", _EVERY_TRANSFORMER, ",".join(_TRANSFORMERS)],
        env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for name in _TRANSFORMERS:
        assert out[name]["sharded"] >= 5, name
        loss = out[name]["loss"]
        assert np.all(np.isfinite(loss)) and loss[-1] < loss[0], (name, loss)
