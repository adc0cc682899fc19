"""Compiled forward calls and gradient steps on every Keras backend.

Keras has no backend-neutral "gradient of this function" API, so this module
is the one place in `kerakit.rl` with backend code: a `tf.function` with a
`GradientTape`, a `jax.jit` of `stateless_call` + `jax.value_and_grad`, and
torch autograd. The losses themselves are written in `keras.ops` by the
agents and passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

# loss_fn(call, variable, batch) -> (loss, {name: scalar}): `call(x)` runs
# the model, `variable(i)` is its i-th trainable variable (differentiable).
LossFn = Callable[[Callable, Callable, dict], tuple[Any, dict]]


def _to_numpy(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    return np.asarray(keras.ops.convert_to_numpy(tree))


def forward_fn(model: keras.Model) -> Callable[[np.ndarray], Any]:
    """A fast inference call of `model` returning numpy (no `predict`).

    TensorFlow traces a `tf.function`, JAX jits a `stateless_call` and torch
    calls the model under `no_grad`: each avoids `predict`'s per-call setup,
    which dominates when acting one step at a time.

    Example:
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> forward_fn(m)(np.zeros((4, 3), "float32")).shape
    (4, 2)
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # Backend-specific step (see module doc).

        traced = tf.function(lambda x: model(x, training=False),
                             reduce_retracing=True)
        return lambda x: _to_numpy(traced(tf.constant(x, tf.float32)))
    if backend == "jax":
        import jax  # Backend-specific step (see module doc).

        jitted = jax.jit(lambda tv, ntv, x: model.stateless_call(
            tv, ntv, x, training=False)[0])

        def call(x: np.ndarray) -> Any:
            return _to_numpy(jitted(
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
                np.asarray(x, "float32")))

        return call
    if backend == "torch":
        import warnings

        import torch  # Backend-specific step (see module doc).

        # A Keras functional call costs milliseconds of Python per call on
        # torch; a `torch.jit.trace` per input shape (reshapes bake the
        # batch size in) runs the same ops ~5x faster and reads the live
        # parameters, so training updates show. Untraceable models fall
        # back to the plain call.
        traced: dict[tuple, Any] = {}

        def call(x: np.ndarray) -> Any:
            x = torch.as_tensor(np.asarray(x, "float32"))
            with torch.no_grad():
                if x.shape not in traced:
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            traced[x.shape] = torch.jit.trace(
                                model, x, check_trace=False, strict=False)
                    except Exception:  # noqa: BLE001 - any failure: no trace
                        traced[x.shape] = model
                return _to_numpy(traced[x.shape](x))

        return call
    raise NotImplementedError(f"Backend {backend!r} is not supported.")


def _clip(grads: list, max_norm: float | None) -> list:
    if max_norm is None:
        return grads
    norm = keras.ops.sqrt(sum(keras.ops.sum(keras.ops.square(g))
                              for g in grads))
    scale = keras.ops.minimum(1.0, max_norm / (norm + 1e-6))
    return [g * scale for g in grads]


class GradientStep:
    """One optimizer step on `model` minimising `loss_fn`, compiled.

    Uses `model.optimizer` (so the workflow's checkpoints, which save the
    model's optimizer with its weights, hold its state).

    Args:
        model: A compiled model (its `optimizer` is used).
        loss_fn: `(call, variable, batch) -> (loss, aux)` in `keras.ops`.
        max_grad_norm: Clip gradients to this global norm (`None`: no
            clipping).

    Example:
    >>> m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> m.compile(optimizer="sgd")
    >>> def loss_fn(call, variable, batch):
    ...     return keras.ops.mean(keras.ops.square(call(batch["x"]))), {}
    >>> step = GradientStep(m, loss_fn)
    >>> logs = step({"x": np.ones((2, 1), "float32")})
    >>> sorted(logs)
    ['loss']
    """

    def __init__(self, model: keras.Model, loss_fn: LossFn,
                 max_grad_norm: float | None = None) -> None:
        if getattr(model, "optimizer", None) is None:
            raise ValueError(
                f"Model {model.name!r} has no optimizer: compile it first, "
                "e.g. model.compile(optimizer='adam')."
            )
        self.model = model
        self.loss_fn = loss_fn
        self.max_grad_norm = max_grad_norm
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        backend = keras.backend.backend()
        self._step = getattr(self, f"_make_{backend}")()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """Apply one step on `batch`; return the loss and aux values."""
        loss, aux = self._step(batch)
        logs = {"loss": float(keras.ops.convert_to_numpy(loss))}
        logs.update({k: float(keras.ops.convert_to_numpy(v))
                     for k, v in aux.items()})
        return logs

    def _make_tensorflow(self) -> Callable:
        import tensorflow as tf  # Backend-specific step (see module doc).

        model, variables = self.model, self.model.trainable_variables

        @tf.function(reduce_retracing=True)
        def traced(batch: dict) -> Any:
            with tf.GradientTape() as tape:
                loss, aux = self.loss_fn(
                    lambda x: model(x, training=True),
                    lambda i: variables[i].value, batch)
            grads = tape.gradient(loss, variables)
            grads = [tf.zeros_like(v) if g is None else g
                     for g, v in zip(grads, variables, strict=True)]
            model.optimizer.apply(_clip(grads, self.max_grad_norm), variables)
            return loss, aux

        return lambda batch: traced({k: tf.convert_to_tensor(v)
                                     for k, v in batch.items()})

    def _make_jax(self) -> Callable:
        import jax  # Backend-specific step (see module doc).

        model, optimizer = self.model, self.model.optimizer

        def pure(tv: list, ntv: list, ov: list, batch: dict) -> Any:
            def objective(tv: list) -> Any:
                call = lambda x: model.stateless_call(  # noqa: E731
                    tv, ntv, x, training=True)[0]
                return self.loss_fn(call, lambda i: tv[i], batch)

            (loss, aux), grads = jax.value_and_grad(objective,
                                                    has_aux=True)(tv)
            tv, ov = optimizer.stateless_apply(
                ov, _clip(grads, self.max_grad_norm), tv)
            return tv, ov, loss, aux

        jitted = jax.jit(pure)

        def step(batch: dict) -> Any:
            tv, ov, loss, aux = jitted(
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
                [v.value for v in optimizer.variables], batch)
            for var, value in zip(model.trainable_variables, tv, strict=True):
                var.assign(value)
            for var, value in zip(optimizer.variables, ov, strict=True):
                var.assign(value)
            return loss, aux

        return step

    def _make_torch(self) -> Callable:
        import torch  # Backend-specific step (see module doc).

        model, variables = self.model, self.model.trainable_variables

        def step(batch: dict) -> Any:
            batch = {k: keras.ops.convert_to_tensor(v)
                     for k, v in batch.items()}
            model.zero_grad()
            loss, aux = self.loss_fn(lambda x: model(x, training=True),
                                     lambda i: variables[i].value, batch)
            loss.backward()
            grads = [torch.zeros_like(v.value) if v.value.grad is None
                     else v.value.grad for v in variables]
            with torch.no_grad():
                model.optimizer.apply(_clip(grads, self.max_grad_norm),
                                      variables)
            return loss.detach(), {k: v.detach() for k, v in aux.items()}

        return step
