"""Hyperband vs random search on lenet_digits at the same epoch budget.

Hyperband runs one full iteration with `max_epochs` epochs and factor 3;
the epochs it actually trains (summed over trials, counting only the epochs
each trial adds) become the budget of random search, whose trials each run
`max_epochs` epochs. Early stopping is off in both, so the budgets match.
Prints, per tuner: trials, epochs trained, best validation accuracy of the
search and wall time. Nothing here is asserted in tests.

Usage:
    KERAS_BACKEND=torch python benchmarks/tuning_efficiency.py
    python benchmarks/tuning_efficiency.py --max-epochs 9 --seed 1
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time


def run(tuner: str, max_epochs: int, max_trials: int | None, seed: int,
        directory: str) -> dict:
    """One search; returns trials, epochs, best val accuracy, seconds."""
    from kerakit import tuning

    overrides = {"epochs": max_epochs, "patience": 0, "seed": seed,
                 "monitor": "val_accuracy"}
    started = time.time()
    result = tuning.tune("lenet_digits", tuner=tuner, max_trials=max_trials,
                         overrides=overrides, directory=directory,
                         retrain=False, verbose=False, overwrite=True)
    seconds = time.time() - started
    done = [r for r in result.table if r["status"] == "COMPLETED"]
    epochs = sum(r.get("epochs", max_epochs) for r in done)
    return {"tuner": tuner, "trials": len(done), "epochs": epochs,
            "best_val_accuracy": result.best_value, "seconds": seconds}


def main() -> None:
    """Run both searches and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-epochs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import keras

    with tempfile.TemporaryDirectory() as tmp:
        hyperband = run("hyperband", args.max_epochs, None, args.seed,
                        f"{tmp}/hyperband")
        trials = max(1, math.floor(hyperband["epochs"] / args.max_epochs))
        random = run("random", args.max_epochs, trials, args.seed,
                     f"{tmp}/random")
    print(f"lenet_digits, backend {keras.backend.backend()}, max_epochs "
          f"{args.max_epochs}, seed {args.seed}")
    print(f"{'tuner':<10} {'trials':>6} {'epochs':>6} {'best val acc':>12} "
          f"{'wall s':>8}")
    for row in (hyperband, random):
        print(f"{row['tuner']:<10} {row['trials']:>6} {row['epochs']:>6} "
              f"{row['best_val_accuracy']:>12.4f} {row['seconds']:>8.1f}")


if __name__ == "__main__":
    main()
