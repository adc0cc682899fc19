import keras
import numpy as np
import pytest

from kerakit.losses import InfoNCE
from kerakit.losses import info_nce


def _reference(a, b, t, symmetric):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = a @ b.T / t

    def ce(z):
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -np.mean(np.diag(logp))

    return 0.5 * (ce(logits) + ce(logits.T)) if symmetric else ce(logits)


@pytest.mark.parametrize("symmetric", [True, False])
def test_matches_numpy(symmetric):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 4)).astype("float32")
    b = rng.normal(size=(5, 4)).astype("float32")
    expected = _reference(a, b, 0.2, symmetric)
    np.testing.assert_allclose(float(info_nce(a, b, 0.2, symmetric)),
                               expected, rtol=1e-4)
    stacked = np.stack([a, b], axis=1)
    loss = InfoNCE(0.2, symmetric=symmetric)
    np.testing.assert_allclose(float(loss(np.zeros(5), stacked)), expected,
                               rtol=1e-4)


def test_logits_form_and_tensor_temperature():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 3)).astype("float32")
    b = rng.normal(size=(4, 3)).astype("float32")
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = an @ bn.T / 0.5
    got = InfoNCE(temperature=None)(np.zeros(4), logits)
    np.testing.assert_allclose(float(got), _reference(a, b, 0.5, True),
                               rtol=1e-4)
    temperature = keras.Variable(0.5)
    np.testing.assert_allclose(float(info_nce(a, b, temperature)),
                               float(got), rtol=1e-5)


def test_errors_and_config():
    with pytest.raises(ValueError, match="temperature must be positive"):
        InfoNCE(temperature=0.0)
    with pytest.raises(ValueError, match=r"\(batch, 2, dim\)"):
        InfoNCE(0.1)(np.zeros(3), np.zeros((3, 4), "float32"))
    loss = InfoNCE(0.3, symmetric=False)
    assert keras.losses.deserialize(
        keras.losses.serialize(loss)).get_config() == loss.get_config()
