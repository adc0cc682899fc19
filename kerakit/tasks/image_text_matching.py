"""Image-text matching with ViLBERT: does this caption describe this image?

The images and captions of an image-text dataset (`digit_captions`, or a
`pairs:PATH` folder; `kerakit.data.image_text`) are split by image, and
each split pairs every image with its own caption (label 1) and with
`negatives` hard negative captions of other images (label 0;
`kerakit.data.matching_pairs`). WordPiece is learned on the training
captions only and saved with the run, and the model's `vocabulary_size`
and `sequence_length` come from it. The model (`vilbert*`, `head =
"matching"`) gives one logit per pair, fitted with binary cross-entropy.

Accuracy (logit > 0) and ROC AUC are computed from the logits by the task,
on the validation split every epoch (`val_accuracy`, `val_auc` in the
history) and on the test split; `metrics.json` records them next to the
chance baseline (the majority label's share, and AUC 0.5).
`kerakit.predict(run, {"images": array or paths, "captions": [...]})`
returns the match probability of each (image, caption) pair (one caption
for all images, one image for all captions, or as many of each).

Example:
>>> task = ImageTextMatchingTask()
>>> task.defaults["loss"], task.defaults["monitor"]
('binary_crossentropy', 'val_loss')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.image_text import load_image_text
from kerakit.data.matching_pairs import ImageTextPreprocessor
from kerakit.data.matching_pairs import matching_pairs
from kerakit.data.matching_pairs import model_inputs
from kerakit.data.matching_pairs import split_images
from kerakit.data.splits import DataError
from kerakit.data.splits import Splits
from kerakit.data.splits import fingerprint_parts
from kerakit.data.text import as_texts
from kerakit.tasks.base import Task
from kerakit.tasks.text_classification import check_text_recipe

NEGATIVES = 1  # hard negatives per image: balanced pairs, chance = 50%


class ImageTextTask(Task):
    """What the ViLBERT tasks share: image splits, WordPiece, inputs."""

    head = ""
    text_key = ""  # what `kerakit.predict` calls the texts
    owns_tokenizer = True

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """WordPiece text, no image preprocessing, the right head."""
        check_text_recipe(self.name, fields, loss_name, ("", "wordpiece"))
        head = fields["model_kwargs"].get("head", "matching")
        if head != self.head:
            raise ValueError(
                f"model_kwargs.head: is {head!r}; task = {self.name!r} "
                f"needs head = {self.head!r}.")

    def load_images(self, dataset: dict[str, Any],
                    seed: int) -> tuple[Any, list[np.ndarray]]:
        """The image-text data and its image indices per split (at most
        `dataset.limit` images each when set)."""
        spec = {**dataset, "held_out": dataset.get("held_out", [])}
        try:
            data = load_image_text(dataset["name"], spec, seed)
            parts = split_images(
                data.labels, data.held_out, dataset.get(
                    "validation_fraction", 0.1),
                dataset.get("test_fraction", 0.2), seed)
        except ValueError as err:
            raise DataError(str(err)) from None
        if dataset.get("limit"):
            parts = [index[:dataset["limit"]] for index in parts]
        return data, parts

    def finish_splits(self, data: Any, examples: list[tuple],
                      preprocessing: dict[str, Any],
                      model_kwargs: dict[str, Any]) -> Splits:
        """Learn WordPiece on the training texts and pack every split.

        `examples` holds `(image index, texts, targets)` per split.
        """
        pre = ImageTextPreprocessor(
            tokenizer="wordpiece", vocabulary_size=preprocessing.get(
                "vocabulary_size", 0),
            sequence_length=preprocessing.get("sequence_length", 0),
            image_shape=list(data.images.shape[1:]),
            class_names=list(self.answer_names(data)))
        pre.fit_texts(examples[0][1])
        prepared = [(pre.examples(data.images[index], texts), targets)
                    for index, texts, targets in examples]
        raw = [(data.images[index], np.asarray(texts, dtype=object))
               for index, texts, _ in examples]
        sizes = {} if model_kwargs.get("preset") else {
            "vocabulary_size": len(pre.vocabulary),
            "sequence_length": pre.sequence_length}
        return Splits(*prepared, tuple(data.images.shape[1:]),
                      len(pre.class_names), list(pre.class_names), pre,
                      fingerprint_parts(raw),
                      {**sizes, **self.model_sizes(pre)})

    def answer_names(self, data: Any) -> list[str]:
        """Names of the classes the model predicts (none for matching)."""
        return []

    def model_sizes(self, pre: ImageTextPreprocessor) -> dict[str, int]:
        """Further model arguments the data fixes."""
        return {}

    def fit_data(self, x: Any, y: Any) -> tuple:
        """`(ViLBERT inputs, targets)`."""
        return model_inputs(x), y

    def load_preprocessor(self, path: Path) -> ImageTextPreprocessor:
        """The run's `ImageTextPreprocessor`."""
        return ImageTextPreprocessor.load(path)

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> tuple:
        """`{"images": ..., text_key: [...]}` to packed examples and the
        texts; one image or one text is repeated to match the other."""
        pre, text_key = preprocessor, self.text_key
        if not isinstance(inputs, dict) or set(inputs) != {"images",
                                                           text_key}:
            raise ValueError(
                f"A {self.name} run predicts on {{'images': an array or "
                f"image paths, {text_key!r}: a list of strings}}. Received: "
                f"{type(inputs).__name__}.")
        images = pre.check_images(inputs["images"])
        texts = as_texts(inputs[text_key])
        if len(images) == 1 and len(texts) > 1:
            images = np.repeat(images, len(texts), axis=0)
        if len(texts) == 1 and len(images) > 1:
            texts = texts * len(images)
        if len(texts) != len(images):
            raise ValueError(
                f"{len(images)} images and {len(texts)} {text_key}: give "
                "as many of each, or one of either.")
        return pre.examples(images, texts), texts

    @staticmethod
    def pair_logits(model: keras.Model, x: tuple) -> tuple[Any, list]:
        """The logits of `predict_inputs`' examples, and their texts."""
        examples, texts = x
        return model.predict(model_inputs(examples), verbose=0), texts


def matching_metrics(labels: np.ndarray, logits: np.ndarray
                     ) -> dict[str, float]:
    """Accuracy (logit > 0) and ROC AUC of match logits.

    Example:
    >>> matching_metrics(np.array([1, 0, 1, 0]),
    ...                  np.array([2.0, -1.0, -0.5, -3.0]))
    {'accuracy': 0.75, 'auc': 1.0}
    """
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels).reshape(-1)
    logits = np.asarray(logits, "float64").reshape(-1)
    both = len(np.unique(labels)) == 2
    return {"accuracy": float(np.mean((logits > 0) == (labels > 0.5))),
            "auc": float(roc_auc_score(labels, logits)) if both else 0.5}


class MatchingValidation(keras.callbacks.Callback):
    """Logs `val_accuracy` and `val_auc` of the match logits every epoch
    (Keras' threshold metrics expect probabilities, not logits)."""

    def __init__(self, inputs: dict, labels: np.ndarray, batch_size: int):
        super().__init__()
        self.inputs, self.labels = inputs, labels
        self.batch_size = batch_size

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logits = self.model.predict(self.inputs, batch_size=self.batch_size,
                                    verbose=0)
        for key, value in matching_metrics(self.labels, logits).items():
            if logs is not None:
                logs[f"val_{key}"] = value


class ImageTextMatchingTask(ImageTextTask):
    """Image + caption -> match logit (see the module doc)."""

    name = "image_text_matching"
    description = ("image + caption -> does it match? (ViLBERT, hard "
                   "negatives); accuracy and AUC vs chance")
    model_tasks = ("image_text_matching",)
    defaults = {"loss": "binary_crossentropy", "metrics": [],
                "monitor": "val_loss"}
    head = "matching"
    text_key = "captions"

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """Also: a binary loss, and no Keras metrics (see the module)."""
        super().check_recipe(fields, loss_name)
        if not loss_name.startswith("binary"):
            raise ValueError(
                f"loss: is {loss_name!r}; a match logit takes "
                "'binary_crossentropy' (or 'binary_focal_crossentropy').")
        if fields["metrics"]:
            raise ValueError(
                "metrics: set metrics = [] for image-text matching: the task "
                "computes accuracy and AUC from the match logits itself "
                "(val_accuracy, val_auc; Keras' versions would threshold "
                "logits as probabilities).")

    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Split the images, make matches and hard negatives per split,
        learn WordPiece on the training captions."""
        data, parts = self.load_images(dataset, seed)
        examples = []
        for number, index in enumerate(parts):
            try:
                which, texts, match = matching_pairs(
                    [data.captions[i] for i in index], data.labels[index],
                    np.random.default_rng([seed, number]), NEGATIVES)
            except ValueError as err:
                raise DataError(str(err)) from None
            examples.append((index[which], texts, match[:, None]))
        return self.finish_splits(data, examples, preprocessing,
                                  dict(model_kwargs or {}))

    def validation(self, model: keras.Model, splits: Splits,
                   batch_size: int, seed: int) -> tuple[Any, list]:
        """The validation pairs, and the callback that logs accuracy and
        AUC."""
        inputs, labels = self.fit_data(*splits.validation)
        return (inputs, labels), [MatchingValidation(inputs, labels,
                                                     batch_size)]

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """Loss, accuracy and AUC of one split."""
        inputs, labels = self.fit_data(*pair)
        out = model.evaluate(inputs, labels, batch_size=batch_size,
                             return_dict=True, verbose=0)
        logits = model.predict(inputs, batch_size=batch_size, verbose=0)
        return {"loss": float(out["loss"]),
                **matching_metrics(labels, logits)}

    def report(self, model: keras.Model, splits: Splits, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """`{"baseline": chance}`: the majority label's test accuracy and
        AUC 0.5."""
        labels = splits.test[1].reshape(-1)
        share = float(max(np.mean(labels > 0.5), np.mean(labels < 0.5)))
        return {"baseline": {"kind": "chance", "test_accuracy": share,
                             "test_auc": 0.5},
                "negatives_per_image": NEGATIVES}

    def predict(self, model: keras.Model, x: Any,
                class_names: list[str]) -> dict[str, Any]:
        """`{"match_probabilities", "captions"}` per pair."""
        logits, captions = self.pair_logits(model, x)
        probs = keras.ops.convert_to_numpy(keras.ops.sigmoid(
            keras.ops.convert_to_tensor(logits)))
        return {"match_probabilities": np.asarray(probs).reshape(-1),
                "captions": captions}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """`index, probability, caption` per pair."""
        return [f"{i}\t{p:.4f}\t{c}" for i, (p, c) in enumerate(
            zip(out["match_probabilities"], out["captions"]))]
