"""Image-text examples for ViLBERT: splits, hard negatives, preprocessing.

Images are split first (`split_images`: stratified by class where classes
are known; held-out classes go to the test split only), so no image is in
two splits. Each split then gets its own examples:

- image-text matching (`matching_pairs`): every image with its own caption
  (a match) and `negatives` captions of other images of the same split (no
  match). Negatives are *hard*: of `candidates` random captions of images
  of another class (another caption where classes are unknown), the one
  sharing most words with the true caption (Jaccard) is taken: the same
  template naming another digit ("a handwritten seven" against "a
  handwritten one"), or another digit's strokes in the same words ("a loop
  at the top and a straight vertical stroke" against "a loop at the top
  and a loop at the bottom"). Chance is 50% accuracy and 0.5 AUC with one
  negative.
- question answering: `kerakit.data.visual_questions`.

`ImageTextPreprocessor` learns WordPiece on the training texts (captions or
questions; `kerakit.data.bert_inputs`), packs each text as `[CLS] ...
[SEP]`, remembers the image shape and the answer vocabulary, and is saved
as the run's `preprocessing.json`. Examples are numpy structured arrays
(`pack_examples`: fields `image` and `token_ids`), so the workflow's
batching and shuffling index them like any array.

Example:
>>> labels = np.array([0, 0, 1, 1])
>>> captions = ["a handwritten zero", "the digit zero",
...             "a handwritten one", "the digit one"]
>>> index, texts, match = matching_pairs(captions, labels,
...                                      np.random.default_rng(0))
>>> texts[:2], match[:2].tolist()
(['a handwritten zero', 'a handwritten one'], [1.0, 0.0])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from kerakit.data.bert_inputs import BertTextPreprocessor
from kerakit.data.bert_inputs import check_texts


def split_images(labels: np.ndarray, held_out: Sequence[int],
                 validation_fraction: float, test_fraction: float,
                 seed: int) -> list[np.ndarray]:
    """Image indices of the train, validation and test splits.

    Stratified by label when labels are known (`-1` means unknown);
    images of a `held_out` class all go to the test split.

    Example:
    >>> parts = split_images(np.arange(20) % 2, [], 0.1, 0.2, seed=0)
    >>> [len(p) for p in parts]
    [14, 2, 4]
    """
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    held = np.isin(labels, list(held_out))
    pool = np.flatnonzero(~held)
    for fraction, what in ((validation_fraction, "validation"),
                           (test_fraction, "test")):
        if not 0 < fraction < 1:
            raise ValueError(
                f"dataset.{what}_fraction must be between 0 and 1 "
                f"(exclusive) for image-text data. Received: {fraction}.")
    known = labels[pool]
    stratify = known if known.min() >= 0 and np.bincount(
        known).min() >= 3 else None
    rest, test = train_test_split(pool, test_size=test_fraction,
                                  random_state=seed, stratify=stratify)
    stratify = labels[rest] if stratify is not None else None
    train, validation = train_test_split(
        rest, test_size=validation_fraction / (1 - test_fraction),
        random_state=seed + 1, stratify=stratify)
    if min(len(train), len(validation)) < 1:
        raise ValueError(f"Too few images ({len(labels)}) for a train, "
                         "validation and test split: add images.")
    return [np.sort(train), np.sort(validation),
            np.sort(np.concatenate([test, np.flatnonzero(held)]))]


def _words(text: str) -> set[str]:
    return set(text.lower().split())


def matching_pairs(captions: Sequence[str], labels: np.ndarray,
                   rng: np.random.Generator, negatives: int = 1,
                   candidates: int = 16) -> tuple[np.ndarray, list[str],
                                                  np.ndarray]:
    """Matching examples: each image with its caption and hard negatives.

    Args:
        captions: One caption per image.
        labels: Class per image (`-1`: unknown, then any other caption
            that differs is a candidate negative).
        rng: Draws the candidates.
        negatives: Negative captions per image.
        candidates: Random candidates a hard negative is chosen from (the
            one sharing most words with the true caption).

    Returns:
        `(image index, caption, match)` per example, image by image: the
        match first, then its negatives; `match` is float32 1.0 or 0.0.

    Raises:
        ValueError: When some image has no possible negative.
    """
    labels = np.asarray(labels)
    words = [_words(c) for c in captions]
    index, texts, match = [], [], []
    for i, caption in enumerate(captions):
        if labels[i] >= 0:
            others = np.flatnonzero(labels != labels[i])
        else:
            others = np.array([j for j, c in enumerate(captions)
                               if c != caption], dtype=int)
        if not len(others):
            raise ValueError(
                "Image-text matching needs captions of other classes (or "
                "other captions) in every split: this split has one "
                "class only. Use more images or more classes.")
        index.append(i)
        texts.append(caption)
        match.append(1.0)
        for _ in range(negatives):
            pick = rng.choice(others, min(candidates, len(others)),
                              replace=False)
            overlap = [len(words[i] & words[j]) / len(words[i] | words[j])
                       for j in pick]
            index.append(i)
            texts.append(captions[int(pick[int(np.argmax(overlap))])])
            match.append(0.0)
    return np.asarray(index), texts, np.asarray(match, "float32")


def pack_examples(images: np.ndarray, token_ids: np.ndarray) -> np.ndarray:
    """One structured array of `image` and `token_ids` per example.

    Example:
    >>> x = pack_examples(np.zeros((2, 4, 4, 1)), np.ones((2, 3)))
    >>> x.shape, x["image"].shape, x["token_ids"].dtype.name
    ((2,), (2, 4, 4, 1), 'int32')
    """
    images = np.asarray(images, "float32")
    token_ids = np.asarray(token_ids, "int32")
    dtype = np.dtype([("image", "float32", images.shape[1:]),
                      ("token_ids", "int32", token_ids.shape[1:])])
    out = np.empty(len(images), dtype)
    out["image"], out["token_ids"] = images, token_ids
    return out


def model_inputs(x: np.ndarray) -> dict[str, np.ndarray]:
    """ViLBERT's input dict of packed examples.

    Example:
    >>> x = pack_examples(np.zeros((1, 2, 2, 1)), np.array([[1, 5, 2, 0]]))
    >>> sorted(model_inputs(x)), model_inputs(x)["padding_mask"].tolist()
    (['images', 'padding_mask', 'token_ids'], [[1, 1, 1, 0]])
    """
    ids = np.ascontiguousarray(x["token_ids"])
    return {"images": np.ascontiguousarray(x["image"]), "token_ids": ids,
            "padding_mask": (ids != 0).astype("int32")}


@dataclasses.dataclass
class ImageTextPreprocessor(BertTextPreprocessor):
    """Texts (WordPiece) and images of an image-text run.

    Attributes:
        image_shape: `(height, width, channels)` of the training images.
        class_names: The answer vocabulary of a question-answering run
            (`[]` for matching).
        kind: Always `"image_text"`.
    """

    image_shape: list = dataclasses.field(default_factory=list)
    kind: str = "image_text"

    def fit_texts(self, texts: Sequence[str]) -> ImageTextPreprocessor:
        """Learn WordPiece on the training texts; size the sequences to the
        longest one (`[CLS]` and `[SEP]` included) unless set."""
        self.fit(texts)
        if not self.sequence_length:
            longest = max(len(ids) for ids in self.token_ids(texts))
            self.sequence_length = longest + 2
        return self

    def __post_init__(self) -> None:
        length, self.sequence_length = self.sequence_length, (
            self.sequence_length or 3)
        super().__post_init__()
        self.sequence_length = length

    def examples(self, images: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Packed examples of images in `[0, 1]` and raw texts."""
        check_texts(list(texts), "the texts")
        return pack_examples(self.check_images(images), self.transform(texts))

    def check_images(self, images: Any) -> np.ndarray:
        """Images as the model takes them: `(n, *image_shape)` in `[0, 1]`.

        A batch without its channel axis gets one; image files are read
        (`kerakit.data.datasets.read_image`), resized and scaled to
        `[0, 1]`.

        Raises:
            ValueError: Wrong shapes, values outside `[0, 1]`, or NaN.
        """
        shape = tuple(self.image_shape)
        if isinstance(images, (str, bytes)) or (
                isinstance(images, (list, tuple)) and images
                and isinstance(images[0], (str, bytes))) or hasattr(
                images, "__fspath__"):
            images = self._read(images)
        images = np.asarray(images, "float32")
        if images.ndim == len(shape) and shape[-1] == 1:
            images = images[..., None]
        if images.shape[1:] != shape:
            raise ValueError(
                f"Images of shape {images.shape[1:]} given; the run was "
                f"trained on {shape}: give a batch (n, *{shape}).")
        if not np.all(np.isfinite(images)) or images.min() < 0 or (
                images.max() > 1):
            raise ValueError("Images must hold finite values in [0, 1] "
                             "(divide 8-bit pixels by 255).")
        return images

    def _read(self, paths: Any) -> np.ndarray:
        from kerakit.data.datasets import read_image

        paths = [paths] if isinstance(paths, (str, bytes)) or hasattr(
            paths, "__fspath__") else list(paths)
        height, width, channels = self.image_shape
        out = []
        for path in paths:
            image = read_image(path, (height, width)).astype("float32")
            if image.shape[-1] != channels:
                image = (image.mean(axis=-1, keepdims=True) if channels == 1
                         else np.repeat(image, channels, axis=-1))
            out.append(image / 255.0)
        return np.stack(out)
