"""Node and graph classification through the workflow, on tiny graphs."""

from __future__ import annotations

import numpy as np
import pytest
from graph_files import write_planetoid

import kerakit
from kerakit.cli import main
from kerakit.data.datasets import DatasetUnavailableError
from kerakit.data.splits import DataError
from kerakit.tasks import default_task
from kerakit.tasks import get_task
from kerakit.tasks.graph_classification import GraphBatches
from kerakit.workflow import training
from kerakit.workflow.inference import evaluate_run
from kerakit.workflow.recipes import RecipeError
from kerakit.workflow.recipes import load_recipe
from kerakit.workflow.recipes import recipe_from_dict

# The tests that share the two trained runs stay on one xdist worker.
SHARED = pytest.mark.xdist_group("graph_task_runs")
KARATE = {"name": "networkx:karate", "labels_per_class": 4,
          "validation_fraction": 0.3, "test_fraction": 0.5}


def node_recipe(**fields):
    base = {"name": "nodes", "model": "gcn", "epochs": 4, "patience": 0,
            "dataset": dict(KARATE),
            "model_kwargs": {"hidden_dim": 8, "dropout": 0.5},
            "optimizer": {"learning_rate": 0.05}}
    base.update(fields)
    return recipe_from_dict(base)


def graph_recipe(**fields):
    base = {"name": "graphs", "model": "gcn",
            "task": "graph_classification", "epochs": 3, "batch_size": 6,
            "dataset": {"name": "networkx:cycles_vs_paths", "examples": 40},
            "model_kwargs": {"hidden_dim": 8, "dropout": 0.0,
                             "readout": "mean", "max_graphs": 8},
            "optimizer": {"learning_rate": 0.02}}
    base.update(fields)
    return recipe_from_dict(base)


def softmax_ce(logits, labels):
    logits = logits - logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


@pytest.fixture(scope="module")
def node_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("nodes") / "run"
    return training.train(node_recipe(), run_dir, verbose=0)


@pytest.fixture(scope="module")
def graph_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("graphs") / "run"
    return training.train(graph_recipe(), run_dir, verbose=0)


def test_graph_models_default_to_node_classification():
    assert default_task("gcn") == "node_classification"
    assert node_recipe().task == "node_classification"
    assert node_recipe().monitor == "val_loss"


@SHARED
def test_node_metrics_count_only_the_masked_nodes(node_run):
    metrics = node_run.metrics
    assert metrics["task"] == "node_classification"
    assert metrics["examples"] == {"train": 8, "validation": 10, "test": 16}
    splits = training.load_splits(node_recipe())
    graph, y_test = splits.test
    x = {"features": graph.features[None],
         "edges": graph.edges[None].astype("int32")}
    logits = np.asarray(node_run.model.predict(x, verbose=0))[0]
    test = y_test >= 0
    assert test.sum() == 16
    # Accuracy and loss over the 16 test nodes, recomputed with numpy.
    accuracy = (logits[test].argmax(-1) == y_test[test]).mean()
    loss = softmax_ce(logits[test], y_test[test]).mean()
    assert metrics["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert metrics["test"]["loss"] == pytest.approx(loss, rel=1e-4)
    # Each split's loss is the mean over its own mask, nothing else.
    task = get_task("node_classification")
    losses = []
    for split in ("train", "validation", "test"):
        y = getattr(splits, split)[1]
        got = task.evaluate(node_run.model, getattr(splits, split), 32)
        losses.append(softmax_ce(logits[y >= 0], y[y >= 0]).mean())
        assert got["loss"] == pytest.approx(losses[-1], rel=1e-4)
    assert len(set(np.round(losses, 6))) == 3


def test_node_split_targets_weigh_only_their_mask():
    task = get_task("node_classification")
    y = np.array([1, -1, 0, -1, -1])
    labels, weights = task.targets(y)
    assert labels.tolist() == [[1, 0, 0, 0, 0]]
    np.testing.assert_allclose(weights, [[1, 0, 1, 0, 0]])


@SHARED
def test_node_evaluate_run_equals_the_recorded_test_metrics(node_run):
    again = evaluate_run(node_run.run_dir)
    for key, value in node_run.metrics["test"].items():
        assert again[key] == pytest.approx(value, rel=1e-5, abs=1e-6)


@SHARED
def test_node_predict_on_the_runs_graph_and_on_a_file(node_run, tmp_path,
                                                      capsys):
    out = kerakit.predict(node_run.run_dir)
    assert out["nodes"] == list(range(34))
    assert out["probabilities"].shape == (34, 2)
    x = {"features": np.eye(34, dtype="float32")[None],
         "edges": training.load_splits(node_recipe()).train[0].edges[
             None].astype("int32")}
    expected = np.asarray(node_run.model.predict(x, verbose=0))[0]
    assert out["classes"] == expected.argmax(-1).tolist()
    assert set(out["class_names"]) <= {"Mr. Hi", "Officer"}
    # The same graph from a file (no labels needed), by path or graph:PATH.
    np.savez(tmp_path / "k.npz", features=np.eye(34), edges=x["edges"][0])
    for given in (tmp_path / "k.npz", f"graph:{tmp_path / 'k.npz'}"):
        assert kerakit.predict(node_run.run_dir, given)["classes"] == (
            out["classes"])
    lines = get_task("node_classification").describe_predictions(out)
    assert len(lines) == 34 and lines[0].startswith("0\t")
    # The command line without inputs predicts on the run's own graph.
    capsys.readouterr()
    assert main(["predict", str(node_run.run_dir)]) == 0
    assert capsys.readouterr().out.splitlines() == lines
    np.savez(tmp_path / "bad.npz", features=np.ones((3, 5)),
             edges=np.array([[0, 1]]))
    with pytest.raises(DataError, match="5 feature columns.*34"):
        kerakit.predict(node_run.run_dir, tmp_path / "bad.npz")


@SHARED
def test_graph_classification_end_to_end(graph_run):
    metrics = graph_run.metrics
    assert metrics["task"] == "graph_classification"
    assert metrics["examples"] == {"train": 28, "validation": 4, "test": 8}
    splits = training.load_splits(graph_recipe())
    out = get_task("graph_classification").predict(
        graph_run.model, splits.test[0], ["cycle", "path"])
    accuracy = (np.array(out["classes"]) == splits.test[1]).mean()
    assert metrics["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    again = evaluate_run(graph_run.run_dir)
    for key, value in metrics["test"].items():
        assert again[key] == pytest.approx(value, rel=1e-5, abs=1e-6)
    every = kerakit.predict(graph_run.run_dir)
    assert len(every["classes"]) == 40
    assert every["probabilities"].shape == (40, 2)


@SHARED
def test_graph_batches_pad_slots_with_zero_weight(graph_run):
    splits = training.load_splits(graph_recipe())
    graphs, labels = splits.train
    batches = GraphBatches(graph_run.model, graphs, labels, 8, seed=1,
                           shuffle=True)
    assert len(batches) == 4  # 28 graphs: 8 + 8 + 8 + 4
    x, y, weights = batches[3]
    assert weights.tolist() == [[1.0] * 4 + [0.0] * 4]
    assert set(np.unique(x["graph_index"])) == {-1, 0, 1, 2, 3}
    shapes = {k: v.shape for k, v in batches[0][0].items()}
    assert shapes == {k: v.shape for k, v in x.items()}  # one shape
    first = batches.order.copy()
    batches.on_epoch_end()
    assert (batches.order != first).any()
    again = GraphBatches(graph_run.model, graphs, labels, 8, seed=1,
                         epoch=1, shuffle=True)
    assert (again.order == batches.order).all()  # resumable


def test_planetoid_recipes_without_files_stop_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("gcn_cora", "gat_cora", "graph_transformer_cora"):
        assert "Planetoid" in load_recipe(name).description
        with pytest.raises(DatasetUnavailableError,
                           match=r"data/planetoid/cora.*never downloads"):
            training.train(name, tmp_path / name, verbose=0)
        assert not (tmp_path / name).exists()


@pytest.mark.parametrize("name", ["gcn_cora", "gat_cora",
                                  "graph_transformer_cora"])
def test_planetoid_recipes_run_on_planetoid_files(name, tmp_path,
                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_planetoid(tmp_path / "data" / "planetoid" / "cora",
                    num_features=12)
    result = training.train(name, tmp_path / "run", verbose=0, epochs=1)
    assert result.metrics["examples"] == {"train": 60, "validation": 500,
                                          "test": 100}
    assert np.isfinite(result.metrics["test"]["loss"])


def _bad_graph(tmp_path, **arrays):
    base = {"edges": np.array([[0, 1], [1, 0], [2, 3], [3, 2]]),
            "features": np.ones((4, 2)), "labels": np.array([0, 1, 0, 1]),
            "train_mask": np.array([1, 1, 0, 0], bool),
            "val_mask": np.array([0, 0, 1, 0], bool),
            "test_mask": np.array([0, 0, 0, 1], bool)}
    base.update(arrays)
    np.savez(tmp_path / "bad.npz", **base)
    return {"name": f"graph:{tmp_path / 'bad.npz'}"}


@pytest.mark.parametrize("arrays, words", [
    ({"edges": np.array([[0, 4]])}, "edges must name nodes 0..3"),
    ({"val_mask": np.array([0, 1, 1, 0], bool)},
     "train and validation masks share 1"),
    ({"labels": np.array([0, 1, 0, 7])}, "test labels must lie in 0..1"),
])
def test_bad_graphs_are_refused_before_training(tmp_path, arrays, words):
    recipe = node_recipe(dataset=_bad_graph(tmp_path, **arrays),
                         model_kwargs={"num_classes": 2})
    with pytest.raises(DataError, match=words):
        training.train(recipe, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_wrong_kind_of_dataset_names_the_right_task(tmp_path):
    with pytest.raises(DataError, match="use task = 'graph_classification'"):
        training.load_splits(node_recipe(dataset={
            "name": "networkx:cycles_vs_paths"}))
    with pytest.raises(DataError, match="use task = 'node_classification'"):
        training.load_splits(graph_recipe(dataset=dict(KARATE)))


@pytest.mark.parametrize("make, fields, words", [
    (graph_recipe, {"model_kwargs": {"readout": "mean"}},
     "model_kwargs.max_graphs.*max_graphs >= batch_size"),
    (graph_recipe, {"model_kwargs": {"max_graphs": 8}},
     "model_kwargs.readout.*'mean', 'sum' or 'max'"),
    (node_recipe, {"model_kwargs": {"readout": "sum", "max_graphs": 4}},
     "model_kwargs.readout.*graph_classification"),
    (node_recipe, {"dataset": {"name": "digits"}},
     "dataset.name.*needs a graph dataset"),
    (node_recipe, {"preprocessing": {"standardize": True}},
     "preprocessing.standardize.*row_normalize"),
])
def test_recipe_errors_name_the_field(make, fields, words):
    with pytest.raises(RecipeError, match=words):
        make(**fields)
