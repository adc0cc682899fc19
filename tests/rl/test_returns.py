"""Returns, reward-to-go and GAE against hand-made episodes."""

from __future__ import annotations

import numpy as np
import pytest

from kerakit.rl.returns import discounted_returns
from kerakit.rl.returns import gae
from kerakit.rl.returns import normalise
from kerakit.rl.returns import reward_to_go


def test_reward_to_go_by_hand():
    # 1 + 0.9 * (2 + 0.9 * 3) = 5.23 ; 2 + 0.9 * 3 = 4.7 ; 3
    np.testing.assert_allclose(reward_to_go([1.0, 2.0, 3.0], 0.9),
                               [5.23, 4.7, 3.0], rtol=1e-6)


def test_discounted_returns_stop_at_episode_boundaries():
    rewards = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    dones = np.array([0, 1, 0, 0, 0])  # episode ends after step 1
    got = discounted_returns(rewards, dones, 0.5, bootstrap=4.0)
    # second episode bootstraps from 4: 1 + .5 (1 + .5 (1 + .5 * 4))
    np.testing.assert_allclose(got, [1.5, 1.0, 2.25, 2.5, 3.0])


def test_discounted_returns_per_env_axis():
    rewards = np.ones((3, 2))
    dones = np.array([[0, 0], [0, 1], [0, 0]])
    got = discounted_returns(rewards, dones, 1.0)
    np.testing.assert_allclose(got, [[3, 2], [2, 1], [1, 1]])


def _gae_loop(rewards, values, next_values, terminals, dones, gamma, lam):
    # Straight from Schulman et al. (2016) eq. 16, written independently.
    advantages = []
    for t in range(len(rewards)):
        total, weight = 0.0, 1.0
        for k in range(t, len(rewards)):
            delta = (rewards[k] + gamma * next_values[k]
                     * (1 - terminals[k]) - values[k])
            total += weight * delta
            if dones[k]:
                break
            weight *= gamma * lam
        advantages.append(total)
    return np.array(advantages)


@pytest.mark.parametrize("lam", [0.0, 0.95, 1.0])
def test_gae_matches_definition_with_termination_and_truncation(lam):
    rewards = np.array([1.0, 0.5, 2.0, 1.0, 0.0, 3.0])
    values = np.array([0.3, 0.2, 0.7, 0.1, 0.4, 0.9])
    dones = np.array([0, 1, 0, 1, 0, 0])
    terminals = np.array([0, 1, 0, 0, 0, 0])  # step 3 is a truncation
    final_value = 5.0  # V of the truncated episode's last observation
    last_value = 0.6
    next_values = np.array([0.2, 0.7, 0.1, final_value, 0.9, last_value])
    adv, ret = gae(rewards, values, dones, 0.9, lam, last_values=last_value,
                   terminals=terminals, next_values=next_values)
    want = _gae_loop(rewards, values, next_values, terminals, dones, 0.9, lam)
    np.testing.assert_allclose(adv, want, rtol=1e-5)
    np.testing.assert_allclose(ret, want + values, rtol=1e-5)


def test_gae_lambda_one_equals_discounted_returns_minus_values():
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    dones = (rng.random((7, 3)) < 0.3).astype(float)
    last = rng.normal(size=3)
    adv, _ = gae(rewards, values, dones, 0.97, 1.0, last_values=last)
    want = discounted_returns(rewards, dones, 0.97, bootstrap=last) - values
    np.testing.assert_allclose(adv, want, rtol=1e-4, atol=1e-5)


def test_normalise_and_bad_shapes():
    x = normalise(np.array([1.0, 2.0, 3.0]))
    assert abs(x.mean()) < 1e-6 and abs(x.std() - 1) < 1e-4
    with pytest.raises(ValueError, match="dones must have the shape"):
        discounted_returns(np.ones(3), np.ones(2), 0.9)
