"""Stochastic depth: drop a whole residual branch per sample."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kerakit")
class DropPath(keras.layers.Layer):
    """Drop the input of each sample with probability `rate` in training.

    Stochastic depth (drop path) zeroes a residual branch for a random subset
    of the batch and scales the kept samples by `1 / (1 - rate)`, so the
    expected value is unchanged. At inference it is the identity. Place it
    on the branch, before the residual addition.

    Args:
        rate: Probability of dropping a sample's branch, in `[0, 1)`.
        seed: Optional integer seed for the random mask.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
    >>> layer = DropPath(0.5, seed=1)
    >>> x = keras.ops.ones((4, 3))
    >>> bool(keras.ops.all(layer(x, training=False) == x))
    True

    Reference:
        Huang et al., 2016. https://arxiv.org/abs/1603.09382
    """

    def __init__(self, rate: float = 0.1, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(
                f"DropPath rate must be in [0, 1). Received: rate={rate}"
            )
        # Config
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (keras.ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(shape, dtype=inputs.dtype,
                                     seed=self.seed_generator)
        mask = keras.ops.cast(noise < keep, inputs.dtype)
        return inputs * mask / keep

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
