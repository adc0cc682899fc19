"""RL networks: standard model test, heads, canonical DQN count."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.rl.layers import GaussianLogStd
from kerakit.models.rl.networks import actor_critic_mlp
from kerakit.models.rl.networks import dqn_nature
from kerakit.models.rl.networks import policy_mlp
from kerakit.models.rl.networks import q_mlp
from kerakit.testing import ModelTestCase
from kerakit.testing import sweep_case

# The registered tiny settings pass the standard test in
# tests/models/test_sweep.py (it covers every registered model); here the
# settings the sweep does not build: dueling heads, continuous policies.


def test_dueling_head_passes_the_standard_test(tmp_path):
    x = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
    ModelTestCase().run_model_test(
        q_mlp, {"input_shape": (4,), "num_actions": 3, "hidden_units": (8,),
                "dueling": True}, x, (4, 3),
        targets=np.ones((4, 3), "float32"), loss="mse",
        tmp_dir=str(tmp_path))


def test_registered_settings_build_through_the_sweep():
    for name in ("dqn_nature", "q_mlp", "policy_mlp", "actor_critic_mlp"):
        fn, kwargs, data = sweep_case(name)
        assert name in kerakit.list_models(task="reinforcement_learning")
        assert data.expected_output_shape is not None


def test_dueling_q_is_value_plus_centred_advantage():
    model = q_mlp((4,), num_actions=3, hidden_units=(8,), dueling=True)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    torso = keras.Model(model.input, model.get_layer("q_mlp_dense1").output)
    h = keras.ops.convert_to_numpy(torso(x))
    v_layer, a_layer = model.get_layer("q_mlp_value"), model.get_layer(
        "q_mlp_advantages")
    value = keras.ops.convert_to_numpy(v_layer(h))
    adv = keras.ops.convert_to_numpy(a_layer(h))
    want = value + adv - adv.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), want,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", [policy_mlp, actor_critic_mlp])
def test_continuous_policy_has_mean_and_log_std(fn, tmp_path):
    model = fn((3,), action_dim=2, continuous=True, hidden_units=(8,),
               initial_log_std=-0.5)
    x = np.ones((4, 3), "float32")
    expected = ((4, 2) if fn is policy_mlp
                else {"policy": (4, 2), "value": (4, 1)})
    case = ModelTestCase()
    outputs = case._check_shape(model, x, expected)
    case._check_saving(model, x, outputs, str(tmp_path))
    layers = [la for la in model.layers if isinstance(la, GaussianLogStd)]
    assert len(layers) == 1
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layers[0].log_std), [-0.5, -0.5])


def test_num_classes_is_an_alias_and_bad_arguments_are_clear():
    a = kerakit.build("q_mlp", input_shape=(4,), num_classes=2)
    assert a.output_shape == (None, 2)
    b = kerakit.build("actor_critic_mlp", input_shape=(4,), num_classes=3,
                      shared=True)
    assert keras.ops.convert_to_numpy(
        b(np.zeros((1, 4)))["policy"]).shape == (1, 3)
    with pytest.raises(ValueError, match="pass num_actions"):
        q_mlp((4,))
    with pytest.raises(ValueError, match="input_shape must be the "
                       "observation shape"):
        policy_mlp((0,), num_actions=2)


def test_dqn_nature_canonical_count_formula():
    # conv 8x8x4x32 + 32 = 8,224; 4x4x32x64 + 64 = 32,832;
    # 3x3x64x64 + 64 = 36,928; 7x7x64 -> 512: 3,136 x 512 + 512 =
    # 1,606,144; total 1,684,128, plus 513 per action (512 + bias).
    for n in (4, 18):
        assert dqn_nature(num_actions=n).count_params() == 1_684_128 + 513 * n
        keras.backend.clear_session()
