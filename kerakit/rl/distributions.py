"""Action distributions of policy networks: categorical and diagonal Gaussian.

Log-probabilities and entropies are `keras.ops` (inside the losses);
sampling is numpy (outside, with the agent's seeded generator).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

_LOG_2PI = math.log(2.0 * math.pi)


def log_prob(policy: Any, actions: Any, log_std: Any = None,
             num_actions: int | None = None) -> Any:
    """Log-probability of `actions` under logits or a Gaussian mean.

    Args:
        policy: Logits `(B, n)` (discrete) or means `(B, d)`.
        actions: Integer actions `(B,)` or real actions `(B, d)`.
        log_std: Log standard deviations `(d,)` for a Gaussian; `None` for
            logits.
        num_actions: Number of discrete actions (logits only).

    Returns:
        `(B,)` log-probabilities.

    Example:
    >>> lp = log_prob(np.zeros((1, 2), "float32"), np.array([1]),
    ...               num_actions=2)
    >>> round(float(keras.ops.convert_to_numpy(lp)[0]), 4)
    -0.6931
    """
    if log_std is None:
        log_pi = keras.ops.log_softmax(policy, axis=-1)
        mask = keras.ops.one_hot(actions, num_actions, dtype=log_pi.dtype)
        return keras.ops.sum(log_pi * mask, axis=-1)
    z = (actions - policy) * keras.ops.exp(-log_std)
    return keras.ops.sum(-0.5 * z**2 - log_std - 0.5 * _LOG_2PI, axis=-1)


def entropy(policy: Any, log_std: Any = None) -> Any:
    """Mean entropy of the batch's action distributions.

    Example:
    >>> e = entropy(np.zeros((1, 2), "float32"))
    >>> round(float(keras.ops.convert_to_numpy(e)), 4)
    0.6931
    """
    if log_std is None:
        return keras.ops.mean(entropies(policy))
    return keras.ops.sum(log_std + 0.5 * (_LOG_2PI + 1.0))


def entropies(logits: Any) -> Any:
    """Per-row entropy `(B,)` of categorical distributions given by logits.

    Example:
    >>> e = entropies(np.zeros((2, 2), "float32"))
    >>> [round(float(v), 4) for v in keras.ops.convert_to_numpy(e)]
    [0.6931, 0.6931]
    """
    log_pi = keras.ops.log_softmax(logits, axis=-1)
    return -keras.ops.sum(keras.ops.exp(log_pi) * log_pi, axis=-1)


def sample(policy: np.ndarray, rng: np.random.Generator,
           log_std: np.ndarray | None = None) -> np.ndarray:
    """Sample actions (numpy) from logits or a Gaussian.

    Example:
    >>> sample(np.array([[0.0, 50.0]]), np.random.default_rng(0)).tolist()
    [1]
    """
    if log_std is None:
        # Gumbel-max: argmax(logits + Gumbel noise) is a categorical sample.
        gumbel = rng.gumbel(size=policy.shape)
        return np.argmax(policy + gumbel, axis=-1).astype(np.int64)
    noise = rng.standard_normal(policy.shape).astype(np.float32)
    return (policy + np.exp(log_std) * noise).astype(np.float32)


def greedy(policy: np.ndarray, discrete: bool) -> np.ndarray:
    """The most likely action: argmax of logits, or the Gaussian mean.

    Example:
    >>> greedy(np.array([[0.1, 0.9]]), True).tolist()
    [1]
    """
    if discrete:
        return np.argmax(policy, axis=-1).astype(np.int64)
    return np.asarray(policy, dtype=np.float32)
