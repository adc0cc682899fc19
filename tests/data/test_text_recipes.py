"""Text recipes: a tokenizer in the preprocessing, text datasets, lstm_imdb."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerakit.workflow import recipes
from kerakit.workflow import training
from kerakit.data.datasets import load_dataset
from kerakit.data.preprocessing import Preprocessor
from kerakit.workflow.inference import predict
from kerakit.workflow.recipes import RecipeError

TRAIN = ["the cat sat on the mat", "the dog ate the bone", "a cat and a dog",
         "the mat is red", "a bone for the dog", "the cat is happy"]
TEST = ["the zebra sat", "a dog and a zebra"]  # "zebra" only in test

TEXT_RECIPE = {
    "name": "text", "model": "lstm", "epochs": 1, "batch_size": 4,
    "monitor": "val_loss",
    "model_kwargs": {"vocabulary_size": 50, "hidden_dim": 4,
                     "embedding_dim": 4},
    "preprocessing": {"tokenizer": "word", "sequence_length": 6,
                      "vocabulary_size": 50},
}


def _text_npz(tmp_path):
    path = tmp_path / "text.npz"
    np.savez(path, x_train=np.array(TRAIN), y_train=np.arange(6) % 2,
             x_val=np.array(TRAIN[:2]), y_val=np.array([0, 1]),
             x_test=np.array(TEST), y_test=np.array([0, 1]))
    return path


def _recipe(**changes):
    data = json.loads(json.dumps(TEXT_RECIPE))
    for key, value in changes.items():
        section, _, field = key.rpartition(".")
        (data[section] if section else data)[field] = value
    return recipes.recipe_from_dict(data)


def test_tokenizer_is_fitted_on_the_training_split_only(tmp_path):
    recipe = _recipe(**{"dataset": {"name": f"npz:{_text_npz(tmp_path)}"}})
    raw = load_dataset(recipe.dataset)
    assert raw.train[0].dtype.kind == "U" and raw.value_max == 1.0
    splits = training.load_splits(recipe)
    pre = splits.preprocessor
    assert pre.tokenizer == "word" and "zebra" not in pre.vocabulary
    assert pre.vocabulary[:2] == ["[PAD]", "[UNK]"]
    assert splits.input_shape == (6,) and splits.num_classes == 2
    x_test = splits.test[0]
    assert x_test.dtype == np.int32 and x_test.shape == (2, 6)
    the, sat = pre.vocabulary.index("the"), pre.vocabulary.index("sat")
    # "the zebra sat": zebra -> out-of-vocabulary id 1; padding after.
    assert x_test[0].tolist() == [the, 1, sat, 0, 0, 0]
    assert 1 in x_test[1].tolist()


def test_padding_truncation_and_vocabulary_cap():
    pre = Preprocessor(tokenizer="word", sequence_length=3,
                       vocabulary_size=5, padding="pre",
                       truncating="pre").fit(np.array(TRAIN))
    assert len(pre.vocabulary) == 5  # [PAD], [UNK] and the 3 most frequent
    ids = pre.transform(["the cat sat on the mat", "the"])
    assert ids.shape == (2, 3) and int(ids.max()) < 5
    assert ids[1].tolist()[:2] == [0, 0]  # padded in front
    assert pre.transform("the").shape == (1, 3)  # one string, one row


_RELOAD = """
import json, sys
from kerakit.data.preprocessing import Preprocessor
texts = json.loads(sys.argv[2])
ids = Preprocessor.load(sys.argv[1]).transform(texts).tolist()
print("IDS " + json.dumps(ids))
"""


@pytest.mark.parametrize("tokenizer", ["word", "wordpiece"])
def test_saved_preprocessing_gives_identical_ids_in_a_new_process(
        tmp_path, tokenizer):
    texts = [*TEST, "The CAT, on a mat!", ""]
    pre = Preprocessor(tokenizer=tokenizer, sequence_length=8,
                       vocabulary_size=60).fit(np.array(TRAIN * 3, object))
    expected = pre.transform(np.array(texts, dtype=object))
    path = tmp_path / "preprocessing.json"
    pre.save(path)
    saved = json.loads(path.read_text())
    assert saved["tokenizer"] == tokenizer and saved["vocabulary"]
    loaded = Preprocessor.load(path)
    assert loaded == pre
    np.testing.assert_array_equal(loaded.transform(texts), expected)
    out = subprocess.run(
        [sys.executable, "-c", _RELOAD, str(path), json.dumps(texts)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("IDS ")]
    assert lines, out.stdout[-3000:] + out.stderr[-3000:]
    assert json.loads(lines[-1][4:]) == expected.tolist()


@pytest.mark.parametrize("changes, field", [
    ({"preprocessing.sequence_length": 0}, "'preprocessing.sequence_length'"),
    ({"preprocessing.tokenizer": "chars"}, "'preprocessing.tokenizer'"),
    ({"preprocessing.vocabulary_size": 0}, "'preprocessing.vocabulary_size'"),
    ({"model_kwargs.vocabulary_size": 20}, "'model_kwargs.vocabulary_size'"),
    ({"model_kwargs": {"hidden_dim": 4}}, "'model_kwargs.vocabulary_size'"),
    ({"preprocessing": {"vocabulary_size": 50}},
     "'preprocessing.vocabulary_size'"),
    ({"preprocessing.augment": {"noise": 0.1}}, "'preprocessing.augment'"),
])
def test_recipe_errors_name_the_field(changes, field):
    with pytest.raises(RecipeError) as info:
        _recipe(**changes)
    assert field in str(info.value)


def test_text_and_numbers_need_the_matching_setting(tmp_path):
    numbers = Preprocessor(tokenizer="word", sequence_length=4)
    with pytest.raises(ValueError, match="preprocessing.tokenizer"):
        numbers.fit(np.zeros((3, 4), "float32"))
    with pytest.raises(ValueError, match="preprocessing.tokenizer"):
        Preprocessor().fit(np.array(TRAIN))
    with pytest.raises(ValueError, match="preprocessing.sequence_length"):
        Preprocessor(tokenizer="word", sequence_length=0)
    # A text dataset without a tokenizer fails when the splits load.
    digits_like = recipes.recipe_from_dict({
        "name": "t", "model": "mlp",
        "dataset": {"name": f"npz:{_text_npz(tmp_path)}"}})
    with pytest.raises(ValueError, match="tokenizer = \"word\""):
        training.load_splits(digits_like)
    # A tokenizer on a numeric dataset fails too.
    with pytest.raises(ValueError, match="not text"):
        training.load_splits(_recipe(dataset={"name": "digits"}))


def test_lstm_imdb_trains_and_predicts_on_raw_strings(tmp_path):
    # A required dependency (pyproject): a broken install fails, not skips.
    import tensorflow_datasets as tfds

    eager = keras.backend.backend() == "tensorflow"
    recipe = recipes.load_recipe("lstm_imdb", {
        "epochs": 1, "dataset.limit": 16, "batch_size": 4,
        "run_eagerly": eager, "preprocessing.sequence_length": 20,
        "model_kwargs.hidden_dim": 8, "model_kwargs.embedding_dim": 8})
    with tfds.testing.mock_data(num_examples=16):
        raw = load_dataset(recipe.dataset)
        result = training.train(recipe, tmp_path, verbose=0)
    x = raw.train[0]
    assert x.dtype == object and isinstance(x[0], str) and len(x) == 16
    assert raw.num_classes == 2
    assert np.isfinite(result.metrics["test"]["loss"])
    saved = json.loads((tmp_path / "preprocessing.json").read_text())
    assert saved["tokenizer"] == "word" and len(saved["vocabulary"]) > 2
    assert result.model.input_shape == (None, 20)
    # Predict takes raw strings through the saved tokenizer.
    out = predict(tmp_path, np.array(["A great film!", "dull"]))
    assert len(out["classes"]) == 2
    probs = out["probabilities"]
    assert probs.shape == (2, 2)
    assert np.all(probs >= 0.0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert out["classes"] == probs.argmax(-1).tolist()
    names = saved["class_names"]
    assert out["class_names"] == [names[c] for c in out["classes"]]
    # A plain list of strings is text too (not file paths) in a text run.
    listed = predict(tmp_path, ["A great film!", "dull"])
    np.testing.assert_allclose(listed["probabilities"], out["probabilities"],
                               atol=1e-6)
