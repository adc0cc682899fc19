"""Pick the fastest training setting for a model on this machine.

:func:`recommend` times a few training steps of a model under each
candidate setting — backend, precision, data format, XLA/compile — and
returns them fastest first with the speed-up over the plain default
(float32, the backend's default layout, no extra compilation). Other
backends than the running one are timed in child processes (Keras fixes
its backend per process). `kerakit bench MODEL` prints the same table.

The gains of bfloat16 depend on the CPU (AMX, AVX512-BF16 or neither) and
on the backend's kernels, so they are measured here rather than assumed;
`kerakit.precision.resolve_precision("auto")` is the cheap rule that
recipes use without timing anything.

Example:
    rec = recommend("resnet18", input_shape=(64, 64, 3), num_classes=10,
                    backends=["tensorflow", "torch"])
    rec.best.setting, rec.speedup
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from kerakit.precision import GRAPH_REWRITES
from kerakit.precision import PRECISIONS
from kerakit.precision import check_precision
from kerakit.precision import cpu_summary
from kerakit.precision import dtype_policy_scope
from kerakit.precision import graph_rewrite_scope

BACKENDS = ("tensorflow", "jax", "torch")
# onednn_bfloat16 (TensorFlow's graph rewrite) is tried on TensorFlow only.
DEFAULT_PRECISIONS = ("float32", "mixed_bfloat16", "onednn_bfloat16")


class BenchError(ValueError):
    """A model or setting that cannot be timed; the message says why."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One candidate: where and how the training step runs."""

    backend: str
    precision: str = "float32"
    data_format: str | None = None
    jit_compile: bool | str = "auto"

    def label(self) -> str:
        """Short text for tables, e.g. `"torch, mixed_bfloat16, NCHW"`."""
        parts = [self.backend, self.precision]
        if self.data_format:
            parts.append({"channels_last": "NHWC",
                          "channels_first": "NCHW"}[self.data_format])
        if self.jit_compile is True and self.backend != "jax":
            parts.append("compiled")
        return ", ".join(parts)


@dataclasses.dataclass
class Timing:
    """Measured speed of one setting (`error` set when it failed)."""

    setting: Setting
    examples_per_second: float = 0.0
    step_seconds: float = 0.0
    first_step_seconds: float = 0.0
    error: str = ""


@dataclasses.dataclass
class Recommendation:
    """Every timing, fastest first, and the default it is compared with."""

    model: str
    timings: list[Timing]
    baseline: Timing | None
    cpu: dict[str, Any]

    @property
    def best(self) -> Timing:
        """The fastest setting that ran."""
        return self.timings[0]

    @property
    def speedup(self) -> float:
        """Best examples/s over the baseline's (1.0 without a baseline)."""
        if not self.baseline or not self.baseline.examples_per_second:
            return 1.0
        return (self.best.examples_per_second
                / self.baseline.examples_per_second)


def candidate_settings(model_name: str, backends: Sequence[str],
                       precisions: Sequence[str] = DEFAULT_PRECISIONS,
                       compiled: bool = False) -> list[Setting]:
    """The settings `recommend` times for `model_name`.

    Image models whose factory takes `data_format` are tried in both
    layouts (an `input_shape` is given channels-last, `(H, W, C)`), except
    on TensorFlow, whose CPU convolutions are NHWC only. A graph rewrite
    precision (`"onednn_bfloat16"`) is tried on its own backend only.
    `compiled` adds XLA on TensorFlow and `torch.compile` on torch (minutes
    of compilation for a large model); JAX always compiles.

    Example:
    >>> [s.label() for s in candidate_settings("mlp", ["torch"])]
    ['torch, float32', 'torch, mixed_bfloat16']
    >>> [s.label() for s in candidate_settings("mlp", ["tensorflow"])][-1]
    'tensorflow, onednn_bfloat16'
    """
    from kerakit.registry import get_entry

    entry = get_entry(model_name)
    takes_format = "data_format" in inspect.signature(entry.fn).parameters
    settings = []
    for backend in backends:
        if backend not in BACKENDS:
            raise BenchError(f"Unknown backend {backend!r}; choose from "
                             f"{', '.join(BACKENDS)}.")
        formats: tuple = (None,)
        if takes_format:
            formats = ("channels_last",) if backend == "tensorflow" else (
                "channels_last", "channels_first")
        jits: tuple = ("auto",)
        if compiled and backend != "jax":
            jits = ("auto", True)
        for name in precisions:
            check_precision(name, (*PRECISIONS, *GRAPH_REWRITES))
            if name in GRAPH_REWRITES and GRAPH_REWRITES[name][0] != backend:
                continue
            for data_format in formats:
                for jit in jits:
                    settings.append(Setting(backend, name, data_format, jit))
    if not settings:
        raise BenchError(
            f"No setting to time: precisions {', '.join(precisions)} do not "
            f"apply to {', '.join(backends)} (onednn_bfloat16 is "
            "TensorFlow's).")
    return settings


def _random_batch(model: keras.Model, batch_size: int, seed: int) -> tuple:
    rng = np.random.default_rng(seed)

    def sample(spec_shape: Any, dtype: str) -> np.ndarray:
        shape = (batch_size, *[d or 8 for d in spec_shape[1:]])
        if "int" in dtype or "bool" in dtype:
            # Token ids and masks: 1 is a valid id and an unmasked position.
            return np.ones(shape, dtype)
        return rng.standard_normal(shape).astype("float32")

    inputs = [sample(t.shape, keras.backend.standardize_dtype(t.dtype))
              for t in model.inputs]
    outputs = keras.tree.flatten(model.outputs)
    targets = [rng.standard_normal(
        (batch_size, *[d or 8 for d in t.shape[1:]])).astype("float32")
        for t in outputs]
    x = inputs[0] if len(inputs) == 1 else inputs
    y = targets[0] if len(targets) == 1 else targets
    return x, y


def build_for_setting(model_name: str, setting: Setting, loss: Any,
                      **model_kwargs: Any) -> keras.Model:
    """Build `model_name` in `setting` (precision, data format, jit) and
    compile it with SGD and momentum and `loss`, as the timings do.

    `input_shape` is given channels-last, `(H, W, C)`, and transposed for
    a channels_first setting.

    Example:
    >>> build_for_setting("mlp", Setting(keras.backend.backend(),
    ...     "mixed_bfloat16"), "mse", input_shape=(4,), num_classes=2
    ...     ).layers[-1].dtype_policy.name
    'mixed_bfloat16'
    """
    from kerakit.registry import build

    kwargs = dict(model_kwargs)
    if setting.data_format:
        kwargs["data_format"] = setting.data_format
        shape = kwargs.get("input_shape")
        if setting.data_format == "channels_first" and shape and len(
                shape) == 3:
            # Shapes are given channels-last, as images usually come.
            kwargs["input_shape"] = (shape[2], shape[0], shape[1])
    with dtype_policy_scope(setting.precision):
        model = build(model_name, **kwargs)
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      loss=loss, jit_compile=setting.jit_compile)
    return model


def time_setting(model_name: str, setting: Setting, *, batch_size: int = 32,
                 steps: int = 5, warmup: int = 2, seed: int = 0,
                 **model_kwargs: Any) -> Timing:
    """Time training steps of `model_name` under `setting` in this process.

    The step is `train_on_batch` with SGD and momentum on random data of
    the model's input shapes (a mean-squared loss on every output, which
    costs what a classification loss costs). Failures are returned as
    `Timing.error`, not raised, so one unsupported setting does not end a
    comparison.

    Example:
    >>> t = time_setting("mlp", Setting(keras.backend.backend()),
    ...                  input_shape=(8,), num_classes=2, steps=1, warmup=1)
    >>> t.examples_per_second > 0, t.error
    (True, '')
    """
    if setting.backend != keras.backend.backend():
        raise BenchError(f"This process runs {keras.backend.backend()!r}; "
                         f"{setting.backend!r} is timed by `recommend` in "
                         "a child process.")
    try:
        keras.utils.set_random_seed(seed)
        model = build_for_setting(model_name, setting,
                                  keras.losses.MeanSquaredError(),
                                  **model_kwargs)
        x, y = _random_batch(model, batch_size, seed)
        with graph_rewrite_scope(setting.precision):
            started = time.perf_counter()
            model.train_on_batch(x, y)
            first = time.perf_counter() - started
            for _ in range(max(0, warmup - 1)):
                model.train_on_batch(x, y)
            started = time.perf_counter()
            for _ in range(steps):
                loss = model.train_on_batch(x, y)
            step = (time.perf_counter() - started) / steps
        if not np.all(np.isfinite(keras.tree.flatten(loss))):
            raise FloatingPointError("the loss is not finite")
    except Exception as err:  # noqa: BLE001  (reported per setting)
        return Timing(setting, error=f"{type(err).__name__}: {err}"[:300])
    finally:
        keras.backend.clear_session()
    return Timing(setting, batch_size / step, step, first)


def _time_elsewhere(model_name: str, settings: list[Setting],
                    options: dict[str, Any]) -> list[Timing]:
    backend = settings[0].backend
    request = {"model": model_name, "options": options,
               "settings": [dataclasses.asdict(s) for s in settings]}
    env = {**os.environ, "KERAS_BACKEND": backend}
    proc = subprocess.run(
        [sys.executable, "-m", "kerakit.performance"],
        input=json.dumps(request), env=env, capture_output=True, text=True)
    if proc.returncode:
        error = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [Timing(s, error=f"{backend} process failed: {error}")
                for s in settings]
    return [_timing_from_dict(t) for t in json.loads(
        proc.stdout.strip().splitlines()[-1])]


def _timing_from_dict(data: dict[str, Any]) -> Timing:
    return Timing(**{**data, "setting": Setting(**data["setting"])})


def recommend(model_name: str, *, backends: Sequence[str] | None = None,
              precisions: Sequence[str] = DEFAULT_PRECISIONS,
              compiled: bool = False, batch_size: int = 32, steps: int = 5,
              warmup: int = 2, seed: int = 0,
              **model_kwargs: Any) -> Recommendation:
    """Time the candidate settings of a model; return them fastest first.

    Args:
        model_name: A registered model (`kerakit list`).
        backends: Backends to compare (default: the running one).
        precisions: Dtype policy names to try.
        compiled: Also try XLA (TensorFlow) and `torch.compile` (torch).
        batch_size, steps, warmup: The timed batch and how many steps to
            time after `warmup` untimed ones (the first compiles).
        seed: Seed of the weights and the random batch.
        **model_kwargs: Factory arguments (`input_shape`, `num_classes`).

    Returns:
        A `Recommendation`: `best`, `speedup` over the baseline (the
        running backend in float32 with its default layout), every timing.

    Example:
        rec = recommend("resnet50", input_shape=(128, 128, 3),
                        num_classes=10, backends=["tensorflow", "torch"])
        print(rec.best.setting.label(), f"{rec.speedup:.2f}x")
    """
    backends = list(backends or [keras.backend.backend()])
    settings = candidate_settings(model_name, backends, precisions, compiled)
    options = {"batch_size": batch_size, "steps": steps, "warmup": warmup,
               "seed": seed, **model_kwargs}
    timings: list[Timing] = []
    for backend in backends:
        mine = [s for s in settings if s.backend == backend]
        if backend == keras.backend.backend():
            timings += [time_setting(model_name, s, **options) for s in mine]
        else:
            timings += _time_elsewhere(model_name, mine, options)
    baseline_backend = (keras.backend.backend()
                        if keras.backend.backend() in backends
                        else backends[0])
    baseline = next((t for t in timings if not t.error
                     and t.setting.backend == baseline_backend
                     and t.setting.precision == "float32"
                     and t.setting.jit_compile == "auto"), None)
    ran = sorted((t for t in timings if not t.error),
                 key=lambda t: -t.examples_per_second)
    if not ran:
        raise BenchError(f"No setting of {model_name!r} could be timed: "
                         + "; ".join(f"{t.setting.label()}: {t.error}"
                                     for t in timings))
    failed = [t for t in timings if t.error]
    return Recommendation(model_name, ran + failed, baseline, cpu_summary())


def _child_main() -> int:
    """Time the settings a parent `recommend` sent on stdin (one backend);
    print the timings as one JSON line."""
    request = json.loads(sys.stdin.read())
    options = request["options"]
    if isinstance(options.get("input_shape"), list):
        options["input_shape"] = tuple(options["input_shape"])
    out = [dataclasses.asdict(time_setting(
        request["model"], Setting(**s), **options))
        for s in request["settings"]]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
