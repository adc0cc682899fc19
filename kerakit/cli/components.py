"""`kerakit components [KIND]`: list named components with descriptions.

Example:
    kerakit components
    kerakit components losses
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `kerakit components`."""
    parser.add_argument(
        "kind", nargs="?", default=None,
        help="one kind: layers, activations, optimizers, schedules, losses, "
        "metrics, regularizers, callbacks, preprocessing (default: all)",
    )
    parser.add_argument("--no-aliases", action="store_true",
                        help="hide the alias column")


def run(args: argparse.Namespace) -> int:
    """Print one table per kind; returns the exit code."""
    from rich.console import Console
    from rich.table import Table

    from kerakit import components

    kinds = ([components.canonical_kind(args.kind)] if args.kind
             else components.kinds())
    console = Console()
    for kind in kinds:
        rows = components.table(kind)
        table = Table(title=f"{kind} ({len(rows)})", title_justify="left")
        table.add_column("name", style="bold", no_wrap=True)
        if not args.no_aliases:
            table.add_column("aliases")
        table.add_column("description")
        for _, name, aliases, description in rows:
            cells = [name] + ([] if args.no_aliases else [aliases])
            table.add_row(*cells, description)
        console.print(table)
    console.print(
        'Names ignore case and separators; build one with '
        'kerakit.components.get(kind, name, **kwargs).'
    )
    return 0
