import keras
import numpy as np

from layer_checks import run_layer_check

from kerakit.activations import Swish
from kerakit.activations import leaky_relu
from kerakit.layers import ContrastiveLogits
from kerakit.losses import InfoNCE


def test_learnable_temperature_trains_with_info_nce():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 4)).astype("float32")
    b = (a + 0.1 * rng.normal(size=(6, 4))).astype("float32")
    left, right = keras.Input((4,)), keras.Input((4,))
    logits = ContrastiveLogits(0.5)([keras.layers.Dense(3)(left),
                                     keras.layers.Dense(3)(right)])
    model = keras.Model([left, right], logits)
    model.compile(keras.optimizers.Adam(0.05), InfoNCE(temperature=None))
    before = float(keras.ops.convert_to_numpy(model.layers[-1].log_scale))
    history = model.fit([a, b], np.zeros(6), epochs=5, verbose=0,
                        batch_size=6).history["loss"]
    after = float(keras.ops.convert_to_numpy(model.layers[-1].log_scale))
    assert history[-1] < history[0]
    assert after != before
    assert abs(before - np.log(2.0)) < 1e-6


def test_fixed_temperature_is_not_trainable():
    layer = ContrastiveLogits(0.1, learnable=False)
    layer([keras.ops.ones((2, 3)), keras.ops.ones((2, 3))])
    assert layer.trainable_weights == []


def test_layer_checks(tmp_path):
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(4, 3)).astype("float32") for _ in range(2)]
    run_layer_check(tmp_path, lambda: ContrastiveLogits(0.2),
                    [((3,), "float32"), ((3,), "float32")], x, (4, 4),
                    np.eye(4, dtype="float32"), batch_size=4)


def test_activations_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    def make():
        return keras.Sequential([
            keras.layers.Dense(4, activation=leaky_relu),
            keras.layers.Dense(2, activation=Swish(2.0)),
        ])

    x = rng.normal(size=(4, 3)).astype("float32")
    model = run_layer_check(tmp_path, make, [((3,), "float32")], x, (4, 2),
                            rng.normal(size=(4, 2)).astype("float32"))
    config = model.layers[-1].get_config()
    assert config["layers"][-1]["config"]["activation"]["config"] == {
        "beta": 2.0}
