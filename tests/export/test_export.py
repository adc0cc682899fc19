"""Export: registered CNNs to SavedModel and ONNX on this backend.

Cost control: the CNNs of each format are exported in chunks, one
`export_many` call per chunk (one TensorFlow subprocess where the route
needs it, one verification process per runtime), shared by the per-model
tests through a module-scoped fixture. Each chunk is a pytest-xdist group,
so the chunks run on the workers side by side (tests/run_backends.sh).

Export time grows with depth (about 0.075 s CPU per layer and format on the
TensorFlow backend), and the fixed-depth variants (resnet152: 520 layers,
densenet201: 709 at their tiny settings) are most of it. Exporting all 27
CNNs added about 1,600 s of test time per backend under CI load, which
does not fit CI's 40 minutes. By default the sweep exports every family's
generic builder, every model of a family without one, and `_EXTRA`
(variants with their own code path); `KERAKIT_EXPORT_ALL=1` exports every
registered CNN.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import keras
import pytest

import kerakit
from kerakit.export import source as _export_source
from kerakit import cli
from kerakit import registry
from kerakit.export import ExportError
from kerakit.export import default_route
from kerakit.export import export_many
from kerakit.export import export_model

ALL_CNNS = kerakit.list_models(task="image_classification")
BACKEND = keras.backend.backend()
# Variants whose code differs from their family's generic builder.
_EXTRA = ("mobilenet_v2", "mobilenet_v3_small", "vgg16")
EXPORT_ALL = os.environ.get("KERAKIT_EXPORT_ALL") == "1"


def _selected() -> list[str]:
    if EXPORT_ALL:
        return ALL_CNNS
    generic = {n for n in ALL_CNNS if registry.get_entry(n).family == n}
    families_with_generic = {registry.get_entry(n).family for n in generic}
    return [n for n in ALL_CNNS if n in generic or n in _EXTRA
            or registry.get_entry(n).family not in families_with_generic]


CNNS = _selected()
# Each format's sweep is split into chunks, one `export_many` call each.
# Every chunk is a pytest-xdist group, so the tests that share its exports
# stay on one worker while the chunks spread over the workers; alternating
# the (alphabetical) names spreads the deep variants of a family. The full
# sweep takes three chunks so that none runs into the per-test timeout.
_CHUNKS = 3 if EXPORT_ALL else 1


def _chunk(name: str) -> int:
    return CNNS.index(name) % _CHUNKS


def _group(fmt: str, name: str) -> pytest.MarkDecorator:
    return pytest.mark.xdist_group(f"export_{fmt}_{_chunk(name)}")


def _sweep(fmt: str) -> list:
    return [pytest.param(name, marks=_group(fmt, name)) for name in CNNS]


def _tiny(name: str) -> keras.Model:
    return kerakit.build(name, **registry.get_entry(name).tiny)


@pytest.fixture(scope="module")
def export_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exports")


_INPUTS: dict[str, tuple] = {}  # name -> (input name, shape), from builds


def _model(models: dict[str, keras.Model], name: str) -> keras.Model:
    if name not in models:
        models[name] = _tiny(name)
        tensor = models[name].inputs[0]
        _INPUTS[name] = (tensor.name, [None, *tensor.shape[1:]])
    return models[name]


def _export_all(models: dict[str, keras.Model], names: list[str], root: Path,
                fmt: str) -> tuple[dict, dict]:
    jobs = [(_model(models, name), root / fmt / name) for name in names]
    try:
        results = export_many(jobs, fmt)
        failures = {}
    except ExportError as err:
        results, failures = err.results, err.failures
    by_name = {r.path.name: r for r in results}
    return by_name, {Path(k).name: v for k, v in failures.items()}


@pytest.fixture(scope="module")
def exports(export_root):
    """`exports(fmt, name)`: the results of the chunk that holds `name`."""
    done: dict[tuple[str, int], Any] = {}
    # Built on demand and shared by both formats when their chunks meet on
    # one worker: a deep variant's build is seconds of the export tests'
    # time (DenseNet-201: 709 layers).
    models: dict[str, keras.Model] = {}

    def get(fmt: str, name: str) -> tuple[dict, dict]:
        key = (fmt, _chunk(name))
        if key not in done:
            names = [n for n in CNNS if _chunk(n) == key[1]]
            try:
                done[key] = _export_all(models, names, export_root, fmt)
            except Exception as err:  # raised again for the whole chunk
                done[key] = err
        if isinstance(done[key], Exception):
            raise done[key]
        return done[key]

    return get


def _check(results: tuple[dict, dict], name: str, fmt: str) -> dict:
    by_name, failures = results
    assert name not in failures, failures[name]
    result = by_name[name]
    meta = json.loads((result.path / "export.json").read_text())
    assert meta["format"] == fmt
    assert meta["route"] == default_route(fmt, BACKEND)
    assert meta["exported_from_backend"] == BACKEND
    ver = meta["verification"]
    assert ver["max_abs_diff"] <= ver["tolerance"]
    assert ver["batch_size"] == _export_source.BATCH
    [spec] = meta["inputs"]
    assert [spec["name"], spec["shape"]] == list(_INPUTS[name])
    assert spec["dtype"] == "float32"
    assert meta["versions"]["keras"] == keras.__version__
    assert meta["preprocessing"]["included"] is False
    return meta


@pytest.mark.parametrize("name", _sweep("saved_model"))
def test_saved_model_export_verifies(exports, name):
    results = exports("saved_model", name)
    _check(results, name, "saved_model")
    assert (results[0][name].path / "saved_model.pb").is_file()


@pytest.mark.parametrize("name", _sweep("onnx"))
def test_onnx_export_verifies(exports, name):
    results = exports("onnx", name)
    _check(results, name, "onnx")
    assert saved_path(results, name).name == "model.onnx"


def saved_path(results: tuple[dict, dict], name: str) -> Path:
    return results[0][name].artifact


def test_deep_variants_need_full_mode():
    left = sorted(set(ALL_CNNS) - set(CNNS))
    if left:
        pytest.skip(f"not exported by default (same builder as their family, "
                    f"fixed depth): {left}; set KERAKIT_EXPORT_ALL=1")


@_group("saved_model", CNNS[0])
def test_saved_model_cli_lists_serve_signature(exports):
    name = CNNS[0]
    path = exports("saved_model", name)[0][name].path
    cli_bin = shutil.which("saved_model_cli")
    if cli_bin is None:
        pytest.skip("saved_model_cli is not on PATH")
    out = subprocess.run(
        [cli_bin, "show", "--dir", str(path), "--tag_set", "serve",
         "--signature_def", "serve"],
        capture_output=True, text=True, timeout=300, check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    ).stdout
    input_name = _INPUTS[name][0]
    assert f"inputs['{input_name}']" in out
    assert "shape: (-1, " in out  # None batch dimension


# --------------------------------------------------------------- bad input
@pytest.fixture
def lenet():
    return _tiny("lenet5")


def test_unknown_format_is_rejected_before_writing(lenet, tmp_path):
    with pytest.raises(ValueError, match="Unknown export format 'tflite'"):
        export_model(lenet, tmp_path / "out", format="tflite")
    assert not (tmp_path / "out").exists()


def test_existing_directory_is_kept_unless_overwrite(lenet, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_model(lenet, out, format="keras", verify=False)
    assert os.listdir(out) == ["keep.txt"]
    result = export_model(lenet, out, format="keras", verify=False,
                          overwrite=True)
    assert sorted(os.listdir(out)) == ["export.json", "model.keras"]
    assert result.max_abs_diff is None
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no staging left


def test_unwritable_path_gives_clear_error(lenet, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError, match="is a file"):
        export_model(lenet, blocker / "sub" / "out", format="keras",
                     verify=False)
    assert sorted(os.listdir(tmp_path)) == ["a_file"]


def test_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_model(tmp_path / "nope.keras", tmp_path / "o")
    (tmp_path / "weights.h5").write_text("")
    with pytest.raises(ValueError, match="not a .keras file"):
        export_model(tmp_path / "weights.h5", tmp_path / "o")
    with pytest.raises(ValueError, match="without best.keras"):
        export_model(tmp_path, tmp_path / "o")
    with pytest.raises(TypeError, match="keras.Model"):
        export_model(42, tmp_path / "o")
    assert sorted(os.listdir(tmp_path)) == ["weights.h5"]


def test_mismatch_fails_loudly_and_writes_nothing(lenet, tmp_path,
                                                  monkeypatch):
    # A direct route per backend, so only the verifier process starts.
    fmt = "saved_model" if BACKEND == "jax" else "onnx"
    real_run = _export_source._run
    monkeypatch.setattr(_export_source, "_run", lambda model, xs: [
        y + 1.0 for y in real_run(model, xs)])
    with pytest.raises(ExportError, match="outputs differ from Keras"):
        export_model(lenet, tmp_path / "out", format=fmt)
    assert os.listdir(tmp_path) == []


def test_class_names_must_match_outputs(lenet, tmp_path):
    with pytest.raises(ValueError, match="2 class names"):
        export_model(lenet, tmp_path / "o", format="keras",
                     class_names=["a", "b"], verify=False)


# ---------------------------------------------------------------------- CLI
def test_cli_exports_a_keras_file(lenet, tmp_path, capsys):
    lenet.save(tmp_path / "m.keras")
    code = cli.main(["export", str(tmp_path / "m.keras"), "--format",
                     "keras", "--no-verify"])
    assert code == 0
    out_dir = tmp_path / "m_export_keras"
    meta = json.loads((out_dir / "export.json").read_text())
    assert meta["source"]["kind"] == "keras_file"
    assert "exported keras" in capsys.readouterr().out
    code = cli.main(["export", str(tmp_path / "m.keras"), "--format",
                     "keras", "--no-verify"])
    assert code == 2
    assert "--overwrite" in capsys.readouterr().err


# ----------------------------------------------------------------- run dir
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    kerakit.train("lenet_digits", run_dir=path, epochs=1, verbose=0)
    return path


@pytest.mark.xdist_group("export_run_dir")
def test_run_directory_exports_with_preprocessing(run_dir, tmp_path):
    pre = json.loads((run_dir / "preprocessing.json").read_text())
    jobs = [(run_dir, tmp_path / "sm")]
    [sm] = export_many(jobs, "saved_model")
    [onnx] = export_many([(run_dir, tmp_path / "onnx")], "onnx")
    for result in (sm, onnx):
        meta = result.metadata
        assert meta["source"]["kind"] == "run_dir"
        assert meta["class_names"] == pre["class_names"]
        info = meta["preprocessing"]
        assert info["steps"]["rescale"] == pre["rescale"]
        # Raw 8x8 digits in, logits out, when the steps fit in the graph.
        assert info["included"], info["note"]
        assert meta["inputs"][0]["shape"] == [None, *pre["raw_shape"]]
        assert meta["verification"]["max_abs_diff"] <= 1e-4


@pytest.mark.xdist_group("export_run_dir")
def test_run_directory_without_preprocessing(run_dir, tmp_path):
    result = export_model(run_dir, tmp_path / "k", format="keras",
                          include_preprocessing=False, verify=False)
    info = result.metadata["preprocessing"]
    assert info["included"] is False
    assert "apply these steps" in info["note"]
    model = keras.saving.load_model(result.artifact, compile=False)
    assert model.input_shape == (None, 32, 32, 1)
    assert result.metadata["inputs"][0]["shape"] == [None, 32, 32, 1]
