"""Run directories: which directory a run may write, and clearing its files.

kerakit writes a run only into a directory it may own: one that does not
exist yet, an empty one, or a kerakit run of the same settings (its
`state.json` carries the recipe's fingerprint). Anything else is refused
before any work: a user's folder, a finished run that lost its
`state.json` (its files cannot be told from a user's), a run of other
settings. `restart` clears kerakit's own files (`RUN_FILES`) and nothing
else, and only in a directory with a kerakit `state.json`. A run that
fails before its first epoch removes the directory it created, so nothing
is left behind.

Example:
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> (d / "notes.txt").write_text("mine")
4
>>> try:
...     check_run_dir(d, "abc123", restart=False)
... except RunDirError as err:
...     print("not a kerakit run (it holds notes.txt" in str(err))
True
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

STATE = "state.json"
CHECKPOINT = "checkpoint.weights.h5"
# Every file and folder a run writes. `restart` removes these and nothing
# else; a directory holding anything else is not a kerakit run.
RUN_FILES = ("state.json", CHECKPOINT, "best.keras", "metrics.json",
             "recipe.json", "preprocessing.json", "environment.json",
             "dataset.json", "history.csv", "history.json",
             "learning_curves.png", "samples.png", "tensorboard",
             # The text tasks' reports (language modelling, text to text).
             "samples.txt", "decodes.tsv",
             # Reinforcement learning: the agent's state, the returns plot.
             "agent_state.npz", "agent_state.previous.npz", "episodes.png")
# Left by a crash between writing a temporary file and renaming it.
_TEMPORARY = ("best.tmp.keras", "checkpoint.tmp.weights.h5",
              "history.csv.tmp", "learning_curves.tmp.png",
              "samples.tmp.png", "agent_state.tmp.npz", "episodes.tmp.png")


class RunDirError(RuntimeError):
    """The run directory cannot be used; the message says what to do."""


def _foreign(run_dir: Path) -> list[str]:
    """Entries that kerakit's runs never write (a user's files)."""
    own = set(RUN_FILES) | set(_TEMPORARY)
    return sorted(p.name for p in run_dir.iterdir() if p.name not in own
                  and not p.name.endswith(".json.tmp"))


def _read_fingerprint(run_dir: Path) -> str | None:
    try:
        state = json.loads((run_dir / STATE).read_text())
    except (OSError, ValueError):
        return None
    return state.get("fingerprint") if isinstance(state, dict) else None


def check_run_dir(run_dir: Path, fingerprint: str, restart: bool) -> bool:
    """Check that a run with `fingerprint` may use `run_dir`.

    Args:
        run_dir: The run directory (may not exist yet).
        fingerprint: The recipe's settings fingerprint.
        restart: The user asked to start the run over.

    Returns:
        Whether the directory holds a run to continue (a `state.json` of
        the same settings, and no restart).

    Raises:
        RunDirError: Naming the directory, what is wrong and what to do.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(
            f"--run-dir {run_dir} is a file, not a directory: give a "
            "directory path (kerakit creates it).")
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return False
    found = _read_fingerprint(run_dir)
    if found == fingerprint and not restart:
        return True  # the same run, continued (a user's notes may be there)
    if (run_dir / STATE).is_file():
        if restart:
            return False  # a kerakit run: restart clears its files only
        if found is None:
            raise RunDirError(
                f"{run_dir / STATE} is not a valid kerakit state file "
                "(unreadable or not JSON), so the run cannot be continued: "
                "pass --restart (restart=True) to clear kerakit's files "
                "there and start over (other files stay).")
        raise RunDirError(
            f"{run_dir} holds a run of different settings (recipe or "
            "overrides changed): choose another --run-dir, or pass "
            "--restart (restart=True) to clear that run's files and start "
            "over.")
    held = _foreign(run_dir) or sorted(p.name for p in run_dir.iterdir())
    shown = ", ".join(held[:3]) + (" ..." if len(held) > 3 else "")
    raise RunDirError(
        f"{run_dir} is not a kerakit run (it holds {shown} and no "
        f"{STATE}), so kerakit cannot tell those files from yours and "
        "will not overwrite them: choose another --run-dir (a new or "
        "empty one).")


def clear_run_files(run_dir: Path) -> None:
    """Remove kerakit's own run files from `run_dir`, nothing else."""
    for name in (*RUN_FILES, *_TEMPORARY):
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def create_run_dir(run_dir: Path) -> list[Path]:
    """Create `run_dir` and missing parents; return those created, deepest
    first (what `remove_created` may remove again)."""
    missing = []
    path = run_dir.absolute()
    while not path.exists():
        missing.append(path)
        path = path.parent
    run_dir.mkdir(parents=True, exist_ok=True)
    return missing


def remove_created(created: list[Path]) -> None:
    """Remove directories that `create_run_dir` made, with kerakit's files.

    A directory that holds anything else is kept (and so are its parents).
    """
    for path in created:
        if not path.is_dir():
            continue
        if path == created[0]:
            if _foreign(path):
                return
            clear_run_files(path)
        try:
            path.rmdir()
        except OSError:  # not empty: someone else wrote there meanwhile
            return
