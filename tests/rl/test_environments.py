"""make_env, space_info and evaluate_policy."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from kerakit.rl import evaluate_policy
from kerakit.rl import make_env
from kerakit.rl import space_info


def test_unknown_env_lists_close_ids():
    with pytest.raises(ValueError, match="Unknown environment id "
                       "'CartPol-v1'.*'CartPole-v1'"):
        make_env("CartPol-v1")


def test_vector_env_and_spaces():
    env = make_env("CartPole-v1", seed=0, num_envs=3)
    assert isinstance(env, gymnasium.vector.SyncVectorEnv)
    info = space_info(env)
    assert info["observation_shape"] == (4,)
    assert (info["discrete"], info["num_actions"]) == (True, 2)
    pendulum = space_info(make_env("Pendulum-v1"))
    assert (pendulum["discrete"], pendulum["action_dim"]) == (False, 1)
    np.testing.assert_allclose(pendulum["action_high"], [2.0])
    with pytest.raises(ValueError, match="num_envs"):
        make_env("CartPole-v1", num_envs=0)


def test_evaluate_policy_is_reproducible_and_exact():
    def left(obs):
        return np.zeros(len(obs), dtype=np.int64)

    first = evaluate_policy(left, "CartPole-v1", episodes=3, seed=5)
    again = evaluate_policy(left, "CartPole-v1", episodes=3, seed=5)
    assert first == again
    # The same episodes played one by one with gymnasium directly.
    for i, length in enumerate(first["lengths"]):
        env = gymnasium.make("CartPole-v1")
        env.reset(seed=5 + i)
        steps, done = 0, False
        while not done:
            _, _, terminated, truncated, _ = env.step(0)
            steps, done = steps + 1, terminated or truncated
        assert steps == length == first["returns"][i]
    with pytest.raises(ValueError, match="episodes"):
        evaluate_policy(left, "CartPole-v1", episodes=0)
