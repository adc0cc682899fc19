"""Data-parallel training speed: one process against two, per backend.

For a recipe (default: `resnet_digits` and `lenet_digits`), each backend in
turn, three runs of the same training steps on the recipe's own batches:

1. one process with all the cores (2 threads here), the recipe's batch;
2. two processes with one core each, each on half of every batch, the
   gradients averaged by the backend's engine
   (`kerakit.workflow.distributed`: JAX's `keras.distribution`,
   TensorFlow's `MultiWorkerMirroredStrategy`, `torch.distributed` gloo);
3. the same two processes without the engine: each trains on its half
   alone, so the difference to run 2 is the communication (the all-reduce
   and the processes waiting for each other).

It prints images/s of runs 1 and 2 (global batch over the median step), the
speed-up, the communication share of a step `(t2 - t3) / t2`, the
all-reduce volume per step (4 bytes per trainable parameter, float32
gradients), and the CPU. Figures only, never asserted.

Usage:
    python benchmarks/data_parallel.py
    python benchmarks/data_parallel.py --recipes lenet_digits --backends jax
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BACKENDS = ("tensorflow", "jax", "torch")
MODES = ("one process", "two processes", "two, no all-reduce")


def worker() -> int:
    """One launched process: time the recipe's steps (spec from env)."""
    from kerakit.workflow import training
    from kerakit.workflow.distributed import WORKER_SPEC
    from kerakit.workflow.distributed import Cluster
    from kerakit.workflow.distributed import Engine
    from kerakit.workflow.distributed import engine_for
    from kerakit.workflow.recipes import load_recipe

    spec = json.loads(os.environ[WORKER_SPEC])
    cluster = Cluster.from_environment()
    engine = (engine_for(cluster) if spec["mode"] == MODES[1]
              else Engine(cluster))
    engine.start()
    recipe = load_recipe(spec["recipe"])
    task = training.task_of(recipe)
    splits = training.load_splits(recipe)
    model = recipe.build_model(
        splits.input_shape, splits.num_classes,
        steps_per_epoch=task.steps_per_epoch(splits, recipe.batch_size),
        **splits.model_arguments)
    engine.attach(model)
    batches = cluster.shard.batches(task.train_batches(
        splits, recipe.batch_size, recipe.seed, 0))
    full = len(batches) - 1  # the last batch is short: leave it out
    times = []
    for step in range(spec["warmup"] + spec["steps"]):
        x, y = batches[step % full]
        started = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - started)
    engine.barrier()
    median = statistics.median(times[spec["warmup"]:])
    out = Path(spec["out"]) / f"{cluster.process_id}.json"
    out.write_text(json.dumps({
        "median_step_s": median, "batch": recipe.batch_size,
        "parameters": sum(math.prod(v.shape)
                          for v in model.trainable_variables)}))
    return 0


def measure(recipe: str, backend: str, mode: str, steps: int,
            warmup: int) -> dict:
    """Launch the processes of one mode; the slowest process's figures."""
    from kerakit.workflow.distributed import launch

    with tempfile.TemporaryDirectory() as out:
        spec = {"recipe": recipe, "mode": mode, "steps": steps,
                "warmup": warmup, "out": out}
        launch("data_parallel:worker", spec, 1 if mode == MODES[0] else 2,
               backend=backend, quiet=True)
        results = [json.loads(p.read_text()) for p in Path(out).iterdir()]
    return max(results, key=lambda r: r["median_step_s"])


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="resnet_digits,lenet_digits")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    # The launched processes import this module by name.
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [here, *filter(None, [os.environ.get("PYTHONPATH")])])
    sys.path.insert(0, here)
    from kerakit.precision import cpu_summary

    cpu = cpu_summary()
    print(f"CPU: {cpu['model']} ({', '.join(cpu['flags'])}), "
          f"{len(os.sched_getaffinity(0))} cores; "
          f"{args.steps} timed steps after {args.warmup}, median step")
    print("| recipe | backend | params | all-reduce / step | 1 proc x 2 "
          "threads img/s | 2 procs x 1 thread img/s | speed-up | "
          "communication share |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for recipe in args.recipes.split(","):
        for backend in args.backends.split(","):
            one, two, alone = (measure(recipe, backend, mode, args.steps,
                                       args.warmup) for mode in MODES)
            batch = one["batch"]
            speed_one = batch / one["median_step_s"]
            speed_two = batch / two["median_step_s"]
            share = max(0.0, 1 - alone["median_step_s"]
                        / two["median_step_s"])
            megabytes = 4 * one["parameters"] / 1e6
            print(f"| {recipe} | {backend} | {one['parameters']:,} | "
                  f"{megabytes:.2f} MB | {speed_one:.0f} | {speed_two:.0f} | "
                  f"{speed_two / speed_one:.2f}x | {share:.0%} |",
                  flush=True)


if __name__ == "__main__":
    main()
