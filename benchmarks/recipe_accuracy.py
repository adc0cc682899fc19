"""Train a recipe from scratch and print its test accuracy and wall time.

The default checks the claim of `recipes/lenet_digits.toml`: at least 0.97
test accuracy in under 3 minutes on 2 CPU cores. Figures are printed, never
asserted; CPU time is printed too, since wall time depends on what else the
machine runs.

Usage:
    KERAS_BACKEND=torch taskset -c 0,1 python benchmarks/recipe_accuracy.py
    python benchmarks/recipe_accuracy.py mlp_digits --set epochs=20
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    """Run the benchmark and print one summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", nargs="?", default="lenet_digits")
    parser.add_argument("--set", action="append", default=[],
                        metavar="KEY=VALUE")
    args = parser.parse_args()

    import keras

    from kerakit.workflow import training
    from kerakit.cli.common import parse_assignments

    overrides = parse_assignments(args.set)
    start = time.time()
    with tempfile.TemporaryDirectory() as run_dir:
        result = training.train(
            args.recipe, run_dir, verbose=2,
            **{k.replace(".", "__"): v for k, v in overrides.items()})
    wall = time.time() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    metrics = result.metrics
    print(
        f"{args.recipe} on {keras.backend.backend()}: test accuracy "
        f"{metrics['test']['accuracy']:.4f} (best epoch "
        f"{metrics['best_epoch']} of {metrics['epochs_run']}), wall "
        f"{wall:.1f} s, CPU {usage.ru_utime + usage.ru_stime:.1f} s, "
        f"{os.cpu_count()} CPUs visible"
    )


if __name__ == "__main__":
    main()
