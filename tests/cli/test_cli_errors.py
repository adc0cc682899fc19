"""User-caused errors end in one line and exit code 2; bugs keep tracebacks.

Each kind of user error has a test: the command's last stderr line is
`kerakit COMMAND: error: ...`, naming the file or field, and no traceback
is printed unless `--verbose` is given.
"""

from __future__ import annotations

import errno
import json
import re

import keras
import numpy as np
import pytest

import kerakit
from kerakit import cli
from kerakit.cli import app
from kerakit.cli import errors


def run(capsys, *argv):
    """Run the command line in-process; return `(code, stdout, stderr)`."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(result, command):
    """Check the one-line contract on `run`'s result; return the line."""
    code, _, err = result
    assert code == 2, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"kerakit {command}: error: "), err
    return last


def _replace_command(monkeypatch, name, fn):
    """Make `kerakit NAME` run `fn(args)` (to raise a chosen error)."""
    help_text, add, _ = app._COMMANDS[name]
    monkeypatch.setitem(app._COMMANDS, name, (help_text, add, fn))


# ------------------------------------------------------------ paths and files
def test_run_dir_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    line = error_line(run(capsys, "train", "mlp_digits", "--run-dir", path,
                           "--set", "epochs=1"), "train")
    assert f"--run-dir {path}" in line and "not a directory" in line
    assert path.read_text() == "mine"


def test_run_dir_below_a_file(tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    line = error_line(run(capsys, "train", "mlp_digits", "--run-dir",
                           blocker / "run", "--set", "epochs=1"), "train")
    assert f"{blocker} is a file" in line and "--run-dir" in line


# A tuning --dir that is a file: tests/tuning/test_tuning.py.


def test_recipe_path_that_is_a_directory(tmp_path, capsys):
    line = error_line(run(capsys, "train", tmp_path), "train")
    assert str(tmp_path) in line and "is a directory" in line
    assert "not found" not in line


def test_is_a_directory_error_names_the_path(tmp_path):
    err = IsADirectoryError(errno.EISDIR, "Is a directory", str(tmp_path))
    assert errors.describe(err, {str(tmp_path): "--save"}) == (
        f"--save {tmp_path} is a directory, not a file: give the path of a "
        "file.")


def test_permission_denied_names_the_file_and_option(tmp_path, capsys,
                                                     monkeypatch):
    path = tmp_path / "m.keras"

    def refuse(self, filepath, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(filepath))

    monkeypatch.setattr(keras.Model, "save", refuse)
    line = error_line(run(capsys, "build", "lenet5", "--input-shape",
                           "16,16,1", "--save", path), "build")
    assert f"--save {path}: permission denied" in line


def test_save_into_a_missing_folder_or_wrong_suffix(tmp_path, capsys):
    code, out, err = run(capsys, "build", "lenet5", "--save",
                         tmp_path / "no" / "m.keras")
    line = error_line((code, out, err), "build")
    assert f"the folder {tmp_path / 'no'} does not exist" in line
    assert "built" not in out  # refused before building
    line = error_line(run(capsys, "build", "lenet5", "--save",
                           tmp_path / "m.h5"), "build")
    assert "ending in .keras" in line
    line = error_line(run(capsys, "build", "lenet5", "--save", tmp_path),
                      "build")
    assert f"--save {tmp_path} is a directory" in line


# ------------------------------------------------------------- data files
def test_unreadable_image_in_a_folder_dataset(tmp_path, capsys):
    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.fromarray(np.zeros((8, 8), "uint8")).save(
                tmp_path / label / f"{i}.png")
    bad = tmp_path / "b" / "broken.png"
    bad.write_bytes(b"this is not a png")
    line = error_line(run(capsys, "train", "mlp_digits", "--run-dir",
                           tmp_path / "run", "--set",
                           f"dataset.name=folder:{tmp_path}"), "train")
    assert f"{bad}: cannot read this image" in line


def test_npz_labels_of_another_length(tmp_path, capsys):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((10, 8, 8, 1)),
             y_train=np.zeros(9, "int64"))
    line = error_line(run(capsys, "train", "mlp_digits", "--run-dir",
                           tmp_path / "run", "--set",
                           f"dataset.name=npz:{path}"), "train")
    assert f"{path}: x_train has 10 examples but y_train has 9" in line


def test_truncated_npz_names_the_file(tmp_path, capsys):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((10, 4)), y=np.zeros(10, "int64"))
    path.write_bytes(path.read_bytes()[:50])
    line = error_line(run(capsys, "train", "mlp_digits", "--run-dir",
                           tmp_path / "run", "--set",
                           f"dataset.name=npz:{path}"), "train")
    assert str(path) in line and "cannot read it as an .npz" in line


def test_recipe_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "r.toml"
    path.write_bytes(b'model = "lenet5"\n# \xff\xfe\n')
    line = error_line(run(capsys, "train", path), "train")
    assert f"{path} is not UTF-8 text" in line


# --------------------------------------------------------- damaged run files
def _fake_run(tmp_path):
    """A run directory with a real best.keras and unreadable JSON files."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    kerakit.build("lenet5", input_shape=(16, 16, 1), num_classes=2).save(
        run_dir / "best.keras")
    for name in ("recipe.json", "preprocessing.json", "state.json",
                 "metrics.json", "environment.json"):
        (run_dir / name).write_text('{"truncated": ')
    return run_dir


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_corrupt_json_in_a_run_names_the_file(tmp_path, capsys, command):
    run_dir = _fake_run(tmp_path)
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.zeros((1, 16, 16, 1)))
    argv = [command, run_dir] + ([inputs] if command == "predict" else [])
    line = error_line(run(capsys, *argv), command)
    named = re.search(r"(\S+\.json) is not valid JSON", line)
    assert named and named.group(1).startswith(str(run_dir)), line
    assert "--restart" in line


def test_json_error_names_the_file_it_came_from(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{oops")
    with pytest.raises(json.JSONDecodeError) as info:
        with open(path) as f:
            json.load(f)
    line = errors.describe(info.value)
    assert line.startswith(f"{path} is not valid JSON (Expecting property "
                           "name enclosed in double quotes at line 1")


def test_truncated_keras_file_is_not_called_missing(tmp_path, capsys):
    run_dir = _fake_run(tmp_path)
    best = run_dir / "best.keras"
    best.write_bytes(best.read_bytes()[:200])
    with pytest.raises(ValueError) as info:
        keras.saving.load_model(best)
    line = errors.describe(info.value)
    assert line.startswith(f"{best} is not a valid .keras file")
    line = error_line(run(capsys, "evaluate", run_dir), "evaluate")
    assert str(best) in line and "not found" not in line.lower()


def test_truncated_checkpoint_names_the_file_and_restart(tmp_path, capsys,
                                                         monkeypatch):
    model = kerakit.build("lenet5", input_shape=(16, 16, 1), num_classes=2)
    path = tmp_path / "run" / "checkpoint.weights.h5"
    path.parent.mkdir()
    model.save_weights(path)
    path.write_bytes(path.read_bytes()[:2000])

    def resume(args):  # what resuming a run does with its checkpoint
        model.load_weights(path)
        return 0

    _replace_command(monkeypatch, "train", resume)
    line = error_line(run(capsys, "train"), "train")
    assert f"{path} cannot be read" in line
    assert "truncated or damaged" in line and "--restart" in line


# ------------------------------------------------------------ fields, sizes
def test_seed_out_of_range_names_the_field(tmp_path, capsys):
    line = error_line(run(capsys, "train", "mlp_digits", "--run-dir",
                           tmp_path / "run", "--set", "seed=4294967296"),
                      "train")
    assert "seed" in line and "4294967296" in line


def test_vocabulary_size_zero_is_named_not_called_missing(capsys):
    line = error_line(run(capsys, "build", "lstm", "--input-shape", "5",
                           "--set", "vocabulary_size=0"), "build")
    assert "vocabulary_size must be >= 2" in line
    assert "Received: vocabulary_size=0" in line
    assert "pass vocabulary_size" not in line


def test_zero_channels_refused_on_the_command_line(capsys):
    line = error_line(run(capsys, "build", "lenet5", "--input-shape",
                           "32,32,0"), "build")
    assert "input_shape=(32, 32, 0)" in line


def test_model_too_large_for_memory(capsys, monkeypatch):
    def too_large(name, /, **kwargs):
        raise MemoryError("Unable to allocate 364. TiB for an array with "
                          "shape (10000000, 10000000) and data type float32")

    monkeypatch.setattr(kerakit, "build", too_large)
    line = error_line(run(capsys, "build", "mlp", "--input-shape",
                           "10000000"), "build")
    assert line.startswith("kerakit build: error: out of memory (Unable to "
                           "allocate 364. TiB")
    assert "too large" in line and "batch_size" in line


class ResourceExhaustedError(Exception):
    """Stands in for tf.errors.ResourceExhaustedError (matched by name)."""


@pytest.mark.parametrize("err", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. "
                 "DefaultCPUAllocator: can't allocate memory: you tried to "
                 "allocate 400000000000000 bytes."),  # torch
    ResourceExhaustedError("OOM when allocating tensor with shape"
                           "[10000000,10000000]"),  # tensorflow
    RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating "
                 "400000000000000 bytes."),  # jax / XLA
])
def test_backend_out_of_memory_errors_are_recognised(err):
    assert errors.describe(err).startswith("out of memory (")


# ------------------------------------------------------- bugs and --verbose
@pytest.mark.parametrize("bug", [KeyError("x"), AttributeError("x"),
                                 RuntimeError("shapes do not match")])
def test_bugs_keep_their_traceback(capsys, monkeypatch, bug):
    def broken(args):
        raise bug

    _replace_command(monkeypatch, "info", broken)
    with pytest.raises(type(bug)):
        cli.main(["info", "lenet5"])


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_shows_the_traceback_then_the_line(tmp_path, capsys, where):
    argv = ["build", "lenet5", "--input-shape", "32,32,0"]
    argv = ["--verbose", *argv] if where == "before" else [*argv,
                                                           "--verbose"]
    code, _, err = run(capsys, *argv)
    assert code == 2 and "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith(
        "kerakit build: error: lenet5(): every size in input_shape")


def test_kerakit_error_types_are_user_errors():
    from kerakit.workflow.training import TrainingError

    assert errors.describe(TrainingError("the loss became NaN\nat epoch 2")
                           ) == "the loss became NaN at epoch 2"


def test_long_library_messages_are_cut_to_one_line():
    line = errors.describe(ValueError("x\n" * 2000))
    assert "\n" not in line and len(line) <= errors.MAX_LENGTH
    assert line.endswith("(--verbose shows all)")
