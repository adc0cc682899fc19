"""Networks of reinforcement-learning agents: Q-networks, policies, critics."""
