"""The reinforcement-learning task through the workflow: tiny DQN runs."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import kerakit
from kerakit.tasks import reinforcement_learning as rl
from kerakit.tasks.rl_support import act
from kerakit.workflow import inference
from kerakit.workflow import recipes
from kerakit.workflow import training

TINY = {"epochs": 2, "model_kwargs.hidden_units": [8],
        "agent.steps_per_epoch": 60, "agent.learning_starts": 20,
        "agent.batch_size": 8, "agent.target_update_period": 10,
        "agent.train_frequency": 1, "agent.gradient_steps": 1,
        "dataset.validation_episodes": 2, "dataset.test_episodes": 3}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _recipe(**overrides):
    return recipes.load_recipe("dqn_cartpole", {**TINY, **overrides})


class KillAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_train_resume_exactly_predict_and_act(tmp_path):
    recipe = _recipe()
    whole = training.train(recipe, tmp_path / "whole", verbose=0)
    run = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        training.train(recipe, run, verbose=0,
                       callbacks=[KillAfterFirstEpoch()])
    resumed = training.train(recipe, run, verbose=0)
    # Replay buffer, target network, environment and random states came
    # back: the resumed run repeats the uninterrupted one exactly.
    assert resumed.metrics["resumed_from"] == [1]
    assert resumed.history == whole.history
    for a, b in zip(whole.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["monitor"] == "val_return"
    assert set(metrics["test"]) == {"return", "return_std", "episode_length"}
    assert metrics["examples"] == {"validation": 2, "test": 3}
    assert metrics["env_steps"] == 120 and metrics["cpu_seconds"] > 0
    assert metrics["random_return"]["mean"] > 0
    assert metrics["validation"]["return"] == metrics["best_value"]
    # `kerakit evaluate RUN` replays the same fixed-seed test episodes.
    assert inference.evaluate_run(run) == pytest.approx(metrics["test"])
    for name in ("episodes.png", "agent_state.npz", "best.keras"):
        assert (run / name).is_file()
    observations = np.array([[0.0, 0.0, 0.05, 0.0], [0.0, 0.0, -0.05, 0.0]])
    out = kerakit.predict(run, observations)
    assert out["actions"].shape == (2,) and out["actions"].dtype == "int64"
    np.testing.assert_array_equal(act(run, observations), out["actions"])
    assert act(run, observations[0]) == out["actions"][0]
    assert kerakit.act is act  # the facade names the same helper
    np.save(tmp_path / "obs.npy", observations)
    assert kerakit.predict(run, str(tmp_path / "obs.npy"))[
        "actions"].tolist() == out["actions"].tolist()
    with pytest.raises(ValueError, match=r"observations have shape \(4, 3\)"):
        kerakit.predict(run, np.zeros((4, 3)))


def test_stops_once_the_reward_threshold_is_reached(tmp_path, monkeypatch):
    def low_threshold(env_id):
        info = real(env_id)
        info.reward_threshold = 1.0
        return info

    real = rl.environment_info
    monkeypatch.setattr(rl, "environment_info", low_threshold)
    result = training.train(_recipe(epochs=5), tmp_path / "run", verbose=0)
    assert result.metrics["epochs_run"] == 1
    assert result.metrics["reward_threshold_reached_epoch"] == 1


def test_a_lost_agent_state_is_refused_on_resume(tmp_path):
    recipe = _recipe()
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        training.train(recipe, run, verbose=0,
                       callbacks=[KillAfterFirstEpoch()])
    for name in ("agent_state.npz", "agent_state.previous.npz"):
        (run / name).unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError, match="no agent state"):
        training.train(recipe, run, verbose=0)


@pytest.mark.parametrize("overrides, match", [
    ({"dataset.name": "gym:CartPol-v1"}, "'CartPole-v1'"),
    ({"dataset.name": "digits"}, "gym:ENV_ID"),
    ({"dataset.name": "gym:Pendulum-v1"}, "needs discrete actions"),
    ({"agent.gama": 0.9}, r"agent\.gama.*gamma"),
    ({"agent.name": "dqm"}, "Did you mean 'dqn'"),
    ({"agent.steps_per_epoch": 0}, "steps_per_epoch"),
    ({"loss": "mean_squared_error"}, "computes its own loss"),
    ({"optimizer.schedule": "cosine"}, "constant"),
])
def test_bad_recipes_are_refused_on_load(overrides, match):
    with pytest.raises(recipes.RecipeError, match=match):
        _recipe(**overrides)


def test_agent_table_belongs_to_reinforcement_learning():
    with pytest.raises(recipes.RecipeError, match="agent.*applies only"):
        recipes.load_recipe("mlp_digits", {"agent.name": "dqn"})


def test_continuous_environment_splits():
    splits = rl.ReinforcementLearningTask().load_splits(
        {"name": "gym:Pendulum-v1", "validation_episodes": 2,
         "test_episodes": 4}, {}, seed=3)
    assert splits.input_shape == (3,) and splits.num_classes == 1
    assert splits.model_arguments == {"continuous": True}
    assert splits.test.seed == 3 + rl.TEST_SEED and splits.test.count == 4
    model = kerakit.build("policy_mlp", input_shape=(3,), num_classes=1,
                          continuous=True, hidden_units=(4,))
    actions = act(model, np.zeros((2, 3)), splits.preprocessor)
    assert actions.shape == (2, 1)
    assert (np.abs(actions) <= 2.0).all()  # Pendulum's torque bounds


def test_improves_over_a_random_policy(tmp_path):
    result = training.train(
        _recipe(**{"epochs": 4, "model_kwargs.hidden_units": [64, 64],
                   "optimizer.learning_rate": 1e-3,
                   "agent.epsilon_end": 0.05,
                   "agent.steps_per_epoch": 500,
                   "agent.learning_starts": 200,
                   "agent.epsilon_decay_steps": 1500,
                   "agent.batch_size": 32,
                   "agent.target_update_period": 100,
                   "dataset.validation_episodes": 5,
                   "dataset.test_episodes": 10}), tmp_path / "run",
        verbose=0)
    metrics = result.metrics
    # A random policy balances the pole for ~22 steps.
    assert metrics["test"]["return"] > 2 * metrics["random_return"]["mean"]


@pytest.mark.parametrize("name, tiny", [
    ("reinforce_cartpole", {"agent.episodes_per_update": 1}),
    ("a2c_cartpole", {"agent.num_envs": 2, "agent.n_steps": 4}),
    ("a2c_pendulum", {"agent.num_envs": 2, "agent.n_steps": 4}),
])
def test_shipped_policy_recipes_train(name, tiny, tmp_path):
    recipe = recipes.load_recipe(name, {
        "epochs": 1, "model_kwargs.hidden_units": [8],
        "agent.steps_per_epoch": 40, "dataset.validation_episodes": 1,
        "dataset.test_episodes": 2, **tiny})
    result = training.train(recipe, tmp_path / "run", verbose=0)
    assert result.metrics["env_steps"] >= 40
    assert np.isfinite(result.metrics["test"]["return"])
    assert (tmp_path / "run" / "episodes.png").is_file()
    info = training.load_splits(recipe).preprocessor
    actions = kerakit.predict(tmp_path / "run", np.zeros(
        (3, *info.observation_shape)))["actions"]
    assert len(actions) == 3
    if not info.discrete:  # Pendulum: torques within the bounds
        assert actions.shape == (3, 1) and (np.abs(actions) <= 2).all()
