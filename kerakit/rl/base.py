"""The `Agent` interface shared by DQN, REINFORCE and A2C."""

from __future__ import annotations

import difflib
import pickle
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from kerakit.models.rl.layers import GaussianLogStd
from kerakit.rl.environments import make_env
from kerakit.rl.environments import space_info
from kerakit.rl.update import forward_fn


def check_config(agent: str, config: Mapping[str, Any],
                 defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `config` over `defaults`; unknown keys raise a `ValueError`.

    Example:
    >>> check_config("dqn", {"gamma": 0.9}, {"gamma": 0.99})
    {'gamma': 0.9}
    """
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        close = {k: difflib.get_close_matches(k, list(defaults), n=1)
                 for k in unknown}
        hints = "".join(f" {k!r} -> did you mean {v[0]!r}?"
                        for k, v in close.items() if v)
        raise ValueError(
            f"Unknown {agent} setting(s) {unknown}.{hints} Known settings: "
            f"{sorted(defaults)} (see kerakit.rl.agent_defaults({agent!r}))."
        )
    return {**defaults, **config}


def log_std_index(model: keras.Model) -> int | None:
    """Index in `model.trainable_variables` of a Gaussian policy's log-std.

    Example:
    >>> from kerakit.models.rl.networks import policy_mlp
    >>> log_std_index(policy_mlp((3,), action_dim=1, continuous=True))
    6
    """
    layers = [layer for layer in model.layers
              if isinstance(layer, GaussianLogStd)]
    if not layers:
        return None
    paths = [v.path for v in model.trainable_variables]
    return paths.index(layers[0].log_std.path)


class Agent:
    """An agent that interacts with a gymnasium environment and learns.

    Subclasses set `name`, `defaults` and implement `_train`, `_act` and
    `_extra_state`/`_load_extra_state` for their replay buffer or target
    network. The environment(s), the exploration RNG, the counters and the
    partly played episodes are saved by `get_state` (the environments are
    pickled), so `set_state` continues a run exactly.

    Attributes:
        model: The network being trained (the workflow saves it).
        episode_returns: Returns of every finished training episode.
        episode_end_steps: Total env steps at which each one finished.
    """

    name = "agent"
    defaults: dict[str, Any] = {}
    discrete_only = False
    num_envs = 1

    def __init__(self, model: keras.Model, env_id: str,
                 config: Mapping[str, Any] | None = None,
                 seed: int = 0) -> None:
        self.config = check_config(self.name, dict(config or {}),
                                   self.defaults)
        self.model = model
        self.env_id = env_id
        self.seed = int(seed)
        self.env = make_env(env_id, num_envs=self._num_envs())
        self.info = space_info(self.env)
        if self.discrete_only and not self.info["discrete"]:
            raise ValueError(
                f"{self.name} needs discrete actions, but {env_id!r} has "
                f"continuous actions (Box, dim {self.info['action_dim']}). "
                "Use agent 'a2c' or 'reinforce' (Gaussian policy) for it, "
                "or a discrete-action environment."
            )
        self._check_model()
        self.rng = np.random.default_rng(self.seed)
        self.env.action_space.seed(self.seed)
        self.forward = forward_fn(model)
        self.env_steps = 0
        self.updates = 0
        self.episode_returns: list[float] = []
        self.episode_end_steps: list[int] = []
        self._running_return = np.zeros(self._num_envs())
        self.observations = self._reset(self.seed)
        self._setup()

    # Hooks for subclasses.
    def _num_envs(self) -> int:
        return 1

    def _setup(self) -> None:
        pass

    def _check_model(self) -> None:
        pass

    def _train(self, env_steps: int) -> dict[str, float]:
        raise NotImplementedError

    def _act(self, observations: np.ndarray, greedy: bool) -> np.ndarray:
        raise NotImplementedError

    def _extra_state(self) -> dict[str, np.ndarray]:
        return {}

    def _load_extra_state(self, state: Mapping[str, np.ndarray]) -> None:
        pass

    # The interface.
    def train_steps(self, env_steps: int) -> dict[str, float]:
        """Interact and learn for (at least) `env_steps` environment steps.

        Returns:
            Logs: `loss` (mean over the updates), `episode_return` (mean of
            the episodes finished in this period; absent when none),
            `episodes`, `env_steps` (total so far), `updates`, plus agent
            specific values such as `epsilon`.
        """
        if not isinstance(env_steps, int) or env_steps < 1:
            raise ValueError(f"env_steps must be an int >= 1. Received: "
                             f"env_steps={env_steps!r}")
        finished_before = len(self.episode_returns)
        logs = self._train(env_steps)
        new = self.episode_returns[finished_before:]
        logs.update(episodes=float(len(new)), env_steps=float(self.env_steps),
                    updates=float(self.updates))
        if new:
            logs["episode_return"] = float(np.mean(new))
        return logs

    def act(self, observations: np.ndarray, greedy: bool = True) -> np.ndarray:
        """Actions for a batch of observations `(B, *observation_shape)`.

        `greedy=True` takes the best action (or the Gaussian mean);
        otherwise the agent samples as it does in training.
        """
        observations = np.asarray(observations, dtype=np.float32)
        shape = self.info["observation_shape"]
        if observations.shape[1:] != shape:
            raise ValueError(
                f"observations must have shape (batch, *{shape}). "
                f"Received: shape {observations.shape}"
            )
        return self._act(observations, greedy)

    def get_state(self) -> dict[str, np.ndarray]:
        """Everything beyond the model weights and optimizer, as arrays."""
        progress = {
            "rng": self.rng.bit_generator.state, "env": self.env,
            "observations": self.observations, "env_steps": self.env_steps,
            "updates": self.updates, "episode_returns": self.episode_returns,
            "episode_end_steps": self.episode_end_steps,
            "running_return": self._running_return,
        }
        blob = np.frombuffer(pickle.dumps(progress), dtype=np.uint8)
        return {"progress": blob.copy(), **self._extra_state()}

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what `get_state` returned (from this kind of agent)."""
        if "progress" not in state:
            raise ValueError("Not an agent state: the 'progress' entry is "
                             "missing. Pass what Agent.get_state() returned.")
        blob = np.asarray(state["progress"]).tobytes()
        progress = pickle.loads(blob)  # noqa: S301 - the agent's own state
        self.rng.bit_generator.state = progress["rng"]
        self.env = progress["env"]
        self.observations = progress["observations"]
        self.env_steps = progress["env_steps"]
        self.updates = progress["updates"]
        self.episode_returns = list(progress["episode_returns"])
        self.episode_end_steps = list(progress["episode_end_steps"])
        self._running_return = progress["running_return"]
        self._load_extra_state(state)

    # Helpers.
    def _reset(self, seed: int) -> np.ndarray:
        observations, _ = self.env.reset(seed=seed)
        return np.asarray(observations, dtype=np.float32)

    def _record(self, rewards: Any, ended: Any) -> None:
        """Add rewards to the running returns; log the ended episodes."""
        self._running_return += np.asarray(rewards, dtype=np.float64)
        for i in np.flatnonzero(np.atleast_1d(ended)):
            self.episode_returns.append(float(self._running_return[i]))
            self.episode_end_steps.append(self.env_steps)
            self._running_return[i] = 0.0
