"""Losses that resolve to Keras: names, defaults and CTC on this backend."""

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


def test_ctc_on_this_backend():
    rng = np.random.default_rng(0)
    rng = np.random.default_rng(0)
    # batch 2, 6 time steps, 4 classes; class 0 is the blank (and label
    # padding) in Keras.
    logits = rng.normal(size=(2, 6, 4)).astype("float32")
    labels = np.array([[1, 2, 0], [2, 2, 1]], "int32")
    loss = components.get("losses", "ctc")(labels, logits)
    assert np.isfinite(float(loss)) and float(loss) > 0
    # Training a tiny model on CTC lowers the loss.
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.05), loss=keras.losses.CTC())
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    history = model.fit(x, labels, epochs=5, verbose=0).history["loss"]
    assert history[-1] < history[0]
