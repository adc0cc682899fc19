"""What REINFORCE and A2C share: policy outputs, acting, the loss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from kerakit.rl import distributions
from kerakit.rl.base import Agent
from kerakit.rl.base import log_std_index
from kerakit.rl.update import GradientStep


def policy_loss(call: Any, variable: Any, batch: Mapping[str, Any], *,
                num_actions: int | None, log_std_at: int | None,
                value_coef: float, entropy_coef: float,
                use_value: bool) -> tuple[Any, dict]:
    """Policy-gradient loss with an optional critic and entropy bonus.

    `-mean(log pi(a|s) * advantage) + value_coef * mean((return - V(s))^2)
    - entropy_coef * entropy`, in `keras.ops`. `batch` holds
    `observations`, `actions`, `advantages`, (with a critic) `returns` and
    optionally `mask` (1 for real rows, 0 for padding).

    Example:
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> batch = {"observations": np.ones((2, 2), "float32"),
    ...          "actions": np.array([0, 2]),
    ...          "advantages": np.ones(2, "float32")}
    >>> batch = {k: keras.ops.convert_to_tensor(v) for k, v in batch.items()}
    >>> loss, aux = policy_loss(m, None, batch, num_actions=3,
    ...     log_std_at=None, value_coef=0.5, entropy_coef=0.0,
    ...     use_value=False)
    >>> sorted(aux)
    ['entropy', 'policy_loss']
    """
    outputs = call(batch["observations"])
    policy = outputs["policy"] if isinstance(outputs, dict) else outputs
    log_std = None if log_std_at is None else variable(log_std_at)
    log_p = distributions.log_prob(policy, batch["actions"], log_std,
                                   num_actions)
    # Padded rows (mask 0) keep one compiled shape for varying batch sizes.
    mask = batch.get("mask")
    mean = (keras.ops.mean if mask is None else
            lambda x: keras.ops.sum(x * mask) / keras.ops.sum(mask))
    pg_loss = -mean(log_p * batch["advantages"])
    ent = (distributions.entropy(policy, log_std) if log_std is not None
           else mean(distributions.entropies(policy)))
    loss = pg_loss - entropy_coef * ent
    aux = {"policy_loss": pg_loss, "entropy": ent}
    if use_value:
        value = keras.ops.squeeze(outputs["value"], axis=-1)
        value_loss = mean((batch["returns"] - value) ** 2)
        loss = loss + value_coef * value_loss
        aux["value_loss"] = value_loss
    return loss, aux


class PolicyAgent(Agent):
    """An agent whose network outputs a policy (and maybe a value).

    Discrete environments take logits; continuous ones a Gaussian mean from
    a network built with `continuous=True` (its log-std is a weight).
    Sampled continuous actions are clipped to the action bounds only when
    sent to the environment; the unclipped sample is what is learned from.
    """

    needs_value = False

    def _check_model(self) -> None:
        outputs = self.model.output_shape
        has_value = isinstance(self.model.output, dict)
        if has_value:
            names = sorted(self.model.output)
            if names != ["policy", "value"]:
                raise ValueError(
                    f"{self.name}: a network with several outputs must name "
                    f"them 'policy' and 'value'; {self.model.name!r} has "
                    f"{names}. Use actor_critic_mlp or policy_mlp."
                )
            outputs = self.model.output["policy"].shape
        if self.needs_value and not has_value:
            raise ValueError(
                f"{self.name} needs a critic: a network with outputs "
                f"{{'policy', 'value'}} such as actor_critic_mlp; "
                f"{self.model.name!r} outputs only {outputs}."
            )
        self.has_value = has_value
        self.log_std_at = log_std_index(self.model)
        discrete = self.info["discrete"]
        width = self.info["num_actions"] if discrete else self.info[
            "action_dim"]
        if tuple(outputs[1:]) != (width,):
            raise ValueError(
                f"{self.name}: the policy output of {self.model.name!r} has "
                f"shape {outputs}, but {self.env_id!r} needs (batch, {width})."
            )
        if discrete == (self.log_std_at is not None):
            fix = "continuous=False" if discrete else "continuous=True"
            raise ValueError(
                f"{self.name}: {self.env_id!r} has "
                f"{'discrete' if discrete else 'continuous'} actions but "
                f"{self.model.name!r} is built for the other kind; build it "
                f"with {fix}."
            )

    def _make_step(self, use_value: bool) -> GradientStep:
        c = self.config
        kwargs = {"num_actions": self.info["num_actions"],
                  "log_std_at": self.log_std_at,
                  "value_coef": float(c["value_coef"]),
                  "entropy_coef": float(c["entropy_coef"]),
                  "use_value": use_value}
        return GradientStep(
            self.model,
            lambda call, variable, batch: policy_loss(call, variable, batch,
                                                      **kwargs),
            max_grad_norm=c["max_grad_norm"])

    def log_std(self) -> np.ndarray | None:
        """The Gaussian policy's log-std (None for discrete actions)."""
        if self.log_std_at is None:
            return None
        return keras.ops.convert_to_numpy(
            self.model.trainable_variables[self.log_std_at])

    def policy_and_value(self, observations: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray | None]:
        """Policy outputs and state values (None without a critic)."""
        outputs = self.forward(observations)
        if isinstance(outputs, dict):
            return outputs["policy"], outputs["value"][:, 0]
        return outputs, None

    def sample(self, policy: np.ndarray) -> np.ndarray:
        """Sampled actions (unclipped) with the agent's generator."""
        return distributions.sample(policy, self.rng, self.log_std())

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """Actions as the environment takes them (clipped to bounds)."""
        if self.info["discrete"]:
            return actions
        return np.clip(actions, self.info["action_low"],
                       self.info["action_high"])

    def _act(self, observations: np.ndarray, greedy: bool) -> np.ndarray:
        policy, _ = self.policy_and_value(observations)
        if greedy:
            actions = distributions.greedy(policy, self.info["discrete"])
        else:
            actions = self.sample(policy)
        return self.env_actions(actions)
