"""Numeric precision by name, and the CPU features that decide `"auto"`.

A precision is a Keras dtype policy name. Every factory takes one as its
`dtype`; a recipe names one in `precision`, where `"auto"` picks mixed
bfloat16 on a CPU with native bfloat16 arithmetic (AMX or AVX512-BF16,
read from the running machine, not from a table) and float32 elsewhere.

Example:
>>> resolve_precision("auto", flags={"avx512_bf16", "avx512f"})
'mixed_bfloat16'
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
RECIPE_PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")
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


def resolve_precision(name: str,
                      flags: Iterable[str] | None = None) -> str:
    """The dtype policy name a requested precision means on this CPU.

    `"auto"` is `"mixed_bfloat16"` where the CPU has native bfloat16
    (`native_bfloat16`) and `"float32"` elsewhere; other names stand for
    themselves.

    Example:
    >>> resolve_precision("float32")
    'float32'
    """
    name = check_precision(name, (*PRECISIONS, "auto"))
    if name != "auto":
        return name
    return "mixed_bfloat16" if native_bfloat16(flags) else "float32"


@contextlib.contextmanager
def dtype_policy_scope(name: str) -> Iterator[keras.DTypePolicy]:
    """Make `name` Keras's global dtype policy inside the block.

    Layers built in the block take the policy, keras-hub backbones and the
    model object itself included: the model's own policy is what makes
    `compile` wrap the optimizer for loss scaling under mixed float16.

    Example:
    >>> with dtype_policy_scope("mixed_bfloat16") as policy:
    ...     keras.layers.Dense(2).dtype_policy.name
    'mixed_bfloat16'
    """
    previous = keras.config.dtype_policy()
    policy = keras.dtype_policies.get(check_precision(name))
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:
        keras.config.set_dtype_policy(previous)
