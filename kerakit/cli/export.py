"""The `kerakit export` subcommand (registered in `kerakit.cli.app`).

Example:
    kerakit export runs/lenet_digits --format saved_model
    kerakit export model.keras --format onnx --out deploy/model_onnx
    kerakit --backend torch export model.keras --format saved_model \
        --out deploy/sm --overwrite
"""

from __future__ import annotations

import argparse
from pathlib import Path

# Same as kerakit.export.FORMATS; not imported, since that imports keras
# before `--backend` is applied.
FORMATS = ("saved_model", "onnx", "keras")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `kerakit export`."""
    parser.add_argument(
        "source", metavar="RUN_DIR|MODEL_FILE",
        help="a run directory from `kerakit train` (uses best.keras, its "
        "class names and preprocessing) or a .keras file")
    parser.add_argument("--format", default="saved_model", choices=FORMATS,
                        help="saved_model (TensorFlow, the default), onnx, "
                        "or keras")
    parser.add_argument("--out", metavar="DIR",
                        help="export directory to create (default: "
                        "RUN_DIR/export/FORMAT, or MODEL_export_FORMAT next "
                        "to a .keras file)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a previous kerakit export in --out "
                        "(never the source, a folder holding it, or a folder "
                        "with other files)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip reloading the export in a fresh process")
    parser.add_argument("--no-preprocessing", action="store_true",
                        help="do not put a run's preprocessing in the graph")
    parser.add_argument("--route", default="auto",
                        choices=("auto", "direct", "tensorflow"),
                        help="auto: direct where keras can export on this "
                        "backend, else a TensorFlow-backend subprocess")


def default_out(source: Path, format: str) -> Path:
    """Where an export goes when `--out` is not given.

    Example:
    >>> default_out(Path("runs/a"), "onnx").as_posix()
    'runs/a/export/onnx'
    """
    if source.suffix == ".keras":
        return source.with_name(f"{source.stem}_export_{format}")
    return source / "export" / format


def run(args: argparse.Namespace) -> int:
    """Export and print where the artifact went and how it verified."""
    from kerakit.cli.common import CLIError
    from kerakit.export import ExportError
    from kerakit.export import export_model

    source = Path(args.source)
    out = Path(args.out) if args.out else default_out(source, args.format)
    try:
        result = export_model(
            source, out, args.format, verify=not args.no_verify,
            overwrite=args.overwrite, route=args.route,
            include_preprocessing=not args.no_preprocessing,
        )
    except ExportError as err:
        raise CLIError(str(err)) from None
    # Other OSErrors reach the command line's boundary, which names the file.
    meta = result.metadata
    print(f"exported {args.format} to {result.artifact} "
          f"(route: {result.route}, from {meta['exported_from_backend']})")
    for spec in meta["inputs"]:
        print(f"  input {spec['name']!r}: {spec['shape']} {spec['dtype']}")
    print(f"  preprocessing: {meta['preprocessing'].get('note', '')}")
    if result.max_abs_diff is None:
        print("  not verified (--no-verify)")
    else:
        ver = meta["verification"]
        print(f"  verified with {ver['runtime']}: max |diff| vs Keras "
              f"{result.max_abs_diff:.3g} (tolerance {ver['tolerance']:.3g})")
    print(f"  sidecar: {result.path / 'export.json'}")
    return 0
