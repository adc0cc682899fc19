"""CPU training speed: kerakit's recommended setting against torchvision.

For ResNet-50 and MobileNetV2 (batch 32, 128x128, SGD with momentum) one
child process per Keras backend:
1. asks `kerakit.performance.recommend` for the fastest setting of that
   backend on this machine (precision, including TensorFlow's oneDNN
   bfloat16 graph rewrite, x data format; a short timing);
2. times, alternating step by step so that drift of a shared machine hits
   all alike, torchvision eager float32 (channels_last),
   torchvision eager with `torch.autocast("cpu", torch.bfloat16)`
   (channels_last) and kerakit in the recommended setting.
Each child reports images/s from the median step and the ratio to
torchvision fp32 measured in the same process. Figures are printed, never
asserted; the table names the CPU and its flags.

torchvision is a benchmark-only extra. The wheels pip finds here are CUDA
builds whose C ops do not load against the CPU torch, so the script puts
an empty module in place of `torchvision._meta_registrations` before the
import: the models use none of those ops.

Usage:
    pip install --no-deps torchvision==0.29.0
    python benchmarks/cpu_training.py                    # every backend
    python benchmarks/cpu_training.py --backends torch --models resnet50
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable

MODELS = {"resnet50": "resnet50", "mobilenet_v2": "mobilenet_v2"}
BACKENDS = ("tensorflow", "jax", "torch")


def _torchvision() -> types.ModuleType:
    sys.modules.setdefault("torchvision._meta_registrations",
                           types.ModuleType("torchvision._meta_registrations"))
    import torchvision

    return torchvision


def torchvision_steps(name: str, args: argparse.Namespace
                      ) -> dict[str, Callable[[], None]]:
    """Training steps of torchvision's model in fp32 and bf16 autocast."""
    import torch

    torchvision = _torchvision()
    steps = {}
    for label, autocast in (("torchvision fp32", False),
                            ("torchvision bf16 autocast", True)):
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)(num_classes=args.classes)
        model = model.to(memory_format=torch.channels_last).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01,
                                    momentum=0.9)
        x = torch.randn(args.batch, 3, args.size, args.size).to(
            memory_format=torch.channels_last)
        y = torch.randint(0, args.classes, (args.batch,))
        loss_fn = torch.nn.CrossEntropyLoss()

        def step(model=model, optimizer=optimizer, x=x, y=y,
                 autocast=autocast) -> None:
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16,
                                enabled=autocast):
                loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            float(loss)

        steps[label] = step
    return steps


def kerakit_step(name: str, setting: object, args: argparse.Namespace
                 ) -> Callable[[], None]:
    """A training step of the kerakit model in `setting`."""
    import keras
    import numpy as np

    from kerakit.performance import build_for_setting
    from kerakit.precision import graph_rewrite_scope

    model = build_for_setting(
        name, setting,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_shape=(args.size, args.size, 3), num_classes=args.classes)
    shape = model.inputs[0].shape[1:]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, *shape)).astype("float32")
    y = rng.integers(0, args.classes, args.batch)

    def step() -> None:
        # The rewrite (onednn_bfloat16) is applied when the graph first
        # runs; every call sees the same options.
        with graph_rewrite_scope(setting.precision):
            model.train_on_batch(x, y)

    return step


def child(args: argparse.Namespace) -> None:
    """Measure every model on this process's backend; print JSON rows."""
    import keras
    import torch

    from kerakit.performance import recommend

    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    for name in args.models:
        rec = recommend(name, input_shape=(args.size, args.size, 3),
                        num_classes=args.classes, batch_size=args.batch,
                        steps=args.search_steps, warmup=2,
                        compiled=args.compiled)
        setting = rec.best.setting
        steps = {**torchvision_steps(MODELS[name], args),
                 f"kerakit {setting.label()}": kerakit_step(
                     name, setting, args)}
        for step in steps.values():  # compile and warm up
            for _ in range(args.warmup):
                step()
        seconds: dict[str, list[float]] = {k: [] for k in steps}
        for r in range(args.steps):
            order = list(steps) if r % 2 == 0 else list(steps)[::-1]
            for key in order:
                started = time.perf_counter()
                steps[key]()
                seconds[key].append(time.perf_counter() - started)
        speeds = {k: args.batch / statistics.median(v)
                  for k, v in seconds.items()}
        rows.append({"model": name, "backend": keras.backend.backend(),
                     "speeds": speeds, "search": [
                         (t.setting.label(), round(t.examples_per_second, 1))
                         for t in rec.timings if not t.error]})
        keras.backend.clear_session()
    print("ROWS " + json.dumps(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=6,
                        help="timed steps per contender, alternating")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--search-steps", type=int, default=3,
                        help="timed steps per candidate in the search")
    parser.add_argument("--compiled", action="store_true",
                        help="let the search try XLA / torch.compile")
    parser.add_argument("--child", action="store_true",
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    if args.child:
        child(args)
        return 0
    from kerakit.precision import cpu_summary

    cpu = cpu_summary()
    print(f"CPU: {cpu['model']}, {os.cpu_count()} cores, flags: "
          f"{' '.join(cpu['flags'])}; native bfloat16: "
          f"{cpu['native_bfloat16']}")
    print(f"batch {args.batch}, {args.size}x{args.size}, SGD momentum; "
          f"median of {args.steps} alternating steps\n")
    print("| model | backend | kerakit setting (recommended) | "
          "torchvision fp32 img/s | torchvision bf16 img/s | "
          "kerakit img/s | kerakit / tv fp32 | tv bf16 / tv fp32 |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    argv = [a for a in (argv or sys.argv[1:])]
    for backend in args.backends.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", *argv],
            env={**os.environ, "KERAS_BACKEND": backend},
            capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines()
                 if line.startswith("ROWS ")]
        if proc.returncode or not lines:
            print(f"| - | {backend} | failed: "
                  f"{(proc.stderr.strip().splitlines() or ['?'])[-1]} |")
            continue
        for row in json.loads(lines[-1][5:]):
            speeds = row["speeds"]
            fp32 = speeds["torchvision fp32"]
            bf16 = speeds["torchvision bf16 autocast"]
            label, ours = next((k, v) for k, v in speeds.items()
                               if k.startswith("kerakit"))
            print(f"| {row['model']} | {backend} | "
                  f"{label.removeprefix('kerakit ')} | {fp32:.1f} | "
                  f"{bf16:.1f} | {ours:.1f} | {ours / fp32:.2f} | "
                  f"{bf16 / fp32:.2f} |")
            print(f"<!-- search {row['model']} {backend}: "
                  f"{row['search']} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
