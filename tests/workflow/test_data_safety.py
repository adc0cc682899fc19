"""Nothing a user has is lost; bad data is refused before training.

Small `npz` datasets written here keep each run to a second or two.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kerakit.cli import main
from kerakit.data.splits import DataError
from kerakit.workflow import training
from kerakit.workflow.inference import DataChangedError
from kerakit.workflow.inference import evaluate_run
from kerakit.workflow.inference import predict
from kerakit.workflow.recipes import Recipe
from kerakit.workflow.recipes import recipe_from_dict


def _npz(path, x_train, y_train, x_test=None, y_test=None):
    arrays = {"x_train": x_train, "y_train": y_train}
    if x_test is not None:
        arrays.update(x_test=x_test, y_test=y_test)
    np.savez(path, **arrays)
    return path


def _data(n=60, features=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, features)).astype("float32") + y[:, None]
    return x, y


def _recipe(dataset, **fields):
    return recipe_from_dict({
        "name": "safety", "model": "mlp", "epochs": 1, "batch_size": 16,
        "model_kwargs": {"num_layers": 1, "hidden_dim": 8},
        "dataset": {"name": f"npz:{dataset}"}, **fields})


@pytest.fixture
def dataset(tmp_path):
    return _npz(tmp_path / "data.npz", *_data())


# ----------------------------------------------------------- run directory
def test_a_user_folder_is_never_overwritten(tmp_path, dataset):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "best.keras").write_bytes(b"my model")
    (folder / "metrics.json").write_text('{"mine": 1}')
    for restart in (False, True):
        with pytest.raises(training.TrainingError,
                           match="not a kerakit run.*another --run-dir"):
            training.train(_recipe(dataset), folder, verbose=0,
                           restart=restart)
    assert (folder / "best.keras").read_bytes() == b"my model"
    assert json.loads((folder / "metrics.json").read_text()) == {"mine": 1}
    assert sorted(p.name for p in folder.iterdir()) == [
        "best.keras", "metrics.json"]


def test_a_run_that_lost_its_state_is_refused(tmp_path, dataset):
    run = tmp_path / "run"
    training.train(_recipe(dataset), run, verbose=0)
    (run / "state.json").unlink()
    best = (run / "best.keras").read_bytes()
    other = _recipe(dataset, seed=3)
    for restart in (False, True):
        with pytest.raises(training.TrainingError, match="no state.json"):
            training.train(other, run, verbose=0, restart=restart)
    assert (run / "best.keras").read_bytes() == best


def test_restart_clears_only_kerakit_files(tmp_path, dataset):
    run = tmp_path / "run"
    training.train(_recipe(dataset), run, verbose=0)
    (run / "notes.txt").write_text("keep me")
    # The same settings continue (here: return the finished run) even with
    # the user's notes beside the run.
    again = training.train(_recipe(dataset), run, verbose=0)
    assert again.metrics["epochs_run"] == 1
    other = _recipe(dataset, epochs=2)
    with pytest.raises(training.TrainingError,
                       match="different settings.*--restart"):
        training.train(other, run, verbose=0)
    result = training.train(other, run, verbose=0, restart=True)
    assert result.metrics["epochs_run"] == 2
    assert (run / "notes.txt").read_text() == "keep me"


def test_a_run_dir_that_is_a_file_is_a_clear_error(tmp_path, dataset):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(training.TrainingError, match="is a file"):
        training.train(_recipe(dataset), path, verbose=0)
    assert path.read_text() == "x"


def test_a_run_that_fails_before_its_first_epoch_leaves_nothing(
        tmp_path, dataset, monkeypatch):
    monkeypatch.setenv("KERAKIT_RUNS_DIR", str(tmp_path / "runs"))
    missing = recipe_from_dict({"name": "m", "model": "mlp",
                                "dataset": {"name": "npz:nowhere.npz"}})
    with pytest.raises(FileNotFoundError):
        training.train(missing, verbose=0)
    assert not (tmp_path / "runs").exists()

    def broken(*args, **kwargs):
        raise MemoryError("too large")

    monkeypatch.setattr(Recipe, "build_model", broken)
    with pytest.raises(MemoryError):
        training.train(_recipe(dataset), verbose=0)
    assert not (tmp_path / "runs").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(MemoryError):
        training.train(_recipe(dataset), kept / "run", verbose=0)
    assert kept.is_dir() and not any(kept.iterdir())


# ------------------------------------------------------------------ labels
@pytest.mark.parametrize("labels, overrides, words", [
    (lambda y: y + 0.5, {}, "not whole numbers"),
    (lambda y: np.where(np.arange(len(y)) == 0, 1_000_000, y), {},
     "imply 1000001 classes"),
    (lambda y: y, {"model_kwargs.num_classes": 2}, "lie in 0..1"),
    (lambda y: y - 1, {}, "range over -1"),
])
def test_bad_labels_are_refused_before_training(tmp_path, labels, overrides,
                                                words):
    x, y = _data()
    path = _npz(tmp_path / "d.npz", x, labels(y))
    recipe = _recipe(path).with_overrides(overrides)
    with pytest.raises(DataError, match=words):
        training.train(recipe, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_non_finite_inputs_are_refused_with_their_count(tmp_path):
    x, y = _data()
    x[3, 1] = np.nan
    x[5, 0] = np.inf
    path = _npz(tmp_path / "d.npz", x, y)
    with pytest.raises(DataError, match="train inputs hold 2 NaN or inf"):
        training.train(_recipe(path), tmp_path / "run", verbose=0)


def test_splits_of_different_shapes_are_refused_at_load(tmp_path):
    x, y = _data()
    path = _npz(tmp_path / "d.npz", x, y, x[:20, :3], y[:20])
    with pytest.raises(ValueError, match="x_test have shape \\(3,\\)"):
        training.train(_recipe(path), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_inputs_and_labels_of_different_lengths_are_refused(tmp_path):
    x, y = _data()
    path = _npz(tmp_path / "d.npz", x, y, x[:20], y[:19])
    with pytest.raises(ValueError, match="20 .*19"):
        training.train(_recipe(path), tmp_path / "run", verbose=0)


# ------------------------------------------------------ evaluate / predict
def test_evaluate_refuses_changed_data_and_works_from_elsewhere(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = _data()
    _npz(tmp_path / "d.npz", x, y)
    run = tmp_path / "run"
    result = training.train(_recipe("d.npz"), run, verbose=0)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the relative npz path was recorded
    assert evaluate_run(run)["accuracy"] == pytest.approx(
        result.metrics["test"]["accuracy"], abs=1e-6)
    _npz(tmp_path / "d.npz", x, (y + 1) % 3)
    with pytest.raises(DataChangedError,
                       match="changed since training.*different content"):
        evaluate_run(run)
    assert main(["evaluate", str(run)]) == 2


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("digits") / "run"
    training.train("mlp_digits", run, verbose=0, epochs=1,
                   dataset__limit=100)
    return run


@pytest.mark.parametrize("shape", [(3, 64), (5, 8, 8), (8, 8, 1)])
def test_predict_refuses_inputs_of_the_wrong_shape(digits_run, shape):
    with pytest.raises(ValueError, match=r"\(N, 8, 8, 1\)"):
        predict(digits_run, np.zeros(shape, "float32"))


def test_predict_refuses_non_finite_inputs(digits_run, tmp_path):
    x = np.zeros((4, 8, 8, 1), "float32")
    x[1, 2, 3, 0] = np.nan
    with pytest.raises(DataError, match="inputs hold 1 NaN"):
        predict(digits_run, x)
    np.save(tmp_path / "bad.npy", x)
    assert main(["predict", str(digits_run), str(tmp_path / "bad.npy")]) == 2
    assert len(predict(digits_run, x[:1])["classes"]) == 1


def test_a_corrupt_state_file_is_named_and_restart_recovers(tmp_path,
                                                            dataset):
    run = tmp_path / "run"
    training.train(_recipe(dataset), run, verbose=0)
    (run / "notes.txt").write_text("keep me")
    (run / "state.json").write_text("{not json")
    with pytest.raises(training.TrainingError,
                       match="state.json is not a valid.*--restart"):
        training.train(_recipe(dataset), run, verbose=0)
    result = training.train(_recipe(dataset), run, verbose=0, restart=True)
    assert result.metrics["epochs_run"] == 1
    assert (run / "notes.txt").read_text() == "keep me"


def test_seed_beyond_numpy_range_is_a_recipe_error(dataset):
    from kerakit.workflow.recipes import RecipeError

    with pytest.raises(RecipeError, match="field 'seed': must be <= "
                       "4294967294"):
        _recipe(dataset, seed=2**32)
    assert _recipe(dataset, seed=2**32 - 2).seed == 2**32 - 2


def test_predict_on_a_directory_says_so(digits_run, tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        predict(digits_run, [str(tmp_path)])


def test_text_task_reports_are_run_files_but_a_users_copy_is_not(tmp_path):
    from kerakit.workflow import rundir

    # A restart clears the text tasks' reports with the rest of the run ...
    run = tmp_path / "run"
    run.mkdir()
    for name in ("state.json", "samples.txt", "decodes.tsv", "notes.txt"):
        (run / name).write_text("{}")
    rundir.clear_run_files(run)
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    # ... but in a folder that holds no kerakit run, a file of that name is
    # the user's, and the folder is refused.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "samples.txt").write_text("my samples")
    with pytest.raises(rundir.RunDirError):
        rundir.check_run_dir(mine, "abc", restart=True)
    assert (mine / "samples.txt").read_text() == "my samples"
