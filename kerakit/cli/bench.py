"""`kerakit bench MODEL`: time training settings on this machine.

Registered in `kerakit.cli.app`. It prints every setting's training speed
(examples/s), fastest first, with the speed-up over float32 on the running
backend, and the CPU it was measured on.

Example:
    kerakit bench resnet50 --input-shape 128,128,3 --num-classes 10
    kerakit bench mobilenet_v2 --input-shape 96,96,3 --num-classes 10 \
        --backends tensorflow,jax,torch --compiled
"""

from __future__ import annotations

import argparse
import json

from kerakit.cli.common import CLIError
from kerakit.cli.common import add_factory_arguments
from kerakit.cli.common import factory_kwargs

_BACKENDS = ("tensorflow", "jax", "torch")


def _backends(text: str) -> list[str]:
    names = list(_BACKENDS) if text == "all" else [
        part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in _BACKENDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown backend(s) {unknown or text!r}: give a comma-separated "
            f"list of {', '.join(_BACKENDS)}, or all")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `kerakit bench`."""
    parser.add_argument("model", help="registered model name")
    add_factory_arguments(parser)
    parser.add_argument("--backends", type=_backends, metavar="LIST",
                        help="comma-separated backends to compare, or all "
                        "(default: the running backend)")
    parser.add_argument("--precisions",
                        default="float32,mixed_bfloat16,onednn_bfloat16",
                        help="comma-separated precisions to try (default: "
                        "float32,mixed_bfloat16,onednn_bfloat16; the last "
                        "is TensorFlow's graph rewrite, tried there only)")
    parser.add_argument("--compiled", action="store_true",
                        help="also try XLA on TensorFlow and torch.compile "
                        "(slow to compile)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5,
                        help="timed steps per setting (default 5)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed steps first; the first compiles")
    parser.add_argument("--json", action="store_true",
                        help="print the timings as JSON")


def run(args: argparse.Namespace) -> int:
    """Time the settings and print them fastest first."""
    from kerakit import performance
    from kerakit.cli.common import console as _console
    from kerakit.precision import PrecisionError

    for option in ("batch_size", "steps", "warmup"):
        if getattr(args, option) < 1:
            raise CLIError(f"--{option.replace('_', '-')} must be >= 1. "
                           f"Received: {getattr(args, option)}")
    kwargs = factory_kwargs(args)
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    try:
        rec = performance.recommend(
            args.model, backends=args.backends, precisions=precisions,
            compiled=args.compiled, batch_size=args.batch_size,
            steps=args.steps, warmup=args.warmup, **kwargs)
    except (performance.BenchError, PrecisionError) as err:
        raise CLIError(str(err)) from None
    if args.json:
        print(json.dumps({
            "model": rec.model, "cpu": rec.cpu, "speedup": rec.speedup,
            "timings": [{**vars(t), "setting": vars(t.setting),
                         "label": t.setting.label()} for t in rec.timings]},
            indent=2))
        return 0
    _print_table(rec, _console())
    return 0


def _print_table(rec: object, console: object) -> None:
    from rich.table import Table

    cpu = rec.cpu
    table = Table(title=f"{rec.model}: training speed, batch "
                  f"{_batch(rec)} ({cpu['model']}; "
                  f"{' '.join(cpu['flags']) or 'no AVX-512/AMX'})")
    for column in ("setting", "examples/s", "step ms", "first step s",
                   "vs baseline"):
        table.add_column(column, justify="left" if column == "setting"
                         else "right")
    base = rec.baseline.examples_per_second if rec.baseline else 0.0
    for t in rec.timings:
        if t.error:
            table.add_row(t.setting.label(), "-", "-", "-", "failed")
            continue
        ratio = f"{t.examples_per_second / base:.2f}x" if base else "-"
        table.add_row(t.setting.label(), f"{t.examples_per_second:.1f}",
                      f"{1000 * t.step_seconds:.1f}",
                      f"{t.first_step_seconds:.1f}", ratio)
    console.print(table)
    for t in rec.timings:
        if t.error:
            console.print(f"{t.setting.label()} failed: {t.error}",
                          markup=False)
    console.print(f"fastest: [bold]{rec.best.setting.label()}[/bold], "
                  f"{rec.speedup:.2f}x the baseline "
                  f"({rec.baseline.setting.label() if rec.baseline else '-'})")


def _batch(rec: object) -> int:
    t = rec.best
    return round(t.examples_per_second * t.step_seconds)
