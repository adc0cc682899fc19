"""Similarity logits of paired embeddings with a learnable temperature."""

from __future__ import annotations

import math
from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kerakit")
class ContrastiveLogits(keras.layers.Layer):
    """`[first, second]` -> `(batch, batch)` scaled cosine similarities.

    Holds `log(1 / temperature)` as a weight (CLIP's logit scale), so the
    temperature trains with the model; the scale is clipped at `max_scale`.
    Feed the output to `kerakit.losses.InfoNCE(temperature=None)`.

    Args:
        temperature: Initial temperature.
        learnable: Train the temperature; `False` keeps it fixed.
        max_scale: Upper bound of `1 / temperature`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
    >>> logits = ContrastiveLogits(0.5)([keras.ops.eye(2), keras.ops.eye(2)])
    >>> keras.ops.convert_to_numpy(logits).round(3).tolist()
    [[2.0, 0.0], [0.0, 2.0]]

    Reference:
        Radford et al., 2021. https://arxiv.org/abs/2103.00020
    """

    def __init__(self, temperature: float = 0.07, learnable: bool = True,
                 max_scale: float = 100.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if float(temperature) <= 0 or float(max_scale) <= 0:
            raise ValueError(
                "temperature and max_scale must be positive. Received: "
                f"temperature={temperature}, max_scale={max_scale}"
            )
        # Config
        self.temperature = float(temperature)
        self.learnable = bool(learnable)
        self.max_scale = float(max_scale)

    def build(self, input_shape: Any) -> None:
        self.log_scale = self.add_weight(
            shape=(), name="log_scale", trainable=self.learnable,
            initializer=keras.initializers.Constant(
                math.log(1.0 / self.temperature)
            ),
        )

    def call(self, inputs: Any) -> Any:
        first, second = inputs
        first = keras.ops.normalize(first, axis=-1)
        second = keras.ops.normalize(second, axis=-1)
        scale = keras.ops.minimum(
            keras.ops.exp(keras.ops.cast(self.log_scale, first.dtype)),
            self.max_scale,
        )
        return scale * keras.ops.matmul(first, keras.ops.transpose(second))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0][0], input_shape[1][0])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"temperature": self.temperature,
                       "learnable": self.learnable,
                       "max_scale": self.max_scale})
        return config
