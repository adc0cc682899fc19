"""Where an export goes: output-directory checks, staging and listings.

`overwrite` is the one place where the exporter deletes anything, so it is
narrow: it replaces only a previous kerakit export, recognised by its
`export.json` sidecar and holding nothing but the files that export wrote
(the sidecar lists them). It never replaces the export's source, a folder
that holds the source, or a folder with anything else in it; those are
refused before any work, with a message that names the folder.

Staging directories are made with `mkdir`, not `tempfile.mkdtemp` (mode
0700): the staging directory becomes the export, so it must get the
user's umask like any other folder.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SIDECAR = "export.json"
ARTIFACTS = {"saved_model": ".", "onnx": "model.onnx", "keras": "model.keras"}
# Top-level entries of an export whose sidecar predates the `files` list.
_LEGACY_ENTRIES = {
    "saved_model": {"saved_model.pb", "fingerprint.pb", "variables",
                    "assets"},
    "onnx": {"model.onnx"},
    "keras": {"model.keras"},
}
_SHOWN = 5  # paths named in a refusal


def check_target(target: Path, overwrite: bool,
                 sources: Sequence[Path] = ()) -> Path:
    """Refuse an output directory the export may not use; return it absolute.

    Args:
        target: The requested output directory.
        overwrite: Whether an existing export there may be replaced.
        sources: The paths being exported (run directories, `.keras`
            files); the target may be inside one (a run's default export
            folder) but never one of them nor a folder that holds one.

    Returns:
        `target`, absolute.

    Raises:
        FileExistsError: The target is a source or holds one, exists and
            `overwrite` is false, or is not a replaceable kerakit export.

    Example:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> check_target(run / "export" / "onnx", True, [run]).name
    'onnx'
    >>> try:
    ...     check_target(run, True, [run])
    ... except FileExistsError as err:
    ...     print(str(err).split(": ")[1].split(".")[0])
    it is the export's source
    """
    target = target.expanduser().absolute()
    real = Path(os.path.realpath(target))
    for source in sources:
        src = Path(os.path.realpath(Path(source).expanduser()))
        if real == src or real in src.parents:
            what = ("it is the export's source" if real == src
                    else f"it holds the export's source {src}")
            raise FileExistsError(
                f"Refusing to write the export to {target}: {what}. Choose "
                "an output directory outside the source (the default is "
                "RUN_DIR/export/FORMAT)."
            )
    if not (target.exists() or target.is_symlink()):
        return target
    if target.is_symlink() or not target.is_dir():
        kind = "a symbolic link" if target.is_symlink() else "not a directory"
        raise FileExistsError(
            f"{target} exists and is {kind}; choose another output "
            "directory."
        )
    if not overwrite:
        raise FileExistsError(
            f"{target} already exists. Pass overwrite=True (CLI: "
            "--overwrite) to replace a previous export there, or choose "
            "another output directory."
        )
    check_replaceable(target)
    return target


def check_replaceable(folder: Path) -> None:
    """Raise unless `folder` holds one kerakit export and nothing else.

    Raises:
        FileExistsError: `folder` has no kerakit `export.json`, or holds
            files the export did not write.
    """
    meta = _read_sidecar(folder / SIDECAR)
    if meta is None:
        raise FileExistsError(
            f"Refusing to overwrite {folder}: it is not a kerakit export (no "
            f"{SIDECAR} written by kerakit export), and overwrite only "
            "replaces a previous export. Choose another output directory, "
            "or move its content away yourself."
        )
    files = meta.get("files")
    if isinstance(files, list):
        allowed = {str(f) for f in files}
        extra = [p for p in listing(folder) if p not in allowed]
    else:  # written before the sidecar listed its files
        entries = _LEGACY_ENTRIES[meta["format"]]
        extra = [p for p in listing(folder)
                 if p.split("/")[0] not in entries]
    if extra:
        shown = ", ".join(extra[:_SHOWN]) + (
            f" and {len(extra) - _SHOWN} more" if len(extra) > _SHOWN else "")
        raise FileExistsError(
            f"Refusing to overwrite {folder}: besides a kerakit export it "
            f"holds {len(extra)} other file(s) or folder(s) ({shown}). Move "
            "them out first, or choose another output directory."
        )


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar's content if kerakit wrote it, else `None`."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if (not isinstance(meta, dict) or meta.get("format") not in ARTIFACTS
            or meta.get("artifact") != ARTIFACTS[meta["format"]]):
        return None
    return meta


def listing(folder: Path) -> list[str]:
    """Every file and folder under `folder` except the sidecar, sorted.

    Paths are relative, with `/` separators; symbolic links are listed,
    not followed.
    """
    out = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for name in dirs + files:
            path = (rel / name).as_posix()
            if path != SIDECAR:
                out.append(path)
    return sorted(out)


def check_distinct(targets: Sequence[Path]) -> None:
    """Refuse two exports of one call in one folder or one inside another."""
    real = [Path(os.path.realpath(t)) for t in targets]
    for i, a in enumerate(real):
        for b in real[i + 1:]:
            if a == b or a in b.parents or b in a.parents:
                raise ValueError(
                    f"Two exports of one call share a folder ({a} and {b}):"
                    " give each its own out_dir, not one inside another."
                )


def make_parents(folder: Path) -> list[Path]:
    """Create `folder` and missing parents; return the created ones."""
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        raise NotADirectoryError(
            f"Cannot write an export under {folder}: {probe} is a file, not "
            "a directory. Choose another output directory."
        )
    for path in reversed(missing):
        path.mkdir()
    return list(reversed(missing))


def make_staging(target: Path) -> Path:
    """Create an empty folder beside `target`, renamed into place later.

    Plain `mkdir`, so the folder (the future export) gets the user's umask.
    """
    for _ in range(100):
        name = f".{target.name}.{secrets.token_hex(4)}.partial"
        path = target.parent / name
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"Cannot create a staging folder beside {target}.")
