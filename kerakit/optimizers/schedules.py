"""Learning-rate schedules: step decay and a linear warm-up wrapper.

Cosine decay is `keras.optimizers.schedules.CosineDecay`, which also has
its own `warmup_steps`; `LinearWarmup` adds a warm-up to any schedule.
"""

from __future__ import annotations

from typing import Any

import keras

_Schedule = keras.optimizers.schedules.LearningRateSchedule


def step_decay(initial_learning_rate: float = 0.1, step_size: int = 1000,
               factor: float = 0.1) -> _Schedule:
    """Multiply the rate by `factor` every `step_size` steps (StepLR).

    Returns a staircase `keras.optimizers.schedules.ExponentialDecay`, so it
    serialises like any Keras schedule.

    Example:
    >>> s = step_decay(1.0, step_size=10, factor=0.5)
    >>> [round(float(s(i)), 3) for i in (0, 9, 10, 25)]
    [1.0, 1.0, 0.5, 0.25]
    """
    if step_size < 1 or not 0 < factor:
        raise ValueError(
            "step_decay needs step_size >= 1 and factor > 0. Received: "
            f"step_size={step_size}, factor={factor}"
        )
    return keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate, decay_steps=step_size, decay_rate=factor,
        staircase=True, name="step_decay",
    )


@keras.saving.register_keras_serializable(package="kerakit")
class LinearWarmup(_Schedule):
    """Ramp linearly to a rate or schedule over `warmup_steps`, then follow it.

    During warm-up the rate goes from `initial_learning_rate` to the value
    of `after` at step `warmup_steps`; afterwards it is `after(step -
    warmup_steps)`, so the wrapped schedule starts where warm-up ends.

    Args:
        after: A float rate or a `LearningRateSchedule` to follow.
        warmup_steps: Length of the warm-up, in optimizer steps.
        initial_learning_rate: Rate at step 0.

    Example:
    >>> s = LinearWarmup(0.1, warmup_steps=10)
    >>> [round(float(s(i)), 3) for i in (0, 5, 10, 50)]
    [0.0, 0.05, 0.1, 0.1]

    Reference:
        Goyal et al., 2017. https://arxiv.org/abs/1706.02677
    """

    def __init__(self, after: float | _Schedule, warmup_steps: int,
                 initial_learning_rate: float = 0.0) -> None:
        if int(warmup_steps) < 0:
            raise ValueError(
                f"warmup_steps must be >= 0. Received: {warmup_steps}"
            )
        self.after = after
        self.warmup_steps = int(warmup_steps)
        self.initial_learning_rate = float(initial_learning_rate)

    def _target(self, step: Any) -> Any:
        if isinstance(self.after, _Schedule):
            return keras.ops.cast(self.after(step), "float32")
        return keras.ops.cast(self.after, "float32")

    def __call__(self, step: Any) -> Any:
        step = keras.ops.cast(step, "float32")
        warm = float(max(self.warmup_steps, 1))
        peak = self._target(keras.ops.zeros((), "float32"))
        ramp = self.initial_learning_rate + (
            peak - self.initial_learning_rate
        ) * keras.ops.minimum(step / warm, 1.0)
        later = self._target(keras.ops.maximum(step - self.warmup_steps, 0.0))
        return keras.ops.where(step < self.warmup_steps, ramp, later)

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments (a nested schedule serialised)."""
        after = self.after
        if isinstance(after, _Schedule):
            after = keras.optimizers.schedules.serialize(after)
        return {"after": after, "warmup_steps": self.warmup_steps,
                "initial_learning_rate": self.initial_learning_rate}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LinearWarmup:
        """Rebuild, deserialising a nested schedule."""
        config = dict(config)
        if isinstance(config["after"], dict):
            config["after"] = keras.optimizers.schedules.deserialize(
                config["after"]
            )
        return cls(**config)
