"""Export options: `route=`, `atol=`, verification and argument checks.

The verification is tested by what it catches: Keras outputs changed by
+1.0 everywhere and by 1e-2 in a single element must both fail it, and
an unchanged model next to them must pass. Artifacts that pass are reloaded
by the test itself (`check_artifact`), not only by the export code.
"""

from __future__ import annotations

import math
import os

import keras
import pytest

from kerakit import cli
from kerakit.export import ROUTES
from kerakit.export import ExportError
from kerakit.export import export_many
from kerakit.export import export_model
from kerakit.export import source as _export_source

BACKEND = keras.backend.backend()


@pytest.mark.parametrize("kwargs, message", [
    ({"format": "tflite"}, "Unknown export format 'tflite'"),
    ({"route": "tf"}, r"Unknown route 'tf'\. Choose one of \('auto', "
     r"'direct', 'tensorflow'\)"),
    ({"atol": 0.0}, r"atol must be positive\. Received: atol=0\.0"),
    ({"atol": -1e-3}, "atol must be positive"),
    ({"atol": math.nan}, "atol must be positive"),
])
def test_bad_arguments_are_rejected_before_writing(lenet, tmp_path, kwargs,
                                                   message):
    with pytest.raises(ValueError, match=message):
        export_model(lenet, tmp_path / "out", **kwargs)
    assert os.listdir(tmp_path) == []


def test_cli_rejects_an_unknown_route(lenet, tmp_path, capsys):
    lenet.save(tmp_path / "m.keras")
    with pytest.raises(SystemExit) as info:
        cli.main(["export", str(tmp_path / "m.keras"), "--route", "tf"])
    assert info.value.code == 2
    assert "invalid choice: 'tf'" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["m.keras"]
    assert ROUTES == ("auto", "direct", "tensorflow")


def _perturb(monkeypatch, changes):
    """The Keras outputs of the i-th source resolved get `changes[i]`.

    The verification compares the artifact with these outputs, so a
    changed output stands for an artifact that computes something else.
    """
    real_run = _export_source._run
    pending = list(changes)

    def run(model, xs):
        outputs = real_run(model, xs)
        change = pending.pop(0)
        return [change(y.copy()) for y in outputs]

    monkeypatch.setattr(_export_source, "_run", run)


def _plus_one(y):
    return y + 1.0


def _one_element(y):
    y.flat[0] += 1e-2
    return y


def _unchanged(y):
    return y


def test_verification_catches_small_changes(lenet, tmp_path, monkeypatch,
                                            check_artifact):
    # A direct route on each backend, so only the verifier process starts.
    fmt = "saved_model" if BACKEND == "jax" else "onnx"
    _perturb(monkeypatch, [_plus_one, _one_element, _unchanged])
    jobs = [(lenet, tmp_path / name) for name in ("plus1", "small", "same")]
    with pytest.raises(ExportError) as info:
        export_many(jobs, fmt)
    failures = info.value.failures
    assert sorted(failures) == [str(tmp_path / "plus1"),
                                str(tmp_path / "small")]
    assert "outputs differ from Keras: max |diff| = 1 >" in failures[
        str(tmp_path / "plus1")]
    assert "outputs differ from Keras: max |diff| = 0.01 >" in failures[
        str(tmp_path / "small")]
    assert "2 of 3" in str(info.value)
    [written] = info.value.results
    assert sorted(os.listdir(tmp_path)) == ["same"]
    assert written.max_abs_diff < 1e-5
    check_artifact(fmt, written.artifact, lenet)


def test_keras_format_verifies_with_the_given_atol(lenet, tmp_path,
                                                   monkeypatch,
                                                   check_artifact):
    # atol=0.05 lets a 1e-2 change pass; the default (1e-4) does not (see
    # the test above). The reported difference is the change itself.
    _perturb(monkeypatch, [_unchanged, _one_element])
    same, small = export_many(
        [(lenet, tmp_path / "same"), (lenet, tmp_path / "small")],
        format="keras", atol=0.05)
    assert same.max_abs_diff < 1e-5
    assert small.max_abs_diff == pytest.approx(1e-2, abs=1e-5)
    for result in (same, small):
        ver = result.metadata["verification"]
        assert ver["runtime"].startswith(f"keras {keras.__version__}")
        assert ver["runtime"].endswith(f"({BACKEND})")
        assert ver["batch_size"] == _export_source.BATCH
    # atol is scaled by the outputs' size (at least 1).
    assert small.metadata["verification"]["tolerance"] >= 0.05
    check_artifact("keras", same.artifact, lenet)


def test_explicit_tensorflow_route(lenet, tmp_path, check_artifact):
    # The format this backend exports directly under route="auto", forced
    # through the TensorFlow subprocess instead.
    fmt = "saved_model" if BACKEND == "jax" else "onnx"
    result = export_model(lenet, tmp_path / "out", fmt, route="tensorflow")
    assert result.route == "tensorflow"
    assert result.metadata["route"] == "tensorflow"
    assert result.metadata["exported_from_backend"] == BACKEND
    assert result.max_abs_diff <= 1e-4
    check_artifact(fmt, result.artifact, lenet)


def test_class_names_must_match_outputs(lenet, tmp_path):
    with pytest.raises(ValueError, match="2 class names"):
        export_model(lenet, tmp_path / "o", format="keras",
                     class_names=["a", "b"], verify=False)
    assert os.listdir(tmp_path) == []
