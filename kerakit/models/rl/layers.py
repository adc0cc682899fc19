"""Small layers of the reinforcement-learning networks."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kerakit")
class DuelingCombine(keras.layers.Layer):
    """Combine a state value and action advantages into Q-values.

    `Q(s, a) = V(s) + A(s, a) - mean_a A(s, a)`: subtracting the mean makes
    the split identifiable (Wang et al., 2016, eq. 9).

    Example:
    >>> import numpy as np
    >>> q = DuelingCombine()([np.ones((1, 1)), np.array([[1.0, 3.0]])])
    >>> keras.ops.convert_to_numpy(q).tolist()
    [[0.0, 2.0]]
    """

    def call(self, inputs: Any) -> Any:
        """Return Q-values from `[value (B, 1), advantages (B, n)]`."""
        value, advantages = inputs
        centred = advantages - keras.ops.mean(advantages, axis=-1,
                                              keepdims=True)
        return value + centred

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The advantages' shape."""
        return input_shape[1]


@keras.saving.register_keras_serializable(package="kerakit")
class GaussianLogStd(keras.layers.Layer):
    """Hold the state-independent log standard deviation of a Gaussian policy.

    The layer passes the action mean through unchanged and owns one weight,
    `log_std` of shape `(action_dim,)`, which the agents read directly
    (`kerakit.rl` finds it by this class).

    Args:
        initial_log_std: Starting value of every log-std entry.

    Example:
    >>> import numpy as np
    >>> layer = GaussianLogStd(initial_log_std=-0.5)
    >>> _ = layer(np.zeros((1, 2), "float32"))
    >>> keras.ops.convert_to_numpy(layer.log_std).tolist()
    [-0.5, -0.5]
    """

    def __init__(self, initial_log_std: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Config
        self.initial_log_std = float(initial_log_std)

    def build(self, input_shape: Any) -> None:
        """Create `log_std` with one entry per action dimension."""
        self.log_std = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.initial_log_std),
            name="log_std",
        )

    def call(self, mean: Any) -> Any:
        """Return the mean unchanged."""
        return mean

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The mean's shape."""
        return input_shape

    def get_config(self) -> dict[str, Any]:
        """Config with `initial_log_std`."""
        return {**super().get_config(), "initial_log_std": self.initial_log_std}
