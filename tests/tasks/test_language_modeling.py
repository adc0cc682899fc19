"""The language-modelling task end to end: tiny GPT on a tiny text file."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

import kerakit
from kerakit.data.splits import DataError
from kerakit.tasks import language_modeling as lm
from kerakit.workflow import recipes
from kerakit.workflow import training

TINY_GPT = {"num_layers": 1, "hidden_dim": 16, "num_heads": 2,
            "intermediate_dim": 32, "dropout": 0.0}


def _text() -> str:
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran"]
    rng = np.random.default_rng(0)
    return "\n".join(" ".join(rng.choice(words, 8)) + "." for _ in range(120))


def _recipe(path, **overrides):
    data = {"name": "lm_tiny", "model": "gpt_tiny",
            "model_kwargs": dict(TINY_GPT), "epochs": 2, "batch_size": 16,
            "dataset": {"name": f"text:{path}", "validation_fraction": 0.1,
                        "test_fraction": 0.1},
            "preprocessing": {"sequence_length": 16}}
    recipe = recipes.recipe_from_dict(data)
    return recipe.with_overrides(overrides) if overrides else recipe


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(_text(), encoding="utf-8")
    return path


def test_defaults_and_model_sizes_from_data(text_file):
    recipe = _recipe(text_file)
    assert recipe.task == "language_modeling"
    assert recipe.monitor == "val_loss"
    splits = training.load_splits(recipe)
    vocabulary = len(set(_text())) + 2
    assert splits.model_arguments == {"vocabulary_size": vocabulary,
                                      "sequence_length": 16}
    kwargs = recipe.model_arguments(splits.input_shape, splits.num_classes,
                                    **splits.model_arguments)
    assert kwargs["vocabulary_size"] == vocabulary
    assert kwargs["sequence_length"] == 16
    counts = lm.LanguageModelingTask().count_examples(splits)
    assert counts["train"] > 5 * counts["validation"] > 0


def test_end_to_end_metrics_samples_predict_resume(text_file, tmp_path):
    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    recipe = _recipe(text_file)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        training.train(recipe, run, verbose=0,
                       callbacks=[StopAfterFirstEpoch()])
    result = training.train(recipe, run, verbose=0)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["resumed_from"] == [1] and metrics["epochs_run"] == 2
    for split in ("validation", "test"):
        values = metrics[split]
        assert {"loss", "accuracy", "perplexity",
                "bits_per_character"} <= set(values)
        assert values["perplexity"] == pytest.approx(math.exp(
            values["loss"]), rel=1e-6)
        # Characters: bits per character is the loss in bits.
        assert values["bits_per_character"] == pytest.approx(
            values["loss"] / math.log(2), rel=1e-6)
    assert set(result.history) >= {"val_perplexity",
                                   "val_bits_per_character"}
    bigram = metrics["bigram"]
    assert 0 < bigram["validation_bits_per_character"] < 8
    assert bigram["validation_gain_bits_per_character"] == pytest.approx(
        bigram["validation_bits_per_character"] - metrics["validation"][
            "bits_per_character"], abs=1e-4)
    assert metrics["tokenizer"]["kind"] == "char"
    samples = (run / "samples.txt").read_text(encoding="utf-8")
    assert samples.count("### greedy") == 4 and "### top_p" in samples

    out = kerakit.predict(run, ["the cat", "a dog ran"])
    assert out["prompts"] == ["the cat", "a dog ran"]
    assert [len(c) for c in out["continuations"]] == [9, 7]  # 16 in all
    sampled = lm.generate(run, "the", max_length=8, sampler="top_p",
                          seed=1, temperature=0.7)
    assert len(sampled) == 1 and len(sampled[0]) == 5
    with pytest.raises(ValueError, match="Unknown generation settings"):
        kerakit.predict(run, {"prompts": ["the"], "beams": 3})


def test_bad_inputs_fail_before_training(text_file, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="holds no text"):
        training.load_splits(_recipe(empty))
    with pytest.raises(DataError, match="too few for one window"):
        training.load_splits(_recipe(
            text_file, **{"preprocessing.sequence_length": 400}))
    with pytest.raises(recipes.RecipeError, match="preprocessing.tokenizer"):
        _recipe(text_file, **{"preprocessing.tokenizer": "word"})
    with pytest.raises(recipes.RecipeError, match="dataset.name"):
        _recipe(text_file, **{"dataset.name": "digits"})
    with pytest.raises(recipes.RecipeError, match="sequence_length"):
        _recipe(text_file, **{"preprocessing.sequence_length": 0})
    with pytest.raises(DataError, match="vocabulary_size"):
        training.load_splits(_recipe(
            text_file, **{"model_kwargs.vocabulary_size": 5}))
    assert not (tmp_path / "run").exists()


def test_wordpiece_bits_per_character_counts_characters(text_file):
    recipe = _recipe(text_file, **{"preprocessing.tokenizer": "wordpiece",
                                   "preprocessing.vocabulary_size": 40,
                                   "preprocessing.sequence_length": 8})
    splits = training.load_splits(recipe)
    ids, info = splits.validation
    assert len(ids) < info["characters"]  # a sub-word covers characters
    metrics = lm.stream_metrics(1.0, lm.tokens_per_character(
        splits.validation))
    assert metrics["bits_per_character"] == pytest.approx(
        len(ids) / math.log(2) / info["characters"])


def test_a_local_gpt2_preset_brings_its_tokenizer(text_file, tmp_path):
    # A downloaded GPT-2 saved with save_to_preset: its byte-level BPE
    # tokenizes the text, its backbone is the starting point.
    import keras_hub

    # GPT-2's byte-level alphabet for the characters of the text, one merge.
    alphabet = sorted({{" ": "\u0120", "\n": "\u010a"}.get(c, c)
                       for c in _text()})
    vocabulary = {"<|endoftext|>": 0, **{c: i + 1 for i, c in
                                          enumerate(alphabet)}, "th": 99}
    vocabulary["th"] = len(vocabulary) - 1
    preset = tmp_path / "gpt2"
    keras_hub.models.GPT2Backbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=2,
        hidden_dim=16, intermediate_dim=32,
        max_sequence_length=32).save_to_preset(str(preset))
    keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary,
                                   merges=["t h"]).save_to_preset(str(preset))
    recipe = _recipe(text_file, **{
        "preprocessing.tokenizer": "preset", "epochs": 1,
        "model_kwargs": {"preset": str(preset), "dropout": 0.0}})
    splits = training.load_splits(recipe)
    ids, info = splits.validation
    # "th" is one token: fewer tokens than characters.
    assert 0 < len(ids) < info["characters"]
    result = training.train(recipe, tmp_path / "run", verbose=0)
    assert result.model.backbone.vocabulary_size == len(vocabulary)
    text = lm.generate(result.run_dir, ["the cat"], max_length=6)
    assert isinstance(text[0], str)
