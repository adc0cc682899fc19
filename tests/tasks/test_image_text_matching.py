"""Image-text matching and visual question answering with ViLBERT."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kerakit.data.image_text import load_image_text
from kerakit.data.matching_pairs import ImageTextPreprocessor
from kerakit.data.matching_pairs import matching_pairs
from kerakit.data.matching_pairs import split_images
from kerakit.data.visual_questions import ANSWERS
from kerakit.data.visual_questions import QUESTIONS
from kerakit.data.visual_questions import digit_questions
from kerakit.tasks import default_task
from kerakit.workflow import training
from kerakit.workflow.inference import evaluate_run
from kerakit.workflow.inference import predict
from kerakit.workflow.recipes import RecipeError
from kerakit.workflow.recipes import recipe_from_dict

TINY = {"num_layers": 1, "hidden_dim": 16, "num_heads": 2,
        "intermediate_dim": 32, "visual_hidden_dim": 16,
        "visual_num_heads": 2, "visual_intermediate_dim": 32,
        "co_attention_layers": 1, "co_attention_dim": 16,
        "co_attention_heads": 2, "region_dim": 16, "patch_size": 4,
        "dropout": 0.0}


def recipe(task="image_text_matching", **changes):
    data = {"name": "itm", "model": "vilbert_tiny", "task": task,
            "epochs": 1, "batch_size": 32,
            "model_kwargs": {**TINY, "head": ("matching" if task ==
                                              "image_text_matching"
                                              else "answer")},
            "dataset": {"name": "digit_captions", "limit": 60},
            "preprocessing": {"tokenizer": "wordpiece"}}
    if task != "image_text_matching":
        data.update(loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"], monitor="val_accuracy")
    for key, value in changes.items():
        section, _, field = key.rpartition(".")
        (data[section] if section else data)[field] = value
    return recipe_from_dict(data)


@pytest.fixture(scope="module")
def matching_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("itm") / "run"
    return training.train(recipe(), run_dir, verbose=0)


def test_hard_negatives_name_another_class_in_the_same_words():
    data = load_image_text("digit_captions", {"held_out": []}, seed=0)
    index, texts, match = matching_pairs(
        data.captions[:200], data.labels[:200], np.random.default_rng(0))
    assert match.tolist() == [1.0, 0.0] * 200
    assert index.tolist() == np.repeat(np.arange(200), 2).tolist()
    by_caption = {}
    for caption, label in zip(data.captions[:200], data.labels[:200]):
        by_caption.setdefault(caption, set()).add(int(label))
    rng = np.random.default_rng(1)
    hard, easy = [], []
    for i in range(200):
        positive, negative = texts[2 * i], texts[2 * i + 1]
        # A negative is a caption of another class, never the image's own.
        assert data.labels[i] not in by_caption[negative]
        others = np.flatnonzero(data.labels[:200] != data.labels[i])
        hard.append(_overlap(positive, negative))
        easy.append(_overlap(positive, data.captions[rng.choice(others)]))
    assert np.mean(hard) > np.mean(easy) + 0.25


def _overlap(a, b):
    a, b = set(a.split()), set(b.split())
    return len(a & b) / len(a | b)


def test_unlabelled_pairs_take_other_captions():
    index, texts, match = matching_pairs(
        ["a red car", "a red bus", "a blue car"], np.array([-1, -1, -1]),
        np.random.default_rng(0))
    assert texts[1] != "a red car" and match.tolist() == [1, 0] * 3
    with pytest.raises(ValueError, match="one class only"):
        matching_pairs(["a", "b"], np.array([3, 3]),
                       np.random.default_rng(0))


def test_split_images_keeps_held_out_classes_in_test():
    labels = np.arange(200) % 10
    train, validation, test = split_images(labels, [6, 9], 0.1, 0.2, 0)
    assert not set(labels[train]) & {6, 9}
    assert not set(labels[validation]) & {6, 9}
    assert {6, 9} <= set(labels[test])
    assert len(set(train) | set(validation) | set(test)) == 200


def test_digit_questions_answers_are_right():
    labels = np.arange(10).repeat(3)
    index, questions, answers = digit_questions(
        labels, np.random.default_rng(0), per_image=4)
    for i, question, answer in zip(index, questions, answers):
        digit = int(labels[i])
        said = ANSWERS[answer]
        if question in QUESTIONS["even"]:
            assert said == ("yes" if digit % 2 == 0 else "no")
        elif question in QUESTIONS["greater"]:
            assert said == ("yes" if digit > 5 else "no")
        elif question in QUESTIONS["which"]:
            assert said == ANSWERS[digit]
        else:
            asked = question.rstrip("?").split()[-1]
            assert said == ("yes" if asked == ANSWERS[digit] else "no")
    with pytest.raises(ValueError, match="digit_captions"):
        digit_questions(np.array([-1]), np.random.default_rng(0))


def test_vilbert_defaults_to_matching():
    assert default_task("vilbert_tiny") == "image_text_matching"
    assert default_task("vilbert") == "image_text_matching"


def test_matching_trains_reports_and_predicts(matching_run):
    run_dir = matching_run.run_dir
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["test"]) == {"loss", "accuracy", "auc"}
    assert {"accuracy", "auc"} <= set(metrics["validation"])
    assert metrics["baseline"] == {"kind": "chance", "test_accuracy": 0.5,
                                   "test_auc": 0.5}
    assert metrics["examples"] == {"train": 120, "validation": 120,
                                   "test": 120}
    saved = json.loads((run_dir / "preprocessing.json").read_text())
    assert saved["kind"] == "image_text" and saved["image_shape"] == [8, 8, 1]
    images = load_image_text("digit_captions", {}, 0).images[:3]
    out = predict(run_dir, {"images": images,
                            "captions": ["a handwritten zero"]})
    probabilities = out["match_probabilities"]
    assert probabilities.shape == (3,)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    with pytest.raises(ValueError, match="images and 2 captions"):
        predict(run_dir, {"images": images, "captions": ["a", "b"]})
    with pytest.raises(ValueError, match="predicts on"):
        predict(run_dir, images)
    with pytest.raises(ValueError, match="trained on"):
        predict(run_dir, {"images": np.zeros((1, 4, 4)), "captions": ["a"]})
    again = evaluate_run(run_dir)
    assert again["auc"] == pytest.approx(metrics["test"]["auc"])


def test_predict_reads_image_files(matching_run, tmp_path):
    from PIL import Image

    path = tmp_path / "digit.png"
    Image.fromarray(np.full((16, 16), 200, "uint8")).save(path)
    out = predict(matching_run.run_dir, {"images": [str(path)],
                                         "captions": ["a seven", "a one"]})
    assert out["match_probabilities"].shape == (2,)


def test_question_answering_trains_with_baselines(tmp_path):
    result = training.train(recipe("visual_question_answering"),
                            tmp_path / "vqa", verbose=0)
    metrics = result.metrics
    assert set(metrics["test"]) == {"loss", "accuracy"}
    baseline = metrics["baseline"]
    assert baseline["majority_answer"] in ANSWERS
    assert 0 < baseline["test_accuracy"] <= baseline[
        "question_only_test_accuracy"] < 1
    assert result.model.output_shape == (None, len(ANSWERS))
    images = load_image_text("digit_captions", {}, 0).images[:1]
    out = predict(result.run_dir, {"images": images,
                                   "questions": ["is it even?",
                                                 "what digit is this?"]})
    assert len(out["class_names"]) == 2
    assert set(out["class_names"]) <= set(ANSWERS)


@pytest.mark.parametrize("task, changes, words", [
    ("image_text_matching", {"metrics": ["accuracy"]}, "metrics = \\[\\]"),
    ("image_text_matching", {"loss": "sparse_categorical_crossentropy"},
     "binary_crossentropy"),
    ("image_text_matching", {"model_kwargs.head": "answer"},
     "needs head = 'matching'"),
    ("visual_question_answering", {"model_kwargs.head": "matching"},
     "needs head = 'answer'"),
    ("image_text_matching", {"preprocessing.tokenizer": "char"},
     "tokenizer"),
])
def test_bad_recipes_are_explained(task, changes, words):
    with pytest.raises(RecipeError, match=words):
        recipe(task, **changes)


def test_bad_data_is_explained(tmp_path):
    with pytest.raises(Exception, match="captions.tsv"):
        training.train(recipe(**{"dataset.name": f"pairs:{tmp_path}"}),
                       tmp_path / "run", verbose=0)


def test_preprocessor_sizes_sequences_to_the_longest_text():
    pre = ImageTextPreprocessor(image_shape=[2, 2, 1], sequence_length=0)
    pre.fit_texts(["a b c", "a b"] * 5)
    assert pre.sequence_length == 5
    x = pre.examples(np.zeros((1, 2, 2)), ["a b c d e f"])
    assert x["token_ids"].shape == (1, 5)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        pre.check_images(np.full((1, 2, 2, 1), 3.0))
