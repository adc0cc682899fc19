"""get_state/set_state + the workflow's weight checkpoint resume exactly."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerakit.models.rl.networks import actor_critic_mlp
from kerakit.models.rl.networks import policy_mlp
from kerakit.models.rl.networks import q_mlp
from kerakit.rl import get_agent

CASES = {
    "dqn": (q_mlp, "CartPole-v1", {"learning_starts": 20, "batch_size": 8,
                                   "target_update_period": 7}),
    "reinforce": (policy_mlp, "CartPole-v1", {"episodes_per_update": 2}),
    "a2c": (actor_critic_mlp, "CartPole-v1", {"num_envs": 2, "n_steps": 4}),
    "a2c_pendulum": (actor_critic_mlp, "Pendulum-v1", {"num_envs": 2}),
}




def _agent(case: str):
    build, env_id, config = CASES[case]
    keras.utils.set_random_seed(3)
    continuous = env_id == "Pendulum-v1"
    kwargs = {"action_dim": 1} if continuous else {"num_actions": 2}
    model = build((3,) if continuous else (4,), hidden_units=(8,),
                  continuous=continuous, **kwargs) if build is not q_mlp \
        else build((4,), hidden_units=(8,), **kwargs)
    model.compile(optimizer="adam")
    return get_agent(case.split("_")[0], model, env_id, config, seed=7)


@pytest.mark.parametrize("case", sorted(CASES))
def test_resume_continues_identically(case, tmp_path):
    agent = _agent(case)
    agent.train_steps(60)
    # What the workflow keeps each period: weights + optimizer, agent state.
    checkpoint = str(tmp_path / "checkpoint.weights.h5")
    agent.model.save_weights(checkpoint)
    state = {k: np.array(v) for k, v in agent.get_state().items()}
    logs = agent.train_steps(80)
    weights = agent.model.get_weights()

    resumed = _agent(case)
    resumed.model.optimizer.build(resumed.model.trainable_variables)
    resumed.model.load_weights(checkpoint)
    resumed.set_state(state)
    logs_again = resumed.train_steps(80)
    assert logs_again.keys() == logs.keys()
    for key in logs:
        np.testing.assert_allclose(logs_again[key], logs[key], rtol=1e-5)
    for a, b in zip(weights, resumed.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert resumed.episode_returns == agent.episode_returns


def test_set_state_rejects_other_input():
    with pytest.raises(ValueError, match="Not an agent state"):
        _agent("dqn").set_state({"weights": np.zeros(1)})


@pytest.mark.parametrize("case", ["dqn", "a2c_pendulum"])
def test_same_seed_repeats_the_run(case):
    first, second = _agent(case), _agent(case)
    logs = [agent.train_steps(60) for agent in (first, second)]
    assert logs[0] == logs[1]
    for a, b in zip(first.model.get_weights(), second.model.get_weights(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
