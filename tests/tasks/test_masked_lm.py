"""Masked language modelling with BERT through the workflow, on tiny text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kerakit.data.splits import DataError
from kerakit.tasks import get_task
from kerakit.workflow import training
from kerakit.workflow.inference import predict
from kerakit.workflow.recipes import RecipeError
from kerakit.workflow.recipes import recipe_from_dict

TINY = {"num_layers": 1, "hidden_dim": 16, "num_heads": 2,
        "intermediate_dim": 32, "dropout": 0.0, "head": "masked_lm"}
LINES = ["the cat sat on the mat.", "the dog sat on the log.",
         "a cat and a dog met on the mat."]


def recipe(name: str, **changes) -> object:
    data = {"name": "mlm", "model": "bert_tiny",
            "task": "masked_language_modeling", "epochs": 1,
            "batch_size": 8, "model_kwargs": dict(TINY),
            "dataset": {"name": name},
            "preprocessing": {"tokenizer": "wordpiece",
                              "sequence_length": 10, "vocabulary_size": 60}}
    for key, value in changes.items():
        section, _, field = key.rpartition(".")
        (data[section] if section else data)[field] = value
    return recipe_from_dict(data)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("mlm") / "c.txt"
    path.write_text("\n".join(LINES * 20) + "\n")
    return path


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "mlm"
    return training.train(recipe(f"text:{corpus}"), run_dir, verbose=0)


def test_trains_with_masked_metrics_and_fills_in_masks(run):
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert metrics["task"] == "masked_language_modeling"
    assert set(metrics["test"]) == {"loss", "accuracy", "perplexity"}
    assert metrics["test"]["perplexity"] == pytest.approx(
        np.exp(metrics["test"]["loss"]), rel=1e-5)
    assert {"val_loss", "val_accuracy"} <= set(metrics["validation"]) | {
        f"val_{k}" for k in metrics["validation"]}
    baseline = metrics["baseline"]
    assert baseline["most_frequent_piece"] == "the"
    assert 0 < baseline["test_accuracy"] < 1
    assert metrics["examples"]["train"] > metrics["examples"]["test"] > 0
    out = predict(run.run_dir, ["the [MASK] sat on the [MASK].", "[MASK]"])
    assert [len(p) for p in out["pieces"]] == [2, 1]
    assert all(0 < q <= 1 for row in out["probabilities"] for q in row)
    with pytest.raises(ValueError, match="holds no \\[MASK\\]"):
        predict(run.run_dir, ["no mask here"])


def test_fixed_held_out_masks_and_fresh_training_masks(corpus):
    task = get_task("masked_language_modeling")
    splits = training.load_splits(recipe(f"text:{corpus}"))
    again = training.load_splits(recipe(f"text:{corpus}"))
    x, y = splits.test
    assert (x["mask_positions"] == again.test[0]["mask_positions"]).all()
    assert x["token_ids"].shape == (len(y["mask_ids"]), 10)
    pre = splits.preprocessor
    assert (x["token_ids"] == pre.mask_id).any()
    batches = task.train_batches(splits, 4, seed=0, epoch=0)
    first = batches[0][0]["mask_positions"]
    batches.on_epoch_end()
    assert set(first.shape) and batches.epoch == 1
    inputs, targets, weights = batches[0]
    assert inputs["mask_positions"].shape == targets.shape == weights.shape
    assert sorted(inputs) == ["mask_positions", "padding_mask",
                              "segment_ids", "token_ids"]
    # dataset.limit caps the windows of every split.
    counts = task.count_examples(splits)
    capped = task.count_examples(training.load_splits(recipe(
        f"text:{corpus}", **{"dataset.limit": 2})))
    assert counts["train"] > 2
    assert capped == {k: min(2, v) for k, v in counts.items()}


def test_bad_inputs_are_refused(corpus, tmp_path):
    with pytest.raises(RecipeError, match="head': must be 'masked_lm'"):
        recipe(f"text:{corpus}", model_kwargs={"num_layers": 1})
    with pytest.raises(RecipeError, match="reads a text stream"):
        recipe("digits")
    with pytest.raises(RecipeError, match="Received: 'bpe'"):
        recipe(f"text:{corpus}", **{"preprocessing.tokenizer": "bpe"})
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    with pytest.raises(DataError, match="holds no text"):
        training.load_splits(recipe(f"text:{empty}"))
    with pytest.raises(DataError, match="not found"):
        training.load_splits(recipe(f"text:{tmp_path / 'missing.txt'}"))
