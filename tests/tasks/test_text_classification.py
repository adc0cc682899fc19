"""Text classification with BERT through the workflow, on tiny data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kerakit.data.splits import DataError
from kerakit.tasks import default_task
from kerakit.workflow import training
from kerakit.workflow.inference import evaluate_run
from kerakit.workflow.inference import predict
from kerakit.workflow.recipes import RecipeError
from kerakit.workflow.recipes import recipe_from_dict

TINY = {"num_layers": 1, "hidden_dim": 16, "num_heads": 2,
        "intermediate_dim": 32, "dropout": 0.0}
TEXTS = ["return the sum of the values", "a class that holds a value",
         "return a copy of the list", "a class for parsing options",
         "return true if the path exists", "a class wrapping a socket"] * 3


def recipe(dataset: dict, **changes) -> object:
    data = {"name": "tc", "model": "bert_tiny", "epochs": 1, "batch_size": 8,
            "model_kwargs": dict(TINY), "dataset": dataset,
            "preprocessing": {"tokenizer": "wordpiece",
                              "sequence_length": 10, "vocabulary_size": 80}}
    for key, value in changes.items():
        section, _, field = key.rpartition(".")
        (data[section] if section else data)[field] = value
    return recipe_from_dict(data)


@pytest.fixture(scope="module")
def text_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "t.npz"
    np.savez(path, x_train=np.array(TEXTS), y_train=np.arange(18) % 2,
             x_test=np.array(TEXTS[:4]), y_test=np.arange(4) % 2,
             class_names=np.array(["function", "class"]))
    return path


@pytest.fixture(scope="module")
def run(text_npz, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "tc"
    return training.train(recipe({"name": f"npz:{text_npz}"}), run_dir,
                          verbose=0)


def test_bert_defaults_to_text_classification():
    assert default_task("bert_tiny") == "text_classification"


def test_trains_saves_and_predicts_on_raw_strings(run):
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert metrics["task"] == "text_classification"
    assert set(metrics["test"]) == {"loss", "accuracy"}
    assert metrics["examples"]["test"] == 4
    assert metrics["baseline"]["test_accuracy"] == 0.5
    saved = json.loads((run.run_dir / "preprocessing.json").read_text())
    assert saved["kind"] == "bert_text" and saved["vocabulary"][0] == "[PAD]"
    # The model's sizes came from the tokenizer.
    assert run.model.backbone.vocabulary_size == len(saved["vocabulary"])
    out = predict(run.run_dir, ["return the path", "a class of things"])
    assert out["probabilities"].shape == (2, 2)
    assert np.allclose(out["probabilities"].sum(axis=1), 1.0, atol=1e-5)
    assert set(out["class_names"]) <= {"function", "class"}
    with pytest.raises(ValueError, match="empty text"):
        predict(run.run_dir, ["fine", " "])
    with pytest.raises(ValueError, match="predicts on texts"):
        predict(run.run_dir, np.zeros((2, 3)))
    again = evaluate_run(run.run_dir)
    assert again["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


def test_tfds_text_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        splits = training.load_splits(recipe(
            {"name": "tfds:imdb_reviews", "validation_fraction": 0.25}))
    assert splits.train[0].shape[1] == 10 and splits.num_classes == 2
    assert splits.train[0][:, 0].tolist() == [
        splits.preprocessor.cls_id] * len(splits.train[0])


def test_python_docstrings_kind_splits():
    splits = training.load_splits(recipe({"name": "python_docstrings:kind",
                                          "limit": 150}))
    assert splits.class_names == ["module", "class", "function"]
    assert len(splits.test[0]) == 30 and splits.input_shape == (10,)


def test_bad_inputs_are_refused(text_npz, tmp_path):
    with pytest.raises(RecipeError, match="tokenizer.*'wordpiece', "
                       "'preset'.*Received: 'word'"):
        recipe({"name": f"npz:{text_npz}"},
               **{"preprocessing.tokenizer": "word"})
    with pytest.raises(RecipeError, match="tokenizer.*Received: ''"):
        recipe({"name": f"npz:{text_npz}"}, **{"preprocessing.tokenizer": ""})
    with pytest.raises(RecipeError, match="model_kwargs.preset is not set"):
        recipe({"name": f"npz:{text_npz}"},
               **{"preprocessing.tokenizer": "preset"})
    with pytest.raises(RecipeError, match="head = 'masked_lm' goes with"):
        recipe({"name": f"npz:{text_npz}"},
               model_kwargs={**TINY, "head": "masked_lm"})
    empty = tmp_path / "empty.npz"
    np.savez(empty, x=np.array(["a text", ""]), y=np.array([0, 1]))
    with pytest.raises(DataError, match="train inputs hold 1 empty text"):
        training.load_splits(recipe({"name": f"npz:{empty}"}))
    numbers = tmp_path / "numbers.npz"
    np.savez(numbers, x=np.zeros((6, 3)), y=np.arange(6) % 2)
    with pytest.raises(DataError, match="not texts"):
        training.load_splits(recipe({"name": f"npz:{numbers}"}))
    with pytest.raises(DataError, match="labels are object values"):
        training.load_splits(recipe({"name": "generated:number_words",
                                     "examples": 20}))


def test_fine_tunes_a_local_preset_with_its_tokenizer(text_npz, tmp_path):
    # The path a user takes with a downloaded BERT: a preset folder (config,
    # weights, tokenizer) on disk, `preset = DIR`, tokenizer = "preset".
    import keras_hub

    preset = tmp_path / "preset"
    words = sorted({w for text in TEXTS for w in text.split()})
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=2,
        hidden_dim=16, intermediate_dim=32, max_sequence_length=12)
    backbone.save_to_preset(str(preset))
    keras_hub.models.BertTokenizer(vocabulary=vocabulary).save_to_preset(
        str(preset))
    result = training.train(recipe(
        {"name": f"npz:{text_npz}"},
        model_kwargs={"preset": str(preset), "dropout": 0.0},
        preprocessing={"tokenizer": "preset", "sequence_length": 10}),
        tmp_path / "run", verbose=0)
    # The pretrained weights were the starting point: the backbone has the
    # preset's sizes and its saved word-piece vocabulary is the preset's.
    assert result.model.backbone.vocabulary_size == len(vocabulary)
    saved = json.loads((result.run_dir / "preprocessing.json").read_text())
    assert saved["vocabulary"] == vocabulary
    out = predict(result.run_dir, ["return the sum", "a class"])
    assert out["probabilities"].shape == (2, 2)
