"""Batch normalisation whose training step runs the backend's fused kernel."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from kerakit import fast_paths

# dtypes whose batch statistics Keras computes in float32 (as here).
_FUSABLE_DTYPES = ("float32", "bfloat16", "float16")


@keras.saving.register_keras_serializable(package="kerakit")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` with a fused training step.

    Keras composes the training-mode normalisation of element-wise ops and
    reductions (mean, squared difference, multiply, add), which on the CPU
    costs TensorFlow and torch about as much time as the convolutions
    around them (`benchmarks/profile_training.py`). For 4-D inputs with the
    channel axis last or first, this layer trains with the backend's own
    fused kernel instead (`kerakit.fast_paths`): `FusedBatchNormV3` on
    TensorFlow and `torch.nn.functional.batch_norm` on torch, each with its
    fused backward pass. JAX keeps Keras's ops, which XLA fuses itself; masks,
    renormalisation, synchronised statistics and inference take Keras's path
    too. Same weights, same statistics (moving variance biased, as Keras
    keeps it), same config: a model saved with it loads with it.

    Args:
        **kwargs: `keras.layers.BatchNormalization` arguments.

    Example:
    >>> bn = FusedBatchNormalization(axis=-1)
    >>> tuple(bn(keras.ops.ones((2, 4, 4, 3)), training=True).shape)
    (2, 4, 4, 3)
    """

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        rank = len(inputs.shape)
        if (not training or not self.trainable
                or mask is not None or self.renorm or self.synchronized
                or rank != 4 or self.axis % rank not in (1, 3)
                or keras.backend.standardize_dtype(inputs.dtype)
                not in _FUSABLE_DTYPES):
            return super().call(inputs, training=training, mask=mask)
        # Statistics in float32 whatever the compute dtype, as Keras does.
        x = ops.cast(inputs, "float32")
        channels = x.shape[self.axis % rank]
        gamma = (ops.cast(self.gamma, "float32") if self.scale
                 else ops.ones((channels,), "float32"))
        beta = (ops.cast(self.beta, "float32") if self.center
                else ops.zeros((channels,), "float32"))
        try:
            outputs, mean, variance = fast_paths.fused_batch_norm_training(
                x, gamma, beta, self.epsilon,
                channels_last=self.axis % rank == 3)
        except NotImplementedError:  # no fused kernel on this backend
            return super().call(inputs, training=training, mask=mask)
        self.moving_mean.assign(self.moving_mean * self.momentum
                                + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum
                                    + variance * (1.0 - self.momentum))
        return ops.cast(outputs, self.compute_dtype)
