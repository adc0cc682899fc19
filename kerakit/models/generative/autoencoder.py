"""Autoencoders: dense or convolutional, optionally denoising.

The model is functional and holds two named functional sub-models,
`{name}_encoder` and `{name}_decoder`; :func:`submodel` fetches them (they
survive `model.save` / `keras.saving.load_model`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Literal

import keras
import numpy as np

from kerakit import heads
from kerakit.registry import register
from kerakit.testing import SweepData

ARCHITECTURES = ("dense", "conv")


def submodel(model: keras.Model, part: str) -> keras.Model:
    """Return the `"encoder"` or `"decoder"` sub-model of an (V)AE/GAN.

    Args:
        model: A kerakit autoencoder, VAE or GAN (also after loading).
        part: `"encoder"`, `"decoder"`, `"generator"` or `"discriminator"`.

    Returns:
        The functional sub-model named `f"{model.name}_{part}"`.

    Example:
    >>> import kerakit
    >>> ae = kerakit.build("autoencoder", input_shape=(8,), latent_dim=2,
    ...                    stage_widths=(4,))
    >>> submodel(ae, "encoder").output_shape
    (None, 2)
    """
    for layer in model.layers:
        if layer.name == f"{model.name}_{part}" or (
            isinstance(layer, keras.Model) and layer.name.endswith(f"_{part}")
        ):
            return layer
    raise ValueError(
        f"Model {model.name!r} has no {part!r} sub-model. Sub-models: "
        f"{[m.name for m in model.layers if isinstance(m, keras.Model)]}"
    )


def check_generative_args(
    input_shape: Sequence[int], architecture: str, stage_widths: Sequence[int],
    latent_dim: int, fmt: str, model: str,
) -> tuple[int, ...]:
    """Validate the shared autoencoder/VAE/GAN arguments.

    Returns:
        The input shape as a tuple.

    Example:
    >>> check_generative_args((8, 8, 1), "conv", (4, 8), 2,
    ...                       "channels_last", "ae")
    (8, 8, 1)
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"{model}: architecture must be 'dense' or 'conv'. "
            f"Received: architecture={architecture!r}"
        )
    if latent_dim < 1 or not stage_widths or min(stage_widths) < 1:
        raise ValueError(
            f"{model}: latent_dim and every stage width must be >= 1, with "
            f"at least one stage. Received: latent_dim={latent_dim!r}, "
            f"stage_widths={tuple(stage_widths)!r}"
        )
    shape = tuple(input_shape)
    if any(s is None or s < 1 for s in shape):
        raise ValueError(
            f"{model}: input_shape needs known positive sizes. "
            f"Received: input_shape={shape!r}"
        )
    if architecture == "conv":
        height, width, _ = heads.check_image_input(
            shape, model=model, data_format=fmt, need_static=True
        )
        factor = 2 ** len(stage_widths)
        if height % factor or width % factor:
            raise ValueError(
                f"{model}: a conv model with {len(stage_widths)} stride-2 "
                f"stages needs height and width divisible by {factor}. "
                f"Received: input_shape={shape!r}. Pad the images or use "
                "fewer stage_widths."
            )
    return shape


def build_encoder(
    shape: tuple[int, ...], *, architecture: str, stage_widths: Sequence[int],
    outputs: Mapping[str, int], activation: str, fmt: str, dtype: Any,
    name: str,
) -> keras.Model:
    """Encoder sub-model: stages, then one Dense head per entry of `outputs`.

    Example:
    >>> build_encoder((6,), architecture="dense", stage_widths=(4,),
    ...               outputs={"z": 2}, activation="relu",
    ...               fmt="channels_last", dtype=None, name="e").output_shape
    (None, 2)
    """
    inputs = keras.Input(shape, dtype=heads.input_dtype(dtype),
                         name=f"{name}_inputs")
    x = inputs
    if architecture == "dense":
        x = keras.layers.Flatten(dtype=dtype, name=f"{name}_flatten")(x)
    for i, width in enumerate(stage_widths, start=1):
        if architecture == "dense":
            x = keras.layers.Dense(width, activation=activation, dtype=dtype,
                                   name=f"{name}_dense{i}")(x)
        else:
            x = keras.layers.Conv2D(
                width, 3, strides=2, padding="same", activation=activation,
                data_format=fmt, dtype=dtype, name=f"{name}_conv{i}",
            )(x)
    if architecture == "conv":
        # Flatten in (H, W, C) order in either layout, so that the head's
        # weights do not depend on data_format.
        x = keras.layers.Flatten(data_format=fmt, dtype=dtype,
                                 name=f"{name}_flatten")(x)
    heads_out = [
        keras.layers.Dense(units, dtype=dtype, name=f"{name}_{key}")(x)
        for key, units in outputs.items()
    ]
    out = heads_out[0] if len(heads_out) == 1 else heads_out
    return keras.Model(inputs, out, name=name)


def build_decoder(
    shape: tuple[int, ...], *, architecture: str, stage_widths: Sequence[int],
    latent_dim: int, activation: str, output_activation: str | None,
    fmt: str, dtype: Any, name: str, batch_norm: bool = False,
) -> keras.Model:
    """Decoder (or generator): latent vector -> data of `shape`.

    The stages mirror the encoder's `stage_widths` in reverse; a conv
    decoder upsamples with stride-2 transposed convolutions. Its projection
    is read in (H, W, C) order in either `fmt` (channels_first adds a
    `Permute`), so the weights are the same in both layouts.

    Example:
    >>> build_decoder((8, 8, 1), architecture="conv", stage_widths=(4, 8),
    ...               latent_dim=2, activation="relu",
    ...               output_activation="sigmoid", fmt="channels_last",
    ...               dtype=None, name="d").output_shape
    (None, 8, 8, 1)
    """
    inputs = keras.Input((latent_dim,), dtype=heads.input_dtype(dtype),
                         name=f"{name}_latent")
    x = inputs
    widths = list(reversed(stage_widths))

    def norm_act(x: Any, label: str) -> Any:
        if batch_norm:
            x = keras.layers.BatchNormalization(
                axis=-1 if fmt == "channels_last" or label.startswith("dense")
                else 1, dtype=dtype, name=f"{name}_bn_{label}",
            )(x)
        return keras.layers.Activation(
            activation, dtype=dtype, name=f"{name}_act_{label}"
        )(x)

    if architecture == "dense":
        for i, width in enumerate(widths, start=1):
            x = keras.layers.Dense(width, dtype=dtype,
                                   name=f"{name}_dense{i}")(x)
            x = norm_act(x, f"dense{i}")
        x = keras.layers.Dense(
            math.prod(shape), activation=output_activation, dtype=dtype,
            name=f"{name}_output",
        )(x)
        x = keras.layers.Reshape(shape, dtype=dtype, name=f"{name}_reshape")(x)
        return keras.Model(inputs, x, name=name)
    height, width, channels = heads.check_image_input(
        shape, model=name, data_format=fmt
    )
    factor = 2 ** len(widths)
    small = (height // factor, width // factor)
    x = keras.layers.Dense(small[0] * small[1] * widths[0], dtype=dtype,
                           name=f"{name}_dense_project")(x)
    x = norm_act(x, "dense_project")
    # The projection's units are read in (H, W, C) order in either layout
    # (as the encoder's Flatten writes them), then moved to channels_first.
    x = keras.layers.Reshape((*small, widths[0]), dtype=dtype,
                             name=f"{name}_reshape")(x)
    if fmt == "channels_first":
        x = keras.layers.Permute((3, 1, 2), dtype=dtype,
                                 name=f"{name}_to_channels_first")(x)
    for i, filters in enumerate(widths, start=1):
        x = keras.layers.Conv2DTranspose(
            filters, 3, strides=2, padding="same", data_format=fmt,
            dtype=dtype, name=f"{name}_deconv{i}",
        )(x)
        x = norm_act(x, f"deconv{i}")
    x = keras.layers.Conv2D(
        channels, 3, padding="same", activation=output_activation,
        data_format=fmt, dtype=dtype, name=f"{name}_output",
    )(x)
    return keras.Model(inputs, x, name=name)


def _tiny_images(kwargs: Mapping[str, Any]) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, size=(8, *kwargs["input_shape"])).astype("float32")


def _reconstruction_data(kwargs: Mapping[str, Any]) -> SweepData:
    x = _tiny_images(kwargs)
    return SweepData(x, x, "mse", x.shape)


@register(
    family="autoencoder",
    task="reconstruction",
    tiny={"input_shape": (8, 8, 1), "architecture": "conv",
          "stage_widths": (4, 8), "latent_dim": 4, "noise_stddev": 0.1},
    reference="Hinton & Salakhutdinov, 2006; Vincent et al., 2008 "
    "(denoising).",
    canonical={"input_shape": (28, 28, 1)},
    # Dense 784-256-128-32 and back 32-128-256-784, each n*u + u:
    # (200,960 + 32,896 + 4,128) + (4,224 + 33,024 + 201,488) = 476,720.
    params=476_720,
    test={"data": _reconstruction_data},
)
def autoencoder(
    input_shape: Sequence[int] = (28, 28, 1),
    *,
    architecture: Literal["dense", "conv"] = "dense",
    stage_widths: Sequence[int] = (256, 128),
    latent_dim: int = 32,
    noise_stddev: float = 0.0,
    activation: str = "relu",
    output_activation: str | None = "sigmoid",
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "autoencoder",
) -> keras.Model:
    """Build a dense or convolutional (denoising) autoencoder.

    Train it with `fit(x, x)` and a reconstruction loss (`"mse"` or
    `"binary_crossentropy"` for data in [0, 1]). With `noise_stddev > 0`
    the model adds Gaussian noise to its input at training time only (a
    denoising autoencoder); inference is noise-free. The encoder and decoder
    are sub-models: `submodel(model, "encoder")` maps data to
    `(batch, latent_dim)` codes and `submodel(model, "decoder")` maps codes
    back to data.

    Args:
        input_shape: Data shape without batch: any shape for `"dense"`, an
            image `(H, W, C)` (in `data_format`) with H and W divisible by
            `2 ** len(stage_widths)` for `"conv"`.
        architecture: `"dense"` (Dense stages) or `"conv"` (stride-2
            Conv2D stages, mirrored by Conv2DTranspose).
        stage_widths: Units (dense) or filters (conv) of each encoder stage,
            mirrored in the decoder.
        latent_dim: Size of the code.
        noise_stddev: Std of the training-time input noise (0: none).
        activation: Hidden activation.
        output_activation: Decoder output activation (`"sigmoid"` for data
            in [0, 1], `None` for unbounded data).
        data_format: `"channels_last"` or `"channels_first"` (conv only).
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name; sub-models are `{name}_encoder`/`{name}_decoder`.

    Returns:
        Functional `keras.Model` from data to reconstructions.

    Example:
    >>> import kerakit
    >>> ae = kerakit.build("autoencoder", input_shape=(8, 8, 1),
    ...                    architecture="conv", stage_widths=(4, 8),
    ...                    latent_dim=3)
    >>> ae.output_shape, submodel(ae, "decoder").input_shape
    ((None, 8, 8, 1), (None, 3))

    Reference:
        Hinton & Salakhutdinov, 2006. https://doi.org/10.1126/science.1127647
    """
    fmt = heads.resolve_data_format(data_format)
    shape = check_generative_args(
        input_shape, architecture, stage_widths, latent_dim, fmt, name
    )
    if noise_stddev < 0:
        raise ValueError(
            f"{name}: noise_stddev must be >= 0. "
            f"Received: noise_stddev={noise_stddev!r}"
        )
    common = {"architecture": architecture, "stage_widths": stage_widths,
              "activation": activation, "fmt": fmt, "dtype": dtype}
    encoder = build_encoder(shape, outputs={"code": latent_dim},
                            name=f"{name}_encoder", **common)
    decoder = build_decoder(shape, latent_dim=latent_dim,
                            output_activation=output_activation,
                            name=f"{name}_decoder", **common)
    inputs = keras.Input(shape, dtype=heads.input_dtype(dtype), name="inputs")
    x = inputs
    if noise_stddev:
        x = keras.layers.GaussianNoise(
            noise_stddev, dtype=dtype, name=f"{name}_noise"
        )(x)
    outputs = decoder(encoder(x))
    return keras.Model(inputs, outputs, name=name)
