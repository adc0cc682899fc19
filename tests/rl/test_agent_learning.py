"""A short training run per agent beats a random policy on CartPole-v1.

The runs are seeded, so each backend repeats its own run exactly; the bar
(twice the random policy's mean return on the same evaluation episodes) is
far below what these settings reach, so the check is not flaky.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerakit.models.rl.networks import actor_critic_mlp
from kerakit.models.rl.networks import policy_mlp
from kerakit.models.rl.networks import q_mlp
from kerakit.rl import evaluate_policy
from kerakit.rl import get_agent

RUNS = {
    "dqn": (q_mlp, 2e-3, 3_000, {
        "learning_starts": 500, "train_frequency": 2, "batch_size": 32,
        "target_update_period": 100, "epsilon_decay_steps": 1_500}),
    "reinforce": (policy_mlp, 1e-2, 6_000, {"episodes_per_update": 2}),
    "a2c": (actor_critic_mlp, 1e-3, 6_000, {
        "num_envs": 8, "n_steps": 16, "gae_lambda": 0.95,
        "entropy_coef": 0.0, "normalize_advantages": True}),
}




def _random_mean() -> float:
    rng = np.random.default_rng(0)
    return evaluate_policy(lambda obs: rng.integers(0, 2, len(obs)),
                           "CartPole-v1", episodes=10, seed=100)["return_mean"]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_short_training_beats_random(name):
    build, lr, steps, config = RUNS[name]
    model = build((4,), num_actions=2, hidden_units=(32, 32))
    model.compile(optimizer=keras.optimizers.get(
        {"class_name": "adam", "config": {"learning_rate": lr}}))
    agent = get_agent(name, model, "CartPole-v1", config, seed=0)
    logs = agent.train_steps(steps)
    assert logs["env_steps"] >= steps and np.isfinite(logs["loss"])
    trained = evaluate_policy(agent.act, "CartPole-v1", episodes=10,
                              seed=100)["return_mean"]
    assert trained > 2 * _random_mean(), (trained, _random_mean())
