"""Variational autoencoder (Kingma & Welling, 2014), dense or convolutional.

The losses live in two small layers inside the graph (`add_loss`), so the
model trains with a plain `compile(optimizer)` + `fit(x)` on every backend
and stays a serialisable functional model.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Literal

import keras

from kerakit import heads
from kerakit.models.generative.autoencoder import _tiny_images
from kerakit.models.generative.autoencoder import build_decoder
from kerakit.models.generative.autoencoder import build_encoder
from kerakit.models.generative.autoencoder import check_generative_args
from kerakit.models.generative.autoencoder import submodel
from kerakit.registry import register
from kerakit.testing import SweepData

RECONSTRUCTION_LOSSES = ("binary_crossentropy", "mse")


@keras.saving.register_keras_serializable(package="kerakit")
class VAESampling(keras.layers.Layer):
    """Reparameterised sample `z = mean + exp(log_var / 2) * eps`.

    Adds `beta * KL(q(z|x) || N(0, I))` (summed over latent dims, averaged
    over the batch) with `add_loss`. At inference (`training=False`) it
    returns the mean, so predictions are deterministic.

    Args:
        beta: Weight of the KL term (beta-VAE; 1 is the plain VAE).
        seed: Seed of the noise.

    Example:
    >>> layer = VAESampling(beta=1.0)
    >>> mean = keras.ops.zeros((2, 3))
    >>> tuple(layer([mean, mean]).shape)
    (2, 3)
    """

    def __init__(self, beta: float = 1.0, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Config
        self.beta = beta
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Sequence[Any], training: bool | None = None) -> Any:
        mean, log_var = inputs
        kl = -0.5 * keras.ops.sum(
            1.0 + log_var - keras.ops.square(mean) - keras.ops.exp(log_var),
            axis=-1,
        )
        self.add_loss(self.beta * keras.ops.mean(kl))
        if not training:
            return mean
        eps = keras.random.normal(
            keras.ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator
        )
        return mean + keras.ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shape: Sequence[Any]) -> Any:
        return input_shape[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta": self.beta, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerakit")
class ReconstructionLoss(keras.layers.Layer):
    """Identity on the reconstruction that adds its loss against the input.

    The loss is summed over the data axes and averaged over the batch, the
    scale at which the VAE's KL term is defined.

    Args:
        loss: `"binary_crossentropy"` (reconstructions are probabilities in
            [0, 1]) or `"mse"` (squared error).

    Example:
    >>> layer = ReconstructionLoss("mse")
    >>> x = keras.ops.ones((2, 4))
    >>> tuple(layer([x, x]).shape)
    (2, 4)
    """

    def __init__(self, loss: str = "binary_crossentropy",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"reconstruction loss must be one of {RECONSTRUCTION_LOSSES}. "
                f"Received: loss={loss!r}"
            )
        # Config
        self.loss = loss

    def call(self, inputs: Sequence[Any]) -> Any:
        target, reconstruction = inputs
        target = keras.ops.cast(target, reconstruction.dtype)
        if self.loss == "mse":
            per_value = keras.ops.square(target - reconstruction)
        else:
            p = keras.ops.clip(reconstruction, 1e-6, 1.0 - 1e-6)
            per_value = -(target * keras.ops.log(p)
                          + (1.0 - target) * keras.ops.log(1.0 - p))
        per_value = keras.ops.reshape(
            per_value, (keras.ops.shape(per_value)[0], -1)
        )
        self.add_loss(keras.ops.mean(keras.ops.sum(per_value, axis=-1)))
        return reconstruction

    def compute_output_shape(self, input_shape: Sequence[Any]) -> Any:
        return input_shape[1]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "loss": self.loss}


@keras.saving.register_keras_serializable(package="kerakit")
class VAE(keras.Model):
    """A functional VAE with `encode`, `decode` and `sample` methods.

    Build it with :func:`vae`; the constructor is the functional one, so
    saving and loading need nothing extra.
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(inputs, outputs, name=name, **kwargs)

    @property
    def encoder(self) -> keras.Model:
        """Sub-model from data to `[z_mean, z_log_var]`."""
        return submodel(self, "encoder")

    @property
    def decoder(self) -> keras.Model:
        """Sub-model from latent codes to data."""
        return submodel(self, "decoder")

    @property
    def latent_dim(self) -> int:
        """Size of the latent code."""
        return int(self.decoder.input_shape[-1])

    def encode(self, x: Any) -> Any:
        """Return the posterior mean and log-variance of `x` (numpy)."""
        mean, log_var = self.encoder(x, training=False)
        return (keras.ops.convert_to_numpy(mean),
                keras.ops.convert_to_numpy(log_var))

    def decode(self, z: Any) -> Any:
        """Decode latent codes `z` of shape `(n, latent_dim)` (numpy)."""
        return keras.ops.convert_to_numpy(self.decoder(z, training=False))

    def sample(self, n: int, seed: int | None = None) -> Any:
        """Decode `n` draws from the prior N(0, I) (numpy, data's shape)."""
        if n < 1:
            raise ValueError(f"sample: n must be >= 1. Received: n={n!r}")
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        return self.decode(z)


def _vae_data(kwargs: Mapping[str, Any]) -> SweepData:
    x = _tiny_images(kwargs)
    return SweepData(x, None, None, x.shape)


@register(
    family="vae",
    task="generation",
    tiny={"input_shape": (8, 8, 1), "architecture": "conv",
          "stage_widths": (4, 8), "latent_dim": 2},
    reference="Kingma & Welling, 2014. https://arxiv.org/abs/1312.6114",
    canonical={"input_shape": (28, 28, 1)},
    # Encoder 784-512-256 and two 16-unit heads (z_mean, z_log_var):
    # 401,920 + 131,328 + 2 * 4,112 = 541,472; decoder 16-256-512-784:
    # 4,352 + 131,584 + 402,192 = 538,128; total 1,079,600.
    params=1_079_600,
    test={"data": _vae_data},
)
def vae(
    input_shape: Sequence[int] = (28, 28, 1),
    *,
    architecture: Literal["dense", "conv"] = "dense",
    stage_widths: Sequence[int] = (512, 256),
    latent_dim: int = 16,
    beta: float = 1.0,
    reconstruction_loss: Literal["binary_crossentropy", "mse"] = (
        "binary_crossentropy"
    ),
    activation: str = "relu",
    seed: int | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "vae",
) -> VAE:
    """Build a variational autoencoder (dense or convolutional).

    The encoder outputs the mean and log-variance of `q(z|x)`; a
    reparameterised sample feeds the decoder. The loss, added inside the
    model, is `reconstruction + beta * KL`, so train with
    `model.compile(optimizer="adam")` and `model.fit(x)` (no targets, no
    loss argument). Calling the model at inference reconstructs from the
    posterior mean. `model.encode(x)`, `model.decode(z)` and
    `model.sample(n)` (decodes prior draws) return numpy arrays.

    Args:
        input_shape: Data shape without batch; an image `(H, W, C)` with H
            and W divisible by `2 ** len(stage_widths)` for `"conv"`.
        architecture: `"dense"` or `"conv"` encoder/decoder.
        stage_widths: Units or filters of each encoder stage, mirrored in
            the decoder.
        latent_dim: Size of the latent code.
        beta: Weight of the KL term (beta-VAE).
        reconstruction_loss: `"binary_crossentropy"` for data in [0, 1]
            (sigmoid decoder) or `"mse"` (linear decoder).
        activation: Hidden activation.
        seed: Seed of the sampling noise.
        data_format: `"channels_last"` or `"channels_first"` (conv only).
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name; sub-models are `{name}_encoder`/`{name}_decoder`.

    Returns:
        A `VAE` (functional `keras.Model`) from data to reconstructions.

    Example:
    >>> import kerakit
    >>> m = kerakit.build("vae", input_shape=(6,), stage_widths=(8,),
    ...                   latent_dim=2)
    >>> m.sample(3).shape
    (3, 6)

    Reference:
        Kingma & Welling, 2014. https://arxiv.org/abs/1312.6114
    """
    fmt = heads.resolve_data_format(data_format)
    shape = check_generative_args(
        input_shape, architecture, stage_widths, latent_dim, fmt, name
    )
    if beta < 0:
        raise ValueError(f"{name}: beta must be >= 0. Received: beta={beta!r}")
    if reconstruction_loss not in RECONSTRUCTION_LOSSES:
        raise ValueError(
            f"{name}: reconstruction_loss must be one of "
            f"{RECONSTRUCTION_LOSSES}. Received: "
            f"reconstruction_loss={reconstruction_loss!r}"
        )
    common = {"architecture": architecture, "stage_widths": stage_widths,
              "activation": activation, "fmt": fmt, "dtype": dtype}
    encoder = build_encoder(
        shape, outputs={"z_mean": latent_dim, "z_log_var": latent_dim},
        name=f"{name}_encoder", **common,
    )
    decoder = build_decoder(
        shape, latent_dim=latent_dim, name=f"{name}_decoder",
        output_activation=("sigmoid" if reconstruction_loss
                           == "binary_crossentropy" else None), **common,
    )
    inputs = keras.Input(shape, dtype=heads.input_dtype(dtype), name="inputs")
    z = VAESampling(beta, seed=seed, dtype=dtype, name=f"{name}_sampling")(
        encoder(inputs)
    )
    outputs = ReconstructionLoss(
        reconstruction_loss, dtype=dtype, name=f"{name}_reconstruction"
    )([inputs, decoder(z)])
    return VAE(inputs, outputs, name=name)
