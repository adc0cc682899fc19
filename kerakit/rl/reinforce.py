"""REINFORCE (Williams, 1992) with reward-to-go and a baseline."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import numpy as np

from kerakit.rl.policy_gradient import PolicyAgent
from kerakit.rl.returns import discounted_returns
from kerakit.rl.returns import normalise

REINFORCE_DEFAULTS: dict[str, Any] = {
    "gamma": 0.99,              # discount of the reward-to-go
    "episodes_per_update": 4,   # complete episodes per gradient step
    "baseline": "mean",         # "mean" (normalised returns), "value"
                                # (learned critic: needs a 'value' output)
                                # or "none"
    "normalize_advantages": True,  # scale advantages to unit std
    "value_coef": 0.5,          # critic loss weight ("value" baseline)
    "entropy_coef": 0.0,        # entropy bonus
    "max_grad_norm": None,      # global gradient clipping (None: off)
}


def pad_batch(batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Pad every array to the next power of two rows and add a `mask`.

    Episodes vary in length; a few padded sizes instead of one per length
    keep the compiled step from recompiling (JAX) or retracing (TF).

    Example:
    >>> out = pad_batch({"x": np.ones((5, 2))})
    >>> out["x"].shape, out["mask"].tolist()
    ((8, 2), [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    """
    size = len(next(iter(batch.values())))
    padded = 1 << max(0, size - 1).bit_length()
    out = {k: np.concatenate([v, np.zeros((padded - size, *v.shape[1:]),
                                          v.dtype)])
           for k, v in batch.items()}
    out["mask"] = (np.arange(padded) < size).astype(np.float32)
    return out


class ReinforceAgent(PolicyAgent):
    """Monte-Carlo policy gradient on whole episodes.

    After `episodes_per_update` complete episodes, each step's return is its
    discounted reward-to-go; the advantage subtracts a baseline: the batch
    mean (`"mean"`, then normalised to unit std: "normalised returns"), a
    learned state value (`"value"`, trained by regression on the returns,
    needs `actor_critic_mlp`) or nothing. Takes `policy_mlp` or
    `actor_critic_mlp`, discrete or continuous. See `REINFORCE_DEFAULTS`.

    Reference:
        Williams, 1992. https://doi.org/10.1007/BF00992696
    """

    name = "reinforce"
    defaults = REINFORCE_DEFAULTS

    def _setup(self) -> None:
        baseline = self.config["baseline"]
        if baseline not in ("mean", "value", "none"):
            raise ValueError(f"reinforce: baseline must be 'mean', 'value' "
                             f"or 'none'. Received: {baseline!r}")
        if baseline == "value" and not self.has_value:
            raise ValueError(
                "reinforce: baseline='value' needs a network with a 'value' "
                f"output (actor_critic_mlp); {self.model.name!r} has none. "
                "Use baseline='mean' or an actor-critic network."
            )
        self.step = self._make_step(use_value=baseline == "value")
        self.current: dict[str, list] = {"observations": [], "actions": [],
                                         "rewards": []}
        self.finished: list[dict[str, np.ndarray]] = []

    def _train(self, env_steps: int) -> dict[str, float]:
        losses = []
        for _ in range(env_steps):
            policy, _ = self.policy_and_value(self.observations[None])
            action = self.sample(policy)[0]
            next_obs, reward, terminated, truncated, _ = self.env.step(
                self.env_actions(action))
            self.env_steps += 1
            for key, value in (("observations", self.observations),
                               ("actions", action), ("rewards", reward)):
                self.current[key].append(value)
            ended = terminated or truncated
            self._record([reward], [ended])
            if ended:
                self.finished.append({k: np.asarray(v) for k, v in
                                      self.current.items()})
                self.current = {k: [] for k in self.current}
                self.observations = self._reset(None)
            else:
                self.observations = np.asarray(next_obs, np.float32)
            if len(self.finished) >= self.config["episodes_per_update"]:
                losses.append(self.update(self.finished))
                self.finished = []
        if not losses:
            return {}
        return {k: float(np.mean([x[k] for x in losses])) for k in losses[0]}

    def update(self, episodes: list[Mapping[str, np.ndarray]]
               ) -> dict[str, float]:
        """One gradient step on complete episodes (reward-to-go returns)."""
        gamma = self.config["gamma"]
        returns = np.concatenate([
            discounted_returns(e["rewards"], np.zeros(len(e["rewards"])),
                               gamma) for e in episodes])
        batch = {
            "observations": np.concatenate(
                [e["observations"] for e in episodes]).astype(np.float32),
            "actions": np.concatenate([e["actions"] for e in episodes]),
            "returns": returns,
        }
        baseline = self.config["baseline"]
        if baseline == "value":
            advantages = returns - self.policy_and_value(
                batch["observations"])[1]
        elif baseline == "mean":
            advantages = returns - returns.mean()
        else:
            advantages = returns
        if self.config["normalize_advantages"]:
            advantages = normalise(advantages) if len(advantages) > 1 else (
                advantages)
        batch["advantages"] = np.asarray(advantages, np.float32)
        if baseline != "value":
            del batch["returns"]
        self.updates += 1
        return self.step(pad_batch(batch))

    def _extra_state(self) -> dict[str, np.ndarray]:
        blob = pickle.dumps({"current": self.current,
                             "finished": self.finished})
        return {"episodes": np.frombuffer(blob, np.uint8).copy()}

    def _load_extra_state(self, state: Mapping[str, np.ndarray]) -> None:
        blob = np.asarray(state["episodes"]).tobytes()
        saved = pickle.loads(blob)  # noqa: S301 - the agent's own state
        self.current, self.finished = saved["current"], saved["finished"]
