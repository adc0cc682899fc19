"""Numeric precision by name, and the CPU features that decide `"auto"`.

A precision is a Keras dtype policy name. Every factory takes one as its
`dtype`; a recipe names one in `precision`. A recipe may also ask for
`"onednn_bfloat16"`: float32 layers with TensorFlow's oneDNN
auto-mixed-precision graph rewrite, which runs the convolutions and
matmuls of the compiled graph in bfloat16 (TensorFlow only; it is not a
Keras policy, so it is applied around training, not in the factories).
`"auto"` picks bfloat16 on a CPU with native bfloat16 arithmetic (AMX or
AVX512-BF16, read from the running machine, not from a table) and float32
elsewhere: the rewrite on TensorFlow, whose kernels gain little from the
Keras policy's casts, and `mixed_bfloat16` on JAX and torch.

Example:
>>> resolve_precision("auto", flags={"avx512_bf16"}, backend="jax")
'mixed_bfloat16'
>>> resolve_precision("auto", flags={"avx512_bf16"}, backend="tensorflow")
'onednn_bfloat16'
>>> resolve_precision("auto", flags={"avx2"})
'float32'
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import platform
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

import keras

# The Keras dtype policies a factory's `dtype` takes by name.
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "bfloat16")
# What a recipe may ask for: training keeps float32 variables (a pure
# bfloat16 model is for inference; its updates lose small gradients).
RECIPE_PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16",
                     "onednn_bfloat16", "auto")
# Precisions that are a backend's graph rewrite around float32 layers:
# name -> (backend, the dtype policy the layers keep).
GRAPH_REWRITES = {"onednn_bfloat16": ("tensorflow", "float32")}
# TensorFlow's Grappler option behind "onednn_bfloat16".
_ONEDNN_OPTION = "auto_mixed_precision_onednn_bfloat16"
# CPU flags (Linux /proc/cpuinfo names) of native bfloat16 arithmetic:
# AMX tiles (Intel Sapphire Rapids and later) and AVX512-BF16 dot products
# (Intel Cooper Lake, AMD Zen 4 and later).
BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")
_REPORTED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16",
                   "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")


class PrecisionError(ValueError):
    """An unknown precision name, or one the context cannot train in."""


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The running CPU's feature flags (empty where they cannot be read).

    Read from `/proc/cpuinfo`, so on Linux only; elsewhere `"auto"` falls
    back to float32, which is always correct, merely slower.

    Example:
    >>> isinstance(cpu_flags(), frozenset)
    True
    """
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def native_bfloat16(flags: Iterable[str] | None = None) -> bool:
    """Whether the CPU computes in bfloat16 natively (AMX or AVX512-BF16).

    Example:
    >>> native_bfloat16({"amx_bf16"}), native_bfloat16({"avx512f"})
    (True, False)
    """
    flags = cpu_flags() if flags is None else set(flags)
    return any(flag in flags for flag in BFLOAT16_FLAGS)


def cpu_summary() -> dict[str, Any]:
    """The CPU model and its precision-relevant flags, for run records and
    benchmark tables.

    Example:
    >>> sorted(cpu_summary())
    ['flags', 'model', 'native_bfloat16']
    """
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    flags = cpu_flags()
    return {"model": model,
            "flags": [f for f in _REPORTED_FLAGS if f in flags],
            "native_bfloat16": native_bfloat16(flags)}


def check_precision(name: Any, allowed: Iterable[str] = PRECISIONS) -> str:
    """Return `name` if it is an allowed precision; else raise naming the
    allowed ones (and the closest).

    Example:
    >>> check_precision("mixed_bfloat16")
    'mixed_bfloat16'
    """
    allowed = tuple(allowed)
    if isinstance(name, str) and name in allowed:
        return name
    close = difflib.get_close_matches(str(name), allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise PrecisionError(
        f"Unknown precision {name!r}.{hint} Choose one of "
        f"{', '.join(repr(a) for a in allowed)}.")


def resolve_precision(name: str, flags: Iterable[str] | None = None,
                      backend: str | None = None) -> str:
    """The precision a requested one means on this CPU and backend.

    `"auto"` is bfloat16 where the CPU has it natively (`native_bfloat16`):
    `"onednn_bfloat16"` on TensorFlow, `"mixed_bfloat16"` on JAX and
    torch; elsewhere `"float32"`. Other names stand for themselves.
    `backend` defaults to the running Keras backend.

    Example:
    >>> resolve_precision("float32")
    'float32'
    """
    name = check_precision(name, (*PRECISIONS, *GRAPH_REWRITES, "auto"))
    if name != "auto":
        return name
    if not native_bfloat16(flags):
        return "float32"
    backend = backend or keras.backend.backend()
    return "onednn_bfloat16" if backend == "tensorflow" else "mixed_bfloat16"


def policy_name(precision: str) -> str:
    """The Keras dtype policy the layers are built in for `precision`.

    Example:
    >>> policy_name("onednn_bfloat16"), policy_name("mixed_bfloat16")
    ('float32', 'mixed_bfloat16')
    """
    if precision in GRAPH_REWRITES:
        return GRAPH_REWRITES[precision][1]
    return check_precision(precision)


def check_backend(precision: str, backend: str | None = None) -> str:
    """Return `precision` if the backend can train in it; else raise
    naming the precision to use instead.

    Example:
    >>> check_backend("onednn_bfloat16", "tensorflow")
    'onednn_bfloat16'
    """
    backend = backend or keras.backend.backend()
    needs = GRAPH_REWRITES.get(precision, (backend,))[0]
    if needs != backend:
        raise PrecisionError(
            f"precision {precision!r} is {needs.capitalize()}'s graph "
            f"rewrite; the {backend} backend has none. Use "
            "'mixed_bfloat16' (a Keras dtype policy, every backend), or "
            f"run with KERAS_BACKEND={needs}.")
    return precision


def policy_of(dtype: Any) -> keras.DTypePolicy:
    """The dtype policy a factory's `dtype` argument gives its layers
    (Keras's global policy when `None`).

    Example:
    >>> policy_of("mixed_bfloat16").variable_dtype
    'float32'
    """
    if dtype is None:
        return keras.config.dtype_policy()
    return keras.dtype_policies.get(dtype)


@contextlib.contextmanager
def graph_rewrite_scope(precision: str) -> Iterator[None]:
    """Turn on the backend graph rewrite `precision` names inside the block
    (nothing for a dtype policy name).

    TensorFlow applies Grappler options when a `tf.function` first runs,
    so the block must enclose the first `fit`/`evaluate`/`predict` call of
    a model; the option is process-wide and restored on exit.

    Example:
    >>> with graph_rewrite_scope("float32"):
    ...     pass
    """
    if precision not in GRAPH_REWRITES:
        yield
        return
    check_backend(precision)
    import tensorflow as tf

    before = tf.config.optimizer.get_experimental_options().get(
        _ONEDNN_OPTION, False)
    tf.config.optimizer.set_experimental_options({_ONEDNN_OPTION: True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({_ONEDNN_OPTION: before})


@contextlib.contextmanager
def dtype_policy_scope(name: str) -> Iterator[keras.DTypePolicy]:
    """Make `name`'s dtype policy Keras's global one inside the block
    (float32 for a graph rewrite such as `"onednn_bfloat16"`).

    Layers built in the block take the policy, keras-hub backbones and the
    model object itself included: the model's own policy is what makes
    `compile` wrap the optimizer for loss scaling under mixed float16.

    Example:
    >>> with dtype_policy_scope("mixed_bfloat16") as policy:
    ...     keras.layers.Dense(2).dtype_policy.name
    'mixed_bfloat16'
    """
    previous = keras.config.dtype_policy()
    policy = keras.dtype_policies.get(policy_name(name))
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(previous)
