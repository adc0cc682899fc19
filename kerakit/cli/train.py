"""`kerakit train | evaluate | predict | recipes`: the training commands.

Wired into `kerakit.cli.app`. Keras is imported only inside the run
functions, after `--backend` has taken effect.

Example:
    kerakit train                       # the offline default, lenet_digits
    kerakit train mlp_digits --set epochs=5 --set optimizer.learning_rate=3e-3
    kerakit train resnet_digits --precision auto
    kerakit train lenet_digits --processes 2        # data parallel, 2 local
    kerakit train lenet_digits --coordinator 10.0.0.1:12345 \
        --num-processes 2 --process-id 0            # on each host, its id
    kerakit evaluate runs/lenet_digits-<hash>-jax
    kerakit predict runs/lenet_digits-<hash>-jax digits.npy
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kerakit.cli.common import add_precision

DEFAULT_RECIPE = "lenet_digits"


def add_train(parser: argparse.ArgumentParser) -> None:
    """Arguments of `kerakit train`."""
    parser.add_argument("recipe", nargs="?", default=DEFAULT_RECIPE,
                        help="recipe name or .toml path (default: the "
                        "offline lenet_digits)")
    parser.add_argument("--set", action="append", default=[],
                        metavar="KEY=VALUE", dest="overrides",
                        help="override a recipe field, dotted keys, e.g. "
                        "--set epochs=5 --set optimizer.learning_rate=1e-3")
    parser.add_argument("--run-dir", help="run directory (default: derived "
                        "from the recipe, so re-running continues)")
    parser.add_argument("--restart", action="store_true",
                        help="start the run directory over instead of "
                        "continuing it")
    parser.add_argument("--quiet", action="store_true",
                        help="one line per epoch instead of progress bars")
    add_precision(parser)
    group = parser.add_argument_group(
        "more than one process", "data-parallel training on the backend's "
        "own engine (README: 'Training on more than one machine')")
    group.add_argument("--processes", type=int, metavar="N",
                       help="train on N local processes, each on its share "
                       "of the cores (default: the recipe's "
                       "distribution.processes)")
    group.add_argument("--coordinator", metavar="HOST:PORT",
                       help="across hosts: the first process's address; "
                       "run the command on every host")
    group.add_argument("--num-processes", type=int, metavar="N",
                       help="across hosts: processes in the whole run")
    group.add_argument("--process-id", type=int, metavar="I",
                       help="across hosts: this process, 0..N-1 (0 writes "
                       "the run directory)")


def _cluster(args: argparse.Namespace) -> Any:
    """The `Cluster` that the cross-host flags describe, or None."""
    from kerakit.cli.common import CLIError
    from kerakit.workflow.distributed import Cluster
    from kerakit.workflow.distributed import DistributionError

    flags = (args.coordinator, args.num_processes, args.process_id)
    if all(flag is None for flag in flags):
        return None
    if any(flag is None for flag in flags):
        raise CLIError("--coordinator, --num-processes and --process-id go "
                       "together: give all three on every host.")
    if args.processes is not None:
        raise CLIError("--processes starts local processes; across hosts "
                       "use --coordinator, --num-processes and "
                       "--process-id instead, not both.")
    try:
        return Cluster(*flags)
    except DistributionError as err:
        raise CLIError(str(err)) from None


def run_train(args: argparse.Namespace) -> int:
    """Train a recipe and print where everything went."""
    from kerakit.workflow import training
    from kerakit.cli.common import CLIError
    from kerakit.cli.common import console as _console
    from kerakit.cli.common import recipe_overrides
    from kerakit.workflow.recipes import load_recipe

    cluster = _cluster(args)
    if args.processes is not None and args.processes < 1:
        raise CLIError(f"--processes must be at least 1; received "
                       f"{args.processes}.")
    overrides = recipe_overrides(args, args.overrides)
    recipe = load_recipe(args.recipe, overrides)
    run_dir = args.run_dir or training.default_run_dir(recipe)
    console = _console()
    console.print(f"[bold]{recipe.name}[/bold]: {recipe.model} on "
                  f"{recipe.dataset['name']}, up to {recipe.epochs} epochs "
                  f"-> {run_dir}")
    try:
        result = training.train(recipe, run_dir, restart=args.restart,
                                verbose=2 if args.quiet else "auto",
                                processes=args.processes, cluster=cluster)
    except training.TrainingError as err:
        raise CLIError(str(err)) from None
    if cluster is not None and not cluster.is_chief:
        console.print(f"process {cluster.process_id} trained its share; "
                      "process 0 wrote the run directory.")
        return 0
    metrics = result.metrics
    if metrics.get("resumed_from"):
        console.print(f"resumed after epoch(s) {metrics['resumed_from']}")
    console.print(
        f"best epoch {metrics['best_epoch']} ({metrics['monitor']} = "
        f"{metrics['best_value']:.4f}); test: " + ", ".join(
            f"{k} {v:.4f}" for k, v in metrics["test"].items()))
    console.print(f"precision: {metrics.get('precision', 'float32')}; "
                  f"run directory: {result.run_dir}")
    return 0


def add_evaluate(parser: argparse.ArgumentParser) -> None:
    """Arguments of `kerakit evaluate`."""
    parser.add_argument("run_dir", help="a finished run directory")


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a run's best model on its test split."""
    from kerakit.workflow.inference import evaluate_run

    metrics = evaluate_run(args.run_dir)
    print(json.dumps(metrics, indent=2))
    return 0


def add_predict(parser: argparse.ArgumentParser) -> None:
    """Arguments of `kerakit predict`."""
    parser.add_argument("run_dir", help="a finished run directory")
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help=".npy/.npz arrays (raw, like the training "
                        "data) or image files; a graph run: graph files, "
                        "or nothing for the run's own graph(s)")
    parser.add_argument("--json", action="store_true",
                        help="print the predictions as JSON")


def run_predict(args: argparse.Namespace) -> int:
    """Print the prediction for every input, as the run's task words it."""
    import numpy as np

    from kerakit.workflow.inference import predict
    from kerakit.workflow.inference import run_recipe
    from kerakit.workflow.training import task_of

    out = predict(args.run_dir, args.inputs or None)
    if args.json:
        print(json.dumps({k: np.round(v, 6).tolist() if isinstance(
            v, np.ndarray) else v for k, v in out.items()}))
        return 0
    task = task_of(run_recipe(args.run_dir))
    for line in task.describe_predictions(out):
        print(line)
    return 0


def add_tasks(parser: argparse.ArgumentParser) -> None:
    """Arguments of `kerakit tasks` (none)."""


def run_tasks(args: argparse.Namespace) -> int:
    """List the task kinds a recipe may name, one line each."""
    from kerakit.tasks import describe_tasks

    for name, description in describe_tasks().items():
        print(f"{name:<16} {description}")
    return 0


def add_recipes(parser: argparse.ArgumentParser) -> None:
    """Arguments of `kerakit recipes` (none)."""


def run_recipes(args: argparse.Namespace) -> int:
    """List the shipped recipes, one line each, the default first."""
    from kerakit.workflow.recipes import list_recipes
    from kerakit.workflow.recipes import load_recipe

    names = list_recipes()
    if DEFAULT_RECIPE in names:
        names = [DEFAULT_RECIPE] + [n for n in names if n != DEFAULT_RECIPE]
    for name in names:
        try:
            recipe = load_recipe(name)
            line = f"{name:<24} {recipe.description}"
        except (ValueError, TypeError, FileNotFoundError) as err:
            line = f"{name:<24} (invalid: {err})"
        print(line, file=sys.stdout)
    return 0


COMMANDS = {
    "train": ("train a recipe (default: the offline lenet_digits)",
              add_train, run_train),
    "evaluate": ("evaluate a run's best model on its test split",
                 add_evaluate, run_evaluate),
    "predict": ("predict with a run's best model (classes, values, ...)",
                add_predict, run_predict),
    "tasks": ("list the kinds of task a recipe may name", add_tasks,
              run_tasks),
    "recipes": ("list the shipped recipes", add_recipes, run_recipes),
}
