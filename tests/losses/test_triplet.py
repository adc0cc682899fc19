import itertools

import keras
import numpy as np
import pytest

from kerakit.losses import TripletLoss


def _dist(e, squared):
    d = ((e[:, None] - e[None]) ** 2).sum(-1)
    return d if squared else np.sqrt(d)


def _batch_all(labels, e, margin, squared):
    d = _dist(e, squared)
    losses = []
    for a, p, n in itertools.permutations(range(len(e)), 3):
        if labels[a] == labels[p] and labels[a] != labels[n]:
            losses.append(max(d[a, p] - d[a, n] + margin, 0.0))
    positive = [v for v in losses if v > 1e-16]
    return sum(positive) / max(len(positive), 1)


def _batch_hard(labels, e, margin, squared):
    d = _dist(e, squared)
    losses = []
    for a in range(len(e)):
        pos = [d[a, p] for p in range(len(e))
               if p != a and labels[p] == labels[a]]
        neg = [d[a, n] for n in range(len(e)) if labels[n] != labels[a]]
        if pos and neg:
            losses.append(max(max(pos) - min(neg) + margin, 0.0))
    return sum(losses) / max(len(losses), 1)


@pytest.mark.parametrize("mining", ["all", "hard"])
@pytest.mark.parametrize("squared", [False, True])
def test_matches_numpy(mining, squared):
    rng = np.random.default_rng(0)
    # Label 3 has a single sample: no positive for that anchor.
    labels = np.array([0, 1, 0, 2, 1, 0, 2, 3])
    emb = rng.normal(size=(8, 4)).astype("float32")
    reference = _batch_all if mining == "all" else _batch_hard
    got = TripletLoss(margin=0.5, mining=mining, squared=squared)(labels, emb)
    np.testing.assert_allclose(float(got),
                               reference(labels, emb, 0.5, squared),
                               rtol=1e-4, atol=1e-5)


def test_zero_when_separated():
    labels = np.array([0, 0, 1, 1])
    emb = np.array([[0, 0], [0, 0.1], [10, 0], [10, 0.1]], "float32")
    for mining in ("all", "hard"):
        assert float(TripletLoss(1.0, mining)(labels, emb)) == 0.0


def test_bad_mining():
    with pytest.raises(ValueError, match="mining must be one of"):
        TripletLoss(mining="semi")


def test_training_and_serialisation():
    rng = np.random.default_rng(0)
    loss = TripletLoss(margin=0.3, mining="hard", squared=True)
    assert keras.losses.deserialize(
        keras.losses.serialize(loss)).get_config() == loss.get_config()
    labels = np.repeat(np.arange(3), 4)
    x = (rng.normal(size=(12, 5)) + labels[:, None]).astype("float32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(0.05), loss=TripletLoss())
    history = model.fit(x, labels, epochs=5, batch_size=12,
                        verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
