"""Where a training step's time goes, per backend, from its own profiler.

Profiles `--steps` training steps (after warm-up) of a kerakit model on the
running Keras backend and prints the time per step by kind of operation:
convolutions (forward and both backward passes), batch normalisation,
layout copies/transposes, the optimizer update, matmuls and the rest
(element-wise, reductions, dispatch). The profilers are the backends' own:
`torch.profiler` (self CPU time of aten ops), TensorFlow's profiler (the
XPlane it writes, read with the protobuf TensorFlow ships) and
`jax.profiler` (its Perfetto trace of the XLA:CPU thunks).

Usage:
    KERAS_BACKEND=torch python benchmarks/profile_training.py \
        --model resnet50 --size 128 --precision mixed_bfloat16
    KERAS_BACKEND=jax python benchmarks/profile_training.py --top 20
    KERAS_BACKEND=tensorflow python benchmarks/profile_training.py \
        --precision onednn_bfloat16
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import tempfile
import time

import keras
import numpy as np

from kerakit.performance import Setting
from kerakit.performance import build_for_setting
from kerakit.precision import cpu_summary
from kerakit.precision import graph_rewrite_scope

# Operation name patterns (lower case) -> kind, first match wins.
KINDS = [
    ("convolution", r"conv|mkldnn_convolution"),
    ("batch norm", r"batch_?norm|batchnorm|native_batch_norm|fusedbatchnorm"
                   r"|_batch_norm"),
    ("layout copy/transpose", r"transpose|permute|copy|contiguous|"
                              r"to_copy|clone|reshape|as_strided"),
    ("optimizer update", r"resourceapply|assignvariable|assign|foreach|"
                         r"add_|mul_|addcmul|lerp|sgd|momentum"),
    ("matmul", r"matmul|addmm|mm$|dot|gemm|bmm|linear"),
    ("pooling", r"pool"),
    ("casts", r"cast|convert"),
]


def kind_of(name: str) -> str:
    low = name.lower()
    for kind, pattern in KINDS:
        if re.search(pattern, low):
            return kind
    return "other (element-wise, reductions, dispatch)"


def make_step(args: argparse.Namespace):
    setting = Setting(keras.backend.backend(), args.precision,
                      args.data_format)
    model = build_for_setting(
        args.model, setting,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_shape=(args.size, args.size, 3), num_classes=args.classes)
    shape = model.inputs[0].shape[1:]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, *shape)).astype("float32")
    y = rng.integers(0, args.classes, args.batch)

    def step() -> None:
        with graph_rewrite_scope(args.precision):  # onednn_bfloat16
            model.train_on_batch(x, y)

    return step


def profile_torch(step, steps: int) -> dict[str, float]:
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    # Self time, so nested ops are not counted twice; microseconds.
    return {e.key: e.self_cpu_time_total / 1e6
            for e in prof.key_averages()
            if e.self_cpu_time_total > 0 and e.key != "[memory]"} | {
        "_threads": torch.get_num_threads()}


def profile_tensorflow(step, steps: int) -> dict[str, float]:
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    logdir = tempfile.mkdtemp(prefix="kerakit_tf_profile_")
    tf.profiler.experimental.start(logdir)
    for _ in range(steps):
        step()
    tf.profiler.experimental.stop()
    (path,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"),
                        recursive=True)
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    totals: dict[str, float] = collections.Counter()
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                # Kernels are traced as "node_name:OpType"; the executor's
                # wrappers ("ExecutorState::Process", "EagerLocalExecute:
                # __inference_...") hold their kernels' time again.
                name = names.get(event.metadata_id, "")
                if ":" not in name or "::" in name or ": " in name:
                    continue
                totals[name.rsplit(":", 1)[1]] += event.duration_ps / 1e12
    return dict(totals)


def profile_jax(step, steps: int) -> dict[str, float]:
    import jax

    logdir = tempfile.mkdtemp(prefix="kerakit_jax_profile_")
    with jax.profiler.trace(logdir, create_perfetto_trace=True):
        for _ in range(steps):
            step()
    (path,) = glob.glob(os.path.join(logdir, "**", "*.trace.json.gz"),
                        recursive=True)
    with gzip.open(path) as f:
        trace = json.load(f)
    totals: dict[str, float] = collections.Counter()
    for event in trace.get("traceEvents", []):
        if event.get("ph") != "X" or "dur" not in event:
            continue
        name = event.get("name", "")
        # XLA thunks are named after their HLO instruction: "convolution.12",
        # "fusion.3", "custom-call.7"; drop the instance number.
        base = re.sub(r"[._]\d+$", "", name)
        # HLO names are lower case; Python and runtime events
        # ("PjitFunction(train_step)", "ThunkExecutor::Execute") wrap them.
        if not re.fullmatch(r"[a-z][a-z0-9_\-]*", base):
            continue
        totals[base] += event["dur"] / 1e6
    return dict(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--data-format", default=None,
                        choices=("channels_last", "channels_first"))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    backend = keras.backend.backend()
    step = make_step(args)
    for _ in range(args.warmup):
        step()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    wall = (time.perf_counter() - started) / args.steps
    totals = {"torch": profile_torch, "tensorflow": profile_tensorflow,
              "jax": profile_jax}[backend](step, args.steps)
    totals.pop("_threads", None)
    cpu = cpu_summary()
    print(f"{args.model} {args.size}x{args.size} batch {args.batch}, "
          f"{backend}, {args.precision}, "
          f"{args.data_format or 'default layout'}; {cpu['model']} "
          f"({' '.join(cpu['flags'])}); {wall * 1000:.0f} ms/step "
          f"({args.batch / wall:.1f} img/s) unprofiled")
    kinds: dict[str, float] = collections.Counter()
    for name, seconds in totals.items():
        kinds[kind_of(name)] += seconds
    profiled = sum(kinds.values()) / args.steps
    print(f"profiled op time {profiled * 1000:.0f} ms/step "
          "(over all threads)")
    print("| kind | ms/step | share |\n|---|---:|---:|")
    for kind, seconds in sorted(kinds.items(), key=lambda kv: -kv[1]):
        per_step = seconds / args.steps
        print(f"| {kind} | {per_step * 1000:.0f} | "
              f"{per_step / profiled:.0%} |")
    print(f"\ntop {args.top} operations:")
    for name, seconds in sorted(totals.items(),
                                key=lambda kv: -kv[1])[:args.top]:
        print(f"  {seconds / args.steps * 1000:8.1f} ms/step  {name}")


if __name__ == "__main__":
    main()
