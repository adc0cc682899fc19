"""`kerakit list | info | build`: the model registry on the command line.

Example:
    kerakit list "resnet*"
    kerakit info vgg16
    kerakit build resnet18 --input-shape 32,32,3 --num-classes 10 --summary
"""

from __future__ import annotations

import argparse
import json

from kerakit.cli.common import CLIError
from kerakit.cli.common import console as _console
from kerakit.cli.common import parse_assignments
from kerakit.cli.common import parse_shape


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


COMMANDS = {
    "list": ("list registered models", _add_list, _run_list),
    "info": ("describe one model", _add_info, _run_info),
    "build": ("build a model and print its summary", _add_build, _run_build),
}
