"""Split checks and fingerprints (`kerakit.data.splits`)."""

from __future__ import annotations

import numpy as np
import pytest

from kerakit.data.splits import DataError
from kerakit.data.splits import check_splits
from kerakit.data.splits import compare_fingerprints
from kerakit.data.splits import fingerprint_parts


def test_check_splits_names_the_split_whose_shape_differs():
    train = (np.zeros((4, 8, 8, 1)), np.zeros(4))
    test = (np.zeros((2, 8, 8, 3)), np.zeros(2))
    with pytest.raises(DataError, match=r"train \(8, 8, 1\), test \(8, 8, 3\)"):
        check_splits({"train": train, "test": test}, "folder:x")


def test_check_splits_counts_non_finite_labels():
    y = np.array([0.0, np.nan, 1.0, np.inf])
    with pytest.raises(DataError, match="validation labels hold 2 NaN"):
        check_splits({"validation": (np.zeros((4, 2)), y)}, "d")


def test_text_inputs_are_not_shape_checked():
    texts = np.array(["a b", "c"], dtype=object)
    check_splits({"train": (texts, np.zeros(2)),
                  "test": (texts[:1], np.zeros(1))}, "d")


def test_fingerprints_see_content_and_size_changes():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6) % 2
    base = fingerprint_parts([(x, y)])
    assert fingerprint_parts([(x.copy(), y.copy())]) == base
    flipped = fingerprint_parts([(x, 1 - y)])
    assert compare_fingerprints(base, flipped) == [
        "train split: same size, different content"]
    fewer = fingerprint_parts([(x[:5], y[:5])])
    assert compare_fingerprints(base, fewer) == [
        "train split: 6 examples at training, 5 now"]
    texts = np.array(["a", "b"], dtype=object)
    assert fingerprint_parts([(texts, y[:2])]) != fingerprint_parts(
        [(texts[::-1], y[:2])])
