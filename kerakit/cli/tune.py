"""The `kerakit tune` subcommand (registered in `kerakit.cli.app`).

Before the first trial it checks the space, the data, the tuning directory
and every value of the space on the model; the first trial is the recipe
itself. It exits with 2 and one line when a check fails or when no trial
finished (every trial failed); each failed trial prints its error.

Example:
    kerakit tune lenet_digits --tuner hyperband --dir runs/tune/lenet
    kerakit tune mlp_digits --max-trials 20 --workers 2
    kerakit tune lenet_digits --set epochs=2 --set dataset.limit=200
"""

from __future__ import annotations

import argparse

from kerakit.cli.common import add_precision


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `kerakit tune`."""
    parser.add_argument(
        "target", metavar="RECIPE|SPACE",
        help="search-space name or file (tuning/*.toml), or a recipe name "
        "or file (then learning rate, batch size and depth are searched)")
    parser.add_argument("--tuner", choices=("random", "bayesian",
                                            "hyperband", "grid"),
                        help="search algorithm (default: the space's, "
                        "else random)")
    parser.add_argument("--max-trials", type=int, metavar="N",
                        help="number of trials (default: the space's, "
                        "else 10; hyperband: its full schedule)")
    parser.add_argument("--dir", metavar="DIR",
                        help="tuning directory (default runs/tune/"
                        "<space>_<tuner>); the same DIR resumes a search")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="run a KerasTuner chief and N worker "
                        "processes on this machine")
    parser.add_argument("--set", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="recipe override, e.g. epochs=2 (JSON values)")
    add_precision(parser)
    parser.add_argument("--no-retrain", action="store_true",
                        help="skip retraining the best configuration")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard an earlier search in DIR")


def run(args: argparse.Namespace) -> int:
    """Run `kerakit tune`; returns the exit code."""
    from kerakit import tuning
    from kerakit.cli.common import CLIError
    from kerakit.cli.common import recipe_overrides

    if args.workers < 0:
        raise CLIError(f"--workers must be >= 0. Received: {args.workers}")
    try:
        result = tuning.tune(
            args.target, tuner=args.tuner, max_trials=args.max_trials,
            directory=args.dir, workers=args.workers,
            overrides=recipe_overrides(args, args.set),
            retrain=not args.no_retrain, overwrite=args.overwrite)
    except RuntimeError as err:  # failed trials or a worker: no traceback
        raise CLIError(str(err)) from None
    if result.run is not None:
        print(f"retrained best configuration: {result.run.run_dir}")
        test = (getattr(result.run, "metrics", None) or {}).get("test", {})
        if test:
            shown = ", ".join(f"{k}={v:.4f}" for k, v in test.items())
            print(f"  test split (evaluated once): {shown}")
    return 0
