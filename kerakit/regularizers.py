"""Regularisers kerakit adds: weight decay as an L2 penalty."""

from __future__ import annotations

import keras


def weight_decay(rate: float = 1e-4) -> keras.regularizers.Regularizer:
    """L2 penalty whose gradient equals SGD weight decay `rate * w`.

    `rate / 2 * sum(w ** 2)` is added to the loss, so plain SGD shrinks each
    weight by `learning_rate * rate * w` per step. For decoupled decay (the
    AdamW kind, better with adaptive optimizers) pass `weight_decay=` to the
    optimizer instead, e.g. `components.get("optimizers", "adamw")`.

    Example:
    >>> reg = weight_decay(0.1)
    >>> round(float(reg(keras.ops.ones((2,)))), 4)
    0.1
    """
    if rate < 0:
        raise ValueError(f"rate must be >= 0. Received: rate={rate}")
    return keras.regularizers.L2(rate / 2.0)
