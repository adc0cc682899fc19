"""Reinforcement-learning agents on gymnasium envs: DQN, REINFORCE, A2C.

The agents' update steps use `keras.ops` and the model's optimizer (compiled
by name), so they run on every Keras backend; the networks are registered
models (`kerakit.models.rl`).

Example:
>>> from kerakit.rl import agent_defaults
>>> sorted(agent_defaults("a2c"))[:2]
['entropy_coef', 'gae_lambda']
"""

from kerakit.rl.agents import AGENTS
from kerakit.rl.agents import agent_defaults
from kerakit.rl.agents import get_agent
from kerakit.rl.base import Agent
from kerakit.rl.environments import evaluate_policy
from kerakit.rl.environments import make_env
from kerakit.rl.environments import space_info

__all__ = ["AGENTS", "Agent", "agent_defaults", "evaluate_policy",
           "get_agent", "make_env", "space_info"]
