"""Text to text with T5 through the workflow, on tiny number-words data."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from kerakit.data.splits import DataError
from kerakit.tasks import default_task
from kerakit.tasks import get_task
from kerakit.workflow import training
from kerakit.workflow.inference import predict
from kerakit.workflow.recipes import RecipeError
from kerakit.workflow.recipes import recipe_from_dict

TINY = {"num_layers": 1, "hidden_dim": 16, "num_heads": 2,
        "intermediate_dim": 32, "dropout": 0.0}


def recipe(dataset: dict, **changes) -> object:
    data = {"name": "t2t", "model": "t5_tiny", "epochs": 1,
            "batch_size": 16, "model_kwargs": dict(TINY),
            "dataset": dataset,
            "preprocessing": {"tokenizer": "word", "sequence_length": 12}}
    for key, value in changes.items():
        section, _, field = key.rpartition(".")
        (data[section] if section else data)[field] = value
    return recipe_from_dict(data)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "t2t"
    return training.train(recipe({"name": "generated:number_words",
                                  "examples": 40}), run_dir, verbose=0)


def test_t5_defaults_to_text_to_text():
    assert default_task("t5_tiny") == "text_to_text"


def test_trains_decodes_and_predicts_text(run):
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert metrics["task"] == "text_to_text"
    assert set(metrics["test"]) == {"loss", "accuracy", "greedy_exact_match",
                                    "beam_exact_match"}
    assert metrics["decodes"] == {"path": "decodes.tsv", "count": 8,
                                  "num_beams": 4}
    with open(run.run_dir / "decodes.tsv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows[0] == ["source", "target", "greedy", "beam"]
    assert len(rows) == 9 and all(r[0].isdigit() for r in rows[1:])
    saved = json.loads((run.run_dir / "preprocessing.json").read_text())
    assert saved["kind"] == "text_to_text" and saved["tokenizer"] == "word"
    out = predict(run.run_dir, ["372", "15"])
    assert len(out["texts"]) == 2 and all(isinstance(t, str)
                                          for t in out["texts"])
    with pytest.raises(ValueError, match="empty text"):
        predict(run.run_dir, [""])


def test_teacher_forcing_shift_and_weights():
    x, y, w = get_task("text_to_text").fit_data(
        np.array([[5, 6, 1], [7, 1, 0]]), np.array([[8, 9, 1], [4, 1, 0]]))
    assert x["decoder_token_ids"].tolist() == [[0, 8, 9], [0, 4, 1]]
    assert x["decoder_padding_mask"].tolist() == [[True] * 3, [True] * 3]
    assert x["encoder_padding_mask"].tolist() == [[True] * 3,
                                                  [True, True, False]]
    assert w.tolist() == [[1, 1, 1], [1, 1, 0]]


def test_splits_learn_the_vocabulary_on_training_pairs():
    splits = training.load_splits(recipe({"name": "generated:number_words",
                                          "examples": 50}))
    pre = splits.preprocessor
    assert pre.source_length <= 5 and splits.model_arguments == {
        "vocabulary_size": pre.num_ids}
    assert (splits.test[1][:, 0] > 2).all()  # starts with a known word


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(RecipeError, match="'char', 'word'.*'wordpiece'"):
        recipe({"name": "generated:number_words"},
               **{"preprocessing.tokenizer": "wordpiece"})
    labels = tmp_path / "labels.npz"
    np.savez(labels, x=np.array(["a b", "c d"]), y=np.array([0, 1]))
    with pytest.raises(DataError, match="train targets are int64"):
        training.load_splits(recipe({"name": f"npz:{labels}"}))
    empty = tmp_path / "empty.npz"
    np.savez(empty, x=np.array(["a b", "c"]), y=np.array(["x", ""]))
    with pytest.raises(DataError, match="targets hold 1 empty text"):
        training.load_splits(recipe({"name": f"npz:{empty}"}))
