"""What the reinforcement-learning task keeps beside the model.

- :class:`EnvironmentInfo`: the environment a run trained on (id, spaces,
  reward threshold), saved as the run's `preprocessing.json`, so that
  `kerakit.predict` and :func:`act` know how to turn network outputs into
  actions;
- :class:`Episodes`: the evaluation and test episodes of a run (the RL
  validation and test "splits": an environment id, a count, fixed seeds);
- :func:`act`: greedy actions of a network (or of a finished run);
- :func:`save_agent_state` / :func:`load_agent_state`: the agent's state
  beyond the model's weights (replay buffer, target network, counters,
  random states) and the task's progress, written atomically once per
  evaluation period; the previous period's file is kept, so that a kill
  between this file and the workflow's checkpoint still finds the state of
  the epoch the checkpoint records;
- :func:`plot_episodes`: `episodes.png`, training and evaluation returns.

Example:
>>> info = EnvironmentInfo("CartPole-v1", (4,), True, 2)
>>> info.class_names
['0', '1']
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

STATE_FILE = "agent_state.npz"
PREVIOUS_STATE_FILE = "agent_state.previous.npz"
TEMPORARY_STATE_FILE = "agent_state.tmp.npz"
PLOT_FILE = "episodes.png"
_PROGRESS = "__progress__"


@dataclasses.dataclass
class EnvironmentInfo:
    """The environment of a run: what acting and predicting need.

    Attributes:
        env_id: Gymnasium id, e.g. `"CartPole-v1"`.
        observation_shape: Shape of one observation.
        discrete: Discrete actions (an index) or continuous (a vector).
        num_actions: Discrete actions (or the action dimension).
        action_low / action_high: Bounds of continuous actions.
        reward_threshold: The return at which the environment counts as
            solved (`None` if it has none).
    """

    env_id: str
    observation_shape: tuple
    discrete: bool
    num_actions: int
    action_low: list | None = None
    action_high: list | None = None
    reward_threshold: float | None = None

    @property
    def class_names(self) -> list[str]:
        """Names of the discrete actions (none for continuous ones)."""
        return [str(a) for a in range(self.num_actions)] if (
            self.discrete) else []

    def save(self, path: str | os.PathLike) -> None:
        """Write as JSON, atomically."""
        data = dataclasses.asdict(self)
        data["observation_shape"] = list(self.observation_shape)
        tmp = f"{path}.tmp"
        Path(tmp).write_text(json.dumps(data, indent=2))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> EnvironmentInfo:
        """Read what `save` wrote."""
        data = json.loads(Path(path).read_text())
        data["observation_shape"] = tuple(data["observation_shape"])
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class Episodes:
    """Episodes of an environment at fixed seeds: `seed`, `seed + 1`, ...

    `count` 0 (the training "split") means: as many as the agent plays.
    """

    env_id: str
    count: int
    seed: int


def greedy_actions(outputs: Any, info: EnvironmentInfo) -> np.ndarray:
    """Actions from a network's outputs for a batch: the best discrete
    action (Q-values or logits), or the mean clipped to the bounds.

    Example:
    >>> info = EnvironmentInfo("CartPole-v1", (4,), True, 2)
    >>> greedy_actions(np.array([[0.1, 0.7], [2.0, -1.0]]), info).tolist()
    [1, 0]
    """
    if isinstance(outputs, dict):
        outputs = outputs["policy"]  # an actor-critic's policy head
    outputs = np.asarray(keras.ops.convert_to_numpy(outputs))
    if info.discrete:
        return outputs.argmax(axis=-1).astype("int64")
    return np.clip(outputs, info.action_low, info.action_high).astype(
        "float32")


def act(policy: Any, observations: Any,
        info: EnvironmentInfo | None = None) -> np.ndarray:
    """Greedy actions of a network or of a finished run's best policy.

    Args:
        policy: A run directory (its `best.keras` and `preprocessing.json`
            are read), or a `keras.Model` with `info`.
        observations: One observation or a batch of them.
        info: The environment (`EnvironmentInfo`); only with a model.

    Returns:
        An action per observation (`(N,)` indices or `(N, d)` vectors),
        or one action for one observation.

    Example:
        run = kerakit.train("dqn_cartpole").run_dir
        env = gymnasium.make("CartPole-v1")
        obs, _ = env.reset(seed=0)
        action = act(run, obs)
    """
    if not isinstance(policy, keras.Model):
        from kerakit.saving import load_model

        info = EnvironmentInfo.load(Path(policy) / "preprocessing.json")
        policy = load_model(Path(policy) / "best.keras")
    if info is None:
        raise ValueError("act(model, observations, info): give the "
                         "EnvironmentInfo with a model, or a run directory.")
    batch = check_observations(observations, info)
    actions = greedy_actions(policy(batch, training=False), info)
    single = np.ndim(observations) == len(info.observation_shape)
    return actions[0] if single else actions


def check_observations(observations: Any,
                       info: EnvironmentInfo) -> np.ndarray:
    """A float32 batch of observations, refusing the wrong shape or NaN.

    Example:
    >>> info = EnvironmentInfo("CartPole-v1", (4,), True, 2)
    >>> check_observations([0.0, 0.1, 0.0, -0.1], info).shape
    (1, 4)
    """
    x = np.asarray(observations, dtype="float32")
    shape = tuple(info.observation_shape)
    if x.shape == shape:
        x = x[None]
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise ValueError(
            f"The observations have shape {x.shape}, but {info.env_id} "
            f"observations have shape {shape}: give one observation or a "
            f"batch (N, {', '.join(map(str, shape))}).")
    if not np.isfinite(x).all():
        raise ValueError("The observations hold NaN or infinite values.")
    return x


def random_actions(info: EnvironmentInfo, seed: int) -> Any:
    """`act_fn` of the uniform random policy (the baseline), seeded."""
    rng = np.random.default_rng(seed)

    def act_fn(observations: np.ndarray) -> np.ndarray:
        if info.discrete:
            return rng.integers(info.num_actions, size=len(observations))
        return rng.uniform(info.action_low, info.action_high,
                           size=(len(observations), info.num_actions)
                           ).astype("float32")

    return act_fn


# ------------------------------------------------------------ agent state
def save_agent_state(run_dir: Path, state: dict[str, np.ndarray],
                     progress: dict[str, Any]) -> None:
    """Write the agent's state and the task's progress (one period).

    The file is written to a temporary name and renamed; the state it
    replaces becomes `PREVIOUS_STATE_FILE`.
    """
    tmp = run_dir / TEMPORARY_STATE_FILE
    arrays = {f"agent/{k}": np.asarray(v) for k, v in state.items()}
    arrays[_PROGRESS] = np.array(json.dumps(progress))
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    if (run_dir / STATE_FILE).exists():
        os.replace(run_dir / STATE_FILE, run_dir / PREVIOUS_STATE_FILE)
    os.replace(tmp, run_dir / STATE_FILE)


def _read(path: Path, arrays: bool) -> tuple[dict, dict[str, Any]]:
    with np.load(path, allow_pickle=False) as data:
        progress = json.loads(str(data[_PROGRESS]))
        state = {k[len("agent/"):]: data[k] for k in data.files
                 if k.startswith("agent/")} if arrays else {}
    return state, progress


def load_agent_state(run_dir: Path, epoch: int
                     ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The agent state and progress saved after `epoch` periods.

    Raises:
        FileNotFoundError: No saved state is at that epoch.
    """
    found = []
    for name in (STATE_FILE, TEMPORARY_STATE_FILE, PREVIOUS_STATE_FILE):
        path = run_dir / name
        if not path.is_file():
            continue
        try:
            _, progress = _read(path, arrays=False)
        except (OSError, ValueError, KeyError):
            continue  # a file cut short by a kill
        if progress["epoch"] == epoch:
            if name != STATE_FILE:  # so that the next save keeps it
                os.replace(path, run_dir / STATE_FILE)
            return _read(run_dir / STATE_FILE, arrays=True)
        found.append(progress["epoch"])
    raise FileNotFoundError(
        f"{run_dir}: the checkpoint is at epoch {epoch} but no agent state "
        f"of that epoch was found (found epochs {found}), so the replay "
        "buffer and counters cannot be restored: train again with "
        "restart=True (--restart) to start the run over.")


def read_progress(run_dir: Path) -> dict[str, Any]:
    """The progress of the latest saved period (`{}` if none)."""
    path = run_dir / STATE_FILE
    return _read(path, arrays=False)[1] if path.is_file() else {}


def plot_episodes(path: Path, progress: dict[str, Any],
                  info: EnvironmentInfo, title: str) -> None:
    """Save `episodes.png`: training and evaluation returns per env step."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    periods = progress.get("periods", [])
    steps = [p["env_steps"] for p in periods]
    fig, ax = plt.subplots(figsize=(7, 4))
    episodes = progress.get("episodes", [])
    if episodes:
        ax.plot(*zip(*episodes), ".", ms=2, alpha=0.3, color="tab:blue",
                label="training episodes")
    train = [(s, p["train_return"]) for s, p in zip(steps, periods)
             if p["train_return"] is not None]
    if train:
        ax.plot(*zip(*train), color="tab:blue",
                label="training (mean of the last 10)")
    value = np.array([p["val_return"] for p in periods])
    spread = np.array([p["val_return_std"] for p in periods])
    ax.plot(steps, value, marker="o", ms=3, color="tab:orange",
            label="evaluation episodes (mean, std)")
    ax.fill_between(steps, value - spread, value + spread, alpha=0.2)
    if info.reward_threshold is not None:
        ax.axhline(info.reward_threshold, color="gray", ls=":",
                   label=f"reward threshold {info.reward_threshold:g}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
