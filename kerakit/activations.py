"""Activations kerakit adds to Keras' own, all serialisable.

`leaky_relu` uses the slope 0.01 of the seed (Keras' default is 0.2) and
`Swish` carries a `beta`; both survive `get_config` / `.keras` round trips
when used as a layer's `activation`.
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kerakit")
def leaky_relu(x: Any) -> Any:
    """LeakyReLU with negative slope 0.01: `max(x, 0.01 * x)`.

    Example:
    >>> round(float(leaky_relu(keras.ops.convert_to_tensor(-2.0))), 4)
    -0.02
    """
    return keras.ops.leaky_relu(x, negative_slope=0.01)


@keras.saving.register_keras_serializable(package="kerakit")
class Swish:
    """Swish with a slope: `x * sigmoid(beta * x)` (`beta=1` is SiLU).

    Args:
        beta: Sigmoid slope; large values approach ReLU.

    Example:
    >>> round(float(Swish(2.0)(keras.ops.convert_to_tensor(1.0))), 4)
    0.8808

    Reference:
        Ramachandran et al., 2017. https://arxiv.org/abs/1710.05941
    """

    def __init__(self, beta: float = 1.0) -> None:
        self.beta = float(beta)
        self.__name__ = "swish"

    def __call__(self, x: Any) -> Any:
        return x * keras.ops.sigmoid(self.beta * x)

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        return {"beta": self.beta}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Swish:
        """Rebuild from `get_config()`."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"Swish(beta={self.beta})"
