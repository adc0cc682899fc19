"""Advantage actor-critic (A2C) on vectorised environments with GAE."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from kerakit.rl.policy_gradient import PolicyAgent
from kerakit.rl.returns import gae
from kerakit.rl.returns import normalise

A2C_DEFAULTS: dict[str, Any] = {
    "num_envs": 8,              # parallel environments (gymnasium vector)
    "n_steps": 5,               # rollout length per env between updates
    "gamma": 0.99,              # discount
    "gae_lambda": 1.0,          # 1: n-step returns; < 1: GAE(lambda)
    "value_coef": 0.5,          # critic loss weight
    "entropy_coef": 0.01,       # entropy bonus
    "max_grad_norm": 0.5,       # global gradient clipping (None: off)
    "normalize_advantages": False,  # scale advantages per rollout
    "reward_scale": 1.0,        # learn from reward * scale (e.g. 0.1 for
                                # Pendulum's large negative rewards)
}


class A2CAgent(PolicyAgent):
    """Synchronous advantage actor-critic (Mnih et al., 2016, A2C variant).

    `num_envs` environments step together (`gymnasium.vector.SyncVectorEnv`,
    same-step autoreset); every `n_steps` vector steps the rollout's
    advantages are computed with GAE(lambda) (lambda = 1: n-step returns),
    bootstrapping from the critic at the rollout's end and at truncations
    (time limits), but not at terminations. One gradient step minimises
    policy loss + `value_coef` * critic loss - `entropy_coef` * entropy.
    Needs a network with `{"policy", "value"}` outputs (`actor_critic_mlp`;
    `continuous=True` for Box actions such as Pendulum-v1). See
    `A2C_DEFAULTS`.

    Reference:
        Mnih et al., 2016. https://arxiv.org/abs/1602.01783 ;
        Schulman et al., 2016 (GAE). https://arxiv.org/abs/1506.02438
    """

    name = "a2c"
    defaults = A2C_DEFAULTS
    needs_value = True

    def _num_envs(self) -> int:
        num_envs = self.config["num_envs"]
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"a2c: num_envs must be an int >= 1. Received: "
                             f"num_envs={num_envs!r}")
        return num_envs

    def _reset(self, seed: int | None) -> np.ndarray:
        observations, _ = self.env.reset(seed=seed)
        observations = np.asarray(observations, dtype=np.float32)
        return observations if self._vector() else observations[None]

    def _vector(self) -> bool:
        return hasattr(self.env, "num_envs")

    def _setup(self) -> None:
        if self.config["n_steps"] < 1:
            raise ValueError(f"a2c: n_steps must be >= 1. Received: "
                             f"{self.config['n_steps']!r}")
        self.step = self._make_step(use_value=True)

    def _env_step(self, actions: np.ndarray) -> tuple:
        if self._vector():
            obs, rewards, terminated, truncated, infos = self.env.step(
                self.env_actions(actions))
            final = infos.get("final_obs")
            finals = [None if final is None or not infos["_final_obs"][i]
                      else final[i] for i in range(len(rewards))]
            return (np.asarray(obs, np.float32), rewards, terminated,
                    truncated, finals)
        obs, reward, terminated, truncated, _ = self.env.step(
            self.env_actions(actions)[0])
        ended = terminated or truncated
        finals = [np.asarray(obs, np.float32) if ended else None]
        obs = self._reset(None) if ended else np.asarray(obs,
                                                         np.float32)[None]
        return (obs, np.array([reward]), np.array([terminated]),
                np.array([truncated]), finals)

    def _train(self, env_steps: int) -> dict[str, float]:
        target = self.env_steps + env_steps
        logs = []
        while self.env_steps < target:
            logs.append(self.update(self.rollout()))
        return {k: float(np.mean([x[k] for x in logs])) for k in logs[0]}

    def rollout(self) -> dict[str, np.ndarray]:
        """Play `n_steps` vector steps; return the flattened training batch
        (observations, actions, advantages, returns)."""
        n_steps = self.config["n_steps"]
        num_envs = len(self.observations)
        keys = ("observations", "actions", "rewards", "values", "dones",
                "terminals", "next_values")
        data: dict[str, list] = {k: [] for k in keys}
        for _ in range(n_steps):
            policy, values = self.policy_and_value(self.observations)
            actions = self.sample(policy)
            obs, rewards, terminated, truncated, finals = self._env_step(
                actions)
            self.env_steps += num_envs
            ended = np.logical_or(terminated, truncated)
            self._record(rewards, ended)
            next_values = np.full(num_envs, np.nan, np.float32)
            cut = [i for i in range(num_envs)
                   if truncated[i] and not terminated[i]]
            if cut:
                # The value of a time-limited episode's real last state.
                finals_cut = np.stack([finals[i] for i in cut])
                next_values[cut] = self.policy_and_value(finals_cut)[1]
            for key, value in zip(keys, (self.observations, actions, rewards,
                                         values, ended, terminated,
                                         next_values), strict=True):
                data[key].append(value)
            self.observations = obs
        last_values = self.policy_and_value(self.observations)[1]
        arrays = {k: np.asarray(v) for k, v in data.items()}
        following = np.concatenate([arrays["values"][1:], last_values[None]])
        following = np.where(np.isnan(arrays["next_values"]), following,
                             arrays["next_values"])
        advantages, returns = gae(
            arrays["rewards"] * self.config["reward_scale"],
            arrays["values"], arrays["dones"],
            self.config["gamma"], self.config["gae_lambda"],
            terminals=arrays["terminals"], next_values=following)
        if self.config["normalize_advantages"]:
            advantages = normalise(advantages)
        flat = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731
        return {"observations": flat(arrays["observations"]).astype(
                    np.float32),
                "actions": flat(arrays["actions"]),
                "advantages": flat(advantages), "returns": flat(returns)}

    def update(self, batch: Mapping[str, np.ndarray]) -> dict[str, float]:
        """One gradient step on a rollout batch."""
        self.updates += 1
        return self.step(dict(batch))

    def _extra_state(self) -> dict[str, np.ndarray]:
        return {}
