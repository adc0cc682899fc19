"""Transformer training steps/s and GPT generation tokens/s against keras-hub.

kerakit's BERT, GPT and ViT are keras-hub backbones with a head and the
kit's registry, presets and tasks around them, so they should train as fast
as the bare keras-hub backbone with the same head built by hand. For each
model both builds (same configuration, same head, same compile settings)
run on the current Keras backend in one process; timed training steps
alternate between them one step at a time (A B, B A, ...), so that drift of
the machine hits both alike. The table shows steps/s from the median step
time and the ratio kerakit / keras-hub (target >= 0.98).

Generation: tokens/s of `kerakit.models.transformer.gpt.generate_tokens`
(greedy, KV cache) against `keras_hub.models.GPT2CausalLM.generate` on the
same weights, alternating call by call. Figures are printed, never asserted.

Usage:
    KERAS_BACKEND=jax python benchmarks/transformer_throughput.py
    python benchmarks/transformer_throughput.py --models gpt --steps 5
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import keras
import keras_hub
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnn_throughput import cpu_model  # noqa: E402
from cnn_throughput import step_seconds  # noqa: E402

import kerakit  # noqa: E402
from kerakit.models.transformer.gpt import generate_tokens  # noqa: E402

# One configuration per model: small enough for minutes on 2 cores, large
# enough that the step is dominated by the transformer, not by dispatch.
TEXT = {"num_layers": 4, "hidden_dim": 256, "num_heads": 4,
        "intermediate_dim": 1024, "dropout": 0.1}
CONFIGS: dict[str, dict[str, Any]] = {
    "bert": {**TEXT, "vocabulary_size": 8000, "sequence_length": 128,
             "num_classes": 2},
    "gpt": {**TEXT, "vocabulary_size": 256, "sequence_length": 128},
    "vit": {"num_layers": 4, "hidden_dim": 192, "num_heads": 3,
            "intermediate_dim": 768, "dropout": 0.0, "patch_size": 4,
            "input_shape": (32, 32, 3), "num_classes": 10},
}


def kerakit_model(name: str) -> keras.Model:
    """The kerakit build of `name` at its benchmark configuration."""
    return kerakit.build(name, **CONFIGS[name])


def keras_hub_model(name: str) -> keras.Model:
    """The same model from bare keras-hub parts, built by hand."""
    c = CONFIGS[name]
    if name == "bert":
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=c["vocabulary_size"], num_layers=c["num_layers"],
            num_heads=c["num_heads"], hidden_dim=c["hidden_dim"],
            intermediate_dim=c["intermediate_dim"], dropout=c["dropout"],
            max_sequence_length=c["sequence_length"])
        return keras_hub.models.BertTextClassifier(
            backbone, num_classes=c["num_classes"], preprocessor=None,
            dropout=c["dropout"])
    if name == "gpt":
        backbone = keras_hub.models.GPT2Backbone(
            vocabulary_size=c["vocabulary_size"], num_layers=c["num_layers"],
            num_heads=c["num_heads"], hidden_dim=c["hidden_dim"],
            intermediate_dim=c["intermediate_dim"], dropout=c["dropout"],
            max_sequence_length=c["sequence_length"])
        return keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
    backbone = keras_hub.models.ViTBackbone(
        image_shape=c["input_shape"], patch_size=c["patch_size"],
        num_layers=c["num_layers"], num_heads=c["num_heads"],
        hidden_dim=c["hidden_dim"], mlp_dim=c["intermediate_dim"],
        dropout_rate=c["dropout"])
    return keras_hub.models.ViTImageClassifier(
        backbone, num_classes=c["num_classes"], preprocessor=None)


def batch(name: str, size: int, rng: np.random.Generator) -> tuple:
    """`(inputs, targets)` of one training batch for `name`."""
    c = CONFIGS[name]
    if name == "vit":
        x = rng.uniform(0, 1, (size, *c["input_shape"])).astype("float32")
        return x, rng.integers(0, c["num_classes"], size)
    shape = (size, c["sequence_length"])
    ids = rng.integers(1, c["vocabulary_size"], shape).astype("int32")
    x = {"token_ids": ids, "padding_mask": np.ones(shape, "int32")}
    if name == "gpt":
        return x, rng.integers(1, c["vocabulary_size"], shape)
    x["segment_ids"] = np.zeros(shape, "int32")
    return x, rng.integers(0, c["num_classes"], size)


def alternate(steps: dict[str, Callable[[], object]], count: int
              ) -> dict[str, float]:
    """Median seconds of each step, timed alternately A B, B A, ..."""
    seconds: dict[str, list[float]] = {k: [] for k in steps}
    for r in range(count):
        order = list(steps) if r % 2 == 0 else list(steps)[::-1]
        for key in order:
            seconds[key].append(step_seconds(steps[key]))
    return {k: statistics.median(v) for k, v in seconds.items()}


def bench_training(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Training steps/s of both builds of `name`; one row of the table."""
    models = {"kerakit": kerakit_model(name), "keras-hub": keras_hub_model(
        name)}
    x, y = batch(name, args.batch, np.random.default_rng(0))
    for model in models.values():
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-4),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    steps = {k: (lambda m=m: m.train_on_batch(x, y))
             for k, m in models.items()}
    for step in steps.values():  # compile + warm up
        for _ in range(args.warmup):
            step()
    median = alternate(steps, args.steps)
    ours, hub = 1 / median["kerakit"], 1 / median["keras-hub"]
    row = {"model": name, "params": models["kerakit"].count_params(),
           "hub_params": models["keras-hub"].count_params(),
           "train": (ours, hub, ours / hub)}
    del models, steps
    keras.backend.clear_session()
    gc.collect()
    return row


def bench_generation(args: argparse.Namespace) -> dict[str, Any]:
    """Greedy tokens/s: kerakit's helper against GPT2CausalLM.generate."""
    ours = kerakit_model("gpt")
    hub = keras_hub_model("gpt")
    hub.set_weights(ours.get_weights())
    c = CONFIGS["gpt"]
    rng = np.random.default_rng(1)
    prompt_length = c["sequence_length"] // 4
    prompt = rng.integers(1, c["vocabulary_size"],
                          (args.gen_batch, prompt_length)).astype("int32")
    length = c["sequence_length"]
    padded = np.zeros((args.gen_batch, length), "int32")
    padded[:, :prompt_length] = prompt
    mask = np.zeros((args.gen_batch, length), bool)
    mask[:, :prompt_length] = True
    hub_inputs = {"token_ids": padded, "padding_mask": mask}
    hub.compile(sampler="greedy")
    steps = {
        "kerakit": lambda: generate_tokens(ours, prompt, max_length=length,
                                           sampler="greedy"),
        "keras-hub": lambda: hub.generate(hub_inputs, max_length=length,
                                          stop_token_ids=None),
    }
    for step in steps.values():
        step()
    median = alternate(steps, args.gen_calls)
    new_tokens = args.gen_batch * (length - prompt_length)
    a, b = new_tokens / median["kerakit"], new_tokens / median["keras-hub"]
    return {"kerakit": a, "keras-hub": b, "ratio": a / b,
            "new_tokens": new_tokens}


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Render training rows as a Markdown table."""
    lines = ["| model | params | kerakit steps/s | keras-hub steps/s | "
             "ratio |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        ours, hub, ratio = row["train"]
        same = "" if row["params"] == row["hub_params"] else " (differs!)"
        lines.append(f"| {row['model']} | {row['params']:,}{same} | "
                     f"{ours:.2f} | {hub:.2f} | {ratio:.3f} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(CONFIGS),
                        help=f"comma-separated, from {','.join(CONFIGS)}")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20,
                        help="timed training steps per build (alternating)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps first (compilation)")
    parser.add_argument("--gen-batch", type=int, default=4)
    parser.add_argument("--gen-calls", type=int, default=6,
                        help="timed generate calls per implementation; 0 "
                        "skips generation")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(args.models) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from "
                     f"{list(CONFIGS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"backend {keras.backend.backend()}, keras {keras.__version__}, "
          f"keras-hub {keras_hub.__version__}, batch {args.batch}, "
          f"{args.steps} timed steps each, alternating (median step), "
          f"CPU: {cpu_model()} ({os.cpu_count()} cores), "
          f"{datetime.date.today()}", flush=True)
    rows = []
    for name in args.models:
        started = time.perf_counter()
        rows.append(bench_training(name, args))
        print(format_table(rows[-1:]).splitlines()[-1],
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    print(format_table(rows))
    if args.gen_calls:
        gen = bench_generation(args)
        print(f"\nGPT greedy generation, {gen['new_tokens']} new tokens per "
              f"call: kerakit {gen['kerakit']:.1f} tokens/s, keras-hub "
              f"GPT2CausalLM {gen['keras-hub']:.1f} tokens/s, ratio "
              f"{gen['ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
