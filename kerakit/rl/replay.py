"""A uniform experience-replay buffer in preallocated numpy arrays."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class ReplayBuffer:
    """Fixed-capacity ring buffer of transitions, sampled uniformly.

    Stores `observations`, `actions`, `rewards`, `next_observations` and
    `terminals` (1 where the episode terminated, so no bootstrap; a
    truncation stores 0 and its real final observation).

    Args:
        capacity: Maximum number of transitions (oldest overwritten).
        observation_shape: Shape of one observation.
        action_shape: Shape of one action (`()` for discrete).
        action_dtype: Dtype of actions.

    Example:
    >>> buf = ReplayBuffer(3, (2,))
    >>> for i in range(4):
    ...     buf.add(np.full(2, i), i % 2, 1.0, np.full(2, i + 1), False)
    >>> len(buf), sorted(buf.arrays["actions"].tolist())
    (3, [0, 1, 1])
    >>> buf.sample(2, np.random.default_rng(0))["observations"].shape
    (2, 2)
    """

    FIELDS = ("observations", "actions", "rewards", "next_observations",
              "terminals")

    def __init__(self, capacity: int, observation_shape: tuple,
                 action_shape: tuple = (), action_dtype: str = "int64"
                 ) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"buffer capacity must be an int >= 1. "
                             f"Received: {capacity!r}")
        self.capacity = capacity
        self.arrays = {
            "observations": np.zeros((capacity, *observation_shape),
                                     np.float32),
            "actions": np.zeros((capacity, *action_shape), action_dtype),
            "rewards": np.zeros((capacity,), np.float32),
            "next_observations": np.zeros((capacity, *observation_shape),
                                          np.float32),
            "terminals": np.zeros((capacity,), np.float32),
        }
        self.size = 0
        self.position = 0

    def __len__(self) -> int:
        """Number of stored transitions."""
        return self.size

    def add(self, observation: np.ndarray, action: np.ndarray, reward: float,
            next_observation: np.ndarray, terminal: bool) -> None:
        """Store one transition."""
        i = self.position
        for name, value in zip(self.FIELDS, (observation, action, reward,
                                             next_observation, terminal),
                               strict=True):
            self.arrays[name][i] = value
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator
               ) -> dict[str, np.ndarray]:
        """A uniform random batch (with replacement) of transitions."""
        if self.size == 0:
            raise ValueError("Cannot sample from an empty replay buffer.")
        index = rng.integers(0, self.size, size=batch_size)
        return {name: array[index] for name, array in self.arrays.items()}

    def state(self) -> dict[str, np.ndarray]:
        """The filled part of the buffer and its position, as arrays."""
        out = {f"replay_{k}": v[:self.size].copy()
               for k, v in self.arrays.items()}
        out["replay_position"] = np.array(self.position)
        return out

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what `state()` returned."""
        size = len(state["replay_rewards"])
        if size > self.capacity:
            raise ValueError(f"The saved buffer holds {size} transitions, "
                             f"more than the capacity {self.capacity}.")
        for name in self.FIELDS:
            self.arrays[name][:size] = state[f"replay_{name}"]
        self.size = size
        self.position = int(state["replay_position"])
