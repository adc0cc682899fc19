"""Keep TensorFlow's C++ log lines off the stderr of a `kerakit` command.

TensorFlow writes its start-up notices ("All log messages before
absl::InitializeLog() ...", the oneDNN notice, "Could not find cuda
drivers", "failed call to cuInit") from C++ straight to file descriptor 2,
and `TF_CPP_MIN_LOG_LEVEL` does not hide them. They appear whenever
TensorFlow is first imported: at start-up on the tensorflow backend, and in
the middle of a run on the others (TensorBoard, `tf.data`). So, for the
whole command, fd 2 goes through a small filter process that drops exactly
those lines and passes every other byte on: Python tracebacks, warnings and
TensorFlow's real errors stay visible. The filter is a separate process, so
whatever was written before a hard crash (a C++ abort) still gets through.

Used by `kerakit/__init__.py` before anything imports TensorFlow, only when
the process is the `kerakit` command without `--verbose`; a library user's
process is never touched. Standard library only, and runnable as a script
(the filter itself), so that the filter starts without importing kerakit.
"""

from __future__ import annotations

import atexit
import os
import re
import subprocess
import sys

# Lines TensorFlow (and XLA, which it bundles) logs through absl/glog: an
# INFO or WARNING record (`I0000 00:00:1796135826.947973    6000 port.cc:153]
# ...`), the notice absl prints before it is initialised, the second line of
# the CPU-feature notice, and ERROR records that only say no GPU is there.
NOISE = re.compile(
    r"[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|E\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] (?:"
    r"failed call to cuInit|Unable to register cu(?:DNN|FFT|BLAS) factory"
    r"|computation placer already registered)"
)

# The executable names of the `kerakit` console script, and the modules
# `python -m` may run as the command.
_SCRIPTS = ("kerakit", "kerakit.exe", "kerakit-script.py")
_MODULES = ("kerakit", "kerakit.__main__", "kerakit.cli", "kerakit.cli.app")

_filter: tuple[subprocess.Popen, int] | None = None


def is_noise(line: str) -> bool:
    """Whether a stderr line is TensorFlow start-up noise (to be dropped).

    Example:
    >>> is_noise("I0000 00:00:1796135826.9 6000 port.cc:153] oneDNN ...")
    True
    >>> is_noise("kerakit train: error: --run-dir r is a file")
    False
    """
    return NOISE.match(line) is not None


def started_as_command(argv: list[str] | None = None) -> bool:
    """Whether this process is the `kerakit` command line.

    True for the `kerakit` console script and for `python -m kerakit`
    (`sys.orig_argv` keeps the `-m` while the package is being imported).

    Example:
    >>> started_as_command(["/usr/bin/python", "-m", "kerakit", "list"])
    True
    >>> started_as_command(["/usr/bin/python", "-m", "pytest"])
    False
    """
    if argv is None:
        if sys.argv and os.path.basename(sys.argv[0]) in _SCRIPTS:
            return True
        argv = list(getattr(sys, "orig_argv", []))
    args = iter(argv[1:])
    for arg in args:
        if arg == "-m":
            return next(args, None) in _MODULES
        if arg.startswith("-m"):
            return arg[2:] in _MODULES
        if arg in ("-X", "-W"):  # options that take a separate value
            next(args, None)
        elif arg == "-c" or not arg.startswith("-"):  # code or a script
            return False
    return False


def install() -> bool:
    """Route fd 2 through the filter until `uninstall()` or exit.

    Returns:
        Whether the filter runs (not on Windows, nor when it cannot start;
        stderr is then left as it was).
    """
    global _filter
    if _filter is not None:
        return True
    if os.name != "posix" or not sys.executable:
        return False
    try:
        sys.stderr.flush()
        original = os.dup(2)
    except (OSError, ValueError, AttributeError):
        return False
    try:
        # -I -S: a bare interpreter that imports nothing but the stdlib.
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__)],
            stdin=subprocess.PIPE, stdout=original, stderr=original)
    except OSError:
        os.close(original)
        return False
    os.dup2(process.stdin.fileno(), 2)
    process.stdin.close()  # fd 2 now holds the pipe's only write end
    _filter = (process, original)
    atexit.register(uninstall)
    return True


def uninstall() -> None:
    """Give fd 2 back and wait until the filter has passed everything on.

    Called at exit, and before the command re-executes itself under
    another backend.
    """
    global _filter
    if _filter is None:
        return
    process, original = _filter
    _filter = None
    try:
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    os.dup2(original, 2)  # closes this process's write end of the pipe
    os.close(original)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        # A child process still holds the pipe; the filter ends with it.
        pass


def _run_filter() -> None:
    """Copy stdin to stdout line by line, dropping `is_noise` lines."""
    import select
    import signal

    # Ctrl-C goes to the whole process group: the filter must outlive the
    # command so that its last words ("interrupted ...") get through.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inp, out = sys.stdin.fileno(), sys.stdout.fileno()
    pending = b""

    def emit(data: bytes) -> None:
        try:
            while data:
                data = data[os.write(out, data):]
        except OSError:  # stderr closed (`kerakit ... 2>&1 | head`): drain
            pass

    while True:
        # A partial line (a prompt, `print(..., end="")`) is passed on after
        # a short pause rather than held until its newline.
        ready, _, _ = select.select([inp], [], [], 0.1 if pending else None)
        if not ready:
            emit(pending)
            pending = b""
            continue
        chunk = os.read(inp, 65536)
        if not chunk:
            emit(pending)
            return
        *lines, pending = (pending + chunk).split(b"\n")
        kept = [line for line in lines
                if not is_noise(line.decode("utf-8", "replace"))]
        if kept:
            emit(b"".join(line + b"\n" for line in kept))


if __name__ == "__main__":
    _run_filter()
