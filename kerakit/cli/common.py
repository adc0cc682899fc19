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
