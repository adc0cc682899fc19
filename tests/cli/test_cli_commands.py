"""`kerakit list | info | build` and the global `--backend` switch."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import kerakit
from kerakit import cli


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_filters_and_shows_parameters(capsys):
    code, out, _ = run(capsys, "list", "lenet*")
    assert code == 0
    assert "kerakit models (1)" in out and "lenet5" in out
    assert "61,706" in out  # canonical parameters
    code, out, _ = run(capsys, "list", "--family", "resnet")
    assert code == 0
    assert f"kerakit models ({len(kerakit.list_models(family='resnet'))})" \
        in out
    for name in ("resnet18", "resnet50", "resnet152"):
        assert name in out
    assert "lenet5" not in out and "vgg16" not in out
    code, out, _ = run(capsys, "list", "--task", "sequence_to_sequence")
    assert code == 0 and "seq2seq" in out and "resnet18" not in out


def test_list_without_matches_names_the_families(capsys):
    code, _, err = run(capsys, "list", "nosuch*")
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith("kerakit list: error: No model matches 'nosuch*'")
    assert "resnet" in line and "vgg" in line


def test_info_prints_the_registry_facts(capsys):
    code, out, _ = run(capsys, "info", "lenet5")
    assert code == 0
    info = kerakit.model_info("lenet5")
    assert out.startswith(f"lenet5: {info['doc']}")
    assert "family: lenet" in out and "task: image_classification" in out
    assert "parameters at canonical settings: 61,706" in out
    assert "conv_widths = (6, 16, 120)" in out


def test_info_json_equals_model_info(capsys):
    code, out, _ = run(capsys, "info", "resnet18", "--json")
    assert code == 0
    expected = json.loads(json.dumps(kerakit.model_info("resnet18"),
                                     default=str))
    assert json.loads(out) == expected
    assert expected["params"] == kerakit.model_info("resnet18")["params"]


def test_info_of_an_unknown_model(capsys):
    code, _, err = run(capsys, "info", "lenet6")
    assert code == 2
    assert "Unknown model 'lenet6'. Did you mean: 'lenet5'" in err


def test_build_summary_and_save_round_trip(tmp_path, capsys, monkeypatch):
    built = []

    def spy(name, /, **kwargs):
        built.append(kerakit.registry.build(name, **kwargs))
        return built[-1]

    monkeypatch.setattr(kerakit, "build", spy)
    path = tmp_path / "m.keras"
    code, out, err = run(capsys, "build", "lenet5", "--input-shape",
                         "28,28,1", "--num-classes", "3", "--set",
                         "dense_widths=[16]", "--set", "dropout=0.25",
                         "--summary", "--save", path)
    assert code == 0, err
    model = built[0]
    backend = keras.backend.backend()
    flat = " ".join(out.split())  # rich wraps lines at the console width
    assert (f"built lenet5 ({backend} backend): input (None, 28, 28, 1) -> "
            f"output (None, 3), {model.count_params():,} parameters") in flat
    assert "lenet5_predictions" in out  # the summary's last layer
    assert f"saved to {path}" in out
    loaded = keras.saving.load_model(path, compile=False)
    # Equal architecture (JSON, as saved: tuples come back as lists).
    assert json.loads(json.dumps(loaded.get_config())) == json.loads(
        json.dumps(model.get_config()))
    assert loaded.count_params() == model.count_params()
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)
    # --set values reached the factory (lists become tuples).
    assert [layer.units for layer in model.layers
            if isinstance(layer, keras.layers.Dense)] == [16, 3]


def test_build_plot_writes_a_diagram_or_says_what_is_missing(tmp_path,
                                                             capsys):
    path = tmp_path / "m.png"
    code, out, err = run(capsys, "build", "lenet5", "--plot", path)
    if importlib.util.find_spec("pydot") is None:
        assert code == 2
        assert "Traceback" not in err and "built" not in out
        line = err.strip().splitlines()[-1]
        assert line == (f"kerakit build: error: --plot {path}: drawing a "
                        "model needs pydot and Graphviz: pip install pydot, "
                        "and install Graphviz (its `dot` program).")
        assert not path.exists()
    elif code == 0:
        assert path.stat().st_size > 0
        assert f"diagram written to {path}" in out
    else:  # pydot without Graphviz
        assert code == 2 and "graphviz" in err.lower()
        assert "Traceback" not in err


@pytest.mark.skipif(keras.backend.backend() != "torch",
                    reason="starts jax and torch processes whatever this "
                    "run's backend: the torch run checks it")
def test_backend_switch_re_executes(tmp_path):
    # From a process whose keras runs jax, `--backend torch` re-runs the
    # command under torch (the backend is fixed once keras is imported).
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    command = [sys.executable, "-m", "kerakit", "--backend", "torch"]
    result = subprocess.run(
        [*command, "build", "lenet5", "--input-shape", "16,16,1"], env=env,
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "built lenet5 (torch backend)" in result.stdout
    info = subprocess.run([*command, "info", "lenet5", "--json"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["params"] == 61_706


def test_backend_already_active_runs_in_process(capsys):
    backend = keras.backend.backend()
    code, out, _ = run(capsys, "--backend", backend, "build", "lenet5",
                       "--input-shape", "16,16,1")
    assert code == 0 and f"({backend} backend)" in out


@pytest.mark.parametrize("argv", [["list", "--verbose", "vgg1*"],
                                  ["--verbose", "list", "vgg1*"]])
def test_verbose_is_accepted_before_or_after_the_command(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "vgg16" in out
