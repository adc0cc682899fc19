"""FusedBatchNormalization trains exactly as Keras's BatchNormalization."""

import keras
import numpy as np
import pytest

from layer_checks import run_layer_check

from kerakit.layers import FusedBatchNormalization


def _pair(axis, shape, rng):
    """A Keras batch norm and a fused one with the same random weights."""
    plain = keras.layers.BatchNormalization(axis=axis, epsilon=1e-5,
                                            momentum=0.9)
    fused = FusedBatchNormalization(axis=axis, epsilon=1e-5, momentum=0.9)
    for layer in (plain, fused):
        layer.build(shape)
    channels = shape[axis]
    weights = [rng.normal(size=channels).astype("float32"),   # gamma
               rng.normal(size=channels).astype("float32"),   # beta
               rng.normal(size=channels).astype("float32"),   # moving mean
               rng.uniform(0.5, 2, channels).astype("float32")]
    plain.set_weights(weights)
    fused.set_weights(weights)
    return plain, fused


def _numpy(x):
    if hasattr(x, "detach"):  # a torch tensor in an autograd graph
        x = x.detach()
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("axis, shape", [(-1, (4, 5, 6, 3)),
                                         (1, (4, 3, 5, 6))],
                         ids=["channels_last", "channels_first"])
def test_training_step_matches_keras(axis, shape):
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=shape).astype("float32")
    upstream = rng.normal(size=shape).astype("float32")
    plain, fused = _pair(axis, shape, rng)
    results = []
    for layer in (plain, fused):
        outputs = layer(x, training=True)
        results.append((_numpy(outputs), _gradients(layer, x, upstream),
                        _numpy(layer.moving_mean),
                        _numpy(layer.moving_variance)))
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # Inference normalises with the moving statistics, as Keras does.
    np.testing.assert_allclose(_numpy(fused(x, training=False)),
                               _numpy(plain(x, training=False)),
                               rtol=1e-5, atol=1e-5)


def _gradients(layer, x, upstream):
    """d sum(layer(x) * upstream) / d (x, gamma, beta), on any backend."""
    backend = keras.backend.backend()

    weights = keras.ops.convert_to_tensor(upstream)

    def loss_of(x_in):
        return keras.ops.sum(
            keras.ops.multiply(layer(x_in, training=True), weights))

    if backend == "tensorflow":
        import tensorflow as tf

        x_var = tf.Variable(x)
        with tf.GradientTape() as tape:
            loss = loss_of(x_var)
        grads = tape.gradient(loss, [x_var, layer.gamma.value,
                                     layer.beta.value])
    elif backend == "torch":
        import torch

        x_t = torch.tensor(x, requires_grad=True)
        loss = loss_of(x_t)
        params = [layer.gamma.value, layer.beta.value]
        grads = torch.autograd.grad(loss, [x_t, *params])
    else:
        import jax

        def pure(x_in, gamma, beta):
            out, _ = layer.stateless_call(
                [gamma, beta], [layer.moving_mean.value,
                                layer.moving_variance.value], x_in,
                training=True)
            return keras.ops.sum(keras.ops.multiply(out, weights))

        grads = jax.grad(pure, argnums=(0, 1, 2))(
            x, layer.gamma.value, layer.beta.value)
    return np.concatenate([_numpy(g).ravel() for g in grads])


def test_other_inputs_take_keras_path():
    """Rank 2 and masked inputs are normalised by Keras's own ops."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3)).astype("float32")
    plain, fused = _pair(-1, (8, 3), rng)
    np.testing.assert_allclose(_numpy(fused(x, training=True)),
                               _numpy(plain(x, training=True)), atol=1e-6)


def test_mixed_bfloat16_keeps_float32_statistics():
    layer = FusedBatchNormalization(dtype="mixed_bfloat16")
    x = np.random.default_rng(2).normal(size=(2, 4, 4, 3)).astype("float32")
    outputs = layer(keras.ops.cast(x, "bfloat16"), training=True)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(
        layer.moving_variance.dtype) == "float32"


def test_layer_checks(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4, 4, 3)).astype("float32")
    model = run_layer_check(tmp_path, FusedBatchNormalization,
                            [((4, 4, 3), "float32")], x, (8, 4, 4, 3),
                            rng.normal(size=(8, 4, 4, 3)).astype("float32"))
    # gamma, beta, moving mean and variance: 3 channels each.
    assert model.count_params() == 12
