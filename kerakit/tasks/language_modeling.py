"""Language modelling: next-token training on one text stream (GPT).

Data: `dataset.name = "text:PATH"` (a text file or a folder of `.txt`
files) or `"python_docstrings"` (offline), split into train / validation /
test by contiguous blocks (`kerakit.data.corpus.split_blocks`), tokenized
by a tokenizer learned on the training split only
(`preprocessing.tokenizer`: `"char"`, the default, `"wordpiece"`, `"bpe"`,
or `"preset"`, the tokenizer of the local keras-hub preset folder
`model_kwargs.preset`). Each split's token stream is cut into windows of
`preprocessing.sequence_length` inputs and their next tokens; the training
windows start at a random offset each epoch. `dataset.limit` caps the
windows per split. The model gets `vocabulary_size` and `sequence_length`
from the data unless the recipe sets them.

Every epoch logs `val_loss` (mean nats per token, the default monitor),
`val_perplexity` and `val_bits_per_character` (total nats / ln 2 / the
characters the tokens cover, so tokenizers compare); the test split gets
the same at the end. `metrics.json` adds `bigram`: the bits per character of
a Witten-Bell smoothed bigram model fitted on the same training tokens, and
the model's gain over it. `samples.txt` in the run directory holds
continuations of validation prompts, greedy and nucleus-sampled
(`kerakit.models.transformer.gpt.generate_tokens`, KV cache).

Generation: `kerakit.predict(run, ["prompt", ...])` continues each prompt
greedily up to the model's `sequence_length` tokens; a dict
`{"prompts": [...], "max_length": n, "sampler": "top_p", "temperature":
0.8, "k": 5, "p": 0.9, "seed": 0}` chooses the decoding. `generate(run,
prompts, ...)` does the same and returns the texts.

Example:
>>> logs = {"val_loss": math.log(4.0)}
>>> StreamMetrics(tokens_per_character=0.5).on_epoch_end(0, logs)
>>> logs["val_perplexity"], logs["val_bits_per_character"]
(4.0, 1.0)
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data import corpus
from kerakit.data.splits import DataError
from kerakit.data.splits import Splits
from kerakit.data.text_stream import STREAM_TOKENIZERS
from kerakit.data.text_stream import BigramModel
from kerakit.data.text_stream import TextStreamPreprocessor
from kerakit.data.text_stream import bits_per_character
from kerakit.data.text_stream import model_inputs
from kerakit.data.text_stream import windows
from kerakit.tasks.base import Task
from kerakit.tasks.lm_generation import GenerationRequest
from kerakit.tasks.lm_generation import generate  # noqa: F401  (public)
from kerakit.tasks.lm_generation import generate_ids
from kerakit.tasks.lm_generation import with_preset_tokenizer
from kerakit.tasks.lm_generation import write_samples

SAMPLES = "samples.txt"
SPLITS = ("train", "validation", "test")
# Preprocessing settings of images and numbers, refused for text streams.
_NOT_FOR_TEXT = {"standardize": False, "image_size": [], "channels": 0,
                 "row_normalize": False}


class StreamMetrics(keras.callbacks.Callback):
    """Adds `val_perplexity` and `val_bits_per_character` to epoch logs.

    Args:
        tokens_per_character: Tokens per character of the validation text.
    """

    def __init__(self, tokens_per_character: float):
        super().__init__()
        self.tokens_per_character = tokens_per_character

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None and "val_loss" in logs:
            logs.update(stream_metrics(float(logs["val_loss"]),
                                       self.tokens_per_character, "val_"))


def stream_metrics(mean_nats: float, tokens_per_character: float,
                   prefix: str = "") -> dict[str, float]:
    """Perplexity and bits per character of a mean loss per token.

    Example:
    >>> stream_metrics(math.log(2.0), 1.0)
    {'perplexity': 2.0, 'bits_per_character': 1.0}
    """
    return {f"{prefix}perplexity": math.exp(min(mean_nats, 700.0)),
            f"{prefix}bits_per_character": bits_per_character(
                mean_nats, 1, 1) * tokens_per_character}


class StreamBatches(keras.utils.PyDataset):
    """Shuffled training windows of a token stream, from a random offset
    each epoch (deterministic per seed and epoch).

    Every epoch has the same number of windows: the offset moves within
    the tokens left over after the windows at offset 0.
    """

    def __init__(self, ids: np.ndarray, sequence_length: int,
                 batch_size: int, seed: int = 0, epoch: int = 0):
        super().__init__()
        self.ids, self.length = ids, sequence_length
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        self.count = (len(ids) - 1) // sequence_length
        self._draw()

    def _draw(self) -> None:
        rng = np.random.default_rng([self.seed, self.epoch])
        slack = len(self.ids) - 1 - self.count * self.length
        offset = int(rng.integers(0, slack + 1))
        self.windows = windows(self.ids, self.length, offset)[:self.count][
            rng.permutation(self.count)]

    def __len__(self) -> int:
        return math.ceil(self.count / self.batch_size)

    def __getitem__(self, index: int) -> tuple[dict, np.ndarray]:
        batch = self.windows[index * self.batch_size:(index + 1) *
                             self.batch_size]
        return model_inputs(batch[:, :-1]), batch[:, 1:]

    def on_epoch_end(self) -> None:
        """Draw the next epoch's offset and order."""
        self.epoch += 1
        self._draw()


def stream_pair(ids: np.ndarray, characters: int,
                sequence_length: int) -> tuple[np.ndarray, dict]:
    """One split as the task holds it: `(token ids, {"characters",
    "sequence_length"})`, the characters being those the ids cover."""
    return np.asarray(ids, "int32"), {"characters": int(characters),
                                      "sequence_length": sequence_length}


def tokens_per_character(pair: tuple[np.ndarray, dict]) -> float:
    """Tokens per character of one split (1 for characters).

    Example:
    >>> tokens_per_character(stream_pair(np.arange(5), 10, 2))
    0.5
    """
    return len(pair[0]) / max(pair[1]["characters"], 1)


def window_data(pair: tuple[np.ndarray, dict]) -> tuple[dict, np.ndarray]:
    """`(model inputs, next tokens)` of a split's windows at offset 0.

    Example:
    >>> x, y = window_data(stream_pair(np.arange(1, 8), 7, 3))
    >>> x["token_ids"].tolist(), y.tolist()
    ([[1, 2, 3], [4, 5, 6]], [[2, 3, 4], [5, 6, 7]])
    """
    cut = windows(pair[0], pair[1]["sequence_length"])
    return model_inputs(cut[:, :-1]), cut[:, 1:]


class LanguageModelingTask(Task):
    """Next-token prediction on a text stream (see the module doc)."""

    name = "language_modeling"
    description = ("text stream -> next token (GPT); loss, perplexity and "
                   "bits per character vs a bigram model; samples.txt")
    model_tasks = ("language_modeling",)
    defaults = {"loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"], "monitor": "val_loss"}
    owns_tokenizer = True
    plain_keras_loop = True

    # ------------------------------------------------------------ recipes
    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """A text source, a known tokenizer, a window length."""
        super().check_recipe(fields, loss_name)
        name = fields["dataset"]["name"]
        if not corpus.is_text_source(name):
            raise ValueError(
                "dataset.name: task = 'language_modeling' reads a text: "
                "use 'text:PATH' (a file or a folder of .txt files) or "
                f"{corpus.DOCSTRINGS!r}. Received: {name!r}.")
        pre = fields["preprocessing"]
        tokenizer = pre["tokenizer"] or "char"
        if tokenizer not in STREAM_TOKENIZERS:
            raise ValueError(
                f"preprocessing.tokenizer: {tokenizer!r} cannot tokenize a "
                f"text stream; use one of {', '.join(STREAM_TOKENIZERS)}.")
        if pre["sequence_length"] < 1:
            raise ValueError(
                "preprocessing.sequence_length: set the tokens per training "
                "window (e.g. 128) for task = 'language_modeling'.")
        kwargs = fields["model_kwargs"]
        if (tokenizer == "preset") != bool(kwargs.get("preset")):
            raise ValueError(
                "preprocessing.tokenizer: 'preset' goes with "
                "model_kwargs.preset (a local keras-hub preset folder) and "
                "a preset model needs it: set both or neither.")
        given = kwargs.get("sequence_length")
        if isinstance(given, int) and given < pre["sequence_length"]:
            raise ValueError(
                f"model_kwargs.sequence_length: is {given} but windows are "
                f"preprocessing.sequence_length = {pre['sequence_length']} "
                "tokens long: the model needs a position for each.")
        changed = [k for k, v in _NOT_FOR_TEXT.items() if pre.get(k, v) != v]
        if any(v not in (0, 0.0, "none") for v in pre["augment"].values()):
            changed.append("augment")
        if changed:
            raise ValueError(
                f"preprocessing.{changed[0]}: applies to images and "
                "numbers, not to a text stream: remove it.")

    # --------------------------------------------------------------- data
    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Read, split by blocks, tokenize (learned on train) and check.

        Each split is `(token ids, characters)`: the split's whole stream
        and the length of its text.
        """
        kwargs = dict(model_kwargs or {})
        name = dataset["name"]
        try:
            text = corpus.read_text_source(name)
            parts = corpus.split_blocks(
                text, dataset.get("validation_fraction", 0.1),
                dataset.get("test_fraction", 0.2), seed=seed)
        except ValueError as err:
            raise DataError(f"dataset {name!r}: {err}") from None
        length = int(preprocessing.get("sequence_length", 0))
        pre = with_preset_tokenizer(TextStreamPreprocessor(
            preprocessing.get("tokenizer") or "char", length,
            int(preprocessing.get("vocabulary_size", 0)),
            preset=str(kwargs.get("preset") or ""))).fit(parts["train"])
        pairs = {split: stream_pair(pre.encode(parts[split]),
                                    len(parts[split]), length)
                 for split in SPLITS}
        limit = int(dataset.get("limit", 0))
        for split, (ids, info) in pairs.items():
            if len(ids) < length + 1:
                raise DataError(
                    f"dataset {name!r}: the {split} split holds "
                    f"{len(ids)} tokens, too few for one window of "
                    f"{length} + 1: give more text, raise "
                    f"dataset.{split}_fraction, or lower "
                    "preprocessing.sequence_length.")
            if limit and len(ids) > limit * length + 1:
                keep = limit * length + 1
                pairs[split] = stream_pair(ids[:keep], round(
                    info["characters"] * keep / len(ids)), length)
        vocabulary = pre.num_ids()
        given = kwargs.get("vocabulary_size")
        if isinstance(given, int) and given < vocabulary:
            raise DataError(
                f"model_kwargs.vocabulary_size is {given} but the "
                f"{pre.tokenizer} tokenizer has {vocabulary} ids: leave it "
                "out (the data sets it) or cap "
                "preprocessing.vocabulary_size.")
        fingerprint = {split: {
            "examples": len(windows(pairs[split][0], length)),
            "sha256": hashlib.sha256(parts[split].encode()).hexdigest()[:16]}
            for split in SPLITS}
        # A preset fixes the model's sizes; otherwise the data does.
        from_data = {} if kwargs.get("preset") else {
            "vocabulary_size": vocabulary, "sequence_length": length}
        return Splits(pairs["train"], pairs["validation"], pairs["test"],
                      (length,), vocabulary, [], pre, fingerprint,
                      from_data)

    def count_examples(self, splits: Splits) -> dict[str, int]:
        """Windows per split (training: per epoch)."""
        length = splits.input_shape[0]
        return {split: (len(getattr(splits, split)[0]) - 1) // length
                for split in SPLITS}

    def steps_per_epoch(self, splits: Splits, batch_size: int) -> int:
        """Batches of training windows per epoch."""
        return -(-self.count_examples(splits)["train"] // batch_size)

    def train_batches(self, splits: Splits, batch_size: int, seed: int,
                      epoch: int) -> keras.utils.PyDataset:
        """Shuffled windows from a fresh offset each epoch."""
        return StreamBatches(splits.train[0], splits.input_shape[0],
                             batch_size, seed, epoch)

    # ----------------------------------------------------------- training
    def validation(self, model: keras.Model, splits: Splits,
                   batch_size: int, seed: int) -> tuple[Any, list]:
        """Validation windows, and `val_perplexity` /
        `val_bits_per_character` from `val_loss`."""
        return window_data(splits.validation), [StreamMetrics(
            tokens_per_character(splits.validation))]

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """Loss, accuracy, perplexity and bits per character of a split."""
        x, y = window_data(pair)
        out = keras.Model.evaluate(model, x, y, batch_size=batch_size,
                                   return_dict=True, verbose=0)
        out = {k: float(v) for k, v in out.items()}
        out.update(stream_metrics(out["loss"], tokens_per_character(pair)))
        return out

    def report(self, model: keras.Model, splits: Splits, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """Bigram baseline, tokenizer facts and `samples.txt`."""
        pre = splits.preprocessor
        bigram = BigramModel(pre.num_ids()).fit(splits.train[0])
        baseline = {split: bits_per_character(
            bigram.mean_nats(pair[0]), 1, 1) * tokens_per_character(pair)
            for split, pair in (("validation", splits.validation),
                                ("test", splits.test))}
        model_val = self.evaluate(model, splits.validation, 32, seed)[
            "bits_per_character"]
        samples = write_samples(model, pre, splits, run_dir / SAMPLES, seed)
        return {
            "bigram": {
                "smoothing": bigram.smoothing,
                "validation_bits_per_character": baseline["validation"],
                "test_bits_per_character": baseline["test"],
                "validation_gain_bits_per_character": baseline[
                    "validation"] - model_val},
            "tokenizer": {
                "kind": pre.tokenizer, "vocabulary_size": pre.num_ids(),
                "sequence_length": pre.sequence_length,
                "tokens": {s: len(getattr(splits, s)[0]) for s in SPLITS},
                "characters": {s: getattr(splits, s)[1]["characters"]
                               for s in SPLITS}},
            "samples": samples,
        }

    # ---------------------------------------------------------- inference
    def load_preprocessor(self, path: Path) -> TextStreamPreprocessor:
        """The run's tokenizer (`preprocessing.json`)."""
        return with_preset_tokenizer(TextStreamPreprocessor.load(path))

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> GenerationRequest:
        """Prompts (a string, a list of them, or a dict with `prompts` and
        decoding settings) to continue."""
        options = {}
        if isinstance(inputs, dict):
            options = dict(inputs)
            inputs = options.pop("prompts", None)
            unknown = set(options) - {f.name for f in dataclasses.fields(
                GenerationRequest)} | {"prompts", "preprocessor"}
            if unknown & set(options):
                raise ValueError(
                    f"Unknown generation settings {sorted(unknown & set(options))}; "
                    "use prompts, max_length, sampler, temperature, k, p, "
                    "seed.")
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        if not isinstance(inputs, (list, tuple)) or not inputs or not all(
                isinstance(t, str) for t in inputs):
            raise ValueError(
                "A language-modelling run continues prompts: give a string, "
                "a list of strings, or {'prompts': [...], 'sampler': ...}.")
        return GenerationRequest(list(inputs), preprocessor, **options)

    def predict(self, model: keras.Model, x: GenerationRequest,
                class_names: list[str]) -> dict[str, Any]:
        """`{"prompts", "continuations", "tokens"}`."""
        settings = {f.name: getattr(x, f.name) for f in dataclasses.fields(
            x) if f.name not in ("prompts", "preprocessor")}
        tokens = generate_ids(model, x.preprocessor, x.prompts, **settings)
        return {"prompts": list(x.prompts),
                "continuations": [x.preprocessor.decode(t[n:])
                                  for t, n in tokens],
                "tokens": [t for t, _ in tokens]}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """Each prompt and its continuation."""
        return [f"{i}\t{p!r} -> {c!r}" for i, (p, c) in enumerate(
            zip(out["prompts"], out["continuations"]))]
