"""Train / validation / test splits: carving, checking and preprocessing.

`split_raw` gives deterministic splits from the seed (validation is carved
from training when the dataset has none, test likewise); `check_splits`
refuses data that would train badly or silently wrong (non-finite values,
splits whose example shapes differ) before any training starts;
`prepare_splits` fits the `Preprocessor` on the training split and
transforms all three.

Example:
>>> from kerakit.data.datasets import load_dataset
>>> raw = load_dataset({"name": "digits"})
>>> parts = split_raw(raw, {}, seed=0)
>>> [len(p[0]) for p in parts]
[1294, 144, 359]
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np

from kerakit.data.datasets import RawData
from kerakit.data.preprocessing import Preprocessor

SPLIT_NAMES = ("train", "validation", "test")


class DataError(ValueError):
    """The data cannot be trained on as it is; the message says why."""


@dataclasses.dataclass
class Splits:
    """Preprocessed train/validation/test arrays and what the model needs.

    Attributes:
        train: `(x, y)`, preprocessed, not augmented.
        validation: `(x, y)`.
        test: `(x, y)`; left untouched until the end of training.
        input_shape: Model input shape without batch.
        num_classes: Number of classes.
        class_names: Class names.
        preprocessor: The fitted `Preprocessor` (saved with the run).
        fingerprint: Per split, the example count and a hash of the raw
            arrays (`fingerprint_parts`): a run records it so that
            evaluating it later detects changed data.
        model_arguments: Further factory arguments the data fixes (a
            language model's `vocabulary_size` and `sequence_length`);
            `Recipe.model_arguments` fills those the model accepts.
    """

    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    input_shape: tuple
    num_classes: int
    class_names: list[str]
    preprocessor: Preprocessor
    fingerprint: dict = dataclasses.field(default_factory=dict)
    model_arguments: dict = dataclasses.field(default_factory=dict)


def _carve(x: np.ndarray, y: np.ndarray, fraction: float, seed: int,
           what: str) -> tuple[tuple, tuple]:
    """Split off `fraction` of (x, y), stratified when possible."""
    from sklearn.model_selection import train_test_split

    n = len(x)
    take = max(1, round(n * fraction))
    if not 0 < fraction < 1 or n - take < 1:
        raise DataError(
            f"Cannot carve a {what} split of {fraction} from {n} examples: "
            f"set dataset.{what}_fraction between 0 and 1 (exclusive), or "
            "give the dataset more examples."
        )
    stratify = None
    if y.ndim == 1 and y.dtype.kind in "iub":  # class labels
        counts = np.bincount(y.astype(int))
        counts = counts[counts > 0]
        stratify = y if counts.min() >= 2 and take >= len(counts) and (
            n - take >= len(counts)) else None
    xa, xb, ya, yb = train_test_split(x, y, test_size=take,
                                      random_state=seed, stratify=stratify)
    return (xa, ya), (xb, yb)


def split_raw(raw: RawData, spec: dict[str, Any], seed: int) -> tuple:
    """Return deterministic `(train, validation, test)` raw pairs.

    Args:
        raw: The loaded dataset.
        spec: The recipe's dataset table (`validation_fraction`,
            `test_fraction` are used when a split is missing).
        seed: Seed of the carving.
    """
    train, validation, test = raw.train, raw.validation, raw.test
    if test is None:
        train, test = _carve(*train, spec.get("test_fraction", 0.2), seed,
                             "test")
    if validation is None:
        train, validation = _carve(*train,
                                   spec.get("validation_fraction", 0.1),
                                   seed + 1, "validation")
    return train, validation, test


def count_non_finite(array: Any) -> int:
    """How many values of a numeric array are NaN or infinite (0 for text).

    Example:
    >>> count_non_finite(np.array([1.0, np.nan, np.inf]))
    2
    """
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return 0
    return int(array.size - np.count_nonzero(np.isfinite(array)))


def check_finite(array: Any, what: str) -> None:
    """Refuse an array holding NaN or infinite values, naming it.

    Example:
    >>> check_finite(np.array([0.0, np.nan]), "the test inputs")
    Traceback (most recent call last):
    ...
    kerakit.data.splits.DataError: the test inputs hold 1 NaN or infinite value(s) (of 2): clean or drop them before training or predicting.
    """
    bad = count_non_finite(array)
    if bad:
        raise DataError(
            f"{what} hold {bad} NaN or infinite value(s) (of "
            f"{np.asarray(array).size}): clean or drop them before training "
            "or predicting.")


def given_splits(raw: RawData) -> dict[str, tuple]:
    """The raw `(x, y)` splits a dataset comes with, by split name."""
    return {name: pair for name, pair in zip(
        SPLIT_NAMES, (raw.train, raw.validation, raw.test))
        if pair is not None}


def check_splits(parts: dict[str, tuple], dataset: str) -> None:
    """Check raw splits before any training: finite, same example shapes.

    Args:
        parts: Raw `(x, y)` pairs by split name (`given_splits`).
        dataset: The dataset's name, for the messages.

    Raises:
        DataError: Naming the split and array that is wrong.
    """
    shapes = {}
    for name, (x, y) in parts.items():
        if len(x) != len(y):
            raise DataError(
                f"dataset {dataset!r}: the {name} split has {len(x)} inputs "
                f"but {len(y)} labels; every input needs one label.")
        check_finite(x, f"dataset {dataset!r}: the {name} inputs")
        check_finite(y, f"dataset {dataset!r}: the {name} labels")
        if np.asarray(x).dtype != object:
            shapes[name] = tuple(np.asarray(x).shape[1:])
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise DataError(
            f"dataset {dataset!r}: the splits' examples differ in shape "
            f"({listed}); every split must hold examples of one shape.")


def _hash_array(array: Any, digest: Any) -> None:
    array = np.asarray(array)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    if array.dtype == object:
        for item in array.reshape(-1):
            digest.update(str(item).encode("utf-8", "replace") + b"\0")
    else:
        digest.update(np.ascontiguousarray(array).tobytes())


def fingerprint_parts(parts: tuple) -> dict[str, dict[str, Any]]:
    """Example count and SHA-256 of each raw split's inputs and labels.

    Example:
    >>> x, y = np.zeros((3, 2)), np.arange(3)
    >>> fingerprint_parts([(x, y)])["train"]["examples"]
    3
    """
    out = {}
    for name, (x, y) in zip(SPLIT_NAMES, parts):
        digest = hashlib.sha256()
        _hash_array(x, digest)
        _hash_array(y, digest)
        out[name] = {"examples": len(x), "sha256": digest.hexdigest()[:16]}
    return out


def compare_fingerprints(recorded: dict, found: dict) -> list[str]:
    """What changed between two `fingerprint_parts` results, in words.

    Example:
    >>> a = {"test": {"examples": 3, "sha256": "ab"}}
    >>> compare_fingerprints(a, {"test": {"examples": 4, "sha256": "cd"}})
    ['test split: 3 examples at training, 4 now']
    """
    changes = []
    for name, before in recorded.items():
        now = found.get(name)
        if now is None:
            changes.append(f"{name} split: missing now")
        elif now["examples"] != before["examples"]:
            changes.append(f"{name} split: {before['examples']} examples at "
                           f"training, {now['examples']} now")
        elif now["sha256"] != before["sha256"]:
            changes.append(f"{name} split: same size, different content")
    return changes


def prepare_splits(raw: RawData, parts: tuple,
                   preprocessing: dict[str, Any],
                   encode_labels: Any = None) -> Splits:
    """Fit the preprocessing on the training split and apply it to all.

    Args:
        raw: The loaded dataset (metadata: classes, value range).
        parts: `(train, validation, test)` raw `(x, y)` pairs.
        preprocessing: The recipe's preprocessing table.
        encode_labels: `(preprocessor, y) -> array`; default the
            preprocessor's class-label encoding (integers or one-hot).

    Returns:
        `Splits`, ready for a task to feed to `model.fit`.
    """
    train, validation, test = parts
    pre = Preprocessor.from_recipe(preprocessing, raw).fit(train[0])

    def prepare(pair: tuple) -> tuple[np.ndarray, np.ndarray]:
        if encode_labels is None:
            return pre.transform(pair[0]), pre.encode_labels(pair[1])
        return pre.transform(pair[0]), encode_labels(pre, pair[1])

    prepared = tuple(map(prepare, (train, validation, test)))
    for name, (x, _) in zip(SPLIT_NAMES, prepared):
        bad = count_non_finite(x)
        if bad:
            raise DataError(
                f"dataset {raw.name!r}: after preprocessing, the {name} "
                f"inputs hold {bad} NaN or infinite value(s) although the "
                "raw data is finite: check preprocessing.rescale (too large "
                "a factor overflows float32).")
    train, validation, test = prepared
    return Splits(train, validation, test, tuple(train[0].shape[1:]),
                  raw.num_classes, list(raw.class_names), pre,
                  fingerprint_parts(parts))
