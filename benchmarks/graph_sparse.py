"""GCN and GAT on one large sparse graph: train-step time and peak memory.

A random graph of `--nodes` nodes and `--edges` directed edges (no self
loops; the layers add them) with `--features` float features, full-batch
node classification as in the paper recipes (`gcn`: 16 hidden, `gat`: 8
heads x 8; 7 classes, the default dropouts). For each backend and model a
fresh subprocess builds the model, compiles it (Adam, sparse cross-entropy
from logits, a node mask as `sample_weight`), runs `--warmup` untimed
`train_on_batch` steps (which include tracing/compilation) and `--steps`
timed ones, then `--steps` timed `predict_on_batch` calls. It reports the
median forward+backward (train step) and forward-only times, and the
process's peak resident memory (`ru_maxrss`) with its resident memory
before the model was built (the framework and the graph's arrays), so
that the difference is what the model needs. A dense float32 adjacency of
the default graph alone would take `nodes**2 * 4` bytes = 40 GB.

Nothing here is asserted in tests.

Usage:
    python benchmarks/graph_sparse.py                      # all backends
    python benchmarks/graph_sparse.py --backends jax --models gat
    python benchmarks/graph_sparse.py --nodes 10000 --edges 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

MODELS = {
    "gcn": {"hidden_dim": 16},
    "gat": {"hidden_dim": 8, "num_heads": 8},
}


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(args: argparse.Namespace) -> dict:
    """One (backend, model) measurement in this process."""
    import numpy as np

    rng = np.random.default_rng(args.seed)
    source = rng.integers(0, args.nodes, size=args.edges)
    # Shift targets by 1..nodes-1 so that no edge is a self loop.
    target = (source + rng.integers(1, args.nodes, size=args.edges)) % (
        args.nodes)
    edges = np.stack([source, target], -1).astype("int32")[None]
    features = rng.normal(size=(1, args.nodes, args.features)).astype(
        "float32")
    labels = rng.integers(0, 7, size=(1, args.nodes)).astype("int32")
    mask = (rng.uniform(size=(1, args.nodes)) < 0.5).astype("float32")

    import keras

    import kerakit

    x = {"features": features, "edges": edges}
    baseline = _rss_mib()
    model = kerakit.build(args.model, input_shape=(None, args.features),
                          num_classes=7, **MODELS[args.model])
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    started = time.perf_counter()
    for _ in range(args.warmup):
        loss = model.train_on_batch(x, labels, sample_weight=mask)
    first = time.perf_counter() - started
    train = []
    for _ in range(args.steps):
        started = time.perf_counter()
        loss = model.train_on_batch(x, labels, sample_weight=mask)
        train.append(time.perf_counter() - started)
    model.predict_on_batch(x)  # traces the forward pass
    forward = []
    for _ in range(args.steps):
        started = time.perf_counter()
        model.predict_on_batch(x)
        forward.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "backend": keras.backend.backend(), "model": args.model,
        "params": model.count_params(), "warmup_s": first,
        "train_s": statistics.median(train),
        "forward_s": statistics.median(forward), "baseline_mib": baseline,
        "peak_mib": peak, "loss": float(np.asarray(loss).ravel()[0]),
    }


def _machine() -> str:
    name = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(
        os, "sched_getaffinity") else os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{name}, {cores} cores, {memory:.0f} GiB"


def main() -> None:
    """Run every (backend, model) in a subprocess and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--models", default="gcn,gat")
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model:  # the worker side
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return
    print(f"Graph: {args.nodes:,} nodes, {args.edges:,} edges, "
          f"{args.features} features; {_machine()}; Python "
          f"{platform.python_version()}")
    print("| backend | model | params | first step s | train step s | "
          "forward s | RSS before MiB | peak RSS MiB | peak - before MiB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for backend in args.backends.split(","):
        for model in args.models.split(","):
            command = [sys.executable, __file__, "--model", model,
                       "--nodes", str(args.nodes), "--edges", str(args.edges),
                       "--features", str(args.features),
                       "--warmup", str(args.warmup),
                       "--steps", str(args.steps), "--seed", str(args.seed)]
            env = {**os.environ, "KERAS_BACKEND": backend}
            done = subprocess.run(command, env=env, capture_output=True,
                                  text=True)
            lines = [line for line in done.stdout.splitlines()
                     if line.startswith("RESULT ")]
            if done.returncode or not lines:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                print(f"| {backend} | {model} | failed: {' / '.join(tail)} "
                      "| | | | | | |", flush=True)
                continue
            r = json.loads(lines[-1][len("RESULT "):])
            print(f"| {backend} | {model} | {r['params']:,} | "
                  f"{r['warmup_s']:.2f} | {r['train_s']:.2f} | "
                  f"{r['forward_s']:.2f} | {r['baseline_mib']:,.0f} | "
                  f"{r['peak_mib']:,.0f} | "
                  f"{r['peak_mib'] - r['baseline_mib']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
