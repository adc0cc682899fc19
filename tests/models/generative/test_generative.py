"""Autoencoder, VAE and GAN behaviour beyond the standard sweep test."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.generative.autoencoder import submodel


def _digits(n=64, size=8):
    rng = np.random.default_rng(0)
    # Blurry blobs in [0, 1]: learnable structure without downloads.
    grid = np.linspace(-1, 1, size)
    centres = rng.uniform(-0.5, 0.5, size=(n, 2))
    xx, yy = np.meshgrid(grid, grid)
    blobs = np.exp(-((xx[None] - centres[:, :1, None]) ** 2
                     + (yy[None] - centres[:, 1:, None]) ** 2) / 0.2)
    return blobs[..., None].astype("float32")


def test_denoising_autoencoder_submodels_survive_saving(tmp_path):
    model = kerakit.build("autoencoder", input_shape=(8, 8, 1),
                          stage_widths=(8,), latent_dim=3, noise_stddev=0.5)
    x = _digits(4)
    # Noise only at training time.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)))
    assert not np.allclose(
        keras.ops.convert_to_numpy(model(x, training=True)),
        keras.ops.convert_to_numpy(model(x, training=False)))
    path = os.path.join(tmp_path, "ae.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    code = submodel(loaded, "encoder")(x)
    assert tuple(code.shape) == (4, 3)
    assert tuple(submodel(loaded, "decoder")(code).shape) == (4, 8, 8, 1)


def test_vae_learns_and_samples(tmp_path):
    # The sweep trains the conv VAE; this covers the dense one.
    x = _digits(32)
    model = kerakit.build("vae", input_shape=(8, 8, 1), architecture="dense",
                          stage_widths=(16,), latent_dim=2, beta=0.5)
    model.compile(keras.optimizers.Adam(1e-2))
    losses = model.fit(x, epochs=5, batch_size=16, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    mean, log_var = model.encode(x[:5])
    assert mean.shape == log_var.shape == (5, 2)
    assert model.decode(mean).shape == (5, 8, 8, 1)
    samples = model.sample(6, seed=1)
    assert samples.shape == (6, 8, 8, 1)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    path = os.path.join(tmp_path, "vae.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.sample(2, seed=3), model.sample(2, seed=3),
                               atol=1e-5)


def test_gan_trains_without_collapse(tmp_path):
    x = _digits(64)
    model = kerakit.build("dcgan", input_shape=(8, 8, 1), stage_widths=(4, 8),
                          latent_dim=4, label_smoothing=0.1, seed=0)
    model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5))
    # 40 adversarial steps.
    history = model.fit(x, epochs=20, batch_size=32, verbose=0).history
    for key in ("d_loss", "g_loss", "d_accuracy"):
        assert np.all(np.isfinite(history[key])), (key, history[key])
    assert max(history["d_accuracy"][10:]) < 1.0, history["d_accuracy"]
    assert model.generate(5).shape == (5, 8, 8, 1)
    path = os.path.join(tmp_path, "gan.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x[:3])),
        keras.ops.convert_to_numpy(model(x[:3])), atol=1e-5)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="divisible by 4"):
        kerakit.build("vae", input_shape=(6, 6, 1), architecture="conv",
                      stage_widths=(4, 8))
    with pytest.raises(ValueError, match="noise_stddev"):
        kerakit.build("autoencoder", noise_stddev=-1.0)
    with pytest.raises(TypeError, match="fixes"):
        kerakit.build("dcgan", architecture="dense")
