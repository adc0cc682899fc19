"""Contrastive image-text training (CLIP): symmetric InfoNCE, zero-shot.

Data: `colored_digit_captions`, `digit_captions` or `pairs:PATH`
(`kerakit.data.image_text`). Images of the held-out classes
(`dataset.held_out`) go to the test split only, with every image made
from the same source (tinted copies); the other images are split by
source, by `dataset.validation_fraction` and `dataset.test_fraction`,
stratified by class when classes are known.
Captions are word pieces learned on the training captions
(`kerakit.data.text_pairs.PieceTokenizer`), ended by the end-of-text id,
which is the largest id (CLIP's text tower pools there), and padded with 0.

Loss: symmetric InfoNCE with CLIP's learned temperature. The model gives
`vision_logits` (each image against every caption of the batch) and
`text_logits` (the transpose); both are fitted by softmax cross-entropy
against the batch's matching matrix. Captions repeat (templates), so every
caption of the batch identical to an image's own is a positive too, with
the target mass shared among them (otherwise identical texts would be
pushed apart).

Metrics on test (`metrics.json`): image->text and text->image recall@1
and @5 over the whole test split (a retrieved caption or image counts
when its caption is identical to the query's own; templates vary, so
several captions fit an image equally and exact recall@1 stays low), the
same with a hit for any caption or image of the query's class
(`*_class_recall@k`, when classes are known), and zero-shot
classification of the held-out images among the held-out class prompts
(`kerakit.data.image_text.class_prompt`), next to chance (one over the
number of held-out classes); `zero_shot_all_accuracy` picks among every
class prompt for every test image (chance: one over the classes).
`kerakit.predict(run, {"images": ..., "class_names": [...]})` returns the
zero-shot class of each image among the given names.

Example:
>>> ids = np.array([[4, 9, 0], [5, 9, 0], [4, 9, 0]])
>>> ContrastiveImageTextTask.targets(ids).round(2).tolist()
[[0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.image_text import class_prompt
from kerakit.data.image_text import load_image_text
from kerakit.data.image_text import split_pairs
from kerakit.data.splits import Splits
from kerakit.data.splits import fingerprint_parts
from kerakit.data.text_pairs import SPECIAL_TOKENS
from kerakit.data.text_pairs import PieceTokenizer
from kerakit.data.text_pairs import TaggedPreprocessing
from kerakit.models.multimodal.clip import embedders
from kerakit.models.multimodal.clip import logit_scale
from kerakit.tasks.base import Task

RECALL_AT = (1, 5)
DATASETS = ("'colored_digit_captions', 'digit_captions' or "
            "'pairs:PATH'")
NAMED = ("colored_digit_captions", "digit_captions")


@dataclasses.dataclass
class ImageTextPreprocessor(TaggedPreprocessing):
    """Caption word pieces and the image shape of a contrastive run.

    Ids: 0 padding, 2 unknown, learned pieces from 3, and the end of text
    last (`end_id = vocabulary_size - 1`); id 1 is unused.

    Example:
    >>> pre = ImageTextPreprocessor().fit(["a red cat", "a cat"])
    >>> pre.encode(["a cat", "a dog"]).tolist(), pre.end_id
    ([[3, 4, 6, 0], [3, 2, 6, 0]], 6)
    """

    sequence_length: int = 0
    image_shape: list = dataclasses.field(default_factory=list)
    names: list = dataclasses.field(default_factory=list)
    held_out: list = dataclasses.field(default_factory=list)
    vocabulary: list = dataclasses.field(default_factory=list)
    kind: str = "contrastive_image_text"

    def __post_init__(self) -> None:
        self._tok = PieceTokenizer("word", self.vocabulary)

    @property
    def class_names(self) -> list[str]:
        """The training data's class names (`[]` for `pairs:PATH`)."""
        return list(self.names)

    @property
    def vocabulary_size(self) -> int:
        """Ids the text tower embeds (the end id is the last)."""
        return len(SPECIAL_TOKENS) + len(self.vocabulary) + 1

    @property
    def end_id(self) -> int:
        """The end-of-text id: the largest (CLIP pools there)."""
        return self.vocabulary_size - 1

    def fit(self, captions: Sequence[str]) -> ImageTextPreprocessor:
        """Learn the pieces and, if unset, the length (longest + end)."""
        self._tok.fit(captions)
        self.vocabulary = self._tok.vocabulary[len(SPECIAL_TOKENS):]
        if not self.sequence_length:
            self.sequence_length = 1 + max(len(self._tok.pieces(c))
                                           for c in captions)
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """`(n, sequence_length)` ids: pieces (truncated), end, padding."""
        out = np.zeros((len(texts), self.sequence_length), "int32")
        for row, text in enumerate(texts):
            ids = [*self._tok.encode(str(text))[:self.sequence_length - 1],
                   self.end_id]
            out[row, :len(ids)] = ids
        return out


class _PairBatches(keras.utils.PyDataset):
    """Batches of `(inputs, matching targets)`, reshuffled every epoch.

    Every batch has the same size (a last partial batch is left out, a
    different one each epoch when shuffled): the targets are `(batch,
    batch)` matrices, whose shape must not change between steps.
    """

    def __init__(self, x: dict[str, np.ndarray], batch_size: int,
                 seed: int | None, epoch: int = 0) -> None:
        super().__init__()
        self.x, self.seed = x, seed
        self.batch_size = max(1, min(batch_size, len(x["images"])))
        self.epoch = epoch
        self.order = np.arange(len(x["images"]))
        self._shuffle()

    def _shuffle(self) -> None:
        if self.seed is not None:
            rng = np.random.default_rng([self.seed, self.epoch])
            self.order = rng.permutation(len(self.order))

    def __len__(self) -> int:
        return len(self.order) // self.batch_size

    def __getitem__(self, index: int) -> tuple:
        rows = self.order[index * self.batch_size:
                          (index + 1) * self.batch_size]
        batch = {k: v[rows] for k, v in self.x.items()}
        return ContrastiveImageTextTask().fit_data(batch, None)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._shuffle()


class ContrastiveImageTextTask(Task):
    """Image-caption pairs -> a shared embedding (CLIP; see module doc)."""

    # The InfoNCE loss of a batch couples all its pairs: a process's rows
    # alone would give another loss.
    data_parallel = False
    name = "contrastive_image_text"
    description = ("image-caption pairs (CLIP): symmetric InfoNCE, learned "
                   "temperature; recall@1/5 both ways, zero-shot accuracy")
    model_tasks = ("contrastive_image_text",)
    defaults = {"loss": "categorical_crossentropy", "metrics": [],
                "monitor": "val_loss"}

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """An image-text dataset, a softmax cross-entropy, no image
        preprocessing (images come in `[0, 1]`)."""
        super().check_recipe(fields, loss_name)
        name = fields["dataset"]["name"]
        if name not in NAMED and not name.startswith("pairs:"):
            raise ValueError(f"dataset.name: task = {self.name!r} reads "
                             f"{DATASETS}. Received {name!r}.")
        if loss_name != "categorical_crossentropy":
            raise ValueError(
                f"loss: task = {self.name!r} fits both logit matrices "
                "against the batch's matching matrix (symmetric InfoNCE): "
                f"use 'categorical_crossentropy'. Received {loss_name!r}.")
        if fields["metrics"]:
            raise ValueError(
                f"metrics: task = {self.name!r} reports recall@1/5 and "
                "zero-shot accuracy itself; leave metrics = [].")

    @staticmethod
    def targets(token_ids: np.ndarray) -> np.ndarray:
        """Each row: 1 on the captions identical to its own, summing to 1."""
        ids = np.asarray(token_ids)
        same = np.all(ids[:, None, :] == ids[None, :, :], axis=-1)
        return (same / same.sum(axis=1, keepdims=True)).astype("float32")

    # --------------------------------------------------------------- data
    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Load the pairs, keep held-out classes for test, split the rest,
        learn the word pieces on the training captions."""
        data = load_image_text(dataset["name"], dataset, seed)
        limit = int(dataset.get("limit") or 0)
        labels = data.labels
        train, validation, test, held = split_pairs(
            data, dataset.get("validation_fraction", 0.1),
            dataset.get("test_fraction", 0.2), seed)
        if limit:  # per split, and as many held-out test images
            train, validation, test, held = (
                p[:limit] for p in (train, validation, test, held))
        test = np.concatenate([test, held])
        captions = np.array(data.captions, dtype=object)
        pre = ImageTextPreprocessor(
            sequence_length=int(preprocessing.get("sequence_length") or 0),
            image_shape=list(data.images.shape[1:]),
            names=list(data.class_names),
            held_out=list(data.held_out)).fit(list(captions[train]))
        parts = [({"images": data.images[p],
                   "token_ids": pre.encode(list(captions[p]))}, labels[p])
                 for p in (train, validation, test)]
        raw = [(data.images[p], captions[p]) for p in (train, validation,
                                                       test)]
        height, _, channels = data.images.shape[1:]
        return Splits(*parts, tuple(data.images.shape[1:]),
                      len(data.class_names), list(data.class_names), pre,
                      fingerprint_parts(raw),
                      {"vocabulary_size": pre.vocabulary_size,
                       "sequence_length": pre.sequence_length,
                       "image_size": int(height),
                       "num_channels": int(channels)})

    def fit_data(self, x: Any, y: Any) -> tuple:
        """`(inputs, {"vision_logits": M, "text_logits": M})`, `M` the
        matching matrix of the batch's captions (`targets`)."""
        matrix = self.targets(x["token_ids"])
        return x, {"vision_logits": matrix, "text_logits": matrix.T}

    def count_examples(self, splits: Splits) -> dict[str, int]:
        """Pairs per split."""
        return {name: len(getattr(splits, name)[1])
                for name in ("train", "validation", "test")}

    def steps_per_epoch(self, splits: Splits, batch_size: int) -> int:
        """Full batches of pairs per epoch."""
        return max(1, len(splits.train[1]) // batch_size)

    # ----------------------------------------------------------- training
    def fit(self, model: keras.Model, splits: Splits, *, batch_size: int,
            seed: int, epochs: int, initial_epoch: int,
            callbacks: list[keras.callbacks.Callback],
            verbose: Any = "auto", run_dir: Path | None = None) -> None:
        """`model.fit` on shuffled pair batches; validation in batches of
        the same size (the loss depends on the batch)."""
        model.fit(_PairBatches(splits.train[0], batch_size, seed,
                               initial_epoch),
                  validation_data=_PairBatches(splits.validation[0],
                                               batch_size, None),
                  epochs=epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, verbose=verbose)

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """Batched InfoNCE loss and recall@1/5 both ways on a split."""
        out = model.evaluate(_PairBatches(pair[0], batch_size, None),
                             return_dict=True, verbose=0)
        metrics = {"loss": float(out["loss"])}
        images, texts = embed(model, pair[0]["images"], pair[0]["token_ids"],
                              batch_size)
        metrics.update(recall_at_k(images, texts, pair[0]["token_ids"]))
        if np.all(pair[1] >= 0):
            metrics.update(recall_at_k(images, texts, pair[1][:, None],
                                       prefix="class_"))
        return metrics

    def report(self, model: keras.Model, splits: Splits, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """Zero-shot accuracy on the held-out classes, with chance."""
        pre = splits.preprocessor
        x, labels = splits.test
        held = list(pre.held_out)
        test: dict[str, Any] = {}
        if pre.class_names:
            all_ids = list(range(len(pre.class_names)))
            test["zero_shot_all_accuracy"] = zero_shot_accuracy(
                model, pre, x["images"], labels, all_ids)
            test["zero_shot_all_chance"] = 1 / len(all_ids)
        if held and np.isin(labels, held).any():
            mask = np.isin(labels, held)
            test["zero_shot_accuracy"] = zero_shot_accuracy(
                model, pre, x["images"][mask], labels[mask], held)
            test["zero_shot_chance"] = 1 / len(held)
        return {"test": test, "zero_shot": {
            "held_out": [pre.class_names[c] for c in held],
            "prompts": [class_prompt(n) for n in pre.class_names],
            "logit_scale": logit_scale(model)}}

    # ---------------------------------------------------------- inference
    def load_preprocessor(self, path: Path) -> ImageTextPreprocessor:
        """The run's saved `ImageTextPreprocessor`."""
        return ImageTextPreprocessor.load(path)

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> tuple:
        """`{"images": paths or array, "class_names": [...]}` (names
        default to the run's classes) -> `(images, names)`."""
        if not isinstance(inputs, dict) or "images" not in inputs:
            raise ValueError(
                f"A {self.name!r} run predicts from {{'images': paths or "
                "an array, 'class_names': [names]}}; received "
                f"{type(inputs).__name__}.")
        names = list(inputs.get("class_names", preprocessor.class_names))
        if not names or not all(isinstance(n, str) and n.strip()
                                for n in names):
            raise ValueError("class_names: give a non-empty list of class "
                             f"names (strings). Received {names!r}.")
        prompts = preprocessor.encode([class_prompt(n) for n in names])
        return read_images(inputs["images"], preprocessor), prompts, names

    def predict(self, model: keras.Model, x: Any,
                class_names: list[str]) -> dict[str, Any]:
        """`{"classes", "class_names", "probabilities"}`: each image's
        zero-shot class among the given names."""
        images, prompt_ids, names = x
        probabilities = class_probabilities(model, images, prompt_ids)
        classes = probabilities.argmax(axis=1)
        return {"classes": classes, "probabilities": probabilities,
                "class_names": [names[c] for c in classes]}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """The zero-shot class name of each image."""
        return [f"{i}\t{name}" for i, name in enumerate(out["class_names"])]


def embed(model: keras.Model, images: np.ndarray, token_ids: np.ndarray,
          batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised image and caption embeddings of a CLIP model."""
    image_model, text_model = embedders(model)
    out = []
    for tower, x in ((image_model, images), (text_model, token_ids)):
        e = np.asarray(tower.predict(x, batch_size=batch_size, verbose=0))
        out.append(e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True),
                                  1e-12))
    return out[0], out[1]


def recall_at_k(images: np.ndarray, texts: np.ndarray,
                token_ids: np.ndarray, ks: Sequence[int] = RECALL_AT,
                prefix: str = "") -> dict[str, float]:
    """Image->text and text->image recall@k over a whole split.

    A retrieved item is a hit when its caption is identical to the
    query's own (identical captions cannot be told apart); pass class ids
    as `(n, 1)` `token_ids` (and `prefix="class_"`) to count any item of
    the query's class.

    Example:
    >>> e = np.eye(3)
    >>> recall_at_k(e, e[[0, 2, 1]], np.array([[1], [2], [3]]), ks=(1,))
    {'image_to_text_recall@1': 0.3333, 'text_to_image_recall@1': 0.3333}
    """
    ids = np.asarray(token_ids)
    same = np.all(ids[:, None, :] == ids[None, :, :], axis=-1)
    similarity = images @ texts.T
    out = {}
    for direction, scores in (("image_to_text", similarity),
                              ("text_to_image", similarity.T)):
        ranked = np.argsort(-scores, axis=1, kind="stable")
        for k in ks:
            top = ranked[:, :k]
            hits = np.take_along_axis(same, top, axis=1).any(axis=1)
            out[f"{direction}_{prefix}recall@{k}"] = round(
                float(hits.mean()), 4)
    return out


def class_probabilities(model: keras.Model, images: np.ndarray,
                        prompt_ids: np.ndarray) -> np.ndarray:
    """Softmax over the class prompts of each image's scaled similarity."""
    a, b = embed(model, images, prompt_ids)
    logits = logit_scale(model) * a @ b.T
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def zero_shot_accuracy(model: keras.Model, pre: ImageTextPreprocessor,
                       images: np.ndarray, labels: np.ndarray,
                       classes: Sequence[int]) -> float:
    """Share of images whose own class prompt beats the other `classes`'."""
    prompts = pre.encode([class_prompt(pre.class_names[c]) for c in classes])
    chosen = class_probabilities(model, images, prompts).argmax(axis=1)
    return round(float(np.mean(np.asarray(classes)[chosen] == labels)), 4)


def read_images(images: Any, pre: ImageTextPreprocessor) -> np.ndarray:
    """Image files or an array as the run's model takes them.

    Files are resized to the training size and scaled to `[0, 1]`;
    arrays must already be `(n, height, width, channels)` in `[0, 1]`
    (as `kerakit.data.image_text` gives them).
    """
    from kerakit.data.features import images_to_tensor

    shape = tuple(pre.image_shape)
    if isinstance(images, (str, os.PathLike)):
        images = [images]
    if isinstance(images, (list, tuple)) and images and all(
            isinstance(i, (str, os.PathLike)) for i in images):
        mode = "grayscale" if shape[-1] == 1 else "rgb"
        return images_to_tensor(images, size=shape[:2], color_mode=mode)
    array = np.asarray(images, dtype="float32")
    if array.ndim == len(shape):
        array = array[None]
    if array.shape[1:] != shape:
        raise ValueError(f"images: the run's model takes images shaped "
                         f"{shape} in [0, 1]; received an array shaped "
                         f"{array.shape}.")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise ValueError("images: array values must be finite and in "
                         "[0, 1] (divide 8-bit images by 255).")
    return array
