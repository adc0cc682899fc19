"""Backend fast paths for model math that Keras composes of many ops.

STYLE.md keeps `tensorflow`, `torch` and `jax` out of `models/`, `layers/`
and `losses/`, and makes a backend fast path an optional hook: the layer
calls a function here, which raises `NotImplementedError` where the running
backend has no such kernel, and the layer falls back to its `keras.ops`
math (as Keras's `LSTM` does with cuDNN). This module is the one place
where kerakit's model math imports a backend framework, each import inside
its backend's own function.

Example:
>>> import keras
>>> x = keras.ops.ones((2, 3, 3, 1))
>>> try:
...     outputs = fused_batch_norm_training(
...         x, keras.ops.ones((1,)), keras.ops.zeros((1,)), 1e-3,
...         channels_last=True)[0]
... except NotImplementedError:  # JAX: the layer keeps keras.ops
...     outputs = x
>>> tuple(outputs.shape)
(2, 3, 3, 1)
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def fused_batch_norm_training(x: Any, gamma: Any, beta: Any, epsilon: float,
                              *, channels_last: bool
                              ) -> tuple[Any, Any, Any]:
    """Training-mode batch norm of a 4-D float32 `x` in one fused kernel.

    Returns the normalised `x`, the batch mean and the batch's *biased*
    variance (what Keras's moving variance averages), per channel.
    Gradients flow to `x`, `gamma` and `beta` through the kernel's own
    fused backward pass.

    Raises:
        NotImplementedError: The running backend has no fused kernel (JAX,
            whose XLA fuses Keras's ops itself).
    """
    kernel = _FUSED_BATCH_NORM.get(keras.backend.backend())
    if kernel is None:
        raise NotImplementedError(
            f"no fused batch norm on {keras.backend.backend()}")
    return kernel(x, gamma, beta, epsilon, channels_last=channels_last)


def _biased(variance: Any, x: Any, channels_last: bool) -> Any:
    """Both kernels return the unbiased (Bessel-corrected) batch variance."""
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


_FUSED_BATCH_NORM = {"tensorflow": _tensorflow, "torch": _torch}
