"""Preprocessing: normalisation, resizing, augmentation, labels, text."""

from __future__ import annotations

import numpy as np
import pytest

from kerakit.data.preprocessing import Preprocessor
from kerakit.data.preprocessing import TrainBatches
from kerakit.data.preprocessing import rescale_factor
from kerakit.data.preprocessing import resize_images


def test_rescale_and_standardise_use_training_statistics_only():
    train = np.array([[0.0, 10.0], [2.0, 30.0]])
    pre = Preprocessor(rescale=0.5, standardize=True).fit(train)
    assert pre.mean == [0.5, 10.0]
    np.testing.assert_allclose(pre.transform(train).mean(axis=0), 0,
                               atol=1e-6)
    test = np.array([[100.0, 100.0]])
    out = pre.transform(test)  # uses the training mean/std, not the test's
    np.testing.assert_allclose(out, [[(50 - 0.5) / 0.5, (50 - 10) / 5]])


def test_resize_methods():
    x = np.ones((2, 4, 4, 1), "float32")
    np.testing.assert_allclose(resize_images(x, (8, 8)), 1.0, atol=1e-6)
    assert resize_images(x, (8, 6), "nearest").shape == (2, 8, 6, 1)
    padded = resize_images(x, (8, 8), "pad")
    assert padded.sum() == 32 and padded[0, 2:6, 2:6].min() == 1
    cropped = resize_images(np.arange(36.0).reshape(1, 6, 6, 1), (2, 2),
                            "pad")
    assert cropped[0, :, :, 0].tolist() == [[14, 15], [20, 21]]


def test_bilinear_resize_uses_half_pixel_centres_on_every_backend():
    # Output pixel i samples input position (i + 0.5) * 2 / 4 - 0.5, clamped
    # to [0, 1]: 0, 0.25, 0.75, 1 -> values 0, 0.25, 0.75, 1 (no antialias).
    ramp = np.array([0.0, 1.0], "float32").reshape(1, 1, 2, 1)
    out = resize_images(np.repeat(ramp, 2, axis=1), (2, 4))
    np.testing.assert_allclose(out[0, 0, :, 0], [0, 0.25, 0.75, 1],
                               atol=1e-6)
    # Downsampling 4 -> 2 averages pixel pairs (positions 0.5 and 2.5).
    row = np.array([0.0, 2.0, 4.0, 6.0], "float32").reshape(1, 1, 4, 1)
    out = resize_images(np.repeat(row, 4, axis=1), (4, 2))
    np.testing.assert_allclose(out[0, 0, :, 0], [1.0, 5.0], atol=1e-6)
    # Integer images come back as float32, never rounded.
    assert resize_images(np.zeros((1, 2, 2, 1), "uint8"), (3, 3)).dtype == (
        np.float32)


def test_channels_and_image_size_from_raw_arrays():
    pre = Preprocessor(image_size=(16, 16), channels=3, raw_shape=(8, 8, 1))
    out = pre.transform(np.zeros((5, 8, 8, 1)))
    assert out.shape == (5, 16, 16, 3) and out.dtype == np.float32
    assert pre.transform(np.zeros((8, 8, 1))).shape == (1, 16, 16, 3)


def test_one_hot_labels():
    pre = Preprocessor(one_hot=True, num_classes=3)
    assert pre.encode_labels([2, 0]).tolist() == [[0, 0, 1], [1, 0, 0]]
    assert Preprocessor().encode_labels([2, 0]).dtype == np.int64


def test_augmentation_flip_exact_and_shift_fills_background():
    x = np.arange(2 * 3 * 3, dtype="float32").reshape(2, 3, 3, 1)
    pre = Preprocessor(augment={"flip": "horizontal"})
    rng = np.random.default_rng(0)
    out = pre.augment_batch(x, rng)
    for a, b in zip(out, x):
        assert np.array_equal(a, b) or np.array_equal(a, b[:, ::-1])
    ones = np.ones((8, 5, 5, 1), "float32")
    moved = Preprocessor(augment={"translation": 0.4}).augment_batch(
        ones, np.random.default_rng(1))
    assert set(np.unique(moved)) <= {0.0, 1.0} and moved.min() == 0.0
    same = Preprocessor(augment={"rotation": 0.0001}).augment_batch(
        ones, np.random.default_rng(1))
    np.testing.assert_array_equal(same, ones)
    noisy = Preprocessor(augment={"noise": 0.1}).augment_batch(
        np.zeros((4, 3)), np.random.default_rng(0))
    assert noisy.std() > 0.01


def test_train_batches_augment_only_training_and_are_deterministic():
    x = np.random.default_rng(0).random((10, 6, 6, 1)).astype("float32")
    y = np.arange(10)
    pre = Preprocessor(augment={"rotation": 30.0, "flip": "both"})
    first = TrainBatches(x, y, 4, pre, seed=3)
    again = TrainBatches(x, y, 4, pre, seed=3)
    assert len(first) == 3
    xb, yb = first[0]
    np.testing.assert_array_equal(xb, again[0][0])
    assert not np.allclose(xb, x[yb])  # augmented
    first.on_epoch_end()
    assert not np.array_equal(first[0][1], yb)  # reshuffled
    resumed = TrainBatches(x, y, 4, pre, seed=3, epoch=1)
    np.testing.assert_array_equal(resumed[0][0], first[0][0])
    # Deterministic preprocessing never augments (validation, test, predict).
    np.testing.assert_array_equal(pre.transform(x), x)


def test_sequences_are_padded_and_truncated_as_the_recipe_says():
    seqs = [[1, 2, 3, 4], [5], []]
    post = Preprocessor(sequence_length=3).transform(seqs)
    assert post.dtype == np.int32
    assert post.tolist() == [[1, 2, 3], [5, 0, 0], [0, 0, 0]]
    pre = Preprocessor(sequence_length=3, padding="pre", truncating="pre")
    assert pre.transform(seqs).tolist() == [[2, 3, 4], [0, 0, 5], [0, 0, 0]]
    pre = Preprocessor(sequence_length=2)
    assert pre.transform([[7, 8, 9]]).tolist() == [[7, 8]]


def test_save_and_load_round_trip(tmp_path):
    pre = Preprocessor(rescale=0.25, standardize=True, image_size=(4, 4),
                       raw_shape=(2, 2, 1), class_names=["a", "b"],
                       augment={"flip": "horizontal"})
    pre.fit(np.random.default_rng(0).random((3, 2, 2, 1)))
    pre.save(tmp_path / "p.json")
    back = Preprocessor.load(tmp_path / "p.json")
    assert back == pre
    x = np.ones((1, 2, 2, 1))
    np.testing.assert_array_equal(back.transform(x), pre.transform(x))


@pytest.mark.parametrize("bad", ["x/0", "a/b"])
def test_bad_rescale_text(bad):
    from kerakit.workflow.schema import SchemaError
    from kerakit.workflow.schema import rescale_factor as schema_factor

    with pytest.raises(SchemaError, match="1/255"):
        schema_factor(bad)
    with pytest.raises(ValueError, match="1/255"):
        rescale_factor(bad)


def test_rescale_text_is_a_number_or_a_fraction():
    assert rescale_factor("1/16") == 1 / 16
    assert rescale_factor("0.5") == 0.5 and rescale_factor(2) == 2.0
