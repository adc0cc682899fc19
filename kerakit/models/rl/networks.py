"""Networks of RL agents: Q-networks, policies and actor-critics.

All take an observation shape as `input_shape` and the number of discrete
actions as `num_actions` (alias `num_classes`, which the workflow passes),
or the action dimension as `action_dim` for continuous policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from kerakit.heads import input_dtype
from kerakit.models.rl.layers import DuelingCombine
from kerakit.models.rl.layers import GaussianLogStd
from kerakit.registry import register
from kerakit.testing import SweepData

_TASK = "reinforcement_learning"


def _action_count(num_classes: int | None, num_actions: int | None,
                  action_dim: int | None, name: str) -> int:
    given = [v for v in (num_actions, action_dim, num_classes) if v is not None]
    if not given or not isinstance(given[0], int) or given[0] < 1:
        raise ValueError(
            f"{name}: pass num_actions (discrete) or action_dim (continuous) "
            f">= 1. Received: num_actions={num_actions!r}, action_dim="
            f"{action_dim!r}, num_classes={num_classes!r}"
        )
    return given[0]


def _inputs(input_shape: Sequence[int], dtype: Any, name: str) -> Any:
    if not input_shape or any(s is None or s < 1 for s in input_shape):
        raise ValueError(
            f"{name}: input_shape must be the observation shape with known "
            f"positive sizes, e.g. (4,). Received: input_shape={input_shape!r}"
        )
    return keras.Input(tuple(input_shape), dtype=input_dtype(dtype),
                       name="observations")


def _torso(x: Any, hidden_units: Sequence[int], activation: str, dtype: Any,
           name: str) -> Any:
    if len(x.shape) > 2:
        x = keras.layers.Flatten(dtype=dtype, name=f"{name}_flatten")(x)
    for i, units in enumerate(hidden_units, 1):
        x = keras.layers.Dense(units, activation=activation, dtype=dtype,
                               name=f"{name}_dense{i}")(x)
    return x


def _q_head(x: Any, num_actions: int, dueling: bool, dtype: Any,
            name: str) -> Any:
    if not dueling:
        return keras.layers.Dense(num_actions, dtype=dtype,
                                  name=f"{name}_q")(x)
    value = keras.layers.Dense(1, dtype=dtype, name=f"{name}_value")(x)
    advantages = keras.layers.Dense(num_actions, dtype=dtype,
                                    name=f"{name}_advantages")(x)
    return DuelingCombine(dtype=dtype, name=f"{name}_q")([value, advantages])


def _policy_head(x: Any, units: int, continuous: bool, initial_log_std: float,
                 dtype: Any, name: str) -> Any:
    if not continuous:
        return keras.layers.Dense(units, dtype=dtype, name=f"{name}_logits")(x)
    mean = keras.layers.Dense(
        units, dtype=dtype, name=f"{name}_mean",
        kernel_initializer=keras.initializers.VarianceScaling(0.01),
    )(x)
    return GaussianLogStd(initial_log_std, dtype=dtype,
                          name=f"{name}_log_std")(mean)


def _sweep_data(kwargs: Mapping[str, Any], *, kind: str) -> SweepData:
    rng = np.random.default_rng(0)
    shape = tuple(kwargs["input_shape"])
    x = rng.normal(size=(8, *shape)).astype("float32")
    n = kwargs.get("num_actions") or kwargs.get("num_classes")
    if kind == "q":
        y = rng.normal(size=(8, n)).astype("float32")
        return SweepData(x, y, "mse", (8, n))
    logits = np.arange(8) % n
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if kind == "policy":
        return SweepData(x, logits, ce, (8, n))
    y = {"policy": logits, "value": rng.normal(size=(8, 1)).astype("float32")}
    return SweepData(x, y, {"policy": ce, "value": "mse"},
                     {"policy": (8, n), "value": (8, 1)})


@register(
    family="dqn", task=_TASK,
    tiny={"input_shape": (36, 36, 2), "num_actions": 3, "name": "dqn_nature"},
    reference="Mnih et al., 2015. Human-level control through deep "
    "reinforcement learning. https://doi.org/10.1038/nature14236",
    canonical={"input_shape": (84, 84, 4), "num_actions": 6},
    params=1_684_128 + 513 * 6,
    test={"data": lambda kw: _sweep_data(kw, kind="q")},
)
def dqn_nature(
    input_shape: Sequence[int] = (84, 84, 4),
    num_classes: int | None = None,
    *,
    num_actions: int | None = None,
    dueling: bool = False,
    input_scale: float | None = 1 / 255,
    dtype: Any = None,
    name: str = "dqn_nature",
) -> keras.Model:
    """Build the Nature DQN Q-network for stacked Atari frames.

    conv 32@8x8/4 - conv 64@4x4/2 - conv 64@3x3/1 - dense 512 - dense n,
    ReLU everywhere but the output (1,684,128 + 513 n parameters at
    84x84x4).

    Args:
        input_shape: Stacked frames, `(84, 84, 4)` in the paper.
        num_classes: Alias of `num_actions` (what the workflow passes).
        num_actions: Number of discrete actions (Q-values out).
        dueling: Split into value and advantage streams (Wang et al., 2016).
        input_scale: Factor applied to the frames first (`1/255` for uint8
            pixels; `None` for none).
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from observations to Q-values `(B, n)`.

    Example:
    >>> m = dqn_nature(num_actions=4)
    >>> m.count_params() == 1_684_128 + 513 * 4
    True

    Reference:
        Mnih et al., 2015. https://doi.org/10.1038/nature14236
    """
    n = _action_count(num_classes, num_actions, None, name)
    inputs = _inputs(input_shape, dtype, name)
    x = inputs
    if input_scale is not None:
        x = keras.layers.Rescaling(input_scale, dtype=dtype,
                                   name=f"{name}_rescale")(x)
    for i, (filters, size, stride) in enumerate(
            ((32, 8, 4), (64, 4, 2), (64, 3, 1)), 1):
        x = keras.layers.Conv2D(filters, size, strides=stride,
                                activation="relu", dtype=dtype,
                                name=f"{name}_conv{i}")(x)
    x = _torso(x, (512,), "relu", dtype, name)
    return keras.Model(inputs, _q_head(x, n, dueling, dtype, name), name=name)


@register(
    family="q_mlp", task=_TASK,
    tiny={"input_shape": (4,), "num_actions": 2, "hidden_units": (8, 8)},
    reference="Mnih et al., 2015 (DQN); Wang et al., 2016 (dueling).",
    test={"data": lambda kw: _sweep_data(kw, kind="q")},
)
def q_mlp(
    input_shape: Sequence[int] = (4,),
    num_classes: int | None = None,
    *,
    num_actions: int | None = None,
    hidden_units: Sequence[int] = (64, 64),
    activation: str = "relu",
    dueling: bool = False,
    dtype: Any = None,
    name: str = "q_mlp",
) -> keras.Model:
    """Build an MLP Q-network for vector observations.

    Args:
        input_shape: Observation shape (flattened if it has several axes).
        num_classes: Alias of `num_actions` (what the workflow passes).
        num_actions: Number of discrete actions (Q-values out).
        hidden_units: Width of each hidden Dense layer.
        activation: Hidden activation.
        dueling: Split into value and advantage streams (Wang et al., 2016).
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from observations to Q-values `(B, n)`.

    Example:
    >>> q_mlp((4,), num_actions=2, hidden_units=(8,), dueling=True).output_shape
    (None, 2)

    Reference:
        Wang et al., 2016. https://arxiv.org/abs/1511.06581
    """
    n = _action_count(num_classes, num_actions, None, name)
    inputs = _inputs(input_shape, dtype, name)
    x = _torso(inputs, hidden_units, activation, dtype, name)
    return keras.Model(inputs, _q_head(x, n, dueling, dtype, name), name=name)


@register(
    family="policy_mlp", task=_TASK,
    tiny={"input_shape": (4,), "num_actions": 2, "hidden_units": (8, 8)},
    reference="Williams, 1992. Simple statistical gradient-following "
    "algorithms for connectionist reinforcement learning.",
    test={"data": lambda kw: _sweep_data(kw, kind="policy")},
)
def policy_mlp(
    input_shape: Sequence[int] = (4,),
    num_classes: int | None = None,
    *,
    num_actions: int | None = None,
    action_dim: int | None = None,
    continuous: bool = False,
    hidden_units: Sequence[int] = (64, 64),
    activation: str = "tanh",
    initial_log_std: float = 0.0,
    dtype: Any = None,
    name: str = "policy_mlp",
) -> keras.Model:
    """Build an MLP policy: action logits, or a Gaussian mean.

    Args:
        input_shape: Observation shape (flattened if it has several axes).
        num_classes: Alias of `num_actions` / `action_dim`.
        num_actions: Number of discrete actions (logits out).
        action_dim: Action dimension of a continuous policy.
        continuous: Output a Gaussian mean `(B, action_dim)`; its
            state-independent log-std is the weight of a `GaussianLogStd`
            layer.
        hidden_units: Width of each hidden Dense layer.
        activation: Hidden activation.
        initial_log_std: Starting log-std of a continuous policy.
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from observations to logits or means.

    Example:
    >>> policy_mlp((3,), action_dim=1, continuous=True).output_shape
    (None, 1)

    Reference:
        Williams, 1992. https://doi.org/10.1007/BF00992696
    """
    n = _action_count(num_classes, num_actions, action_dim, name)
    inputs = _inputs(input_shape, dtype, name)
    x = _torso(inputs, hidden_units, activation, dtype, name)
    out = _policy_head(x, n, continuous, initial_log_std, dtype, name)
    return keras.Model(inputs, out, name=name)


@register(
    family="actor_critic_mlp", task=_TASK,
    tiny={"input_shape": (4,), "num_actions": 2, "hidden_units": (8, 8)},
    reference="Mnih et al., 2016. Asynchronous methods for deep "
    "reinforcement learning. https://arxiv.org/abs/1602.01783",
    test={"data": lambda kw: _sweep_data(kw, kind="actor_critic")},
)
def actor_critic_mlp(
    input_shape: Sequence[int] = (4,),
    num_classes: int | None = None,
    *,
    num_actions: int | None = None,
    action_dim: int | None = None,
    continuous: bool = False,
    hidden_units: Sequence[int] = (64, 64),
    activation: str = "tanh",
    shared: bool = False,
    initial_log_std: float = 0.0,
    dtype: Any = None,
    name: str = "actor_critic_mlp",
) -> keras.Model:
    """Build an MLP actor-critic: a policy head and a state-value head.

    Args:
        input_shape: Observation shape (flattened if it has several axes).
        num_classes: Alias of `num_actions` / `action_dim`.
        num_actions: Number of discrete actions (logits out).
        action_dim: Action dimension of a continuous (Gaussian) policy.
        continuous: Output a Gaussian mean; its log-std is the weight of a
            `GaussianLogStd` layer.
        hidden_units: Width of each hidden Dense layer.
        activation: Hidden activation.
        shared: One torso for both heads instead of two separate ones.
        initial_log_std: Starting log-std of a continuous policy.
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from observations to
        `{"policy": logits or mean, "value": (B, 1)}`.

    Example:
    >>> m = actor_critic_mlp((4,), num_actions=2, hidden_units=(8,))
    >>> sorted(m.output)
    ['policy', 'value']

    Reference:
        Mnih et al., 2016. https://arxiv.org/abs/1602.01783
    """
    n = _action_count(num_classes, num_actions, action_dim, name)
    inputs = _inputs(input_shape, dtype, name)
    if shared:
        actor = critic = _torso(inputs, hidden_units, activation, dtype, name)
    else:
        actor = _torso(inputs, hidden_units, activation, dtype,
                       f"{name}_actor")
        critic = _torso(inputs, hidden_units, activation, dtype,
                        f"{name}_critic")
    policy = _policy_head(actor, n, continuous, initial_log_std, dtype, name)
    value = keras.layers.Dense(1, dtype=dtype, name=f"{name}_value")(critic)
    return keras.Model(inputs, {"policy": policy, "value": value}, name=name)
