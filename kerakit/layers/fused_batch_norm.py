"""Batch normalisation whose training step runs the backend's fused kernel."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

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
    fused kernel instead: `FusedBatchNormV3` on TensorFlow and
    `torch.nn.functional.batch_norm` on torch, each with its fused
    backward pass. JAX keeps Keras's ops, which XLA fuses itself; masks,
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
        fused = _FUSED.get(keras.backend.backend())
        rank = len(inputs.shape)
        if (fused is None or not training or not self.trainable
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
        outputs, mean, variance = fused(x, gamma, beta, self.epsilon,
                                        channels_last=self.axis % rank == 3)
        self.moving_mean.assign(self.moving_mean * self.momentum
                                + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum
                                    + variance * (1.0 - self.momentum))
        return ops.cast(outputs, self.compute_dtype)


def _biased(variance: Any, x: Any, channels_last: bool) -> Any:
    """Both kernels return the unbiased (Bessel-corrected) batch variance;
    Keras's moving variance is the biased one."""
    shape = ops.shape(x)
    count = ops.cast(ops.prod(ops.convert_to_tensor(shape)) // (
        shape[3] if channels_last else shape[1]), "float32")
    return variance * (count - 1.0) / ops.maximum(count, 1.0)


def _tensorflow(x: Any, gamma: Any, beta: Any, epsilon: float, *,
                channels_last: bool) -> tuple[Any, Any, Any]:
    import tensorflow as tf

    outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
        x, gamma, beta, epsilon=epsilon, is_training=True,
        data_format="NHWC" if channels_last else "NCHW")
    return outputs, mean, _biased(variance, x, channels_last)


def _torch(x: Any, gamma: Any, beta: Any, epsilon: float, *,
           channels_last: bool) -> tuple[Any, Any, Any]:
    import torch

    # NHWC viewed as NCHW is torch's channels_last memory format, which its
    # batch norm kernels take without a copy.
    nchw = x.permute(0, 3, 1, 2) if channels_last else x
    channels = nchw.shape[1]
    # momentum=1 makes the running buffers the batch's own statistics.
    mean = torch.zeros(channels, dtype=x.dtype, device=x.device)
    variance = torch.ones(channels, dtype=x.dtype, device=x.device)
    outputs = torch.nn.functional.batch_norm(
        nchw, mean, variance, weight=gamma, bias=beta, training=True,
        momentum=1.0, eps=epsilon)
    if channels_last:
        outputs = outputs.permute(0, 2, 3, 1)
    return outputs, mean, _biased(variance, x, channels_last)


_FUSED = {"tensorflow": _tensorflow, "torch": _torch}
