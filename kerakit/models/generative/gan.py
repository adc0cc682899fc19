"""Generative adversarial networks: an MLP GAN and DCGAN.

`GAN` is a `keras.Model` holding a generator and a discriminator; calling it
runs the discriminator (images -> real/fake logits), and `fit(x)` runs
adversarial training on real images `x`. Keras has no backend-neutral
gradient API, so the gradient step is written once per backend in
`_train_step_tensorflow`, `_train_step_jax` and `_train_step_torch`.
EXCEPTION to the "models import only keras" rule: those three methods import
their backend library lazily, inside the method; everything else (the
forward pass, losses, metrics and serialisation) is plain `keras`.

Both networks are updated from the same forward pass (simultaneous gradient
steps) with the one optimizer given to `compile`; the optimizer keeps
separate moments per variable, so this matches alternating updates closely
and keeps the JAX state handling simple.
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
from kerakit.registry import register
from kerakit.registry import variant
from kerakit.testing import SweepData


@keras.saving.register_keras_serializable(package="kerakit")
class GAN(keras.Model):
    """A generator/discriminator pair trained adversarially by `fit(x)`.

    Logs `d_loss`, `g_loss` (non-saturating) and `d_accuracy` (share of
    real and fake images the discriminator classifies correctly).

    Args:
        generator: Model from `(batch, latent_dim)` noise to data.
        discriminator: Model from data to one real/fake logit.
        label_smoothing: One-sided label smoothing of the real targets.
        seed: Seed of the training noise.

    Example:
    >>> import kerakit
    >>> gan = kerakit.build("gan", input_shape=(4,), stage_widths=(8,),
    ...                     latent_dim=2)
    >>> gan.generate(3).shape
    (3, 4)
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 label_smoothing: float = 0.0, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Layers
        self.generator = generator
        self.discriminator = discriminator
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_accuracy_tracker = keras.metrics.Mean(name="d_accuracy")
        # Config
        self.label_smoothing = label_smoothing
        self.seed = seed
        self.latent_dim = int(generator.input_shape[-1])
        self.built = True

    @property
    def inputs(self) -> list[Any]:
        """Symbolic inputs of the discriminator (what `call` takes)."""
        return self.discriminator.inputs

    @property
    def outputs(self) -> list[Any]:
        """Symbolic outputs of the discriminator."""
        return self.discriminator.outputs

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.d_loss_tracker, self.g_loss_tracker,
                self.d_accuracy_tracker]

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return self.discriminator(inputs, training=training)

    def generate(self, n: int, seed: int | None = None) -> Any:
        """Generate `n` samples from prior noise (numpy, data's shape)."""
        if n < 1:
            raise ValueError(f"generate: n must be >= 1. Received: n={n!r}")
        noise = keras.random.normal((n, self.latent_dim), seed=seed)
        return keras.ops.convert_to_numpy(self.generator(noise, training=False))

    def _forward(self, real: Any) -> tuple[Any, Any, Any]:
        """One adversarial forward pass: `(d_loss, g_loss, d_accuracy)`."""
        noise = keras.random.normal(
            (keras.ops.shape(real)[0], self.latent_dim),
            seed=self.seed_generator,
        )
        fake = self.generator(noise, training=True)
        real_logits = self.discriminator(real, training=True)
        fake_logits = self.discriminator(fake, training=True)
        real_target = 1.0 - self.label_smoothing
        # Binary cross-entropy from logits: softplus(l) - target * l.
        d_loss = keras.ops.mean(
            keras.ops.softplus(real_logits) - real_target * real_logits
        ) + keras.ops.mean(keras.ops.softplus(fake_logits))
        g_loss = keras.ops.mean(keras.ops.softplus(-fake_logits))
        correct = keras.ops.concatenate([
            keras.ops.cast(real_logits > 0, "float32"),
            keras.ops.cast(fake_logits < 0, "float32"),
        ])
        return d_loss, g_loss, keras.ops.mean(correct)

    def _merge_grads(self, d_grads: Sequence[Any],
                     g_grads: Sequence[Any]) -> list[Any]:
        """Gradients in `trainable_variables` order: D's for D, G's for G."""
        d_ids = {id(v) for v in self.discriminator.trainable_variables}
        return [d if id(v) in d_ids else g for v, d, g in
                zip(self.trainable_variables, d_grads, g_grads, strict=True)]

    def _log(self, d_loss: Any, g_loss: Any, accuracy: Any) -> dict[str, Any]:
        for tracker, value in zip(self.metrics, (d_loss, g_loss, accuracy)):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, *args: Any) -> Any:
        step = getattr(self, f"_train_step_{keras.backend.backend()}", None)
        if step is None:
            raise NotImplementedError(
                f"GAN training is written for the tensorflow, jax and torch "
                f"backends, not {keras.backend.backend()!r}."
            )
        return step(*args)

    def _train_step_tensorflow(self, data: Any) -> dict[str, Any]:
        import tensorflow as tf  # Backend-specific step (see module doc).

        real = keras.utils.unpack_x_y_sample_weight(data)[0]
        variables = self.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            d_loss, g_loss, accuracy = self._forward(real)
        grads = self._merge_grads(tape.gradient(d_loss, variables),
                                  tape.gradient(g_loss, variables))
        del tape
        self.optimizer.apply(grads, variables)
        return self._log(d_loss, g_loss, accuracy)

    def _train_step_torch(self, data: Any) -> dict[str, Any]:
        import torch  # Backend-specific step (see module doc).

        real = keras.utils.unpack_x_y_sample_weight(data)[0]
        variables = self.trainable_variables
        d_loss, g_loss, accuracy = self._forward(real)
        values = [v.value for v in variables]
        d_grads = torch.autograd.grad(d_loss, values, retain_graph=True,
                                      allow_unused=True)
        g_grads = torch.autograd.grad(g_loss, values, allow_unused=True)
        grads = self._merge_grads(d_grads, g_grads)
        with torch.no_grad():
            self.optimizer.apply(grads, variables)
        return self._log(d_loss, g_loss, accuracy)

    def _train_step_jax(self, state: Any, data: Any) -> Any:
        import jax  # Backend-specific step (see module doc).

        trainable, non_trainable, optimizer_vars, metric_vars = state
        real = keras.utils.unpack_x_y_sample_weight(data)[0]

        def losses(values: Any, which: int) -> Any:
            mapping = [*zip(self.trainable_variables, values),
                       *zip(self.non_trainable_variables, non_trainable)]
            with keras.StatelessScope(state_mapping=mapping) as scope:
                out = self._forward(real)
            updated = [scope.get_current_value(v) for v in
                       self.non_trainable_variables]
            updated = [new if new is not None else old
                       for new, old in zip(updated, non_trainable)]
            return out[which], (out, updated)

        d_grads, ((d_loss, g_loss, accuracy), new_non_trainable) = jax.grad(
            losses, has_aux=True)(trainable, 0)
        g_grads, _ = jax.grad(losses, has_aux=True)(trainable, 1)
        grads = self._merge_grads(d_grads, g_grads)
        trainable, optimizer_vars = self.optimizer.stateless_apply(
            optimizer_vars, grads, trainable
        )
        logs, new_metric_vars, start = {}, [], 0
        for metric, value in zip(self.metrics, (d_loss, g_loss, accuracy)):
            count = len(metric.variables)
            these = metric.stateless_update_state(
                metric_vars[start:start + count], value
            )
            logs[metric.name] = metric.stateless_result(these)
            new_metric_vars += list(these)
            start += count
        return logs, (trainable, new_non_trainable, optimizer_vars,
                      new_metric_vars)

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(
                self.discriminator
            ),
            "label_smoothing": self.label_smoothing,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any],
                    custom_objects: Any = None) -> GAN:
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return cls(**config)


def _gan_data(kwargs: Mapping[str, Any]) -> SweepData:
    x = _tiny_images(kwargs)
    return SweepData(x, None, None, (len(x), 1), loss_key="d_loss",
                     expect_decrease=False)


@register(
    family="gan",
    task="generation",
    tiny={"input_shape": (4, 4, 1), "stage_widths": (8,), "latent_dim": 2},
    reference="Goodfellow et al., 2014. https://arxiv.org/abs/1406.2661",
    canonical={"input_shape": (28, 28, 1)},
    # Generator 64-256-512-784: 16,640 + 131,584 + 402,192 = 550,416;
    # discriminator 784-512-256-1: 401,920 + 131,328 + 257 = 533,505;
    # total 1,083,921.
    params=1_083_921,
    test={"data": _gan_data},
)
def gan(
    input_shape: Sequence[int] = (28, 28, 1),
    *,
    architecture: Literal["dense", "conv"] = "dense",
    stage_widths: Sequence[int] = (512, 256),
    latent_dim: int = 64,
    batch_norm: bool = False,
    output_activation: str | None = "sigmoid",
    label_smoothing: float = 0.0,
    seed: int | None = None,
    data_format: str | None = None,
    dtype: Any = None,
    name: str = "gan",
) -> GAN:
    """Build a GAN: a generator from noise to data and a discriminator.

    The discriminator is LeakyReLU Dense stages (`"dense"`) or stride-2
    convolutions (`"conv"`) ending in one logit; the generator mirrors it
    (Dense stages, or a projection plus stride-2 transposed convolutions)
    with ReLU and optional batch norm. Compile with an optimizer only
    (`model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5))`) and train
    with `model.fit(x)` on real data; `model.generate(n)` samples, and
    `model.generator` / `model.discriminator` are the two networks.

    Args:
        input_shape: Data shape without batch; an image `(H, W, C)` with H
            and W divisible by `2 ** len(stage_widths)` for `"conv"`.
        architecture: `"dense"` (MLP GAN) or `"conv"` (DCGAN).
        stage_widths: Units or filters of each discriminator stage; the
            generator uses them in reverse.
        latent_dim: Size of the noise vector.
        batch_norm: Batch norm in the generator's hidden stages.
        output_activation: Generator output activation: `"sigmoid"` for
            data in [0, 1], `"tanh"` for data in [-1, 1].
        label_smoothing: One-sided smoothing of the real labels (e.g. 0.1).
        seed: Seed of the training noise.
        data_format: `"channels_last"` or `"channels_first"` (conv only).
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name; networks are `{name}_generator` and
            `{name}_discriminator`.

    Returns:
        A `GAN` model whose call is the discriminator.

    Example:
    >>> import kerakit
    >>> m = kerakit.build("dcgan", input_shape=(8, 8, 1), stage_widths=(4,),
    ...                   latent_dim=2)
    >>> m.generator.output_shape, m.discriminator.output_shape
    ((None, 8, 8, 1), (None, 1))

    Reference:
        Goodfellow et al., 2014. https://arxiv.org/abs/1406.2661
    """
    fmt = heads.resolve_data_format(data_format)
    shape = check_generative_args(
        input_shape, architecture, stage_widths, latent_dim, fmt, name
    )
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(
            f"{name}: label_smoothing must be in [0, 1). "
            f"Received: label_smoothing={label_smoothing!r}"
        )
    common = {"architecture": architecture, "stage_widths": stage_widths,
              "fmt": fmt, "dtype": dtype}
    generator = build_decoder(
        shape, latent_dim=latent_dim, activation="relu", batch_norm=batch_norm,
        output_activation=output_activation, name=f"{name}_generator",
        **common,
    )
    discriminator = build_encoder(
        shape, outputs={"logit": 1}, activation="leaky_relu",
        name=f"{name}_discriminator", **common,
    )
    return GAN(generator, discriminator, label_smoothing=label_smoothing,
               seed=seed, name=name)


dcgan = register(
    family="gan",
    task="generation",
    tiny={"input_shape": (8, 8, 1), "stage_widths": (4, 8), "latent_dim": 2},
    reference="Radford, Metz & Chintala, 2016. "
    "https://arxiv.org/abs/1511.06434",
    canonical={"input_shape": (28, 28, 1), "stage_widths": (64, 128)},
    # Generator: Dense 64 -> 7*7*128 = 6,272 (65 * 6,272 = 407,680) + BN
    # 4 * 6,272 = 25,088; 3x3 deconvs 128->128 (147,584) and 128->64
    # (73,792) with BN 512 and 256; 3x3 output conv 64->1 (577):
    # 655,489. Discriminator: 3x3 convs 1->64 (640) and 64->128 (73,856),
    # Dense 6,272->1 (6,273): 80,769. Total 736,258 (BN counts gamma,
    # beta and both moving statistics).
    params=736_258,
    test={"data": _gan_data},
)(variant(gan, "dcgan", "DCGAN: strided-conv discriminator, transposed-conv "
          "generator with batch norm.", architecture="conv", batch_norm=True))
