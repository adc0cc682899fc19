"""Instance normalisation (group normalisation with one channel a group)."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kerakit")
class InstanceNormalization(keras.layers.GroupNormalization):
    """Normalise each channel of each sample over its spatial positions.

    Keras has no `InstanceNormalization`; it is `GroupNormalization` with as
    many groups as channels (`groups=-1`), which this layer fixes.

    Args:
        axis: Channel axis (`-1` for channels-last, `1` for channels-first).
        epsilon: Added to the variance.
        center: Learn a per-channel offset `beta`.
        scale: Learn a per-channel scale `gamma`.
        **kwargs: Other `GroupNormalization` arguments except `groups`.

    Example:
    >>> InstanceNormalization()(keras.Input((4, 4, 3))).shape
    (None, 4, 4, 3)

    Reference:
        Ulyanov et al., 2016. https://arxiv.org/abs/1607.08022
    """

    def __init__(self, axis: int = -1, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True,
                 **kwargs: Any) -> None:
        if kwargs.pop("groups", -1) != -1:
            raise TypeError(
                "InstanceNormalization has one group per channel; use "
                "keras.layers.GroupNormalization to choose `groups`."
            )
        super().__init__(groups=-1, axis=axis, epsilon=epsilon, center=center,
                         scale=scale, **kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("groups", None)
        return config
