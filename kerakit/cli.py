"""The `kerakit` command line.

Subcommands are listed in `_COMMANDS`: each maps a name to an `add` function
(declares its arguments) and a `run` function (does the work, returns an
exit code). Keras is imported only after `--backend` has been applied, since
the Keras backend is fixed when `keras` is first imported.

Example:
    kerakit list "resnet*"
    kerakit info vgg16
    kerakit build resnet18 --input-shape 32,32,3 --num-classes 10 --summary
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from kerakit import components_cli
from kerakit import export_cli
from kerakit import train_cli
from kerakit import tuning_cli

BACKENDS = ("tensorflow", "jax", "torch")


class CLIError(Exception):
    """An error the user can fix; printed without a traceback."""


def _console() -> Any:
    from rich.console import Console

    return Console()


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
    >>> parse_assignments(["fit.epochs=3", "model_kwargs.dropout=0.1"])
    {'fit.epochs': 3, 'model_kwargs.dropout': 0.1}
    """
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(
                f"Cannot read {item!r}: write key=value, e.g. fit.epochs=3"
            )
        out[key.strip()] = parse_value(value.strip())
    return out


# ---------------------------------------------------------------- list / info
def _add_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*",
                        help="fnmatch pattern, e.g. 'resnet*'")
    parser.add_argument("--family", help="only this family")
    parser.add_argument("--task", help="only this task")


def _run_list(args: argparse.Namespace) -> int:
    import kerakit
    from rich.table import Table

    names = kerakit.list_models(args.pattern, family=args.family,
                                task=args.task)
    if not names:
        raise CLIError(
            f"No model matches {args.pattern!r}. Families: "
            f"{', '.join(kerakit.list_families())}"
        )
    table = Table(title=f"kerakit models ({len(names)})")
    for column in ("name", "family", "task", "canonical params"):
        table.add_column(column)
    for name in names:
        info = kerakit.model_info(name)
        params = f"{info['params']:,}" if info["params"] else "-"
        table.add_row(name, info["family"], info["task"], params)
    _console().print(table)
    return 0


def _add_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="registered model name")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _run_info(args: argparse.Namespace) -> int:
    import kerakit

    info = kerakit.model_info(args.model)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    console = _console()
    console.print(f"[bold]{info['name']}[/bold]: {info['doc']}")
    for key in ("family", "task", "reference"):
        console.print(f"  {key}: {info[key]}")
    params = f"{info['params']:,}" if info["params"] else "-"
    console.print(f"  canonical settings: {info['canonical']}")
    console.print(f"  parameters at canonical settings: {params}")
    console.print(f"  tunable knobs: {info['knobs'] or '-'}")
    console.print("  arguments:")
    for key, value in info["arguments"].items():
        console.print(f"    {key} = {value!r}")
    return 0


# ---------------------------------------------------------------------- build
def _add_build(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="registered model name")
    parser.add_argument("--input-shape", type=parse_shape,
                        help="shape without batch, e.g. 32,32,3")
    parser.add_argument("--num-classes", type=int)
    parser.add_argument("--set", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="any other factory argument (JSON values)")
    parser.add_argument("--summary", action="store_true",
                        help="print the layer summary")
    parser.add_argument("--plot", metavar="FILE",
                        help="write a diagram of the model (needs pydot)")
    parser.add_argument("--save", metavar="FILE",
                        help="save the untrained model as .keras")


def _run_build(args: argparse.Namespace) -> int:
    import kerakit

    kwargs = parse_assignments(args.set)
    for key, value in kwargs.items():
        if isinstance(value, list):
            kwargs[key] = tuple(value)
    if args.input_shape is not None:
        kwargs["input_shape"] = args.input_shape
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    model = kerakit.build(args.model, **kwargs)
    console = _console()
    if args.summary:
        model.summary(print_fn=lambda line, **_: console.print(line,
                                                               markup=False))
    console.print(
        f"built [bold]{model.name}[/bold]: input {model.input_shape} -> "
        f"output {model.output_shape}, {model.count_params():,} parameters"
    )
    if args.plot:
        import keras

        try:
            keras.utils.plot_model(model, to_file=args.plot, show_shapes=True)
        except ImportError as err:
            raise CLIError(
                f"Cannot plot: {err}. Install pydot and graphviz."
            ) from None
        console.print(f"diagram written to {args.plot}")
    if args.save:
        model.save(args.save)
        console.print(f"saved to {args.save}")
    return 0


_COMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    "list": ("list registered models", _add_list, _run_list),
    "info": ("describe one model", _add_info, _run_info),
    "build": ("build a model and print its summary", _add_build, _run_build),
    "tune": ("search hyper-parameters of a recipe (KerasTuner)",
             tuning_cli.add_arguments, tuning_cli.run),
    "components": ("list named layers, losses, optimizers, ...",
                   components_cli.add_arguments, components_cli.run),
    "export": ("export a model or run for deployment (SavedModel, ONNX)",
               export_cli.add_arguments, export_cli.run),
}

# train / evaluate / predict / recipes live in kerakit.train_cli.
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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add, _) in _COMMANDS.items():
        add(sub.add_parser(name, help=help_text, description=help_text))
    return parser


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
    except (CLIError, ValueError, TypeError, FileNotFoundError) as err:
        # User errors are printed plainly; bugs still raise other types.
        print(f"kerakit {args.command}: error: {err}", file=sys.stderr)
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
