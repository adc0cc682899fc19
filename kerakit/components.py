"""Resolve and list components by name: layers, losses, optimizers, ...

Recipe files and users name components by string. Names are case- and
separator-insensitive (`"LeakyReLU"`, `"leaky_relu"` and `"leaky-relu"`
are one name) and common aliases work (`"mse"`, `"cross_entropy"`,
`"linear"` for a Dense layer). An unknown name raises a `ValueError` that
lists the closest matches.

Example:
>>> from kerakit import components
>>> components.get("layers", "linear", units=4).__class__.__name__
'Dense'
>>> components.get("losses", "MSE").name
'mean_squared_error'
>>> "lamb" in components.list("optimizers")
True
"""

from __future__ import annotations

import builtins
import difflib
import functools
import importlib
import math
import numbers
from dataclasses import dataclass
from typing import Any

from kerakit import _component_table


@dataclass(frozen=True)
class Component:
    """One named component: its factory, description and aliases."""

    kind: str
    name: str
    target: str
    description: str
    aliases: tuple[str, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()
    style: str = "build"

    def factory(self) -> Any:
        """Import and return the target (`"module:attribute"`)."""
        module, _, attribute = self.target.partition(":")
        obj = importlib.import_module(module)
        for part in attribute.split("."):
            obj = getattr(obj, part)
        return obj


def normalize(name: str) -> str:
    """Fold case and drop separators: `"Leaky-ReLU"` -> `"leakyrelu"`.

    Example:
    >>> normalize("Leaky-ReLU") == normalize("leaky_relu")
    True
    """
    return "".join(ch for ch in str(name).lower() if ch not in "_- .")


def _index() -> dict[str, dict[str, Component]]:
    table: dict[str, dict[str, Component]] = {}
    for kind, rows in _component_table.TABLE.items():
        keys: dict[str, Component] = {}
        for row in rows:
            entry = Component(kind=kind, **row)
            for key in (entry.name, *entry.aliases):
                norm = normalize(key)
                if norm in keys and keys[norm] is not entry:
                    raise ValueError(
                        f"{kind}: {key!r} names both {keys[norm].name!r} "
                        f"and {entry.name!r}"
                    )
                keys[norm] = entry
        table[kind] = keys
    return table


_INDEX = _index()


def kinds() -> list[str]:
    """Return the component kinds.

    Example:
    >>> kinds()[:3]
    ['layers', 'activations', 'optimizers']
    """
    return builtins.list(_INDEX)


def canonical_kind(kind: str) -> str:
    """Return the kind's canonical name.

    Example:
    >>> canonical_kind("Loss")
    'losses'
    """
    key = normalize(kind)
    for name in _INDEX:
        if normalize(name) in (key, key + "s", key + "es"):
            return name
    raise ValueError(
        f"Unknown component kind {kind!r}. Kinds: {', '.join(kinds())}"
    )


def _kind(kind: str) -> dict[str, Component]:
    return _INDEX[canonical_kind(kind)]


def list(kind: str | None = None) -> builtins.list[str]:  # noqa: A001
    """Return the canonical names of one kind (all kinds when `None`).

    With no kind, names are prefixed `"kind/name"`.

    Example:
    >>> list("activations")[:3]
    ['relu', 'sigmoid', 'tanh']
    """
    if kind is None:
        return [f"{k}/{name}" for k in kinds() for name in list(k)]
    seen: dict[str, None] = {}
    for entry in _kind(kind).values():
        seen.setdefault(entry.name)
    return builtins.list(seen)


def lookup(kind: str, name: str) -> Component:
    """Return the `Component` record for a name, or raise `ValueError`.

    Example:
    >>> lookup("losses", "cross-entropy").name
    'sparse_categorical_crossentropy'
    """
    kind = canonical_kind(kind)
    entries = _INDEX[kind]
    if not isinstance(name, str):
        raise TypeError(
            f"A {kind} name must be a string. Received: {name!r}"
        )
    key = normalize(name)
    if key in entries:
        return entries[key]
    close = difflib.get_close_matches(key, entries, n=5, cutoff=0.5)
    suggestions = builtins.list(dict.fromkeys(entries[c].name for c in close))
    hint = (f"Did you mean: {', '.join(suggestions)}?" if suggestions
            else f"Known: {', '.join(list(kind))}")
    elsewhere = [k for k in kinds() if key in _INDEX[k]]
    if elsewhere:
        hint += f" ({name!r} is a name of kind {', '.join(elsewhere)}.)"
    raise ValueError(f"Unknown {kind} name {name!r}. {hint}")


def describe(kind: str, name: str) -> str:
    """Return the one-line description of a component.

    Example:
    >>> describe("layers", "drop_path")
    'Stochastic depth: drop a residual branch per sample (kerakit).'
    """
    return lookup(kind, name).description


def get(kind: str, name: str, **kwargs: Any) -> Any:
    """Build the component `name` of `kind` with `kwargs`.

    Layers, losses, optimizers, schedules, regularizers, callbacks,
    metrics and preprocessing layers are instantiated; activations return
    the (serialisable) callable (`swish` takes `beta=`); data functions
    (`pad_sequences`, `pca`, ...) come back with `kwargs` bound by
    `functools.partial`. Passing an object that is not a string
    returns it unchanged, so recipe code can accept both; `None` is
    refused. A learning rate (`learning_rate`, `initial_learning_rate`)
    must be a finite number >= 0.

    Args:
        kind: One of `kinds()`; singular or plural, any case.
        name: Canonical name or alias, case- and separator-insensitive.
        **kwargs: Constructor arguments, over the entry's defaults.

    Returns:
        The built component.

    Example:
    >>> get("activations", "leaky-relu").__name__
    'leaky_relu'
    >>> get("optimizers", "sgd", momentum=0.9, nesterov=True).nesterov
    True
    """
    if name is None:
        kind = canonical_kind(kind)
        first = list(kind)[0]  # this module's list(): the kind's names
        raise TypeError(
            f"No {kind} component given (name=None). Pick one by name, e.g. "
            f"get({kind!r}, {first!r}); `kerakit components {kind}` "
            f"or kerakit.components.list({kind!r}) lists them. Or pass a "
            "built object, which comes back unchanged."
        )
    if not isinstance(name, str):
        if kwargs:
            raise TypeError(f"Cannot apply {kwargs} to the object {name!r}")
        return name
    entry = lookup(kind, name)
    _check_learning_rates(entry, kwargs)
    target = entry.factory()
    if entry.style == "object":
        if kwargs:
            raise TypeError(
                f"{kind} {entry.name!r} takes no arguments. Received: "
                f"{sorted(kwargs)}"
            )
        return target
    arguments = {**dict(entry.defaults), **kwargs}
    if entry.style == "partial":
        return functools.partial(target, **arguments)
    try:
        return target(**arguments)
    except (TypeError, ValueError) as err:
        raise type(err)(
            f"Cannot build {entry.kind} {entry.name!r} with {arguments}: "
            f"{err}"
        ) from None


# Keyword arguments that hold a learning rate, in optimizers and schedules.
_RATE_ARGUMENTS = ("learning_rate", "initial_learning_rate")


def _check_learning_rates(entry: Component, kwargs: dict[str, Any]) -> None:
    """Refuse a NaN, infinite or negative learning rate up front.

    Keras accepts them and training then diverges (NaN) or climbs the loss.
    A schedule or callable given as the rate is left to Keras.
    """
    for key in _RATE_ARGUMENTS:
        value = kwargs.get(key)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            continue
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                f"{entry.kind} {entry.name!r}: {key} must be a finite "
                f"number >= 0, e.g. {key}=0.001. Received: {key}={value!r}"
            )


def table(kind: str | None = None) -> builtins.list[tuple[str, str, str, str]]:
    """Rows `(kind, name, aliases, description)` for display.

    Example:
    >>> table("losses")[0][:2]
    ('losses', 'categorical_crossentropy')
    """
    rows = []
    for k in ([kind] if kind else kinds()):
        entries = _kind(k)
        done: set[str] = set()
        for entry in entries.values():
            if entry.name in done:
                continue
            done.add(entry.name)
            rows.append((entry.kind, entry.name, ", ".join(entry.aliases),
                         entry.description))
    return rows

