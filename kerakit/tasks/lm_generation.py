"""Text generation for language-modelling runs (GPT, KV cache).

`kerakit.predict(run, prompts)` and `generate(run, prompts, ...)` continue
prompts with a run's model and tokenizer; `write_samples` writes a run's
`samples.txt`. Decoding is `kerakit.models.transformer.gpt.generate_tokens`
(keras-hub's `generate` with its KV cache): greedy, top-k or nucleus
(top-p) sampling, with a temperature.

Example:
    generate("runs/gpt_char-...", "Return the", sampler="top_p", seed=0)
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.splits import Splits
from kerakit.data.text_stream import TextStreamPreprocessor
from kerakit.saving import load_model


@dataclasses.dataclass
class GenerationRequest:
    """Prompts and decoding settings for `LanguageModelingTask.predict`."""

    prompts: list[str]
    preprocessor: TextStreamPreprocessor
    max_length: int | None = None
    sampler: str = "greedy"
    temperature: float = 1.0
    k: int = 5
    p: float = 0.9
    seed: int | None = None


def with_preset_tokenizer(pre: TextStreamPreprocessor
                          ) -> TextStreamPreprocessor:
    """`pre`, with its preset's tokenizer loaded when it uses one."""
    if pre.tokenizer == "preset":
        from kerakit.models.transformer.presets import load_preset_tokenizer

        pre.use_tokenizer(load_preset_tokenizer(pre.preset))
    return pre


def generate_ids(model: keras.Model, preprocessor: TextStreamPreprocessor,
                 prompts: list[str], max_length: int | None = None,
                 sampler: str = "greedy", temperature: float = 1.0,
                 k: int = 5, p: float = 0.9, seed: int | None = None
                 ) -> list[tuple[np.ndarray, int]]:
    """`(ids, prompt length)` per prompt: its ids, then generated ones.

    `max_length` counts the prompt's tokens too (default and cap: the
    model's positions); a longer prompt keeps its last `max_length - 1`
    tokens. Prompts of equal token length are generated as one batch.
    """
    from kerakit.models.transformer.gpt import generate_tokens

    limit = int(model.backbone.max_sequence_length)
    max_length = min(int(max_length or limit), limit)
    if max_length < 2:
        raise ValueError(f"max_length must be >= 2. Received {max_length}.")
    encoded = []
    for prompt in prompts:
        ids = preprocessor.encode(prompt)[-(max_length - 1):]
        if not len(ids):
            raise ValueError(f"Prompt {prompt!r} has no tokens: give some "
                             "text to continue.")
        encoded.append(ids)
    out: list = [None] * len(encoded)
    for size in sorted({len(ids) for ids in encoded}):
        rows = [i for i, ids in enumerate(encoded) if len(ids) == size]
        tokens = generate_tokens(
            model, np.stack([encoded[i] for i in rows]), max_length,
            sampler=sampler, temperature=temperature, k=k, p=p, seed=seed)
        for i, row in zip(rows, tokens):
            out[i] = (row, size)
    return out


def generate(run_or_model: Any, prompts: str | list[str],
             max_length: int | None = None, sampler: str = "greedy",
             temperature: float = 1.0, k: int = 5, p: float = 0.9,
             seed: int | None = None,
             preprocessor: TextStreamPreprocessor | None = None
             ) -> list[str]:
    """Continue prompts with a language-modelling run (or a model and its
    run's preprocessor).

    Args:
        run_or_model: A finished run directory, or a GPT model (then
            `preprocessor` is required).
        prompts: A prompt or a list of them.
        max_length: Tokens per result, prompt included (default and cap:
            the model's `sequence_length`).
        sampler: `"greedy"`, `"top_k"` or `"top_p"`.
        temperature: Divides the logits before sampling.
        k: Candidates of `"top_k"`.
        p: Probability mass of `"top_p"`.
        seed: Seed of the random samplers.
        preprocessor: The run's `TextStreamPreprocessor`, with a model.

    Returns:
        The continuation of each prompt (the prompt not repeated).

    Example:
        generate("runs/gpt_char-...", "Return the", sampler="top_p")
    """
    if isinstance(prompts, str):
        prompts = [prompts]
    if isinstance(run_or_model, keras.Model):
        if preprocessor is None:
            raise ValueError("generate(model, ...) needs the run's "
                             "preprocessor: pass preprocessor=.")
        model = run_or_model
    else:
        run = Path(run_or_model)
        if not (run / "best.keras").is_file():
            raise FileNotFoundError(f"{run} is not a finished kerakit run "
                                    "(no best.keras): train first.")
        model = load_model(run / "best.keras")
        preprocessor = with_preset_tokenizer(TextStreamPreprocessor.load(
            run / "preprocessing.json"))
    return [preprocessor.decode(ids[n:]) for ids, n in generate_ids(
        model, preprocessor, list(prompts), max_length, sampler,
        temperature, k, p, seed)]


def write_samples(model: keras.Model, pre: TextStreamPreprocessor,
                  splits: Splits, path: Path, seed: int,
                  count: int = 4) -> dict[str, Any]:
    """Write continuations of validation prompts to `path`, greedy and
    nucleus-sampled; return what `metrics.json` records of them."""
    from kerakit.models.transformer.gpt import generate_tokens

    ids = splits.validation[0]
    length = splits.input_shape[0]
    limit = min(length, int(model.backbone.max_sequence_length))
    prompt_length = max(1, min(limit // 4, 32))
    starts = np.linspace(0, len(ids) - prompt_length - 1, count).astype(int)
    prompts = np.stack([ids[s:s + prompt_length] for s in starts])
    samplers = {"greedy": {"sampler": "greedy"},
                "top_p": {"sampler": "top_p", "p": 0.9, "temperature": 0.8,
                          "seed": seed}}
    outputs = {name: generate_tokens(model, prompts, limit, **settings)
               for name, settings in samplers.items()}
    lines = [f"# {count} validation prompts of {prompt_length} tokens, "
             f"continued to {limit} tokens.", ""]
    for i, prompt in enumerate(prompts):
        lines += [f"## prompt {i + 1}", pre.decode(prompt)]
        for name, out in outputs.items():
            lines += [f"### {name}", pre.decode(out[i, prompt_length:])]
        lines.append("")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)
    return {"path": path.name, "count": count,
            "samplers": {k: v for k, v in samplers.items()}}
