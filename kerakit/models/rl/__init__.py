"""Networks of reinforcement-learning agents: Q-networks, policies, critics."""

from kerakit.models.rl import networks  # noqa: F401
