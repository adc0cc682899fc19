"""The `kerakit` command line: `app` is the entry point, one module per group
of subcommands (`models`, `train`, `tune`, `export`, `components`), and
`common` holds what they share. Subcommands never import `app`.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see `kerakit.cli.app`)."""
    from kerakit.cli.app import main as run

    return run(argv)
