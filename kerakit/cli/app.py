"""The `kerakit` command line.

Subcommands are listed in `_COMMANDS`: each maps a name to an `add` function
(declares its arguments) and a `run` function (does the work, returns an
exit code). Keras is imported only after `--backend` has been applied, since
the Keras backend is fixed when `keras` is first imported.

An error the user caused (bad input, a bad or damaged file, too little
memory) ends in one line, `kerakit COMMAND: error: ...`, and exit code 2;
any other exception is a bug and shows its traceback. `--verbose` shows the
traceback of user errors too, and TensorFlow's C++ log lines, which are
otherwise filtered from stderr (`kerakit._quiet`).

Example:
    kerakit list "resnet*"
    kerakit info vgg16
    kerakit build resnet18 --input-shape 32,32,3 --num-classes 10 --summary
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from collections.abc import Sequence

from kerakit import _quiet
from kerakit.cli import bench as bench_cli
from kerakit.cli import components as components_cli
from kerakit.cli import errors
from kerakit.cli import export as export_cli
from kerakit.cli import models as models_cli
from kerakit.cli import train as train_cli
from kerakit.cli import tune as tuning_cli

BACKENDS = ("tensorflow", "jax", "torch")


_COMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    **models_cli.COMMANDS,
    "tune": ("search hyper-parameters of a recipe (KerasTuner)",
             tuning_cli.add_arguments, tuning_cli.run),
    "components": ("list named layers, losses, optimizers, ...",
                   components_cli.add_arguments, components_cli.run),
    "export": ("export a model or run for deployment (SavedModel, ONNX)",
               export_cli.add_arguments, export_cli.run),
    "bench": ("time training settings (backend, precision, layout) here",
              bench_cli.add_arguments, bench_cli.run),
}

# train / evaluate / predict / recipes live in kerakit.cli.train.
_COMMANDS.update(train_cli.COMMANDS)


def make_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="kerakit",
        description="Classic architectures on Keras 3 (TensorFlow, JAX, "
        "PyTorch).",
    )
    parser.add_argument("--backend", choices=BACKENDS,
                        help="Keras backend for this run")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's log lines and the full "
                        "traceback of an error")
    # `--verbose` is also accepted after the subcommand; SUPPRESS keeps the
    # subcommand from overwriting a `--verbose` given before it.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--verbose", action="store_true",
                        default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.subcommands = {}
    for name, (help_text, add, _) in _COMMANDS.items():
        parser.subcommands[name] = sub.add_parser(
            name, help=help_text, description=help_text, parents=[shared])
        add(parser.subcommands[name])
    return parser


def _options(parser: argparse.ArgumentParser,
             args: argparse.Namespace) -> dict[str, str]:
    """Map each path-like value given on the command line to its option.

    Example: `{"runs/a": "--run-dir"}`, so that an error about `runs/a`
    can say which option gave it.
    """
    found = {}
    for action in parser.subcommands[args.command]._actions:
        values = getattr(args, action.dest, None)
        values = values if isinstance(values, list) else [values]
        long = [o for o in action.option_strings if o.startswith("--")]
        label = long[0] if long else (action.metavar or action.dest.upper())
        for value in values:
            if isinstance(value, str) and value:
                found.setdefault(value, label)
    return found


def _switch_backend(backend: str | None, argv: Sequence[str]) -> None:
    """Re-run this command under `backend` if keras already has another."""
    if backend is None:
        return
    current = sys.modules.get("keras")
    active = current.backend.backend() if current else None
    if active in (None, backend):
        os.environ["KERAS_BACKEND"] = backend
        return
    env = {**os.environ, "KERAS_BACKEND": backend}
    # The new process filters its own stderr; this one's filter must have
    # passed everything on before the exec replaces the process.
    sys.stdout.flush()
    _quiet.uninstall()
    os.execve(sys.executable,
              [sys.executable, "-m", "kerakit", *argv], env)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _switch_backend(args.backend, argv)
    try:
        return _COMMANDS[args.command][2](args)
    except Exception as err:
        message = errors.describe(err, _options(parser, args))
        if message is None:
            raise  # a bug: the traceback is what its report needs
        if args.verbose:
            traceback.print_exc()
        print(f"kerakit {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command == "train":
            # Every finished epoch is checkpointed in the run directory.
            print("interrupted: the run directory keeps the last finished "
                  "epoch; run the same command again to continue from it",
                  file=sys.stderr)
        else:
            print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
