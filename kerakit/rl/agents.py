"""Agent lookup: `get_agent(name, model, env_id, config, seed)`."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import keras

from kerakit.rl.a2c import A2CAgent
from kerakit.rl.base import Agent
from kerakit.rl.dqn import DQNAgent
from kerakit.rl.reinforce import ReinforceAgent

# Settings that solve CartPole-v1 (mean greedy return >= 475 over 100 test
# episodes, seeds 0-99, with the weights of the best evaluation; training
# stops once an evaluation on other seeds reaches 475). Measured on the JAX
# backend, 2 shared CPU cores (process CPU time per run):
#   dqn: seeds 0-3 all solved (482.7, 500, 500, 500) after 25k-40k env
#        steps, 17-36 s CPU (20 evaluation episodes every 5,000 steps);
#   a2c: seeds 0-5 all solved (481.7-500) after 10k-61k env steps, 3-8 s CPU
#        (50 evaluation episodes every 10,000 steps);
#   reinforce: seed 0 solved (495.0) after 10k env steps, 11 s CPU.
CARTPOLE_SETTINGS: dict[str, dict[str, Any]] = {
    "dqn": {
        "model": "q_mlp", "model_kwargs": {"hidden_units": (256, 256)},
        "optimizer": {"name": "adam", "learning_rate": 2.3e-3},
        "agent": {"buffer_size": 100_000, "batch_size": 64,
                  "learning_starts": 1_000, "train_frequency": 256,
                  "gradient_steps": 128, "target_update_period": 128,
                  "epsilon_decay_steps": 8_000, "epsilon_end": 0.04,
                  "double": False},
        "steps_per_epoch": 5_000, "eval_episodes": 20,
        "max_env_steps": 100_000,
    },
    "a2c": {
        "model": "actor_critic_mlp", "model_kwargs": {"hidden_units": (64, 64)},
        "optimizer": {"name": "adam", "learning_rate": 1e-3},
        "agent": {"num_envs": 8, "n_steps": 32, "gae_lambda": 0.95,
                  "entropy_coef": 0.0, "max_grad_norm": 0.5,
                  "normalize_advantages": True},
        "steps_per_epoch": 10_000, "eval_episodes": 50,
        "max_env_steps": 300_000,
    },
    "reinforce": {
        "model": "policy_mlp", "model_kwargs": {"hidden_units": (32, 32)},
        "optimizer": {"name": "adam", "learning_rate": 1e-2},
        "agent": {"episodes_per_update": 2},
        "steps_per_epoch": 5_000, "eval_episodes": 50,
        "max_env_steps": 150_000,
    },
}

# A2C on Pendulum-v1 (continuous actions, Gaussian policy), same machine:
# greedy return from about -1,200 (untrained) to -240 at the best
# 10-episode evaluation and -370 +- 430 over 100 test episodes after 600k
# env steps, 51 s CPU (seed 0). It learns, but does not reach the -200 that
# counts as solved within that budget.
PENDULUM_A2C_SETTINGS: dict[str, Any] = {
    "model": "actor_critic_mlp",
    "model_kwargs": {"hidden_units": (64, 64), "continuous": True,
                     "initial_log_std": -0.5},
    "optimizer": {"name": "adam", "learning_rate": 7e-4},
    "agent": {"num_envs": 8, "n_steps": 16, "gamma": 0.95,
              "gae_lambda": 0.95, "entropy_coef": 0.0, "max_grad_norm": 0.5,
              "normalize_advantages": True, "reward_scale": 0.1},
    "steps_per_epoch": 20_000, "eval_episodes": 10, "max_env_steps": 600_000,
}

AGENTS: dict[str, type[Agent]] = {"dqn": DQNAgent, "reinforce": ReinforceAgent,
                                  "a2c": A2CAgent}


def _agent_class(name: str) -> type[Agent]:
    if name not in AGENTS:
        close = difflib.get_close_matches(str(name), list(AGENTS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown agent {name!r}.{hint} Known agents: "
                         f"{sorted(AGENTS)}.")
    return AGENTS[name]


def agent_defaults(name: str) -> dict[str, Any]:
    """The hyperparameters of an agent and their defaults.

    Each agent module documents its settings beside the defaults
    (`DQN_DEFAULTS`, `REINFORCE_DEFAULTS`, `A2C_DEFAULTS`).

    Example:
    >>> agent_defaults("dqn")["gamma"]
    0.99
    """
    return dict(_agent_class(name).defaults)


def get_agent(name: str, model: keras.Model, env_id: str,
              config: Mapping[str, Any] | None = None,
              seed: int = 0) -> Agent:
    """Make an agent that trains `model` (compiled) on `env_id`.

    Args:
        name: `"dqn"`, `"reinforce"` or `"a2c"`.
        model: The network, compiled with its optimizer
            (`model.compile(optimizer="adam")`).
        env_id: A gymnasium id such as `"CartPole-v1"`.
        config: Settings overriding `agent_defaults(name)`; unknown keys
            raise a `ValueError`.
        seed: Seeds the environments and the exploration; with the same
            initial weights a run repeats exactly on one backend.

    Returns:
        The `Agent`.

    Example:
    >>> import numpy as np
    >>> from kerakit.models.rl.networks import q_mlp
    >>> model = q_mlp((4,), num_actions=2, hidden_units=(8,))
    >>> model.compile(optimizer="adam")
    >>> agent = get_agent("dqn", model, "CartPole-v1", {"learning_starts": 8})
    >>> logs = agent.train_steps(16)
    >>> logs["env_steps"], agent.act(np.zeros((3, 4))).shape
    (16.0, (3,))
    """
    return _agent_class(name)(model, env_id, config, seed)
