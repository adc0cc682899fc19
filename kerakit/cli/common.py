"""What every subcommand shares: the user-error type and argument parsing.

Subcommand modules import this module, never the entry point
(`kerakit.cli.app`), so the command line has no import cycle.

Example:
>>> parse_assignments(["epochs=3"])
{'epochs': 3}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


class CLIError(Exception):
    """An error the user can fix; printed without a traceback."""


def console() -> Any:
    """Return a `rich` console for a command's output (stdout).

    Lines are not wrapped at the terminal width (`soft_wrap`): a path or a
    metric line stays whole, so it can be copied or parsed.
    """
    from rich.console import Console

    return Console(soft_wrap=True)


def parse_shape(text: str) -> tuple[int | None, ...]:
    """Parse `"32,32,3"` (or `"None,None,3"`) into a shape tuple.

    Example:
    >>> parse_shape("32,32,3")
    (32, 32, 3)
    """
    try:
        return tuple(
            None if part.strip().lower() in ("none", "?") else int(part)
            for part in text.split(",")
        )
    except ValueError:
        raise CLIError(
            f"Cannot read shape {text!r}: give comma-separated integers, "
            "e.g. --input-shape 32,32,3"
        ) from None


def parse_value(text: str) -> Any:
    """Parse a `--set` value: JSON when it parses, else the plain string.

    Example:
    >>> parse_value("[2, 2]"), parse_value("0.1"), parse_value("adam")
    ([2, 2], 0.1, 'adam')
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        low = text.lower()
        if low in ("true", "false"):
            return low == "true"
        if low in ("none", "null"):
            return None
        return text


def add_factory_arguments(parser: Any) -> None:
    """`--input-shape`, `--num-classes` and `--set` of the commands that
    build a model from its factory (build, bench)."""
    parser.add_argument("--input-shape", type=parse_shape,
                        help="shape without batch, e.g. 32,32,3")
    parser.add_argument("--num-classes", type=int)
    parser.add_argument("--set", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="any other factory argument (JSON values)")


def factory_kwargs(args: Any) -> dict[str, Any]:
    """The factory arguments of `add_factory_arguments` options.

    Example:
    >>> import argparse
    >>> factory_kwargs(argparse.Namespace(
    ...     input_shape=(8,), num_classes=None, set=["widths=[4, 4]"]))
    {'widths': (4, 4), 'input_shape': (8,)}
    """
    kwargs = {k: tuple(v) if isinstance(v, list) else v
              for k, v in parse_assignments(args.set).items()}
    if args.input_shape is not None:
        kwargs["input_shape"] = args.input_shape
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    return kwargs


# Choices of `--precision` (kerakit.precision.RECIPE_PRECISIONS; repeated
# here so that `--help` does not import Keras).
PRECISION_CHOICES = ("float32", "mixed_bfloat16", "mixed_float16",
                     "onednn_bfloat16", "auto")


def add_precision(parser: Any) -> None:
    """The `--precision` option of the commands that train."""
    parser.add_argument(
        "--precision", choices=PRECISION_CHOICES,
        help="the model's dtype policy, or onednn_bfloat16 (TensorFlow's "
        "bfloat16 graph rewrite; recipe field precision); auto: bfloat16 on "
        "a CPU with native bfloat16 (AMX, AVX512-BF16), else float32")


def recipe_overrides(args: Any, items: Sequence[str]) -> dict[str, Any]:
    """`--set` assignments plus the options that stand for recipe fields.

    Example:
    >>> import argparse
    >>> recipe_overrides(argparse.Namespace(precision="auto"), ["epochs=2"])
    {'epochs': 2, 'precision': 'auto'}
    """
    overrides = parse_assignments(items)
    if getattr(args, "precision", None):
        overrides["precision"] = args.precision
    return overrides


def parse_assignments(items: Sequence[str]) -> dict[str, Any]:
    """Parse `key=value` items into a dict.

    Example:
    >>> parse_assignments(["epochs=3", "model_kwargs.dropout=0.1"])
    {'epochs': 3, 'model_kwargs.dropout': 0.1}
    """
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(
                f"Cannot read {item!r}: write key=value, e.g. epochs=3"
            )
        out[key.strip()] = parse_value(value.strip())
    return out
