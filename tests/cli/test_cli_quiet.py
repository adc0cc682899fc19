"""A quiet command line: TensorFlow's C++ log lines never reach the user.

TensorFlow prints its start-up notices from C++ to fd 2, whatever
`TF_CPP_MIN_LOG_LEVEL` says (FACTS.md, "Logging"); `kerakit._quiet` filters
them for the whole command. These tests run real `kerakit` processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from kerakit import _quiet

# The lines FACTS.md lists, as they start (timestamps and ids vary).
NOISE_MARKS = ("All log messages before absl::InitializeLog()",
               "oneDNN custom operations are on",
               "Could not find cuda drivers",
               "failed call to cuInit")

QUIET_PY = Path(_quiet.__file__)


def _env(backend: str) -> dict[str, str]:
    env = {**os.environ, "KERAS_BACKEND": backend}
    # As a newcomer's shell has it: nothing set that hides TensorFlow's logs.
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def _kerakit(*args: str, backend: str, cwd: Path | None = None,
             script: bool = False) -> subprocess.CompletedProcess:
    """Run `python -m kerakit ARGS` (or the `kerakit` console script)."""
    command = [sys.executable, "-m", "kerakit"]
    if script:
        found = shutil.which("kerakit", path=str(Path(sys.executable).parent))
        command = [found] if found else command
    return subprocess.run([*command, *args], env=_env(backend), cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def _noise(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if any(mark in line for mark in NOISE_MARKS)
            or _quiet.is_noise(line)]


# These start TensorFlow-backend processes whatever this run's backend is:
# the same work in all three runs, so the tensorflow run does it.
in_the_tensorflow_run = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="starts tensorflow-backend processes: the tensorflow run checks "
    "it")


def _kind(line: str) -> str:
    """A log line without its timestamp and thread id."""
    return line.split("] ", 1)[-1]


def test_noise_patterns():
    kept = ["kerakit train: error: --run-dir r is a file, not a directory.",
            "Traceback (most recent call last):",
            "E0000 00:00:1796136092.887844   13266 op_kernel.cc:1] real "
            "error: Invalid argument",
            "F0000 00:00:1.2 6000 foo.cc:1] Check failed: a == b",
            "WARNING: something kerakit says"]
    dropped = [
        "WARNING: All log messages before absl::InitializeLog() is called "
        "are written to STDERR",
        "I0000 00:00:1796135826.947973    6000 port.cc:153] oneDNN custom "
        "operations are on.",
        "I0000 00:00:1796135826.948355    6000 cudart_stub.cc:31] Could not "
        "find cuda drivers on your machine, GPU will not be used.",
        "E0000 00:00:1796135862.483898    7025 cuda_platform.cc:52] failed "
        "call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: "
        "UNKNOWN ERROR (303)",
        "To enable the following instructions: AVX2 AVX512F FMA, in other "
        "operations, rebuild TensorFlow with the appropriate compiler flags.",
        "W1201 14:35:01.123456 6000 env.cc:12] a warning record",
    ]
    assert [_quiet.is_noise(line) for line in kept] == [False] * len(kept)
    assert all(_quiet.is_noise(line) for line in dropped)


def test_started_as_command():
    assert _quiet.started_as_command(["python", "-m", "kerakit", "list"])
    assert _quiet.started_as_command(["python", "-X", "utf8", "-mkerakit"])
    assert not _quiet.started_as_command(["python", "-m", "pytest"])
    assert not _quiet.started_as_command(["python", "-c", "import kerakit"])
    assert not _quiet.started_as_command(["python", "train.py", "-m",
                                          "kerakit"])


_WRITER = """
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("quiet", {path!r})
quiet = importlib.util.module_from_spec(spec)
spec.loader.exec_module(quiet)
assert quiet.install()
os.write(2, b"I0000 00:00:1796135826.947973    6000 port.cc:153] oneDNN "
            b"custom operations are on.\\n")
print("a kerakit line", file=sys.stderr)
os.write(2, b"E0000 00:00:1796135862.48   7025 cuda_platform.cc:52] failed "
            b"call to cuInit: INTERNAL\\n")
os.write(2, b"no newline at the end")
{end}
"""


@pytest.mark.parametrize("end", ["", "os.abort()", "raise KeyError('bug')"])
def test_filter_passes_everything_else_even_on_a_crash(end):
    # The filter alone, without importing kerakit: an ordinary exit, a hard
    # crash (C++ abort) and a Python traceback all keep every real line.
    result = subprocess.run(
        [sys.executable, "-c", _WRITER.format(path=str(QUIET_PY), end=end)],
        capture_output=True, timeout=60)
    err = result.stderr.decode()
    assert "oneDNN" not in err and "cuInit" not in err
    assert "a kerakit line\n" in err and "no newline at the end" in err
    if end.startswith("raise"):
        assert "Traceback (most recent call last)" in err
        assert err.rstrip().endswith("KeyError: 'bug'")
    assert result.returncode == (0 if not end else (1 if "raise" in end
                                                    else -6))


@in_the_tensorflow_run
def test_commands_show_no_tensorflow_log_lines():
    # The tensorflow backend imports TensorFlow at start-up, where the
    # lines appear; the console script and `python -m` both filter them.
    listed = _kerakit("list", "lenet*", backend="tensorflow")
    assert listed.returncode == 0, listed.stderr
    assert "lenet5" in listed.stdout and "61,706" in listed.stdout
    info = _kerakit("info", "lenet5", backend="tensorflow", script=True)
    assert info.returncode == 0, info.stderr
    assert info.stdout.startswith("lenet5: ")
    assert _noise(listed.stderr) == [] and _noise(info.stderr) == []
    assert listed.stderr.strip() == "" and info.stderr.strip() == ""


@in_the_tensorflow_run
def test_verbose_lets_the_log_lines_through():
    # Only what is robust: every kind of line a bare TensorFlow import
    # prints on this machine (none, on some) also shows with --verbose.
    bare = subprocess.run([sys.executable, "-c", "import tensorflow"],
                          env=_env("tensorflow"), capture_output=True,
                          text=True, timeout=600)
    verbose = _kerakit("--verbose", "list", "lenet*", backend="tensorflow")
    assert verbose.returncode == 0, verbose.stderr
    expected = {_kind(line) for line in _noise(bare.stderr)}
    shown = {_kind(line) for line in _noise(verbose.stderr)}
    assert expected <= shown


def test_training_console_has_no_log_lines(tmp_path):
    # The newcomer's first command. On jax and torch TensorFlow is imported
    # in the middle of the run (TensorBoard), not at start-up.
    backend = keras.backend.backend()
    result = _kerakit("train", "mlp_digits", "--set", "epochs=1", "--quiet",
                      "--run-dir", str(tmp_path / "run"), backend=backend,
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "run directory:" in result.stdout
    assert _noise(result.stderr) == [], result.stderr
