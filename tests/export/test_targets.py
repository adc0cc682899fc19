"""Export targets and sources: what an export may replace, file modes, and
clear refusals of bad sources.

`overwrite` must only ever replace a previous kerakit export: never the
source, a folder that holds it, or a folder with anything else in it
(issue 20: `--out` naming a project folder or the run itself wiped it).
Every refusal is checked to leave the folder byte for byte as it was.
Nothing here runs a converter or a verifier process (format "keras",
`verify=False`), so the file is cheap on every backend.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from kerakit import cli
from kerakit.export import SIDECAR
from kerakit.export import export_many
from kerakit.export import export_model
from kerakit.export import exporter


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (`None` for folders)."""
    return {p.relative_to(root).as_posix(): None if p.is_dir()
            else p.read_bytes() for p in sorted(root.rglob("*"))}


def _export(model, out: Path, **kwargs):
    return export_model(model, out, format="keras", verify=False, **kwargs)


@pytest.fixture
def project(tmp_path, lenet) -> Path:
    """A user's project folder: a run directory and files of their own."""
    run = tmp_path / "proj" / "run1"
    run.mkdir(parents=True)
    lenet.save(run / "best.keras")
    (run / "metrics.json").write_text('{"accuracy": 0.9}')
    (tmp_path / "proj" / "notes.txt").write_text("my notes")
    (tmp_path / "proj" / "data").mkdir()
    (tmp_path / "proj" / "data" / "x.npy").write_bytes(b"\x93NUMPY")
    return tmp_path / "proj"


# ------------------------------------------------------- issue 20 data loss
def test_cli_overwrite_refuses_a_folder_that_holds_the_source(project,
                                                              capsys):
    before = _snapshot(project)
    code = cli.main(["export", str(project / "run1"), "--format", "keras",
                     "--out", str(project), "--overwrite", "--no-verify"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"Refusing to write the export to {project}" in err
    assert "holds the export's source" in err
    assert "Choose an output directory outside the source" in err
    assert len(err.strip().splitlines()) == 1
    assert _snapshot(project) == before


def test_cli_overwrite_refuses_the_run_directory_itself(project, capsys):
    before = _snapshot(project)
    code = cli.main(["export", str(project / "run1"), "--format", "keras",
                     "--out", str(project / "run1"), "--overwrite",
                     "--no-verify"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{project / 'run1'}: it is the export's source" in err
    assert _snapshot(project) == before


def test_overwrite_refuses_the_source_through_another_spelling(project):
    before = _snapshot(project)
    # `run1/..` is `proj` (the source's folder), `./` variants likewise.
    with pytest.raises(FileExistsError, match="holds the export's source"):
        _export(project / "run1", project / "run1" / "..", overwrite=True)
    with pytest.raises(FileExistsError, match="it is the export's source"):
        _export(project / "run1" / "best.keras",
                project / "run1" / "best.keras", overwrite=True)
    with pytest.raises(FileExistsError, match="holds the export's source"):
        _export(project / "run1" / "best.keras", project / "run1",
                overwrite=True)
    assert _snapshot(project) == before


def test_overwrite_refuses_a_folder_that_is_not_an_export(project, lenet):
    before = _snapshot(project)
    with pytest.raises(FileExistsError) as info:
        _export(lenet, project, overwrite=True)
    message = str(info.value)
    assert f"Refusing to overwrite {project}: it is not a kerakit export" in (
        message)
    assert "Choose another output directory" in message
    assert _snapshot(project) == before


def test_overwrite_refuses_an_export_with_other_files_in_it(tmp_path,
                                                            lenet):
    out = tmp_path / "out"
    _export(lenet, out)
    (out / "README.txt").write_text("what this model is")
    (out / "extra").mkdir()
    before = _snapshot(tmp_path)
    with pytest.raises(FileExistsError) as info:
        _export(lenet, out, overwrite=True)
    message = str(info.value)
    assert "besides a kerakit export it holds 2 other" in message
    assert "README.txt" in message and "extra" in message
    assert "Move them out first" in message
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("content", ['{"hello": 1}', "not json",
                                     '{"format": "keras"}'])
def test_overwrite_refuses_a_sidecar_kerakit_did_not_write(tmp_path, lenet,
                                                           content):
    out = tmp_path / "out"
    out.mkdir()
    (out / SIDECAR).write_text(content)
    (out / "model.keras").write_text("theirs")
    before = _snapshot(tmp_path)
    with pytest.raises(FileExistsError, match="not a kerakit export"):
        _export(lenet, out, overwrite=True)
    assert _snapshot(tmp_path) == before


def test_overwrite_replaces_a_previous_export(tmp_path, lenet):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _export(lenet, out)
    out.rmdir()
    first = _export(lenet, out)
    assert first.metadata["files"] == ["model.keras"]
    (out / "model.keras").write_bytes(b"stale")
    with pytest.raises(FileExistsError, match="--overwrite"):
        _export(lenet, out)
    second = _export(lenet, out, overwrite=True)
    assert sorted(os.listdir(out)) == ["export.json", "model.keras"]
    assert (out / "model.keras").read_bytes() != b"stale"
    assert second.max_abs_diff is None
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no staging left


def test_overwrite_replaces_an_export_from_before_the_file_list(tmp_path,
                                                                lenet):
    # Sidecars written before `files` existed: the format's own names.
    out = tmp_path / "out"
    _export(lenet, out)
    meta = json.loads((out / SIDECAR).read_text())
    del meta["files"]
    (out / SIDECAR).write_text(json.dumps(meta))
    (out / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="mine.txt"):
        _export(lenet, out, overwrite=True)
    (out / "mine.txt").unlink()
    _export(lenet, out, overwrite=True)
    assert sorted(os.listdir(out)) == ["export.json", "model.keras"]


def test_overwrite_refuses_a_symbolic_link(tmp_path, lenet):
    _export(lenet, tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    before = _snapshot(tmp_path / "real")
    with pytest.raises(FileExistsError, match="is a symbolic link"):
        _export(lenet, tmp_path / "link", overwrite=True)
    assert _snapshot(tmp_path / "real") == before


def test_a_folder_that_appears_during_the_export_is_kept(tmp_path, lenet,
                                                         monkeypatch):
    out = tmp_path / "out"
    real = exporter._export_all

    def export_while_a_user_writes(staged, *args):
        out.mkdir()
        (out / "theirs.txt").write_text("written meanwhile")
        return real(staged, *args)

    monkeypatch.setattr(exporter, "_export_all", export_while_a_user_writes)
    with pytest.raises(FileExistsError, match="not a kerakit export"):
        _export(lenet, out, overwrite=True)
    assert _snapshot(tmp_path) == {"out": None,
                                   "out/theirs.txt": b"written meanwhile"}


def test_two_exports_of_one_call_may_not_nest(tmp_path, lenet):
    with pytest.raises(ValueError, match="share a folder"):
        export_many([(lenet, tmp_path / "a"), (lenet, tmp_path / "a" / "b")],
                    format="keras", verify=False)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------- file modes
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_exports_follow_the_umask(tmp_path, lenet, umask):
    old = os.umask(umask)
    try:
        result = _export(lenet, tmp_path / "new" / "out")
    finally:
        os.umask(old)

    def mode(path: Path) -> int:
        return stat.S_IMODE(os.stat(path).st_mode)

    folder, file = 0o777 & ~umask, 0o666 & ~umask
    assert mode(tmp_path / "new") == folder
    assert mode(result.path) == folder  # was 0700 (tempfile.mkdtemp)
    assert mode(result.path / SIDECAR) == file
    assert mode(result.artifact) == file


# --------------------------------------------------------------- sources
def test_unwritable_path_gives_clear_error(lenet, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError, match="is a file"):
        _export(lenet, blocker / "sub" / "out")
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


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


@pytest.mark.parametrize("members, problem", [
    (None, "not a zip file"),  # a text file named .keras
    ({"notes.txt": "x"}, "missing config.json"),
    ({}, "missing config.json"),
])
def test_a_file_that_is_not_a_keras_archive_says_why(tmp_path, capsys,
                                                     members, problem):
    path = tmp_path / "model.keras"
    if members is None:
        path.write_text("hello")
    else:
        _zip(path, members)
    with pytest.raises(ValueError) as info:
        export_model(path, tmp_path / "o")
    assert str(info.value).startswith(
        f"{path} is not a .keras archive ({problem}). Give a model saved "
        "with model.save('name.keras')")
    code = cli.main(["export", str(path), "--format", "keras"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"is not a .keras archive ({problem})" in err
    assert "File not found" not in err
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]


def test_a_damaged_run_checkpoint_is_named(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match=f"{run / 'best.keras'} is not a "
                       r"\.keras archive \(not a zip file\)"):
        export_model(run, tmp_path / "o", format="keras")


def test_a_damaged_archive_says_to_save_it_again(tmp_path):
    path = _zip(tmp_path / "m.keras", {"config.json": "{not json"})
    with pytest.raises(ValueError, match=r"Cannot load .*m\.keras as a Keras "
                       r"model \(.*\)\. .* save the model again"):
        export_model(path, tmp_path / "o", format="keras")
