"""Reinforcement learning: an agent on a gymnasium environment.

A recipe names the environment as its dataset (`dataset.name =
"gym:CartPole-v1"`), a registered network as its model (`q_mlp`,
`policy_mlp`, `actor_critic_mlp`, `dqn_nature`) and the agent in an
`[agent]` table: `name` (`"dqn"`, `"reinforce"`, `"a2c"`; see
`kerakit.rl.get_agent`), `steps_per_epoch` (environment steps per
evaluation period) and the agent's settings (`kerakit.rl.agent_defaults`).
An epoch is one period: the agent plays and learns for `steps_per_epoch`
environment steps, then its greedy policy plays
`dataset.validation_episodes` evaluation episodes (fixed seeds, the same
every period), logged as `val_return` (beside the agent's logs, with
`episode_return` the mean of the last 10 training episodes). The workflow keeps the best weights
on `val_return`, stops after `patience` periods without progress, and this
task also stops once the evaluation return reaches the environment's
`reward_threshold` (CartPole-v1: 475). At the end the best policy plays
`dataset.test_episodes` test episodes once (other fixed seeds):
`metrics.json` gets their return (`test.return`, `test.return_std`), the
uniform random policy's return on the same episodes (`random_return`), the
environment steps, episodes and CPU seconds of training; `episodes.png`
plots the training and evaluation returns.

Resuming: after every period the agent's state beyond the network's weights
(replay buffer, target network, environments, random generators, counters:
`Agent.get_state`) and the task's progress go to `agent_state.npz`,
atomically and before the workflow's checkpoint of the same epoch (the
previous period's file is kept), so that running the same command again
after a kill continues exactly from the last finished period. The network's
optimizer is the model's own, saved by the workflow's checkpoint.

The agent's settings reach `fit` through the recipe the workflow records in
the run directory (`recipe.json`); `check_recipe` checks them, the
environment id (an unknown id lists the close ones) and the action space
against the agent when the recipe loads, before any work.

`kerakit.predict(run, observations)` gives `{"actions"}` (the best discrete
action, or the Gaussian mean clipped to the bounds), and
`kerakit.tasks.rl_support.act(run, observations)` does the same from a
run directory or a model.

Example:
>>> task = ReinforcementLearningTask()
>>> task.defaults["monitor"], env_id_of("gym:CartPole-v1")
('val_return', 'CartPole-v1')
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.splits import Splits
from kerakit.tasks.base import Task
from kerakit.tasks.rl_support import PLOT_FILE
from kerakit.tasks.rl_support import EnvironmentInfo
from kerakit.tasks.rl_support import Episodes
from kerakit.tasks.rl_support import act
from kerakit.tasks.rl_support import check_observations
from kerakit.tasks.rl_support import greedy_actions
from kerakit.tasks.rl_support import load_agent_state
from kerakit.tasks.rl_support import plot_episodes
from kerakit.tasks.rl_support import random_actions
from kerakit.tasks.rl_support import read_progress
from kerakit.tasks.rl_support import save_agent_state

PREFIX = "gym:"
# Evaluation and test episodes reset with seeds recipe.seed + offset + i:
# fixed, apart from each other and from the training environments' seeds.
VALIDATION_SEED = 100_000
TEST_SEED = 200_000
# [agent] keys the task reads; the others are the agent's settings.
TASK_SETTINGS = {"name": None, "steps_per_epoch": 1000}
# The logged training return is the mean of the last episodes played, so
# that a period in which no episode ends still has one.
TRAIN_EPISODES = 10


def env_id_of(dataset_name: str) -> str:
    """The environment id of `gym:ENV_ID`.

    Example:
    >>> env_id_of("gym:Acrobot-v1")
    'Acrobot-v1'
    """
    if not dataset_name.startswith(PREFIX):
        raise ValueError(
            "dataset.name: task = 'reinforcement_learning' plays an "
            "environment: name it gym:ENV_ID (e.g. gym:CartPole-v1). "
            f"Received: {dataset_name!r}.")
    return dataset_name[len(PREFIX):]


def environment_info(env_id: str) -> EnvironmentInfo:
    """Make the environment once and describe it (checks the id)."""
    from kerakit.rl.environments import make_env
    from kerakit.rl.environments import space_info

    env = make_env(env_id)
    space = space_info(env)
    threshold = env.spec.reward_threshold if env.spec else None
    env.close()
    bounds = [None if space[k] is None else np.asarray(space[k]).tolist()
              for k in ("action_low", "action_high")]
    return EnvironmentInfo(
        env_id, tuple(space["observation_shape"]), space["discrete"],
        int(space["num_actions"] if space["discrete"]
            else space["action_dim"]), *bounds,
        None if threshold is None else float(threshold))


def agent_settings(table: dict[str, Any]) -> tuple[str, int, dict]:
    """`(agent name, steps_per_epoch, agent config)` of an `[agent]` table,
    checked against `kerakit.rl.agent_defaults`.

    Example:
    >>> agent_settings({"name": "dqn", "steps_per_epoch": 500, "gamma": 0.9})
    ('dqn', 500, {'gamma': 0.9})
    """
    from kerakit.rl.agents import agent_defaults

    name = table.get("name")
    try:
        known = agent_defaults(name) if isinstance(name, str) else None
    except ValueError as err:
        raise ValueError(f"agent.name: {err}") from None
    if known is None:
        raise ValueError("agent.name: is required: the agent that learns "
                         "('dqn', 'reinforce' or 'a2c'). Received: "
                         f"{name!r}.")
    steps = table.get("steps_per_epoch", TASK_SETTINGS["steps_per_epoch"])
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError("agent.steps_per_epoch: must be an integer >= 1 "
                         "(environment steps per evaluation period). "
                         f"Received: {steps!r}.")
    config = {k: v for k, v in table.items() if k not in TASK_SETTINGS}
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ValueError(
            f"agent.{unknown[0]}: is not a setting of agent {name!r}. "
            f"Known: {', '.join(sorted([*TASK_SETTINGS, *known]))} (see "
            f"kerakit.rl.agent_defaults({name!r})).")
    return name, steps, config


class ReinforcementLearningTask(Task):
    """An agent learns to act in an environment (see module doc)."""

    # The agent owns its loop and computes its own gradients.
    data_parallel = False
    name = "reinforcement_learning"
    description = ("an agent (dqn, reinforce, a2c) on a gym:ENV_ID "
                   "environment; val_return, episodes.png, test episodes")
    model_tasks = ("reinforcement_learning",)
    # Agents compute their own gradients (no Keras loss scaling).
    loss_scaling = False
    defaults = {"loss": "none", "metrics": [], "monitor": "val_return"}
    trains_agent = True

    # ------------------------------------------------------------ recipes
    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """Check the environment, the agent and what does not apply."""
        if loss_name != "none" or fields["metrics"]:
            raise ValueError(
                f"{'loss' if loss_name != 'none' else 'metrics'}: the agent "
                "computes its own loss and the task logs returns: remove "
                "loss and metrics from the recipe.")
        if fields["optimizer"]["schedule"] != "constant":
            raise ValueError(
                "optimizer.schedule: an agent decides its own number of "
                "updates per epoch, so only 'constant' applies. Received: "
                f"{fields['optimizer']['schedule']!r}.")
        env_id = env_id_of(fields["dataset"]["name"])
        name, _, _ = agent_settings(fields["agent"])
        try:
            info = environment_info(env_id)
        except ValueError as err:
            raise ValueError(f"dataset.name: {err}") from None
        from kerakit.rl.agents import AGENTS

        if getattr(AGENTS[name], "discrete_only", False) and (
                not info.discrete):
            raise ValueError(
                f"agent.name: {name!r} needs discrete actions, but "
                f"{env_id!r} has continuous actions ({info.num_actions} "
                "dimension(s)): use agent 'a2c' or 'reinforce' (a Gaussian "
                "policy) with it, or a discrete-action environment.")

    # --------------------------------------------------------------- data
    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """The environment: observation shape, actions, episodes.

        The splits are `Episodes`: training (as many as the agent plays),
        evaluation and test (fixed seeds).
        """
        env_id = env_id_of(dataset["name"])
        info = environment_info(env_id)
        import gymnasium

        spec = json.dumps([env_id, gymnasium.__version__,
                           info.observation_shape, info.num_actions])
        fingerprint = {}
        parts = [Episodes(env_id, 0, seed)]
        for split, offset in (("validation", VALIDATION_SEED),
                              ("test", TEST_SEED)):
            count = dataset[f"{split}_episodes"]
            parts.append(Episodes(env_id, count, seed + offset))
            fingerprint[split] = {"examples": count, "sha256": hashlib.sha256(
                f"{spec}{seed + offset}".encode()).hexdigest()[:16]}
        return Splits(*parts, info.observation_shape, info.num_actions,
                      info.class_names, info, fingerprint,
                      {} if info.discrete else {"continuous": True})

    def count_examples(self, splits: Splits) -> dict[str, int]:
        """Evaluation and test episodes."""
        return {"validation": splits.validation.count,
                "test": splits.test.count}

    def steps_per_epoch(self, splits: Splits, batch_size: int) -> int:
        """Unused: the agent decides its updates (schedules are refused)."""
        return 1

    # ----------------------------------------------------------- training
    def fit(self, model: keras.Model, splits: Splits, *, batch_size: int,
            seed: int, epochs: int, initial_epoch: int,
            callbacks: list[keras.callbacks.Callback],
            verbose: Any = "auto", run_dir: Path | None = None) -> None:
        """Play, learn and evaluate one period per epoch (module doc)."""
        from kerakit.rl.agents import get_agent
        from kerakit.rl.environments import evaluate_policy

        if run_dir is None:
            raise ValueError("The reinforcement-learning task trains in a "
                             "run directory: use kerakit.train.")
        recorded = json.loads((Path(run_dir) / "recipe.json").read_text())
        name, steps, config = agent_settings(recorded["agent"])
        info, validation = splits.preprocessor, splits.validation
        agent = get_agent(name, model, info.env_id, config, seed)
        progress = {"epoch": 0, "env_steps": 0, "cpu_seconds": 0.0,
                    "wall_seconds": 0.0, "solved_epoch": 0, "periods": [],
                    "episodes": []}
        if initial_epoch:
            state, progress = load_agent_state(Path(run_dir), initial_epoch)
            agent.set_state(state)
        if progress["solved_epoch"]:
            return  # reached the threshold before an interruption
        listed = keras.callbacks.CallbackList(
            callbacks, add_history=False, add_progbar=False, model=model,
            epochs=epochs, steps=1, verbose=0)
        model.stop_training = False
        listed.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            listed.on_epoch_begin(epoch)
            cpu, wall = time.process_time(), time.time()
            listed.on_train_batch_begin(0)
            logs = {k: float(v) for k, v in agent.train_steps(steps).items()}
            listed.on_train_batch_end(0, logs)
            if model.stop_training:  # a NaN loss: the workflow reports it
                break
            result = evaluate_policy(lambda obs: agent.act(obs, greedy=True),
                                     info.env_id, validation.count,
                                     validation.seed)
            logs.update(val_return=result["return_mean"],
                        val_return_std=result["return_std"])
            finished = agent.episode_returns[-TRAIN_EPISODES:]
            if finished:
                logs["episode_return"] = float(np.mean(finished))
            logs = _same_keys(logs, progress)
            self._record(agent, progress, logs, epoch, cpu, wall, info)
            save_agent_state(Path(run_dir), agent.get_state(), progress)
            if verbose != 0:
                print(f"epoch {epoch + 1}/{epochs}: " + ", ".join(
                    f"{k} {v:.4g}" for k, v in logs.items()), flush=True)
            listed.on_epoch_end(epoch, logs)
            if progress["solved_epoch"]:
                model.stop_training = True
            if model.stop_training:
                break
        listed.on_train_end()

    @staticmethod
    def _record(agent: Any, progress: dict, logs: dict, epoch: int,
                cpu: float, wall: float, info: EnvironmentInfo) -> None:
        """Add one period to the progress (saved with the agent state)."""
        done = len(progress["episodes"])
        progress["episodes"] += [
            [int(s), float(r)] for s, r in zip(
                agent.episode_end_steps[done:], agent.episode_returns[done:])]
        progress["env_steps"] = int(agent.env_steps)
        logs["env_steps"] = float(agent.env_steps)
        progress["cpu_seconds"] += time.process_time() - cpu
        progress["wall_seconds"] += time.time() - wall
        progress["epoch"] = epoch + 1
        progress["periods"].append({
            "env_steps": progress["env_steps"],
            "train_return": logs.get("episode_return"),
            "val_return": logs["val_return"],
            "val_return_std": logs["val_return_std"]})
        threshold = info.reward_threshold
        if threshold is not None and logs["val_return"] >= threshold:
            progress["solved_epoch"] = epoch + 1

    def evaluate(self, model: keras.Model, pair: Any, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """The greedy policy's return over the split's episodes (fixed
        seeds): `{"return", "return_std", "episode_length"}`."""
        from kerakit.rl.environments import evaluate_policy
        from kerakit.rl.update import forward_fn

        info, forward = environment_info(pair.env_id), forward_fn(model)
        result = evaluate_policy(
            lambda obs: greedy_actions(forward(obs), info), pair.env_id,
            pair.count, pair.seed)
        return {"return": result["return_mean"],
                "return_std": result["return_std"],
                "episode_length": float(np.mean(result["lengths"]))}

    def report(self, model: keras.Model, splits: Splits, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """`episodes.png`; the random policy's return on the test
        episodes, environment steps, CPU time and the threshold."""
        from kerakit.rl.environments import evaluate_policy

        info, test = splits.preprocessor, splits.test
        random = evaluate_policy(random_actions(info, test.seed),
                                 info.env_id, test.count, test.seed)
        progress = read_progress(Path(run_dir))
        plot_episodes(Path(run_dir) / PLOT_FILE, progress, info,
                      f"{info.env_id}: returns")
        return {
            "environment": info.env_id,
            "random_return": {"mean": random["return_mean"],
                              "std": random["return_std"]},
            "reward_threshold": info.reward_threshold,
            "reward_threshold_reached_epoch": progress.get("solved_epoch", 0),
            "env_steps": progress.get("env_steps", 0),
            "training_episodes": len(progress.get("episodes", [])),
            "cpu_seconds": round(progress.get("cpu_seconds", 0.0), 2),
            "wall_seconds": round(progress.get("wall_seconds", 0.0), 2),
        }

    # ---------------------------------------------------------- inference
    def load_preprocessor(self, path: Path) -> EnvironmentInfo:
        """The run's `EnvironmentInfo`."""
        return EnvironmentInfo.load(path)

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> Any:
        """Observations: an array, or `.npy`/`.npz` paths holding them."""
        if inputs is None:
            raise ValueError("No inputs: give observations (an array, or "
                             ".npy/.npz files holding them).")
        if isinstance(inputs, (str, Path)):
            inputs = [inputs]
        if isinstance(inputs, (list, tuple)) and inputs and isinstance(
                inputs[0], (str, Path)):
            return (np.concatenate([
                check_observations(_load_array(p), preprocessor)
                for p in inputs]), preprocessor)
        return (check_observations(inputs, preprocessor), preprocessor)

    def predict(self, model: keras.Model, x: Any,
                class_names: list[str]) -> dict[str, Any]:
        """`{"actions"}`: the greedy action for every observation."""
        observations, info = x
        return {"actions": act(model, observations, info)}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """One line per observation: its index and action."""
        return [f"{i}\t{np.asarray(a).tolist()}"
                for i, a in enumerate(out["actions"])]


def _same_keys(logs: dict[str, float], progress: dict) -> dict[str, float]:
    """The logs under the keys of the first period.

    The workflow's history needs one finite value per key and epoch (it
    stores NaN as text), but an agent logs no `loss` in a period without
    updates: a key missing later repeats its last value, and a key first
    logged after the first period is left out.
    """
    last = progress.setdefault("last_logs", dict(logs))
    logs = {k: logs.get(k, last[k]) for k in last}
    progress["last_logs"] = logs
    return logs


def _load_array(path: Any) -> np.ndarray:
    path = Path(path)
    if path.suffix not in (".npy", ".npz") or not path.is_file():
        raise ValueError(f"Input {str(path)!r}: give observations as an "
                         "array or existing .npy/.npz files.")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as data:
        return data[data.files[0]]
