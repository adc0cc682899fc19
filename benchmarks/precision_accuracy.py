"""Does mixed bfloat16 keep a recipe's accuracy? Seeds x precisions.

Trains each recipe from scratch for every seed in float32 and in
`mixed_bfloat16` (and, on TensorFlow, under its oneDNN bfloat16 graph
rewrite, `onednn_bfloat16`) on the backend of `KERAS_BACKEND` and prints,
per recipe
and precision, the test accuracy of every seed, their mean and standard
deviation, and the mean wall time. Figures are printed, never asserted.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/precision_accuracy.py
    python benchmarks/precision_accuracy.py lenet_digits --seeds 0,1,2,3,4
    python benchmarks/precision_accuracy.py --precisions float32,onednn_bfloat16
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*",
                        default=["lenet_digits", "resnet_digits"])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--precisions", default=None,
                        help="comma-separated (default: float32, "
                        "mixed_bfloat16, and onednn_bfloat16 on TensorFlow)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    import keras

    precisions = (args.precisions.split(",") if args.precisions else
                  ["float32", "mixed_bfloat16"]
                  + (["onednn_bfloat16"]
                     if keras.backend.backend() == "tensorflow" else []))

    from kerakit.precision import cpu_summary
    from kerakit.workflow import training

    cpu = cpu_summary()
    print(f"backend {keras.backend.backend()}, {cpu['model']} "
          f"({' '.join(cpu['flags'])}), seeds {seeds}")
    print("| recipe | precision | test accuracy per seed | mean ± std | "
          "mean wall s |\n|---|---|---|---:|---:|")
    for recipe in args.recipes:
        for precision in precisions:
            scores, seconds = [], []
            for seed in seeds:
                with tempfile.TemporaryDirectory() as run_dir:
                    started = time.time()
                    result = training.train(recipe, run_dir, verbose=0,
                                            seed=seed, precision=precision)
                    seconds.append(time.time() - started)
                    scores.append(result.metrics["test"]["accuracy"])
            spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
            print(f"| {recipe} | {precision} | "
                  f"{', '.join(f'{s:.3f}' for s in scores)} | "
                  f"{statistics.mean(scores):.3f} ± {spread:.3f} | "
                  f"{statistics.mean(seconds):.0f} |", flush=True)


if __name__ == "__main__":
    main()
