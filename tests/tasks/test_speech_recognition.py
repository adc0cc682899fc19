"""Speech recognition with Whisper through the workflow, on tiny data."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy.io import wavfile

from kerakit.data import audio
from kerakit.data.splits import DataError
from kerakit.tasks import default_task
from kerakit.tasks import get_task
from kerakit.tasks.speech_recognition import edit_distance
from kerakit.tasks.speech_recognition import error_rate
from kerakit.workflow import training
from kerakit.workflow.inference import predict
from kerakit.workflow.recipes import RecipeError
from kerakit.workflow.recipes import load_recipe
from kerakit.workflow.recipes import recipe_from_dict

TINY = {"num_layers": 1, "hidden_dim": 16, "num_heads": 2,
        "intermediate_dim": 32, "num_mels": 16, "dropout": 0.0}


def recipe(dataset: dict, **changes) -> object:
    data = {"name": "asr", "model": "whisper_micro", "epochs": 1,
            "batch_size": 8, "model_kwargs": dict(TINY), "dataset": dataset,
            "preprocessing": {"tokenizer": "char"}}
    for key, value in changes.items():
        section, _, field = key.rpartition(".")
        (data[section] if section else data)[field] = value
    return recipe_from_dict(data)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "asr"
    return training.train(recipe({"name": "spoken_digits", "examples": 30}),
                          run_dir, verbose=0)


def test_whisper_defaults_to_speech_recognition():
    assert default_task("whisper") == "speech_recognition"


def test_trains_decodes_and_transcribes_wav_files(run, tmp_path):
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert metrics["task"] == "speech_recognition"
    test = metrics["test"]
    assert {"loss", "accuracy", "greedy_cer", "greedy_wer", "beam_cer",
            "beam_wer"} <= set(test)
    assert test["empty_transcript_cer"] == test["empty_transcript_wer"] == 1
    assert all(v >= 0 for v in test.values())
    assert metrics["decodes"] == {"path": "decodes.tsv", "count": 6,
                                  "num_beams": 4}
    with open(run.run_dir / "decodes.tsv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows[0] == ["reference", "greedy", "beam"] and len(rows) == 7
    saved = json.loads((run.run_dir / "preprocessing.json").read_text())
    assert saved["kind"] == "speech_recognition" and saved["num_mels"] == 16
    (_, _), (waves, _) = audio.spoken_digits(4, seed=1)
    for i, wave in enumerate(waves):
        wavfile.write(tmp_path / f"{i}.wav", 16000, wave)
    out = predict(run.run_dir, str(tmp_path / "0.wav"))
    assert len(out["texts"]) == 1 and isinstance(out["texts"][0], str)
    assert get_task("speech_recognition").describe_predictions(out)[0] \
        .startswith("0\t")
    long = tmp_path / "long.wav"
    wavfile.write(long, 16000, np.zeros(16000 * 9, "float32"))
    with pytest.raises(ValueError, match="long.wav: 9.00 s long"):
        predict(run.run_dir, [str(long)])
    with pytest.raises(ValueError, match="WAV files"):
        predict(run.run_dir, np.zeros((1, 10)))


def test_splits_size_the_model_from_the_data():
    splits = training.load_splits(recipe({"name": "spoken_digits",
                                          "examples": 20}))
    pre = splits.preprocessor
    frames = pre.seconds * 100
    assert splits.train[0].shape[1:] == (frames, 16)
    assert splits.model_arguments == {
        "vocabulary_size": pre.num_ids,
        "max_decoder_sequence_length": pre.target_length + 1,
        "max_encoder_sequence_length": frames}
    assert pre.decode(splits.test[1]) == splits.texts["test"]
    fixed = training.load_splits(recipe(
        {"name": "spoken_digits", "examples": 20},
        **{"model_kwargs.max_encoder_sequence_length": 500}))
    assert fixed.train[0].shape[1] == 500


def test_teacher_forcing_shift_and_weights():
    x, y, w = get_task("speech_recognition").fit_data(
        np.zeros((2, 6, 4)), np.array([[8, 9, 1], [4, 1, 0]]))
    assert x["encoder_features"].dtype == np.float32
    assert x["decoder_token_ids"].tolist() == [[0, 8, 9], [0, 4, 1]]
    assert w.tolist() == [[1, 1, 1], [1, 1, 0]]


def test_error_rates():
    assert edit_distance("", "abc") == 3
    assert edit_distance(["one", "two"], ["one", "too"]) == 1
    assert error_rate(["one two", "six"], ["one two", "sex"]) == 1 / 10
    assert error_rate(["one two", "six"], ["one", "six six"], True) == 2 / 3


@pytest.mark.parametrize("changes, words", [
    ({"dataset.name": "digits"}, "reads speech"),
    ({"preprocessing.tokenizer": "wordpiece"}, "takes 'char'"),
    ({"model_kwargs.max_encoder_sequence_length": 250}, "multiple of 100"),
    ({"preprocessing.standardize": True}, "do not apply to speech"),
])
def test_bad_recipes_are_explained(changes, words):
    with pytest.raises(RecipeError, match=words):
        recipe({"name": "spoken_digits"}, **changes)


def test_bad_audio_folder_fails_before_training(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"junk")
    (tmp_path / audio.TRANSCRIPTS).write_text("a.wav\tone\n")
    with pytest.raises(DataError, match="a.wav: not a readable WAV"):
        training.load_splits(recipe({"name": f"audio:{tmp_path}"}))


def test_shipped_recipe_resolves():
    shipped = load_recipe("whisper_digits")
    assert shipped.task == "speech_recognition"
    assert shipped.model == "whisper_micro"
    assert shipped.dataset["name"] == "spoken_digits"
