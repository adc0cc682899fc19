"""`kerakit list | info | build`: the model registry on the command line.

Example:
    kerakit list "resnet*"
    kerakit info vgg16
    kerakit build resnet18 --input-shape 32,32,3 --num-classes 10 --summary
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os

from kerakit.cli.common import CLIError
from kerakit.cli.common import console as _console
from kerakit.cli.common import add_factory_arguments
from kerakit.cli.common import factory_kwargs


def _add_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*",
                        help="fnmatch pattern, e.g. 'resnet*'")
    parser.add_argument("--family", help="only this family")
    parser.add_argument("--task", help="only this task")


def _run_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    import kerakit

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
    add_factory_arguments(parser)
    parser.add_argument("--summary", action="store_true",
                        help="print the layer summary")
    parser.add_argument("--plot", metavar="FILE",
                        help="write a diagram of the model (needs pydot)")
    parser.add_argument("--save", metavar="FILE",
                        help="save the untrained model as .keras")


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse `--plot` / `--save` targets that cannot work, before building.

    A model may take minutes to build; a missing pydot or a wrong file name
    is cheaper to hear first.
    """
    if args.plot and importlib.util.find_spec("pydot") is None:
        raise CLIError(
            f"--plot {args.plot}: drawing a model needs pydot and Graphviz: "
            "pip install pydot, and install Graphviz (its `dot` program).")
    for option, path in (("--plot", args.plot), ("--save", args.save)):
        if not path:
            continue
        if os.path.isdir(path):
            raise CLIError(f"{option} {path} is a directory: give a file "
                           "name.")
        folder = os.path.dirname(path)
        if folder and not os.path.isdir(folder):
            raise CLIError(f"{option} {path}: the folder {folder} does not "
                           "exist: create it first.")
    if args.save and not args.save.endswith(".keras"):
        raise CLIError(f"--save {args.save}: give a file name ending in "
                       ".keras (the native Keras format), e.g. model.keras.")


def _plot(model: object, path: str) -> None:
    """Write the model diagram, or raise a `CLIError` saying why not."""
    import keras

    try:
        keras.utils.plot_model(model, to_file=path, show_shapes=True)
    except ImportError as err:  # pydot is there, Graphviz is not
        raise CLIError(f"--plot {path}: {err}") from None
    # In a notebook keras prints why it cannot plot and returns.
    if not os.path.isfile(path):
        raise CLIError(f"--plot {path}: no diagram was written; install "
                       "pydot and Graphviz (its `dot` program).")


def _run_build(args: argparse.Namespace) -> int:
    import kerakit

    _check_outputs(args)
    model = kerakit.build(args.model, **factory_kwargs(args))
    console = _console()
    if args.summary:
        model.summary(print_fn=lambda line, **_: console.print(line,
                                                               markup=False))
    import keras

    console.print(
        f"built [bold]{model.name}[/bold] ({keras.backend.backend()} "
        f"backend): input {model.input_shape} -> output "
        f"{model.output_shape}, {model.count_params():,} parameters"
    )
    if args.plot:
        _plot(model, args.plot)
        console.print(f"diagram written to {args.plot}")
    if args.save:
        model.save(args.save)
        console.print(f"saved to {args.save}")
    return 0


COMMANDS = {
    "list": ("list registered models", _add_list, _run_list),
    "info": ("describe one model", _add_info, _run_info),
    "build": ("build a model and print its summary", _add_build, _run_build),
}
