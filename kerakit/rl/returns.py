"""Discounted returns and advantages in numpy.

Arrays are time-major: `rewards[t]` (optionally with a trailing env axis).
`dones[t]` is 1 where the episode ended *after* step t (terminated or
truncated); `terminals[t]` is 1 only where it terminated, so a truncated
episode bootstraps from the value of its last observation instead of zero.
"""

from __future__ import annotations

import numpy as np


def discounted_returns(rewards: np.ndarray, dones: np.ndarray, gamma: float,
                       bootstrap: np.ndarray | float = 0.0) -> np.ndarray:
    """Discounted sum of future rewards within each episode.

    `G[t] = r[t] + gamma * (1 - dones[t]) * G[t + 1]`, with `G[T] =
    bootstrap` (the value of the state after the last step, or 0).

    Args:
        rewards: Rewards `(T,)` or `(T, num_envs)`.
        dones: 1 where an episode ended after step t, same shape.
        gamma: Discount factor.
        bootstrap: Value after the last step (per env), used unless the
            last step ended an episode.

    Returns:
        Float32 returns of the same shape.

    Example:
    >>> discounted_returns(np.array([1., 1., 1.]), np.array([0, 1, 0]), 0.5)
    array([1.5, 1. , 1. ], dtype=float32)
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    dones = np.asarray(dones, dtype=np.float64)
    _check_same_shape(rewards, dones=dones)
    out = np.zeros_like(rewards)
    running = np.broadcast_to(np.asarray(bootstrap, np.float64),
                              rewards.shape[1:]).copy()
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * (1.0 - dones[t]) * running
        out[t] = running
    return out.astype(np.float32)


def reward_to_go(rewards: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """Reward-to-go of one complete episode (REINFORCE's return).

    Example:
    >>> reward_to_go(np.array([1., 2., 3.]), gamma=1.0)
    array([6., 5., 3.], dtype=float32)
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    return discounted_returns(rewards, np.zeros_like(rewards), gamma)


def gae(rewards: np.ndarray, values: np.ndarray, dones: np.ndarray,
        gamma: float, lam: float, last_values: np.ndarray | float = 0.0,
        terminals: np.ndarray | None = None,
        next_values: np.ndarray | None = None
        ) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation, GAE(lambda).

    `delta[t] = r[t] + gamma * V'(t) * (1 - terminals[t]) - V(s[t])` with
    `V'(t)` the value of the next state: `values[t + 1]`, or
    `next_values[t]` where given (needed at a truncation, where the next
    observation is the final one of the old episode), or `last_values` after
    the last step. The advantage accumulates deltas until an episode end:
    `A[t] = delta[t] + gamma * lam * (1 - dones[t]) * A[t + 1]`.

    Args:
        rewards: Rewards `(T,)` or `(T, num_envs)`.
        values: `V(s[t])`, same shape.
        dones: 1 where an episode ended after step t (terminated or
            truncated).
        gamma: Discount factor.
        lam: GAE lambda (0: one-step TD, 1: Monte-Carlo minus baseline).
        last_values: `V` of the observation after the last step.
        terminals: 1 where an episode terminated (no bootstrap); `dones` by
            default (every end treated as terminal).
        next_values: Optional explicit `V(s[t+1])` per step, e.g. the value
            of the final observation at a truncation.

    Returns:
        `(advantages, returns)`, float32, with `returns = advantages + values`
        (the critic's regression target).

    Example:
    >>> adv, ret = gae(np.array([1., 1.]), np.array([0., 0.]),
    ...                np.array([0, 1]), gamma=1.0, lam=1.0)
    >>> adv.tolist(), ret.tolist()
    ([2.0, 1.0], [2.0, 1.0])
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    dones = np.asarray(dones, dtype=np.float64)
    terminals = dones if terminals is None else np.asarray(terminals,
                                                           np.float64)
    _check_same_shape(rewards, values=values, dones=dones,
                      terminals=terminals)
    last = np.broadcast_to(np.asarray(last_values, np.float64),
                           rewards.shape[1:])
    if next_values is None:
        following = np.concatenate([values[1:], last[None]], axis=0)
    else:
        following = np.asarray(next_values, np.float64)
        _check_same_shape(rewards, next_values=following)
    deltas = rewards + gamma * (1.0 - terminals) * following - values
    advantages = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[1:])
    for t in reversed(range(len(rewards))):
        running = deltas[t] + gamma * lam * (1.0 - dones[t]) * running
        advantages[t] = running
    return (advantages.astype(np.float32),
            (advantages + values).astype(np.float32))


def normalise(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Zero mean, unit standard deviation (returns x - mean for one value).

    Example:
    >>> normalise(np.array([1., 3.])).tolist()
    [-1.0, 1.0]
    """
    x = np.asarray(x, dtype=np.float32)
    return (x - x.mean()) / (x.std() + eps)


def _check_same_shape(rewards: np.ndarray, **others: np.ndarray) -> None:
    for name, array in others.items():
        if array.shape != rewards.shape:
            raise ValueError(
                f"{name} must have the shape of rewards {rewards.shape}. "
                f"Received: {name}.shape={array.shape}"
            )
