"""Turn an exception a user caused into the one line the command prints.

`kerakit.cli.app.main` calls :func:`describe` on every exception a
subcommand raises. A user-caused error (bad input, a bad or damaged file, a
path that is the wrong kind of thing, too little memory) gets one line
that names the file or field, says what is wrong and what to do; anything
else is a bug, `describe` returns `None` and the command shows the full
traceback. Libraries often raise without naming the file they were reading
(`json`, `h5py`, `zipfile`, UTF-8 decoding): the file is then found in the
traceback, as the innermost frame's local that names an existing file.

Example:
>>> print(describe(IsADirectoryError(21, "Is a directory", "runs")))
runs is a directory, not a file: give the path of a file.
>>> describe(KeyError("bug")) is None
True
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kerakit.cli.common import CLIError

# Longest message printed: a library's multi-page error (a TensorFlow graph
# dump, say) is cut; --verbose shows all of it.
MAX_LENGTH = 800

# What to do when a file kerakit wrote itself (a run directory's state,
# checkpoint or best model) is damaged.
_RUN_ADVICE = ("if it belongs to a run directory, start that run over with "
               "`kerakit train ... --restart` (or use another --run-dir)")

# Backend and library out-of-memory errors that are not `MemoryError`:
# TensorFlow's ResourceExhaustedError ("OOM when allocating tensor"), XLA's
# "RESOURCE_EXHAUSTED", torch's "DefaultCPUAllocator: can't allocate memory"
# and CUDA's "out of memory".
_OOM_TYPES = ("ResourceExhaustedError", "OutOfMemoryError")
_OOM_TEXT = re.compile(r"RESOURCE_EXHAUSTED|OOM when allocating|can't "
                       r"allocate memory|not enough memory|out of memory",
                       re.IGNORECASE)

# numpy's and scikit-learn's messages for a seed out of range.
_SEED_TEXT = re.compile(r"Seed must be between 0 and 2\*\*32 - 1|"
                        r"'random_state' parameter")

# Keras says "File not found" for a `.keras` file that exists but is not a
# zip archive (truncated, or another format renamed).
_KERAS_NOT_FOUND = re.compile(r"File not found: filepath=(.+?)\. Please "
                              r"ensure the file is an accessible")


def describe(err: BaseException,
             arguments: Mapping[str, str] | None = None) -> str | None:
    """Return the one-line message for a user-caused error, else `None`.

    Args:
        err: The exception a subcommand raised.
        arguments: Command-line values mapped to the option that gave them
            (`{"runs/a": "--run-dir"}`), so a message can name the option.

    Returns:
        One line, or `None` when `err` is a bug (show the traceback).
    """
    arguments = dict(arguments or {})
    if isinstance(err, CLIError) or type(err).__module__.startswith(
            "kerakit."):
        # kerakit's own error types (RecipeError, TrainingError, ExportError,
        # ...) carry messages written for the user.
        return _one_line(str(err))
    if isinstance(err, MemoryError) or _is_out_of_memory(err):
        return _out_of_memory(err)
    if isinstance(err, json.JSONDecodeError):
        where = _file_in_traceback(err) or "a JSON file"
        return (f"{where} is not valid JSON ({err.msg} at line {err.lineno}, "
                f"column {err.colno}): the file is damaged; restore it, or "
                f"{_RUN_ADVICE}.")
    if isinstance(err, UnicodeDecodeError):
        where = _file_in_traceback(err) or "a text file"
        return (f"{where} is not UTF-8 text ({err.reason} at byte "
                f"{err.start}): save it as UTF-8.")
    if isinstance(err, zipfile.BadZipFile):
        where = _file_in_traceback(err) or "a .keras or .npz file"
        return (f"{where} is not a valid zip archive ({err}): it is "
                f"truncated or not what its name says; replace it, or "
                f"{_RUN_ADVICE}.")
    if isinstance(err, OSError):
        return _os_error(err, arguments)
    if isinstance(err, (ValueError, TypeError)):
        return _value_error(err)
    return None


def _one_line(text: str) -> str:
    """Collapse a message to one line of at most `MAX_LENGTH` characters."""
    line = " ".join(text.split())
    if len(line) > MAX_LENGTH:
        line = line[:MAX_LENGTH - 40].rstrip() + " ... (--verbose shows all)"
    return line


def _is_out_of_memory(err: BaseException) -> bool:
    if type(err).__name__ in _OOM_TYPES:
        return True
    # Only runtime errors: a ValueError that quotes "out of memory" in a
    # user's text is not an allocation failure.
    return isinstance(err, RuntimeError) and bool(
        _OOM_TEXT.search(str(err)))


def _out_of_memory(err: BaseException) -> str:
    detail = str(err).strip().splitlines()
    first = f" ({_one_line(detail[0])[:200]})" if detail else ""
    return (f"out of memory{first}: the model or a batch is too large for "
            "this machine. Build a smaller model (input_shape, widths, "
            "num_layers) or lower batch_size (--set batch_size=...).")


def _value_error(err: ValueError | TypeError) -> str:
    text = str(err)
    if _SEED_TEXT.search(text):
        got = re.search(r"Got (-?\d+)", text)
        value = f" ({got.group(1)})" if got else ""
        return (f"the recipe's seed{value} is out of range: use an integer "
                "from 0 to 4294967294, e.g. --set seed=0.")
    match = _KERAS_NOT_FOUND.search(text)
    if match and os.path.isfile(match.group(1)):
        return (f"{match.group(1)} is not a valid .keras file (truncated, or "
                f"not a Keras archive): replace it, or {_RUN_ADVICE}.")
    return _one_line(text)


def _os_error(err: OSError, arguments: dict[str, str]) -> str:
    if err.filename is None:
        return _library_os_error(err)
    name = os.fsdecode(err.filename)
    shown = _with_option(name, arguments)
    code = err.errno
    if code == errno.EEXIST and not os.path.isdir(name):
        return (f"{shown} is a file, not a directory: give a directory "
                "path, or move the file away.")
    if code == errno.ENOTDIR:
        blocker = _file_in_path(name)
        part = f"{blocker} is a file, so " if blocker else ""
        return (f"{shown}: {part}this path cannot be a directory: give a "
                "path whose parents are directories.")
    if code == errno.EISDIR:
        return f"{shown} is a directory, not a file: give the path of a file."
    if code in (errno.EACCES, errno.EPERM):
        return (f"{shown}: permission denied: fix the permissions, or choose "
                "a location you may read and write.")
    if code == errno.ENOSPC:
        return (f"no space left on the device that holds {shown}: free some "
                "space, or choose another location.")
    if code == errno.EROFS:
        return (f"{shown} is on a read-only file system: choose another "
                "location.")
    if code == errno.ENOENT:
        parent = os.path.dirname(name)
        if parent and not os.path.isdir(parent):
            return (f"{shown}: the folder {parent} does not exist: create "
                    "it, or check the path.")
        return (f"{shown}: no such file or directory: check the path "
                "(relative paths start from the current directory).")
    reason = err.strerror or str(err)
    return f"{shown}: {reason}."


def _library_os_error(err: OSError) -> str:
    """An OSError a library raised with a message only (h5py, PIL)."""
    text = _one_line(str(err))
    if err.errno is not None or _raised_by_kerakit(err):
        return text  # kerakit's own messages, e.g. DatasetUnavailableError
    where = _file_in_traceback(err)
    if where is None:
        return text
    if where.endswith(".h5"):
        return (f"{where} cannot be read ({text}): it is truncated or "
                f"damaged; {_RUN_ADVICE}.")
    return f"{where} cannot be read: {text}."


def _raised_by_kerakit(err: BaseException) -> bool:
    """Whether the innermost Python frame of `err` is kerakit's code."""
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_globals.get("__name__", "").startswith("kerakit")


def _with_option(path: str, arguments: dict[str, str]) -> str:
    """`path`, prefixed by the option that gave it (`--run-dir x`)."""
    target = Path(path)
    for value, option in arguments.items():
        given = Path(value)
        if target == given or given in target.parents:
            return f"{option} {value}" if target == given else (
                f"{path} (from {option} {value})")
    return path


def _file_in_path(path: str) -> str | None:
    """The first part of `path` that is a file (why it is no directory)."""
    for parent in reversed(Path(path).parents):
        if parent.is_file():
            return str(parent)
    return None


def _as_file(value: Any) -> str | None:
    """`value` as the path of an existing file, if it is one."""
    if isinstance(value, io.IOBase):
        value = getattr(value, "name", None)
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value or len(value) > 4096:
        return None
    try:
        return value if os.path.isfile(value) else None
    except (OSError, ValueError):
        return None


def _file_in_traceback(err: BaseException) -> str | None:
    """The file being read where `err` was raised, from the frames' locals.

    The innermost frame wins; in a frame, an open file object before a
    path. Only the types of the locals are inspected (no `repr`, which can
    itself fail on half-built objects).
    """
    frames = []
    tb = err.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        values = list(frame.f_locals.values())
        values.sort(key=lambda v: not isinstance(v, io.IOBase))
        for value in values:
            found = _as_file(value)
            if found is not None:
                return found
    return None
