"""The model registry: one place that knows every buildable architecture.

Factories register themselves with :func:`register` (generic builders and
their named variants alike). :func:`build` validates the keyword arguments
against the factory's signature before any Keras code runs, so a typo gives a
short, actionable error instead of a traceback from deep inside a layer.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import inspect
import numbers
import types
import typing
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import keras

Factory = Callable[..., keras.Model]


@dataclasses.dataclass(frozen=True)
class Knob:
    """A hyper-parameter of a model that a tuner may vary.

    Args:
        kind: What the knob controls: `"depth"`, `"width"`, `"dropout"`, ...
        arg: The factory keyword it sets. `"model"` means the knob switches
            between registered variants (e.g. vgg11 ... vgg19).
        values: Discrete choices; empty when `min_value`/`max_value` are set.
        min_value: Lower bound of a numeric range.
        max_value: Upper bound of a numeric range.
        step: Step of an integer range.
        log: Whether a float range is sampled on a log scale.
    """

    kind: str
    arg: str
    values: tuple = ()
    min_value: float | None = None
    max_value: float | None = None
    step: float | None = None
    log: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly description."""
        out = {"kind": self.kind, "arg": self.arg}
        if self.values:
            out["values"] = list(self.values)
        else:
            out.update(
                min_value=self.min_value,
                max_value=self.max_value,
                step=self.step,
                log=self.log,
            )
        return out


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """Everything the registry knows about one model name."""

    name: str
    fn: Factory
    family: str
    task: str
    tiny: Mapping[str, Any]
    reference: str = ""
    canonical: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    params: int | None = None
    knobs: tuple[Knob, ...] = ()
    # Extra test inputs for the sweep, e.g. {"input_kind": "tokens"}.
    test: Mapping[str, Any] = dataclasses.field(default_factory=dict)


_MODELS: dict[str, ModelEntry] = {}


def register(
    *,
    family: str,
    task: str,
    tiny: Mapping[str, Any],
    reference: str = "",
    canonical: Mapping[str, Any] | None = None,
    params: int | None = None,
    knobs: tuple[Knob, ...] | list[Knob] = (),
    test: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Callable[[Factory], Factory]:
    """Register a model factory under its function name.

    Args:
        family: Family the model belongs to (`"vgg"`, `"resnet"`, ...).
        task: What the model does (`"image_classification"`, ...). The
            sweep test picks its input data and loss from it.
        tiny: Keyword arguments for a configuration that builds and trains
            in seconds on a CPU; the sweep test uses it on every backend.
        reference: Paper or reference implementation.
        canonical: Keyword arguments of the canonical (paper) settings.
        params: `count_params()` at the canonical settings.
        knobs: Hyper-parameters a tuner may vary.
        test: Hints for the sweep test (see `kerakit.testing`).
        name: Registered name; defaults to the function name.

    Returns:
        A decorator that registers and returns the factory unchanged.

    Example:
    >>> import kerakit
    >>> "vgg16" in kerakit.list_models("vgg*")
    True
    """

    def wrap(fn: Factory) -> Factory:
        key = name or fn.__name__
        if key in _MODELS:
            raise ValueError(f"Model {key!r} is already registered.")
        _MODELS[key] = ModelEntry(
            name=key,
            fn=fn,
            family=family,
            task=task,
            tiny=dict(tiny),
            reference=reference,
            canonical=dict(canonical or {}),
            params=params,
            knobs=tuple(knobs),
            test=dict(test or {}),
        )
        return fn

    return wrap


def variant(
    base: Factory, name: str, doc: str, **fixed: Any
) -> Factory:
    """Make a named variant of a generic builder with some arguments fixed.

    The variant's signature is the base signature without the fixed
    arguments, so passing one of them raises a `TypeError` that says to use
    the generic builder instead.

    Args:
        base: The generic builder, e.g. `vgg`.
        name: The variant's name, e.g. `"vgg16"`; also the default model name.
        doc: One-line docstring of the variant.
        **fixed: Architecture constants of the variant.

    Returns:
        The variant factory (not yet registered).

    Example:
    >>> from kerakit.models.cnn.lenet import lenet5
    >>> small = variant(lenet5, "small_lenet", "LeNet.", dense_widths=(8,))
    >>> small(num_classes=3).output_shape
    (None, 3)
    """
    base_sig = inspect.signature(base)

    def factory(*args: Any, **kwargs: Any) -> keras.Model:
        clash = sorted(set(kwargs) & set(fixed))
        if clash:
            raise TypeError(
                f"{name}() fixes {clash} as part of its architecture. "
                f"Use kerakit.build({base.__name__!r}, ...) to change them."
            )
        bound = factory.__signature__.bind(*args, **kwargs)
        kwargs = {"name": name, **fixed, **bound.arguments}
        return base(**kwargs)

    params = [p for p in base_sig.parameters.values() if p.name not in fixed]
    params = [
        p.replace(default=name) if p.name == "name" else p for p in params
    ]
    factory.__signature__ = base_sig.replace(parameters=params)
    factory.__name__ = name
    factory.__qualname__ = name
    factory.__doc__ = doc
    factory.__module__ = base.__module__
    factory.base = base
    factory.fixed = dict(fixed)
    return factory


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=5, cutoff=0.5)
    prefix = [c for c in choices if c.startswith(name[:3])][:5]
    close = close or prefix
    if close:
        return "Did you mean: " + ", ".join(repr(c) for c in close) + "?"
    return "Run kerakit.list_models() to see every name."


def get_entry(name: str) -> ModelEntry:
    """Return the registry entry for `name`, with a helpful error if unknown.

    Example:
    >>> get_entry("vgg16").family
    'vgg'
    """
    if not isinstance(name, str):
        raise TypeError(
            f"Model name must be a string. Received: {name!r} "
            f"of type {type(name).__name__}."
        )
    if name not in _MODELS:
        raise ValueError(
            f"Unknown model {name!r}. {_suggest(name, sorted(_MODELS))}"
        )
    return _MODELS[name]


def _type_ok(value: Any, hint: Any) -> bool:
    """Loose check of `value` against a type hint (basic types only)."""
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, list, Sequence):
        if not isinstance(value, (tuple, list)):
            return False
        args = typing.get_args(hint)
        if not args:
            return True
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return len(args) == len(value) and all(
                _type_ok(v, a) for v, a in zip(value, args)
            )
        return all(_type_ok(v, args[0]) for v in value)
    # Anything richer (callables, layers, dtypes) is left to the factory.
    return True


def _describe(hint: Any) -> str:
    text = getattr(hint, "__name__", None) or str(hint)
    return text.replace("typing.", "")


def check_kwargs(fn: Factory, kwargs: Mapping[str, Any], label: str) -> None:
    """Raise a clear error for unknown or ill-typed keyword arguments."""
    sig = inspect.signature(fn)
    accepted = [
        p.name
        for p in sig.parameters.values()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    fixed = getattr(fn, "fixed", {})
    for key in kwargs:
        if key in fixed:
            raise TypeError(
                f"{label} fixes {key!r} as part of its architecture. "
                f"Use kerakit.build({fn.base.__name__!r}, {key}=...) "
                f"to change it."
            )
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=3, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"{label} got an unexpected keyword argument {key!r}.{hint} "
                f"Accepted: {', '.join(accepted)}."
            )
    target = getattr(fn, "base", fn)
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # Unresolvable annotations: skip type checks.
        hints = {}
    for key, value in kwargs.items():
        if key in hints and not _type_ok(value, hints[key]):
            raise TypeError(
                f"{label}: argument {key!r} expects {_describe(hints[key])}. "
                f"Received: {key}={value!r}."
            )


def build(name: str, /, **kwargs: Any) -> keras.Model:
    """Build a registered model by name.

    Args:
        name: A registered name (see `list_models()`); a family name such
            as `"vgg"` builds its best-known member.
        **kwargs: Keyword arguments of the model's factory, e.g.
            `input_shape`, `num_classes`, `include_top`, `pooling`.

    Returns:
        An uncompiled functional `keras.Model` that outputs logits.

    Example:
    >>> import kerakit
    >>> m = kerakit.build("lenet5", input_shape=(32, 32, 1), num_classes=10)
    >>> m.output_shape
    (None, 10)
    """
    entry = get_entry(name)
    check_kwargs(entry.fn, kwargs, f"{name}()")
    check_input_shape(kwargs.get("input_shape"), f"{name}()")
    return entry.fn(**kwargs)


def check_input_shape(input_shape: Any, label: str) -> None:
    """Refuse an input shape with a size below 1, for every model.

    A size of 0 (e.g. 0 channels) would otherwise build a model that has
    nothing to learn from. `None` (a size known only at run time) is fine;
    the factory checks the rank and what its architecture needs.

    Example:
    >>> check_input_shape((32, 32, 3), "vgg()")
    >>> check_input_shape((32, 32, 0), "vgg()")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: vgg(): every size in input_shape must be a positive ...
    """
    if not isinstance(input_shape, (tuple, list)):
        return  # absent (the factory's default), or left to the factory
    for size in input_shape:
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(
                size, numbers.Integral) or size < 1:
            raise ValueError(
                f"{label}: every size in input_shape must be a positive "
                f"integer or None. Received: input_shape="
                f"{tuple(input_shape)!r}"
            )


def list_models(
    pattern: str = "*", family: str | None = None, task: str | None = None
) -> list[str]:
    """List registered model names, sorted.

    Args:
        pattern: fnmatch pattern, e.g. `"resnet*"`.
        family: Keep only this family.
        task: Keep only this task.

    Returns:
        Sorted list of names.

    Example:
    >>> import kerakit
    >>> kerakit.list_models("resnet1*")
    ['resnet101', 'resnet152', 'resnet18']
    """
    return sorted(
        name
        for name, entry in _MODELS.items()
        if fnmatch.fnmatch(name, pattern)
        and (family is None or entry.family == family)
        and (task is None or entry.task == task)
    )


def list_families() -> list[str]:
    """List the registered families, sorted.

    Example:
    >>> "vgg" in list_families()
    True
    """
    return sorted({entry.family for entry in _MODELS.values()})


def model_info(name: str) -> dict[str, Any]:
    """Describe a registered model.

    Returns:
        A dict with `name`, `family`, `task`, `reference`, `canonical`
        (the canonical keyword arguments), `params` (parameter count at the
        canonical settings), `knobs` (tunable hyper-parameters),
        `arguments` (accepted keywords with defaults) and `doc`.

    Example:
    >>> import kerakit
    >>> kerakit.model_info("vgg16")["params"]
    138357544
    """
    entry = get_entry(name)
    sig = inspect.signature(entry.fn)
    arguments = {
        p.name: (None if p.default is p.empty else p.default)
        for p in sig.parameters.values()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    doc = inspect.getdoc(entry.fn) or ""
    return {
        "name": entry.name,
        "family": entry.family,
        "task": entry.task,
        "reference": entry.reference,
        "canonical": dict(entry.canonical),
        "params": entry.params,
        "knobs": {k.kind: k.as_dict() for k in entry.knobs},
        "arguments": arguments,
        "doc": doc.splitlines()[0] if doc else "",
    }


def entries() -> list[ModelEntry]:
    """Return every registry entry, sorted by name."""
    return [_MODELS[k] for k in sorted(_MODELS)]
