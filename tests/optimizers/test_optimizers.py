import keras
import numpy as np
import pytest

from kerakit import components
from kerakit.optimizers import LinearWarmup
from kerakit.optimizers import step_decay


def _fit(optimizer, epochs=5):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
                              keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model, model.fit(x, y, epochs=epochs, batch_size=8,
                            verbose=0).history["loss"]


@pytest.mark.parametrize("name,kwargs,cls", [
    ("sgd", {"momentum": 0.9, "nesterov": True}, "SGD"),
    ("adam", {}, "Adam"),
    ("RMSprop", {}, "RMSprop"),
    ("adam-w", {"weight_decay": 0.01}, "AdamW"),
    ("adagrad", {"learning_rate": 0.1}, "Adagrad"),
    ("nadam", {}, "Nadam"),
    ("LAMB", {"learning_rate": 0.01}, "Lamb"),
])
def test_optimizers_resolve_and_train(name, kwargs, cls):
    optimizer = components.get("optimizers", name, **kwargs)
    assert type(optimizer).__name__ == cls
    _, history = _fit(optimizer)
    assert np.all(np.isfinite(history)) and history[-1] < history[0]


def test_lamb_trains_tiny_classifier():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    model = keras.Sequential([keras.Input((6,)),
                              keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(components.get("optimizers", "lamb", learning_rate=0.02),
                  components.get("losses", "cross_entropy"),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0).history
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert history["accuracy"][-1] > 0.8


def test_step_decay_values():
    schedule = components.get("schedules", "step", initial_learning_rate=1.0,
                              step_size=5, factor=0.1)
    values = [float(schedule(i)) for i in (0, 4, 5, 12)]
    np.testing.assert_allclose(values, [1.0, 1.0, 0.1, 0.01], rtol=1e-5)
    with pytest.raises(ValueError, match="step_size"):
        step_decay(step_size=0)


def test_cosine_values():
    schedule = components.get("schedules", "cosine",
                              initial_learning_rate=1.0, decay_steps=10)
    np.testing.assert_allclose([float(schedule(i)) for i in (0, 5, 10)],
                               [1.0, 0.5, 0.0], atol=1e-6)


def test_linear_warmup_into_cosine_and_serialisation(tmp_path):
    cosine = keras.optimizers.schedules.CosineDecay(1.0, decay_steps=10)
    schedule = LinearWarmup(cosine, warmup_steps=4, initial_learning_rate=0.2)
    values = [float(schedule(i)) for i in (0, 2, 4, 9, 14, 30)]
    np.testing.assert_allclose(values, [0.2, 0.6, 1.0, 0.5, 0.0, 0.0],
                               atol=1e-6)
    again = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule))
    assert isinstance(again, LinearWarmup)
    assert [float(again(i)) for i in (0, 2, 9)] == pytest.approx(
        [0.2, 0.6, 0.5])
    # Inside an optimizer of a saved, compiled model.
    model, history = _fit(keras.optimizers.SGD(
        LinearWarmup(0.05, warmup_steps=3)), epochs=3)
    assert history[-1] < history[0]
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.optimizer.get_config()["learning_rate"]["class_name"] == (
        "LinearWarmup")
