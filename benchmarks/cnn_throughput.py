"""Training and inference images/s: kerakit CNNs against keras.applications.

For each model the kerakit build and the `keras.applications` build (no
weights, same classes, logits) run on the current Keras backend in one
process. Timed steps alternate between the two one step at a time (A B, B A,
...), so that drift of the machine (other processes, CPU steal on a shared
VM) hits both alike; the table reports images/s from the median step time
and the ratio kerakit / keras.applications (1.0 = no overhead). Figures are
printed, never asserted.

Usage:
    KERAS_BACKEND=jax python benchmarks/cnn_throughput.py --size 64 --steps 3
    python benchmarks/cnn_throughput.py --models resnet50,mobilenet_v2
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from collections.abc import Sequence

import keras
import numpy as np

import kerakit

# kerakit name -> keras.applications constructor name.
APPLICATIONS = {
    "resnet50": "ResNet50",
    "vgg16": "VGG16",
    "densenet121": "DenseNet121",
    "mobilenet_v2": "MobileNetV2",
}


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo (or `platform`)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_pair(
    name: str, size: int, num_classes: int
) -> tuple[keras.Model, keras.Model]:
    """Build the kerakit model and its keras.applications counterpart."""
    shape = (size, size, 3)
    ours = kerakit.build(name, input_shape=shape, num_classes=num_classes)
    app = getattr(keras.applications, APPLICATIONS[name])(
        weights=None, input_shape=shape, classes=num_classes,
        classifier_activation=None,
    )
    return ours, app


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds per image of the model's convolutions and dense layers.

    The two builds of a model can differ in work, not only in speed
    (ResNet-50: kerakit strides the 3x3 conv as torchvision's v1.5 does,
    keras.applications the first 1x1 conv as the paper's v1), so the table
    shows the work ratio next to the speed ratio.
    """
    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Dense):
            positions = int(np.prod(layer.output.shape[1:-1]))
        elif isinstance(layer, (keras.layers.Conv2D,
                                keras.layers.DepthwiseConv2D)):
            shape = layer.output.shape
            spatial = (shape[1:-1] if layer.data_format == "channels_last"
                       else shape[2:])
            positions = int(np.prod(spatial))
        else:
            continue
        # Kernel (kh, kw, in / groups, out) or (in, out): MACs per position.
        total += positions * int(np.prod(layer.kernel.shape))
    return total


def step_seconds(step: Callable[[], object]) -> float:
    """Time one call of `step` (it returns host values, so it is synced)."""
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def bench_model(name: str, args: argparse.Namespace) -> dict[str, object]:
    """Measure one model pair; returns a row of the table."""
    ours, app = build_pair(name, args.size, args.num_classes)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (args.batch, args.size, args.size, 3))
    x = x.astype("float32")
    y = rng.integers(0, args.num_classes, args.batch)
    models = {"kerakit": ours, "applications": app}
    for model in models.values():
        model.compile(
            optimizer=keras.optimizers.SGD(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    steps = {
        "train": {k: (lambda m=m: m.train_on_batch(x, y))
                  for k, m in models.items()},
        "infer": {k: (lambda m=m: m.predict_on_batch(x))
                  for k, m in models.items()},
    }
    row: dict[str, object] = {
        "model": name,
        "params": (ours.count_params(), app.count_params()),
        "work": multiply_adds(ours) / multiply_adds(app),
    }
    for mode in args.modes:
        for step in steps[mode].values():  # compile + warm up
            for _ in range(args.warmup):
                step()
        # Step by step alternation: a blocked run of one implementation
        # caught a slow spell of the shared VM alone and moved a ratio by
        # up to 5% between runs (VGG-16, the same graph in both builds).
        seconds: dict[str, list[float]] = {k: [] for k in models}
        for r in range(args.steps * args.repeats):
            order = list(models) if r % 2 == 0 else list(models)[::-1]
            for key in order:
                seconds[key].append(step_seconds(steps[mode][key]))
        ours_ips = args.batch / statistics.median(seconds["kerakit"])
        app_ips = args.batch / statistics.median(seconds["applications"])
        row[mode] = (ours_ips, app_ips, ours_ips / app_ips)
    del ours, app, models, steps
    keras.backend.clear_session()
    gc.collect()
    return row


def format_table(rows: Sequence[dict[str, object]],
                 modes: Sequence[str]) -> str:
    """Render rows as a Markdown table."""
    head = ["model", "params kerakit", "params applications",
            "MACs ratio"]
    for mode in modes:
        head += [f"{mode} kerakit img/s", f"{mode} applications img/s",
                 f"{mode} ratio"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for row in rows:
        cells = [str(row["model"])]
        if "error" in row:
            cells += [str(row["error"])] + [""] * (len(head) - 2)
        else:
            cells += [f"{p:,}" for p in row["params"]]
            cells.append(f"{row['work']:.3f}")
            for mode in modes:
                ours, app, ratio = row[mode]
                cells += [f"{ours:.1f}", f"{app:.1f}", f"{ratio:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(APPLICATIONS),
                        help="comma-separated kerakit names "
                        f"(default: {','.join(APPLICATIONS)})")
    parser.add_argument("--size", type=int, default=224,
                        help="input height and width (default 224)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=5,
                        help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=4,
                        help="repeats: each implementation runs steps x "
                        "repeats timed steps, alternating step by step")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed steps first (compilation)")
    parser.add_argument("--modes", default="train,infer",
                        help="train, infer or both (comma-separated)")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in APPLICATIONS]
    if unknown:
        parser.error(f"no keras.applications counterpart for {unknown}; "
                     f"choose from {list(APPLICATIONS)}")
    if not set(args.modes) <= {"train", "infer"} or not args.modes:
        parser.error(f"--modes takes train and/or infer, got {args.modes}")
    if args.size < 32:
        parser.error("--size must be at least 32 (keras.applications' "
                     "minimum)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"backend {keras.backend.backend()}, keras {keras.__version__}, "
        f"batch {args.batch}, {args.size}x{args.size}x3, "
        f"{args.num_classes} classes, {args.steps * args.repeats} timed "
        f"steps each, alternating (median step), "
        f"CPU: {cpu_model()} ({os.cpu_count()} cores), "
        f"{datetime.date.today()}",
        flush=True,
    )
    rows = []
    for name in args.models:
        if name not in kerakit.list_models():
            rows.append({"model": name, "error": "not registered"})
            continue
        started = time.perf_counter()
        rows.append(bench_model(name, args))
        # The table so far, so that an interrupted run still reports.
        print(format_table(rows[-1:], args.modes).splitlines()[-1],
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    print(format_table(rows, args.modes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
