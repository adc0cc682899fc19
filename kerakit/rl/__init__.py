"""Reinforcement-learning agents on gymnasium environments (DQN, REINFORCE, A2C).

The agents' update steps use `keras.ops` and kerakit's optimizers by name,
so they run on every Keras backend; the networks are registered models
(`kerakit.models.rl`).
"""
