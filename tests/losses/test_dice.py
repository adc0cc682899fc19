import keras
import numpy as np
import pytest

from kerakit.losses import DiceLoss


def _reference(y, p, smooth, per_class):
    axes = tuple(range(1, y.ndim - 1 if per_class else y.ndim))
    dice = (2 * (y * p).sum(axes) + smooth) / (y.sum(axes) + p.sum(axes)
                                               + smooth)
    if per_class:
        dice = dice.mean(-1)
    return (1 - dice).mean()


@pytest.mark.parametrize("per_class", [False, True])
def test_matches_numpy(per_class):
    rng = np.random.default_rng(0)
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=(2, 4, 4))]
    logits = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = _reference(y, probs, 1.0, per_class)
    got = DiceLoss(per_class=per_class)(y, probs)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)
    got = DiceLoss(from_logits=True, per_class=per_class)(y, logits)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)


def test_binary_logits_and_perfect_mask():
    rng = np.random.default_rng(0)
    y = (rng.random((2, 5, 1)) > 0.5).astype("float32")
    assert float(DiceLoss()(y, y)) == pytest.approx(0.0, abs=1e-6)
    logits = rng.normal(size=(2, 5, 1)).astype("float32")
    probs = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(float(DiceLoss(from_logits=True)(y, logits)),
                               _reference(y, probs, 1.0, False), rtol=1e-5)


def test_shape_error():
    with pytest.raises(ValueError, match="same shape"):
        DiceLoss()(np.zeros((2, 3)), np.zeros((2, 4)))


def test_serialisation_and_training():
    rng = np.random.default_rng(0)
    loss = DiceLoss(smooth=0.5, from_logits=True, per_class=True)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert again.get_config() == loss.get_config()
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(0.05), loss=loss)
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=(8, 4))]
    x = rng.normal(size=(8, 4, 2)).astype("float32")
    history = model.fit(x, y, epochs=5, verbose=0).history["loss"]
    assert history[-1] < history[0]
