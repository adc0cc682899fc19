"""`kerakit.performance` and `kerakit bench`: time settings, pick the
fastest. Speed itself is measured by benchmarks, never asserted here."""

from __future__ import annotations

import json

import keras
import pytest

from kerakit import cli
from kerakit import performance

MLP = {"input_shape": (8,), "num_classes": 2, "num_layers": 1,
       "hidden_dim": 8}
QUICK = {"steps": 1, "warmup": 1, "batch_size": 4}


def test_candidates_follow_the_backend_and_the_factory():
    labels = [s.label() for s in performance.candidate_settings(
        "lenet5", ["tensorflow", "torch", "jax"], compiled=True)]
    # TensorFlow's CPU convolutions are NHWC only; JAX always compiles.
    assert "tensorflow, float32, NCHW" not in labels
    assert "tensorflow, float32, NHWC, compiled" in labels
    assert "torch, mixed_bfloat16, NCHW, compiled" in labels
    assert "jax, float32, NCHW" in labels
    # TensorFlow's bfloat16 graph rewrite is tried there only.
    assert "tensorflow, onednn_bfloat16, NHWC" in labels
    assert not any("onednn" in label for label in labels
                   if not label.startswith("tensorflow"))
    assert not any(label.startswith("jax") and "compiled" in label
                   for label in labels)
    # A model without a layout argument is timed in its only layout.
    assert [s.label() for s in performance.candidate_settings(
        "mlp", ["jax"])] == ["jax, float32", "jax, mixed_bfloat16"]
    with pytest.raises(performance.BenchError, match="Unknown backend"):
        performance.candidate_settings("mlp", ["theano"])
    with pytest.raises(performance.BenchError, match="TensorFlow's"):
        performance.candidate_settings("mlp", ["jax"], ["onednn_bfloat16"])


def test_recommend_times_every_setting_fastest_first():
    rec = performance.recommend("mlp", **QUICK, **MLP)
    backend = keras.backend.backend()
    assert {t.setting.precision for t in rec.timings} == {
        "float32", "mixed_bfloat16",
        *(["onednn_bfloat16"] if backend == "tensorflow" else [])}
    assert all(not t.error and t.examples_per_second > 0
               for t in rec.timings)
    speeds = [t.examples_per_second for t in rec.timings]
    assert speeds == sorted(speeds, reverse=True)
    assert rec.baseline.setting == performance.Setting(backend, "float32")
    assert rec.speedup == pytest.approx(
        speeds[0] / rec.baseline.examples_per_second)
    assert rec.cpu["model"]
    assert keras.config.dtype_policy().name == "float32"


def test_image_model_in_both_layouts_from_a_channels_last_shape():
    backend = keras.backend.backend()
    setting = performance.Setting(backend, "float32", "channels_first")
    if backend == "tensorflow":
        setting = performance.Setting(backend, "float32", "channels_last")
    timing = performance.time_setting(
        "lenet5", setting, input_shape=(32, 32, 1), num_classes=3, **QUICK)
    assert timing.error == "" and timing.examples_per_second > 0


def test_other_backends_are_timed_in_a_child_process():
    other = next(b for b in performance.BACKENDS
                 if b != keras.backend.backend())
    rec = performance.recommend("mlp", backends=[other],
                                precisions=["float32"], **QUICK, **MLP)
    (timing,) = rec.timings
    assert timing.setting.backend == other and not timing.error
    assert rec.baseline is timing and rec.speedup == 1.0


def test_a_failing_setting_is_reported_not_raised():
    timing = performance.time_setting(
        "mlp", performance.Setting(keras.backend.backend()),
        input_shape=(8,), num_classes=2, no_such_argument=1, **QUICK)
    assert "no_such_argument" in timing.error
    with pytest.raises(performance.BenchError, match="could be timed"):
        performance.recommend("mlp", no_such_argument=1, **QUICK, **MLP)


def test_bench_command(capsys):
    code = cli.main(["bench", "mlp", "--input-shape", "8", "--num-classes",
                     "2", "--set", "num_layers=1", "--steps", "1",
                     "--warmup", "1", "--batch-size", "4", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert [t["setting"]["precision"] for t in report["timings"]] != []
    assert report["timings"][0]["label"].startswith(keras.backend.backend())
    code = cli.main(["bench", "mlp", "--input-shape", "8", "--num-classes",
                     "2", "--steps", "1", "--warmup", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "fastest:" in out and "vs baseline" in out


def test_bench_refuses_bad_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "mlp", "--backends", "theano"])
    assert "unknown backend" in capsys.readouterr().err
    assert cli.main(["bench", "mlp", "--steps", "0"]) == 2
    assert "--steps must be >= 1" in capsys.readouterr().err
    assert cli.main(["bench", "mlp", "--precisions", "fp8"]) == 2
    assert "Unknown precision 'fp8'" in capsys.readouterr().err
