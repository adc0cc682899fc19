"""Losses that resolve to Keras: names, defaults and CTC on this backend."""

import itertools

import keras
import numpy as np
import pytest

from kerakit import components


@pytest.mark.parametrize("name,cls", [
    ("cross_entropy", "SparseCategoricalCrossentropy"),
    ("categorical_crossentropy", "CategoricalCrossentropy"),
    ("BCE", "BinaryCrossentropy"),
    ("mse", "MeanSquaredError"),
    ("mae", "MeanAbsoluteError"),
    ("huber", "Huber"),
    ("kl-divergence", "KLDivergence"),
    ("ctc", "CTC"),
])
def test_names_resolve(name, cls):
    loss = components.get("losses", name)
    assert type(loss).__name__ == cls
    if "Crossentropy" in cls:
        assert loss.get_config()["from_logits"] is True


def _ctc_brute_force(logits, label):
    """-log P(label | logits) by summing over every frame-level path.

    A path (one class per frame, 0 = blank) yields the label when merging
    repeated classes and then dropping blanks gives the label (padding 0s
    removed). Class probabilities are the softmax of each frame's logits.
    """
    frames, classes = logits.shape
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    target = [k for k in label if k != 0]
    total = 0.0
    for path in itertools.product(range(classes), repeat=frames):
        merged = [k for t, k in enumerate(path)
                  if k != 0 and (t == 0 or path[t - 1] != k)]
        if merged == target:
            total += np.exp(sum(log_probs[t, k] for t, k in enumerate(path)))
    return -np.log(total)


def test_ctc_matches_brute_force():
    rng = np.random.default_rng(0)
    # 4 frames, 4 classes (0 is the blank and the label padding in Keras):
    # 4**4 = 256 paths per example. [2, 2, 1] needs a blank between the
    # repeated 2s, so it has exactly one alignment in 4 frames; [3] has
    # many; [1, 2] pads with 0.
    logits = rng.normal(size=(4, 4, 4))
    labels = np.array([[1, 2, 0], [2, 2, 1], [3, 0, 0], [1, 3, 2]], "int32")
    expected = np.array([_ctc_brute_force(lo, la)
                         for lo, la in zip(logits, labels)])
    per_example = components.get("losses", "ctc", reduction=None)(
        labels, logits.astype("float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(per_example),
                               expected, rtol=1e-4, atol=1e-4)
    # The default reduction is the batch mean.
    loss = components.get("losses", "ctc")(labels, logits.astype("float32"))
    np.testing.assert_allclose(float(loss), expected.mean(), rtol=1e-4)


def test_ctc_trains_on_this_backend():
    rng = np.random.default_rng(0)
    labels = np.array([[1, 2, 0], [2, 2, 1]], "int32")
    # Training a tiny model on CTC lowers the loss.
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.05), loss=keras.losses.CTC())
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    history = model.fit(x, labels, epochs=5, verbose=0).history["loss"]
    assert history[-1] < history[0]
