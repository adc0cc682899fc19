"""Gymnasium environments: creation with clear errors, spaces, evaluation."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np


def _known_ids() -> list[str]:
    return sorted(gymnasium.envs.registry.keys())


def check_env_id(env_id: str) -> None:
    """Raise a `ValueError` listing close ids if `env_id` is not registered.

    Example:
    >>> check_env_id("CartPole-v1")
    >>> check_env_id("CartPol-v1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown environment id 'CartPol-v1'. Close ids: ...
    """
    known = _known_ids()
    if env_id in known:
        return
    close = difflib.get_close_matches(env_id, known, n=5, cutoff=0.6)
    hint = (f"Close ids: {', '.join(repr(c) for c in close)}. " if close
            else "")
    raise ValueError(
        f"Unknown environment id {env_id!r}. {hint}Shipped classic-control "
        "ids include 'CartPole-v1', 'Acrobot-v1', 'MountainCar-v0', "
        "'Pendulum-v1'; all ids: sorted(gymnasium.envs.registry)."
    )


def make_env(env_id: str, seed: int | None = None, num_envs: int = 1,
             **kwargs: Any) -> Any:
    """Make a gymnasium environment, or a synchronous vector of them.

    Args:
        env_id: A registered id such as `"CartPole-v1"`.
        seed: Seeds the first `reset` (env i of a vector gets `seed + i`)
            and the action spaces; `None` leaves them unseeded.
        num_envs: More than 1 gives a `gymnasium.vector.SyncVectorEnv`
            in SAME_STEP autoreset mode: an ended env resets within the
            same `step`, whose `infos["final_obs"]` holds the last
            observation of the old episode.
        **kwargs: Passed to `gymnasium.make` (e.g. `max_episode_steps`).

    Returns:
        The environment, already reset once when `seed` is given.

    Example:
    >>> env = make_env("CartPole-v1", seed=0, num_envs=2)
    >>> env.num_envs
    2
    """
    check_env_id(env_id)
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an int >= 1. Received: "
                         f"num_envs={num_envs!r}")
    if num_envs == 1:
        env = gymnasium.make(env_id, **kwargs)
    else:
        env = gymnasium.vector.SyncVectorEnv(
            # A partial, not a lambda: agents pickle their envs to resume.
            [functools.partial(gymnasium.make, env_id, **kwargs)] * num_envs,
            autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def space_info(env: Any) -> dict[str, Any]:
    """Describe an environment's observation and action spaces.

    Returns:
        `{"observation_shape", "discrete", "num_actions", "action_dim",
        "action_low", "action_high"}` (single-env spaces for vector envs;
        `num_actions` is None for continuous actions, `action_dim` None for
        discrete ones, bounds None for discrete).

    Example:
    >>> info = space_info(make_env("CartPole-v1"))
    >>> info["observation_shape"], info["discrete"], info["num_actions"]
    ((4,), True, 2)
    """
    observation_space = getattr(env, "single_observation_space",
                                env.observation_space)
    action_space = getattr(env, "single_action_space", env.action_space)
    spaces = gymnasium.spaces
    if isinstance(action_space, spaces.Discrete):
        discrete, num_actions, action_dim = True, int(action_space.n), None
        low = high = None
    elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        discrete, num_actions = False, None
        action_dim = int(action_space.shape[0])
        low = action_space.low.astype(np.float32)
        high = action_space.high.astype(np.float32)
    else:
        raise ValueError(
            f"Unsupported action space {action_space}: kerakit's agents take "
            "Discrete or one-dimensional Box actions."
        )
    if not isinstance(observation_space, spaces.Box):
        raise ValueError(
            f"Unsupported observation space {observation_space}: kerakit's "
            "agents take Box (array) observations; wrap the environment with "
            "e.g. gymnasium.wrappers.FlattenObservation."
        )
    return {"observation_shape": tuple(observation_space.shape),
            "discrete": discrete, "num_actions": num_actions,
            "action_dim": action_dim, "action_low": low, "action_high": high}


def evaluate_policy(act_fn: Callable[[np.ndarray], np.ndarray], env_id: str,
                    episodes: int = 10, seed: int = 0,
                    **kwargs: Any) -> dict[str, Any]:
    """Run full episodes with a policy; reproducible by `seed`.

    Episode i resets with seed `seed + i`, so two calls see the same
    episodes. The episodes run side by side in a vector env (batched
    acting), each only until its own first end.

    Args:
        act_fn: Maps a batch of observations `(B, *obs_shape)` to actions.
        env_id: Environment id.
        episodes: Number of episodes.
        seed: Seed of the first episode.
        **kwargs: Passed to `gymnasium.make`.

    Returns:
        `{"return_mean", "return_std", "returns", "lengths"}`.

    Example:
    >>> out = evaluate_policy(lambda obs: np.zeros(len(obs), "int64"),
    ...                       "CartPole-v1", episodes=2, seed=0)
    >>> len(out["returns"]), out["return_mean"] > 0
    (2, True)
    """
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be an int >= 1. Received: "
                         f"episodes={episodes!r}")
    check_env_id(env_id)
    envs = gymnasium.vector.SyncVectorEnv(
        [functools.partial(gymnasium.make, env_id, **kwargs)] * episodes,
        autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    obs, _ = envs.reset(seed=[seed + i for i in range(episodes)])
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    running = np.ones(episodes, dtype=bool)
    while running.any():
        actions = np.asarray(act_fn(obs))
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        returns += np.where(running, rewards, 0.0)
        lengths += running
        running &= ~(terminated | truncated)
    envs.close()
    return {"return_mean": float(returns.mean()),
            "return_std": float(returns.std()),
            "returns": returns.tolist(), "lengths": lengths.tolist()}
