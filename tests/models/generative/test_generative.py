"""Autoencoder, VAE and GAN behaviour beyond the standard sweep test."""

from __future__ import annotations

import inspect
import os

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.generative.autoencoder import submodel
from kerakit.testing import ModelTestCase
from kerakit.testing import channels_first_runs


def _digits(n=64, size=8):
    rng = np.random.default_rng(0)
    # Blurry blobs in [0, 1]: learnable structure without downloads.
    grid = np.linspace(-1, 1, size)
    centres = rng.uniform(-0.5, 0.5, size=(n, 2))
    xx, yy = np.meshgrid(grid, grid)
    blobs = np.exp(-((xx[None] - centres[:, :1, None]) ** 2
                     + (yy[None] - centres[:, 1:, None]) ** 2) / 0.2)
    return blobs[..., None].astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_denoising_noise_is_applied_at_training_time_only(tmp_path):
    model = kerakit.build("autoencoder", input_shape=(8, 8, 1),
                          stage_widths=(8,), latent_dim=3, noise_stddev=0.5)
    x = _digits(4)
    encoder, decoder = submodel(model, "encoder"), submodel(model, "decoder")
    # Inference: deterministic, and exactly the noise-free path
    # decoder(encoder(x)).
    clean = _np(decoder(encoder(x, training=False), training=False))
    for _ in range(2):
        np.testing.assert_allclose(_np(model(x, training=False)), clean,
                                   atol=1e-5)
    # Training: fresh noise of the requested size on every call.
    first, second = _np(model(x, training=True)), _np(model(x, training=True))
    assert not np.allclose(first, clean, atol=1e-4)
    assert not np.allclose(first, second, atol=1e-4)
    noise = model.get_layer("autoencoder_noise")
    drawn = _np(noise(x, training=True)) - x
    assert abs(drawn.std() - 0.5) < 0.1 and abs(drawn.mean()) < 0.1
    np.testing.assert_array_equal(_np(noise(x, training=False)), x)
    path = os.path.join(tmp_path, "ae.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    code = submodel(loaded, "encoder")(x)
    assert tuple(code.shape) == (4, 3)
    assert tuple(submodel(loaded, "decoder")(code).shape) == (4, 8, 8, 1)
    np.testing.assert_allclose(_np(loaded(x, training=False)), clean,
                               atol=1e-5)


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
    # No collapse: 64 samples spread over pixels and differ pairwise. A
    # collapsed generator gives ~0 for both; measured after these 40 steps:
    # spread 0.05-0.09 of the data's, closest pair 0.007-0.009 of the data's
    # median pairwise distance (tensorflow, jax, torch).
    samples = np.asarray(model.generate(64, seed=0)).reshape(64, -1)
    data = x.reshape(len(x), -1)
    assert samples.std(0).mean() > 0.02 * data.std(0).mean()
    pairs = np.triu_indices(64, 1)
    closest = np.sqrt(((samples[:, None] - samples[None]) ** 2).sum(-1))[
        pairs].min()
    typical = np.median(np.sqrt(((data[:, None] - data[None]) ** 2).sum(
        -1))[np.triu_indices(len(data), 1)])
    assert closest > 1e-3 * typical
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


# Parameter counts, derived from the layer sizes alone (no model built):
# Dense(n -> u) has n*u + u, a 3x3 Conv2D or Conv2DTranspose (c -> f)
# 9*c*f + f, and BatchNormalization(c) 4*c (gamma, beta and the two moving
# statistics; count_params counts non-trainable weights too).
def _dense(n, units):
    return n * units + units


def _conv3(channels, filters):
    return 9 * channels * filters + filters


def _encoder_params(shape, architecture, widths, head_units):
    """Flatten/conv stages, then one Dense head per entry of head_units."""
    if architecture == "dense":
        n, total = int(np.prod(shape)), 0
        for width in widths:
            total, n = total + _dense(n, width), width
    else:
        (h, w, c), total = shape, 0
        for width in widths:  # stride-2 "same" convs halve each side
            total, c, h, w = total + _conv3(c, width), width, h // 2, w // 2
        n = h * w * c
    return total + sum(_dense(n, units) for units in head_units)


def _decoder_params(shape, architecture, widths, latent_dim, batch_norm):
    """Mirror of the encoder: widths reversed, then the output layer."""
    bn = (lambda c: 4 * c) if batch_norm else (lambda c: 0)
    widths = list(reversed(widths))
    if architecture == "dense":
        n, total = latent_dim, 0
        for width in widths:
            total, n = total + _dense(n, width) + bn(width), width
        return total + _dense(n, int(np.prod(shape)))
    h, w, c = shape
    factor = 2 ** len(widths)
    units = (h // factor) * (w // factor) * widths[0]
    total, channels = _dense(latent_dim, units) + bn(units), widths[0]
    for filters in widths:  # stride-2 transposed convs
        total += _conv3(channels, filters) + bn(filters)
        channels = filters
    return total + _conv3(channels, c)  # output Conv2D back to C channels


def _expected_params(name, shape=(28, 28, 1), **kwargs):
    fn = kerakit.registry.get_entry(name).fn
    defaults = {k: p.default for k, p in inspect.signature(
        fn.base if hasattr(fn, "base") else fn).parameters.items()}
    kw = {**defaults, **getattr(fn, "fixed", {}), **kwargs}
    arch, widths, latent = (kw["architecture"], kw["stage_widths"],
                            kw["latent_dim"])
    if name == "autoencoder":
        return (_encoder_params(shape, arch, widths, [latent])
                + _decoder_params(shape, arch, widths, latent, False))
    if name == "vae":  # z_mean and z_log_var heads
        return (_encoder_params(shape, arch, widths, [latent, latent])
                + _decoder_params(shape, arch, widths, latent, False))
    # GAN: the generator is a decoder, the discriminator an encoder with
    # one logit.
    return (_decoder_params(shape, arch, widths, latent, kw["batch_norm"])
            + _encoder_params(shape, arch, widths, [1]))


@pytest.mark.parametrize("name", ["autoencoder", "vae", "gan", "dcgan"])
def test_canonical_parameter_counts_follow_from_layer_sizes(name):
    # The pinned canonical counts (checked against count_params() by the
    # large sweep test) follow from the architecture:
    #   autoencoder 784-256-128-32 and back:
    #     200,960 + 32,896 + 4,128 + 4,224 + 33,024 + 201,488 = 476,720
    #   vae 784-512-256-(16, 16) and 16-256-512-784:
    #     401,920 + 131,328 + 2*4,112 + 4,352 + 131,584 + 402,192
    #     = 1,079,600
    #   gan generator 64-256-512-784 (550,416) + discriminator
    #     784-512-256-1 (533,505) = 1,083,921
    #   dcgan generator 64 -> 7*7*128 (+BN) -> deconv 128, 64 (+BN) -> 1:
    #     407,680 + 25,088 + 147,584 + 512 + 73,792 + 256 + 577 = 655,489;
    #     discriminator conv 64, 128 -> 6,272 -> 1: 640 + 73,856 + 6,273
    #     = 80,769; together 736,258
    entry = kerakit.registry.get_entry(name)
    kwargs = {k: v for k, v in entry.canonical.items() if k != "input_shape"}
    assert entry.params == _expected_params(
        name, entry.canonical["input_shape"], **kwargs)


@pytest.mark.parametrize("name, kwargs", [
    ("autoencoder", {"architecture": "conv", "stage_widths": (3, 5),
                     "latent_dim": 4}),
    ("autoencoder", {"architecture": "dense", "stage_widths": (6,),
                     "latent_dim": 2}),
    ("vae", {"architecture": "conv", "stage_widths": (3, 5), "latent_dim": 2}),
    ("gan", {"stage_widths": (6, 4), "latent_dim": 3, "batch_norm": True}),
    ("dcgan", {"stage_widths": (3, 5), "latent_dim": 3}),
])
def test_tiny_parameter_counts_follow_from_layer_sizes(name, kwargs):
    # The same derivation on small builds (non-square, 2 channels), so the
    # formulas above describe the models and not only the pinned numbers.
    model = kerakit.build(name, input_shape=(8, 12, 2), **kwargs)
    assert model.count_params() == _expected_params(name, (8, 12, 2),
                                                    **kwargs)


_CONV = {"input_shape": (8, 12, 2), "stage_widths": (3, 5), "latent_dim": 3}


@pytest.mark.parametrize("name", ["autoencoder", "vae", "dcgan"])
def test_channels_first_matches_channels_last(name):
    fn = kerakit.registry.get_entry(name).fn
    kwargs = {**_CONV, "architecture": "conv"} if name != "dcgan" else _CONV
    # Model outputs (reconstructions; the discriminator's logit for the
    # GAN) agree across layouts with the same weights, so the Flatten
    # before the code and the Reshape after the projection read features
    # in one order.
    last, first = ModelTestCase().run_layout_test(fn, kwargs)
    if name == "dcgan" and channels_first_runs():
        # The generator is not on the model's call path: check it too.
        z = np.random.default_rng(1).normal(size=(2, 3)).astype("float32")
        np.testing.assert_allclose(
            _np(last.generator(z, training=False)),
            np.transpose(_np(first.generator(z, training=False)),
                         (0, 2, 3, 1)), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name, kwargs", [
    ("autoencoder", {"architecture": "conv", "noise_stddev": 0.1}),
    ("vae", {"architecture": "conv"}),
    ("dcgan", {}),
])
def test_mixed_precision(name, kwargs):
    # The generative family's precision check (policy on every layer,
    # float32 variables, outputs in the compute dtype); the GAN's generator
    # is checked through its own output as well.
    fn = kerakit.registry.get_entry(name).fn
    kwargs = {**_CONV, **kwargs}
    x = np.random.default_rng(0).uniform(size=(2, 8, 12, 2))
    ModelTestCase().run_precision_test(fn, kwargs, x.astype("float32"))
    if name == "dcgan":
        model = fn(**kwargs, dtype="mixed_bfloat16")
        assert model.generate(2).dtype == "bfloat16"
