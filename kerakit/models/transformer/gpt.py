"""GPT: a decoder-only causal language model (keras-hub's GPT-2).

`gpt`, `gpt2_small` and `gpt_tiny` return `keras_hub.models.GPT2CausalLM`
around a `GPT2Backbone` without a preprocessor: inputs are token ids and a
padding mask, outputs next-token logits from the tied embedding.
`generate_tokens` samples continuations with keras-hub's KV cache.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Literal

import keras
import numpy as np

from kerakit.models.transformer import presets
from kerakit.testing import SweepData

_REFERENCE = ("Radford et al., 2019. Language models are unsupervised "
              "multitask learners (GPT-2).")


def gpt_model(
    vocabulary_size: int | None = None,
    sequence_length: int | None = None,
    *,
    num_layers: int | None = None,
    hidden_dim: int | None = None,
    num_heads: int | None = None,
    intermediate_dim: int | None = None,
    dropout: float = 0.1,
    preset: str | None = None,
    dtype: Any = None,
    name: str = "gpt",
) -> keras.Model:
    """Build a GPT causal language model on keras-hub's GPT-2 backbone.

    The registered names (`gpt`, `gpt2_small`, `gpt_tiny`) are this builder
    with default sizes; every size stays an argument.

    Args:
        vocabulary_size: Number of token ids (id 0 is padding in kerakit's
            tokenizers).
        sequence_length: Longest sequence the model can read: the number
            of learned positions.
        num_layers: Number of transformer decoder blocks.
        hidden_dim: Width of the token representations.
        num_heads: Attention heads per block; must divide `hidden_dim`.
        intermediate_dim: Width of each block's feed-forward layer.
        dropout: Dropout of the embeddings, attention and feed-forward
            outputs.
        preset: Path of a local keras-hub `GPT2Backbone` preset folder; its
            config and weights give the backbone, and the sizes above may
            then be left out. Nothing is downloaded.
        dtype: Dtype or mixed-precision policy of every layer.
        name: Model name.

    Returns:
        `keras_hub.models.GPT2CausalLM` (a functional `keras.Model`, not
        compiled) from `{"token_ids", "padding_mask"}`, each
        `(batch, steps)`, to logits `(batch, steps, vocabulary_size)`.

    Example:
    >>> m = gpt_model(40, 8, num_layers=1, hidden_dim=8, num_heads=2,
    ...               intermediate_dim=16)
    >>> x = {"token_ids": np.ones((2, 8), "int32"),
    ...      "padding_mask": np.ones((2, 8), "int32")}
    >>> tuple(m(x).shape)
    (2, 8, 40)

    Reference:
        Radford et al., 2019. https://openai.com/research/better-language-models
    """
    arch = {
        "vocabulary_size": ("vocabulary_size", vocabulary_size),
        "sequence_length": ("max_sequence_length", sequence_length),
        "num_layers": ("num_layers", num_layers),
        "hidden_dim": ("hidden_dim", hidden_dim),
        "num_heads": ("num_heads", num_heads),
        "intermediate_dim": ("intermediate_dim", intermediate_dim),
    }
    presets.check_sizes(name, arch, dropout)
    backbone = presets.build_backbone(
        "GPT2Backbone", arch, preset=preset, model=name, dropout=dropout,
        dtype=dtype, name=f"{name}_backbone",
    )
    return presets.keras_hub().models.GPT2CausalLM(
        backbone, preprocessor=None, compile=False, name=name
    )


def _sampler(kind: str, temperature: float, k: int, p: float,
             seed: int | None) -> Any:
    samplers = presets.keras_hub().samplers
    if kind == "greedy":
        return samplers.GreedySampler(temperature=temperature)
    if kind == "top_k":
        return samplers.TopKSampler(k=k, seed=seed, temperature=temperature)
    if kind == "top_p":
        return samplers.TopPSampler(p=p, seed=seed, temperature=temperature)
    raise ValueError(
        f"sampler must be 'greedy', 'top_k' or 'top_p'. Received: "
        f"sampler={kind!r}"
    )


# Compiled generate functions per model and sampler setting. keras-hub
# compiles `generate` for the sampler it holds; compiling again on every
# call cost 15x the generation time of a short continuation (measured in
# benchmarks/transformer_throughput.py), so each setting compiles once.
_GENERATORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def run_generate(model: keras.Model, sampler: Any, inputs: Mapping[str, Any],
                 stop_token_ids: Sequence[int] | None,
                 key: Hashable | None = None,
                 repeat_draws: bool = True) -> dict[str, Any]:
    """Call keras-hub's `model.generate` with `sampler`, then restore it.

    keras-hub picks the sampler in `compile()`, which would also reset the
    model's optimizer; setting it for one call leaves training untouched.
    With a `key` (the sampler's settings), the sampler and its compiled
    function are kept for the next call with the same key; with
    `repeat_draws` the sampler's random state is reset each call (a seed
    repeats its draw), without it the draws go on.

    Example:
    >>> m = gpt_model(9, 4, num_layers=1, hidden_dim=4, num_heads=1,
    ...               intermediate_dim=4)
    >>> out = run_generate(m, _sampler("greedy", 1.0, 5, 0.9, None), {
    ...     "token_ids": np.ones((1, 4), "int32"),
    ...     "padding_mask": np.array([[1, 0, 0, 0]], bool)}, None)
    >>> out["token_ids"].shape
    (1, 4)
    """
    cached = _GENERATORS.setdefault(model, {})
    if key is not None and key in cached:
        sampler, function, initial = cached[key]
        for variable, value in zip(sampler.variables, initial):
            if repeat_draws:
                variable.assign(value)
    else:
        function = None
        initial = [keras.ops.copy(v.value) for v in sampler.variables]
    missing = object()
    previous = getattr(model, "sampler", missing)
    model.sampler = sampler
    model.generate_function = function
    try:
        return model.generate(
            dict(inputs),
            stop_token_ids=tuple(stop_token_ids) if stop_token_ids else None,
        )
    finally:
        if key is not None:
            cached[key] = (sampler, model.generate_function, initial)
        model.generate_function = None  # it captured this sampler
        if previous is missing:
            del model.sampler
        else:
            model.sampler = previous


def generate_tokens(
    model: keras.Model,
    token_ids: Any,
    max_length: int,
    sampler: Literal["greedy", "top_k", "top_p"] = "greedy",
    temperature: float = 1.0,
    k: int = 5,
    p: float = 0.9,
    seed: int | None = None,
    stop_token_ids: Sequence[int] | None = None,
) -> np.ndarray:
    """Continue prompts with a GPT model, using keras-hub's KV cache.

    Args:
        model: A `GPT2CausalLM` (e.g. `kerakit.build("gpt_tiny", ...)`).
        token_ids: Prompts, int `(batch, prompt_length)`, all of the same
            length (no padding inside a prompt).
        max_length: Length of the returned sequences, prompt included; at
            most the model's `sequence_length`.
        sampler: `"greedy"` (argmax), `"top_k"` or `"top_p"` (nucleus).
        temperature: Logits are divided by it before sampling.
        k: Candidates kept by `"top_k"`.
        p: Probability mass kept by `"top_p"`.
        seed: Seed of the random samplers; `None` draws a fresh one.
        stop_token_ids: Ids that end a sequence; the positions after the
            first one generated are set to 0 (padding). `None` generates
            up to `max_length`.

    Returns:
        int32 array `(batch, max_length)`: each prompt followed by its
        continuation.

    Example:
    >>> m = gpt_model(9, 6, num_layers=1, hidden_dim=4, num_heads=1,
    ...               intermediate_dim=4)
    >>> generate_tokens(m, np.array([[1, 2]]), 5).shape
    (1, 5)
    """
    prompt = np.asarray(token_ids)
    if prompt.ndim != 2 or not np.issubdtype(prompt.dtype, np.integer):
        raise ValueError(
            "generate_tokens: token_ids must be an integer array (batch, "
            f"prompt_length). Received shape {prompt.shape}, dtype "
            f"{prompt.dtype}."
        )
    batch, length = prompt.shape
    limit = model.backbone.max_sequence_length
    if not length <= max_length <= limit:
        raise ValueError(
            f"generate_tokens: max_length must be between the prompt length "
            f"({length}) and the model's sequence_length ({limit}). "
            f"Received: max_length={max_length}"
        )
    ids = np.zeros((batch, max_length), "int32")
    ids[:, :length] = prompt
    mask = np.zeros((batch, max_length), bool)
    mask[:, :length] = True
    if length == max_length:
        return ids
    # Without a seed a sampler draws afresh each call: its state goes on.
    out = run_generate(
        model, _sampler(sampler, temperature, k, p, seed),
        {"token_ids": ids, "padding_mask": mask}, stop_token_ids,
        key=(sampler, temperature, k, p, seed), repeat_draws=seed is not None,
    )
    tokens = np.asarray(keras.ops.convert_to_numpy(out["token_ids"]))
    keep = np.asarray(keras.ops.convert_to_numpy(out["padding_mask"]))
    return np.where(keep, tokens, 0).astype("int32")


def _data(kwargs: Mapping[str, Any]) -> SweepData:
    """Token batches with padding at the end of half of the rows."""
    rng = np.random.default_rng(0)
    batch, steps, vocab = 4, kwargs["sequence_length"], kwargs[
        "vocabulary_size"]
    ids = rng.integers(1, vocab, size=(batch, steps)).astype("int32")
    mask = np.ones((batch, steps), "int32")
    mask[batch // 2:, steps - 2:] = 0
    ids = ids * mask
    targets = np.roll(ids, -1, axis=1)
    return SweepData(
        {"token_ids": ids, "padding_mask": mask}, targets,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        (batch, steps, vocab),
    )


_TINY = {"vocabulary_size": 40, "sequence_length": 8, "num_layers": 1,
         "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32,
         "dropout": 0.0}
GPT2_SMALL = {"vocabulary_size": 50257, "sequence_length": 1024,
              "num_layers": 12, "hidden_dim": 768, "num_heads": 12,
              "intermediate_dim": 3072}
GPT_TINY = {"vocabulary_size": 50257, "sequence_length": 256,
            "num_layers": 4, "hidden_dim": 128, "num_heads": 4,
            "intermediate_dim": 512}


def _register(name: str, sizes: Mapping[str, Any], doc: str,
              params: int | None) -> Any:
    return presets.register_sized(
        gpt_model, name, doc, sizes, params=params,
        family="gpt", task="language_modeling", tiny=_TINY,
        reference=_REFERENCE, knobs=presets.TEXT_KNOBS,
        test={"data": _data},
    )


gpt = _register("gpt", GPT2_SMALL, "GPT: GPT-2 small sizes by default "
                "(see `gpt_model` for every argument).", 124_439_808)
gpt2_small = _register("gpt2_small", GPT2_SMALL, "GPT-2 small: 12 layers, "
                       "768 wide, 12 heads, 1024 positions, vocab 50257.",
                       124_439_808)
gpt_tiny = _register("gpt_tiny", GPT_TINY, "A tiny GPT: 4 layers, 128 wide, "
                     "4 heads, 256 positions (for character models).", None)
