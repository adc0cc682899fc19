"""Each agent's update on a fixed batch, target updates, bad inputs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerakit.models.rl.networks import actor_critic_mlp
from kerakit.models.rl.networks import policy_mlp
from kerakit.models.rl.networks import q_mlp
from kerakit.rl import agent_defaults
from kerakit.rl import get_agent
from kerakit.rl.update import forward_fn




def _compiled(model, lr=1e-2):
    model.compile(optimizer=keras.optimizers.get(
        {"class_name": "adam", "config": {"learning_rate": lr}}))
    return model


def _dqn(**config):
    model = _compiled(q_mlp((4,), num_actions=2, hidden_units=(16,)))
    return get_agent("dqn", model, "CartPole-v1",
                     {"learning_starts": 10**6, **config}, seed=0)


def _batch(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return {"observations": rng.normal(size=(n, 4)).astype("float32"),
            "actions": rng.integers(0, 2, n),
            "rewards": rng.normal(size=n).astype("float32"),
            "next_observations": rng.normal(size=(n, 4)).astype("float32"),
            "terminals": (rng.random(n) < 0.2).astype("float32")}


def test_dqn_loss_falls_on_a_fixed_batch():
    agent = _dqn(target_update_period=10**6)
    batch = _batch()
    targets = agent.td_targets(batch)
    losses = [agent.step({"observations": batch["observations"],
                          "actions": batch["actions"],
                          "targets": targets})["loss"] for _ in range(5)]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("double", [True, False])
def test_dqn_targets_against_numpy(double):
    agent = _dqn(double=double, gamma=0.9)
    agent.target.set_weights([w + 0.1 for w in agent.model.get_weights()])
    batch = _batch()
    q_online = forward_fn(agent.model)(batch["next_observations"])
    q_target = forward_fn(agent.target)(batch["next_observations"])
    pick = np.argmax(q_online if double else q_target, axis=1)
    want = batch["rewards"] + 0.9 * (1 - batch["terminals"]) * q_target[
        np.arange(32), pick]
    np.testing.assert_allclose(agent.td_targets(batch), want, rtol=1e-5,
                               atol=1e-6)


def test_hard_target_update_copies_every_period():
    agent = _dqn(target_update_period=3, tau=1.0)
    start = agent.target.get_weights()
    for _ in range(2):
        agent.update(_batch())
    for old, new in zip(start, agent.target.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    agent.update(_batch())
    for online, target in zip(agent.model.get_weights(),
                              agent.target.get_weights(), strict=True):
        np.testing.assert_array_equal(online, target)


def test_polyak_target_update_is_exact():
    agent = _dqn(target_update_period=1, tau=0.25)
    before = agent.target.get_weights()
    agent.update(_batch())
    online = agent.model.get_weights()
    for w, t, got in zip(online, before, agent.target.get_weights(),
                         strict=True):
        np.testing.assert_array_equal(got, 0.25 * w + 0.75 * t)
        assert not np.array_equal(got, t)


def _log_prob_of(agent, observations, actions):
    policy, _ = agent.policy_and_value(observations)
    if agent.info["discrete"]:
        log_pi = policy - np.log(np.exp(policy).sum(-1, keepdims=True))
        return log_pi[np.arange(len(actions)), actions]
    log_std = agent.log_std()
    z = (actions - policy) / np.exp(log_std)
    return (-0.5 * z**2 - log_std - 0.5 * np.log(2 * np.pi)).sum(-1)


@pytest.mark.parametrize("name", ["reinforce", "a2c"])
@pytest.mark.parametrize("continuous", [False, True])
def test_policy_update_raises_log_prob_of_good_actions(name, continuous):
    env, obs_dim = ("Pendulum-v1", 3) if continuous else ("CartPole-v1", 4)
    kwargs = {"action_dim": 1} if continuous else {"num_actions": 2}
    build = actor_critic_mlp if name == "a2c" else policy_mlp
    model = _compiled(build((obs_dim,), continuous=continuous,
                            hidden_units=(16,), **kwargs), lr=1e-2)
    agent = get_agent(name, model, env, {"entropy_coef": 0.0}, seed=0)
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(16, obs_dim)).astype("float32")
    actions = (rng.normal(size=(16, 1)).astype("float32") if continuous
               else rng.integers(0, 2, 16))
    advantages = np.where(np.arange(16) % 2 == 0, 1.0, -1.0).astype("float32")
    batch = {"observations": obs, "actions": actions,
             "advantages": advantages}
    if name == "a2c":
        batch["returns"] = np.full(16, 3.0, "float32")
    before = _log_prob_of(agent, obs, actions)
    losses = [agent.step(batch) for _ in range(3)]
    after = _log_prob_of(agent, obs, actions)
    change = (after - before) * advantages
    assert change.mean() > 0
    assert losses[-1]["policy_loss"] < losses[0]["policy_loss"]
    if name == "a2c":
        assert losses[-1]["value_loss"] < losses[0]["value_loss"]


def test_bad_inputs_are_clear():
    q = _compiled(q_mlp((3,), num_actions=2, hidden_units=(8,)))
    with pytest.raises(ValueError, match="dqn needs discrete actions.*"
                       "Pendulum-v1"):
        get_agent("dqn", q, "Pendulum-v1")
    q4 = _compiled(q_mlp((4,), num_actions=2, hidden_units=(8,)))
    with pytest.raises(ValueError, match="Unknown environment id"):
        get_agent("dqn", q4, "CartPole-v9")
    with pytest.raises(ValueError, match="Unknown agent 'dqm'.*'dqn'"):
        get_agent("dqm", q4, "CartPole-v1")
    with pytest.raises(ValueError, match="'gama' -> did you mean 'gamma'"):
        get_agent("dqn", q4, "CartPole-v1", {"gama": 0.9})
    with pytest.raises(ValueError, match="a2c needs a critic"):
        get_agent("a2c", q4, "CartPole-v1")
    three = _compiled(q_mlp((4,), num_actions=3, hidden_units=(8,)))
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        get_agent("dqn", three, "CartPole-v1")
    discrete = _compiled(policy_mlp((3,), num_actions=1, hidden_units=(8,)))
    with pytest.raises(ValueError, match="continuous=True"):
        get_agent("reinforce", discrete, "Pendulum-v1")
    with pytest.raises(ValueError, match="compile it first"):
        get_agent("dqn", q_mlp((4,), num_actions=2), "CartPole-v1")
    assert agent_defaults("dqn")["double"] is True
