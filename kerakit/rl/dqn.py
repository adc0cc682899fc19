"""Deep Q-learning (Mnih et al., 2015) with Double DQN and Polyak options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from kerakit.rl.base import Agent
from kerakit.rl.replay import ReplayBuffer
from kerakit.rl.update import GradientStep
from kerakit.rl.update import forward_fn

DQN_DEFAULTS: dict[str, Any] = {
    "buffer_size": 50_000,      # replay capacity (transitions)
    "batch_size": 64,           # transitions per gradient step
    "learning_starts": 1_000,   # env steps of random play before learning
    "train_frequency": 1,       # env steps between rounds of updates
    "gradient_steps": 1,        # gradient steps per round
    "gamma": 0.99,              # discount
    "double": True,             # Double DQN target (van Hasselt et al.)
    "target_update_period": 500,  # gradient steps between target updates
    "tau": 1.0,                 # 1: hard copy; < 1: Polyak blend weight
    "epsilon_start": 1.0,       # exploration at step 0
    "epsilon_end": 0.05,        # exploration after the decay
    "epsilon_decay_steps": 10_000,  # env steps of linear decay
    "huber_delta": 1.0,         # Huber loss threshold
    "max_grad_norm": 10.0,      # global gradient clipping (None: off)
}


def huber(errors: Any, delta: float) -> Any:
    """Elementwise Huber loss of `errors` in `keras.ops`.

    Example:
    >>> keras.ops.convert_to_numpy(huber(np.array([0.5, 3.0]), 1.0)).tolist()
    [0.125, 2.5]
    """
    absolute = keras.ops.abs(errors)
    quadratic = keras.ops.minimum(absolute, delta)
    return 0.5 * quadratic**2 + delta * (absolute - quadratic)


def dqn_loss(call: Any, variable: Any, batch: Mapping[str, Any],
             num_actions: int, delta: float) -> tuple[Any, dict]:
    """Huber loss between Q(s, a) and fixed TD targets.

    Example:
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> batch = {"observations": np.ones((4, 2), "float32"),
    ...          "actions": np.array([0, 1, 2, 0]),
    ...          "targets": np.zeros(4, "float32")}
    >>> batch = {k: keras.ops.convert_to_tensor(v) for k, v in batch.items()}
    >>> loss, aux = dqn_loss(m, None, batch, 3, 1.0)
    >>> float(keras.ops.convert_to_numpy(loss)) >= 0
    True
    """
    q = call(batch["observations"])
    chosen = keras.ops.sum(
        q * keras.ops.one_hot(batch["actions"], num_actions, dtype=q.dtype),
        axis=-1)
    errors = batch["targets"] - chosen
    return keras.ops.mean(huber(errors, delta)), {
        "q_mean": keras.ops.mean(chosen)}


def polyak_update(target: keras.Model, online: keras.Model,
                  tau: float) -> None:
    """Blend target weights: `w_t <- tau * w + (1 - tau) * w_t` (tau 1: copy).

    Example:
    >>> a = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> b = keras.models.clone_model(a)
    >>> polyak_update(b, a, 1.0)
    >>> all((x == y).all() for x, y in zip(a.get_weights(), b.get_weights()))
    True
    """
    if tau == 1.0:
        target.set_weights(online.get_weights())
        return
    target.set_weights([
        tau * w + (1.0 - tau) * t
        for w, t in zip(online.get_weights(), target.get_weights(),
                        strict=True)])


class DQNAgent(Agent):
    """Deep Q-network agent: replay buffer, target network, epsilon-greedy.

    The network maps observations to one Q-value per action (`q_mlp`,
    `dqn_nature`; dueling heads come from the network's `dueling=True`).
    One env steps at a time; every `train_frequency` steps (after
    `learning_starts`) it takes `gradient_steps` Huber-loss steps on replay
    batches; the target network is copied (`tau=1`) or blended (`tau<1`)
    every `target_update_period` gradient steps. See `DQN_DEFAULTS`.

    Reference:
        Mnih et al., 2015. https://doi.org/10.1038/nature14236 ;
        van Hasselt et al., 2016 (Double DQN). https://arxiv.org/abs/1509.06461
    """

    name = "dqn"
    defaults = DQN_DEFAULTS
    discrete_only = True

    def _check_model(self) -> None:
        shape = self.model.output_shape
        n = self.info["num_actions"]
        if not isinstance(shape, tuple) or tuple(shape[1:]) != (n,):
            raise ValueError(
                f"dqn needs a Q-network with one output of shape (batch, {n}) "
                f"for {self.env_id!r}; {self.model.name!r} outputs {shape}. "
                f"Use e.g. q_mlp with num_actions={n}."
            )

    def _setup(self) -> None:
        c = self.config
        if not 0.0 < c["tau"] <= 1.0:
            raise ValueError(f"dqn: tau must be in (0, 1]. Received: "
                             f"tau={c['tau']!r}")
        self.target = keras.models.clone_model(self.model)
        self.target.set_weights(self.model.get_weights())
        self.target_forward = forward_fn(self.target)
        self.buffer = ReplayBuffer(int(c["buffer_size"]),
                                   self.info["observation_shape"])
        n, delta = self.info["num_actions"], float(c["huber_delta"])
        self.step = GradientStep(
            self.model,
            lambda call, variable, batch: dqn_loss(call, variable, batch, n,
                                                   delta),
            max_grad_norm=c["max_grad_norm"])

    def epsilon(self) -> float:
        """Exploration rate at the current env step (linear decay)."""
        c = self.config
        fraction = min(1.0, self.env_steps / max(1, c["epsilon_decay_steps"]))
        return float(c["epsilon_start"]
                     + fraction * (c["epsilon_end"] - c["epsilon_start"]))

    def _act(self, observations: np.ndarray, greedy: bool) -> np.ndarray:
        actions = np.argmax(self.forward(observations), axis=-1)
        if not greedy:
            explore = self.rng.random(len(actions)) < self.epsilon()
            random = self.rng.integers(0, self.info["num_actions"],
                                       len(actions))
            actions = np.where(explore, random, actions)
        return actions.astype(np.int64)

    def _train(self, env_steps: int) -> dict[str, float]:
        c = self.config
        losses = []
        for _ in range(env_steps):
            if self.rng.random() < self.epsilon():
                action = int(self.rng.integers(0, self.info["num_actions"]))
            else:
                action = int(np.argmax(self.forward(self.observations[None])))
            next_obs, reward, terminated, truncated, _ = self.env.step(action)
            next_obs = np.asarray(next_obs, dtype=np.float32)
            self.env_steps += 1
            self.buffer.add(self.observations, action, reward, next_obs,
                            terminated)
            ended = terminated or truncated
            self._record([reward], [ended])
            self.observations = self._reset(None) if ended else next_obs
            if (self.env_steps >= c["learning_starts"]
                    and self.env_steps % c["train_frequency"] == 0):
                for _ in range(c["gradient_steps"]):
                    losses.append(self.update(
                        self.buffer.sample(c["batch_size"], self.rng)))
        logs = {"epsilon": self.epsilon()}
        if losses:
            logs["loss"] = float(np.mean([x["loss"] for x in losses]))
            logs["q_mean"] = float(np.mean([x["q_mean"] for x in losses]))
        return logs

    def td_targets(self, batch: Mapping[str, np.ndarray]) -> np.ndarray:
        """`r + gamma * (1 - terminal) * Q_target(s', a')` (a' by the online
        network under Double DQN, by the target network otherwise)."""
        next_q = self.target_forward(batch["next_observations"])
        if self.config["double"]:
            best = np.argmax(self.forward(batch["next_observations"]), axis=-1)
        else:
            best = np.argmax(next_q, axis=-1)
        bootstrap = np.take_along_axis(next_q, best[:, None], axis=-1)[:, 0]
        return (batch["rewards"] + self.config["gamma"]
                * (1.0 - batch["terminals"]) * bootstrap).astype(np.float32)

    def update(self, batch: Mapping[str, np.ndarray]) -> dict[str, float]:
        """One gradient step on a replay batch, then the target update."""
        logs = self.step({"observations": batch["observations"],
                          "actions": batch["actions"],
                          "targets": self.td_targets(batch)})
        self.updates += 1
        if self.updates % self.config["target_update_period"] == 0:
            polyak_update(self.target, self.model, self.config["tau"])
        return logs

    def _extra_state(self) -> dict[str, np.ndarray]:
        state = self.buffer.state()
        for i, w in enumerate(self.target.get_weights()):
            state[f"target_{i}"] = w
        return state

    def _load_extra_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.buffer.load_state(state)
        count = len(self.target.get_weights())
        self.target.set_weights([state[f"target_{i}"] for i in range(count)])
