"""Contrastive image-text (CLIP) through the workflow, on few digits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from kerakit.data.image_text import load_image_text
from kerakit.tasks import default_task
from kerakit.tasks.contrastive_image_text import ContrastiveImageTextTask
from kerakit.tasks.contrastive_image_text import ImageTextPreprocessor
from kerakit.tasks.contrastive_image_text import recall_at_k
from kerakit.workflow import training
from kerakit.workflow.inference import predict
from kerakit.workflow.recipes import RecipeError
from kerakit.workflow.recipes import recipe_from_dict

TINY = {"patch_size": 4, "num_layers": 1, "hidden_dim": 8, "num_heads": 2,
        "intermediate_dim": 16, "projection_dim": 8}


def recipe(**changes) -> object:
    data = {"name": "clip_test", "model": "clip_tiny", "epochs": 1,
            "batch_size": 16, "model_kwargs": dict(TINY), "metrics": [],
            "loss": "categorical_crossentropy",
            "dataset": {"name": "digit_captions", "limit": 40}}
    for key, value in changes.items():
        section, _, field = key.rpartition(".")
        (data[section] if section else data)[field] = value
    return recipe_from_dict(data)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "clip"
    return training.train(recipe(), run_dir, verbose=0)


def test_clip_defaults_to_contrastive():
    assert default_task("clip_tiny") == "contrastive_image_text"


def test_trains_and_reports_recall_and_zero_shot(run):
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    test = metrics["test"]
    assert metrics["task"] == "contrastive_image_text"
    for direction in ("image_to_text", "text_to_image"):
        for k in (1, 5):
            assert 0 <= test[f"{direction}_recall@{k}"] <= 1
            assert 0 <= test[f"{direction}_class_recall@{k}"] <= 1
    assert test["zero_shot_chance"] == 0.5 and 0 <= test[
        "zero_shot_accuracy"] <= 1
    assert test["zero_shot_all_chance"] == 0.1
    assert metrics["zero_shot"]["held_out"] == ["six", "nine"]
    assert metrics["examples"] == {"train": 40, "validation": 40,
                                   "test": 80}
    saved = json.loads((run.run_dir / "preprocessing.json").read_text())
    assert saved["kind"] == "contrastive_image_text"
    assert saved["held_out"] == [6, 9] and saved["image_shape"] == [8, 8, 1]


def test_held_out_classes_only_in_test():
    splits = training.load_splits(recipe(**{"dataset.limit": 0}))
    for part in (splits.train, splits.validation):
        assert not np.isin(part[1], [6, 9]).any()
    assert np.isin(splits.test[1], [6, 9]).sum() == np.isin(
        load_image_text("digit_captions", {}, 0).labels, [6, 9]).sum()
    pre = splits.preprocessor
    # "six" and "nine" name held-out digits only: never learned
    assert "\u2581six" not in pre.vocabulary
    assert "\u2581nine" not in pre.vocabulary
    ids = splits.train[0]["token_ids"]
    assert (ids.max(axis=1) == pre.end_id).all()  # CLIP pools there
    assert splits.model_arguments["vocabulary_size"] == pre.end_id + 1


def test_colored_splits_keep_sources_and_held_out_combos_apart():
    splits = training.load_splits(recipe(**{
        "dataset.name": "colored_digit_captions", "dataset.limit": 0,
        "dataset.held_out": ["red two", "green two", "green seven",
                             "blue seven"]}))
    data = load_image_text("colored_digit_captions", {"held_out": [
        "red two", "green two", "green seven", "blue seven"]}, 0)
    held = [2, 12, 17, 27]
    for part in (splits.train, splits.validation):
        assert not np.isin(part[1], held).any()
    assert np.isin(splits.test[1], held).sum() == np.isin(
        data.labels, held).sum()
    assert sum(len(p[1]) for p in (splits.train, splits.validation,
                                   splits.test)) == len(data.labels)
    # tinted copies of one source image never straddle two splits
    images = [{(im / im.max()).round(3).tobytes()
               for im in p[0]["images"].max(axis=-1)}
              for p in (splits.train, splits.validation, splits.test)]
    assert not images[0] & images[1] and not images[0] & images[2]
    assert splits.model_arguments["num_channels"] == 3
    pre = splits.preprocessor
    assert {"\u2581red", "\u2581two", "\u2581seven"} <= set(pre.vocabulary)


def test_class_recall_counts_any_item_of_the_class():
    e = np.eye(3)
    out = recall_at_k(e, e[[1, 0, 2]], np.array([[7], [7], [8]]), ks=(1,),
                      prefix="class_")
    assert out == {"image_to_text_class_recall@1": 1.0,
                   "text_to_image_class_recall@1": 1.0}


def test_predict_zero_shot_classes(run, tmp_path):
    digits = load_image_text("digit_captions", {}, 0)
    out = predict(run.run_dir, {"images": digits.images[:3],
                                "class_names": ["six", "nine"]})
    assert len(out["classes"]) == 3
    assert set(out["class_names"]) <= {"six", "nine"}
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1,
                               rtol=1e-5)
    path = tmp_path / "d.png"
    Image.fromarray((digits.images[0, :, :, 0] * 255).astype("uint8")).save(
        path)
    out = predict(run.run_dir, {"images": [str(path)]})
    assert out["class_names"][0] in digits.class_names
    with pytest.raises(ValueError, match="class_names"):
        predict(run.run_dir, {"images": digits.images[:1],
                              "class_names": []})
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        predict(run.run_dir, {"images": digits.images[:1] * 16})
    with pytest.raises(ValueError, match="'images'"):
        predict(run.run_dir, digits.images[:1])


def test_targets_and_recall():
    ids = np.array([[4, 9], [4, 9], [5, 9]])
    t = ContrastiveImageTextTask.targets(ids)
    np.testing.assert_allclose(t, [[.5, .5, 0], [.5, .5, 0], [0, 0, 1]])
    e = np.eye(3)
    perfect = recall_at_k(e, e, ids[[0, 2, 1]] * 0 + np.arange(3)[:, None])
    assert set(perfect.values()) == {1.0}
    # captions 0 and 1 are identical, so retrieving either one is a hit
    swapped = recall_at_k(e, e[[1, 0, 2]], ids, ks=(1,))
    assert swapped == {"image_to_text_recall@1": 1.0,
                       "text_to_image_recall@1": 1.0}


def test_preprocessor_round_trip(tmp_path):
    pre = ImageTextPreprocessor(image_shape=[8, 8, 1]).fit(["a b", "b c d"])
    pre.save(tmp_path / "p.json")
    again = ImageTextPreprocessor.load(tmp_path / "p.json")
    assert again.encode(["c d e"]).tolist() == pre.encode(["c d e"]).tolist()
    assert pre.sequence_length == 4 and pre.end_id == 7


@pytest.mark.parametrize("changes, words", [
    ({"dataset.name": "digits"}, "digit_captions"),
    ({"loss": "mse"}, "categorical_crossentropy"),
    ({"metrics": ["accuracy"]}, "metrics"),
    ({"dataset.held_out": [11]}, "held_out"),
    ({"dataset.name": "colored_digit_captions",
      "dataset.held_out": ["red"]}, "held_out"),
])
def test_bad_recipes_are_explained(changes, words):
    with pytest.raises((RecipeError, ValueError), match=words):
        training.load_splits(recipe(**changes))
