"""Text to text with T5: teacher forcing, then greedy and beam decoding.

Sources and targets are texts (`generated:number_words`: `"372"` ->
`"three hundred seventy-two"`, or an `.npz` of string pairs), tokenised by
characters or word pieces learned on the training pairs
(`kerakit.data.text_pairs.PieceTokenizer`; T5's ids: 0 pad and decoder
start, 1 end). `preprocessing.sequence_length` caps the ids per text (the
end id included); shorter datasets use their longest training text.

Training feeds the decoder the target shifted right behind the start id 0
and fits the next-id logits against the target, weighted 1 on real ids
(the end id included) and 0 on padding, so the loss and `accuracy` count
real ids only. After training the test sources are decoded greedily and by
beam search (`kerakit.models.transformer.t5.generate_text_tokens`);
`metrics.json` records `test.greedy_exact_match` and
`test.beam_exact_match` (the share of test targets decoded exactly, as
text), and `decodes.tsv` in the run directory lists every test source,
target and both decodes. `kerakit.predict(run, ["source text"])` returns
the greedy decodes as text.

Example:
>>> x, y, w = TextToTextTask().fit_data(np.array([[5, 1]]),
...                                     np.array([[7, 8, 1, 0]]))
>>> x["decoder_token_ids"].tolist(), x["decoder_padding_mask"].tolist()
([[0, 7, 8, 1]], [[True, True, True, True]])
>>> w.tolist()
[[1.0, 1.0, 1.0, 0.0]]
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.datasets import load_dataset
from kerakit.data.splits import Splits
from kerakit.data.splits import check_splits
from kerakit.data.splits import fingerprint_parts
from kerakit.data.splits import given_splits
from kerakit.data.splits import split_raw
from kerakit.data.text import as_texts
from kerakit.data.text_pairs import END_ID
from kerakit.data.text_pairs import PAD_ID
from kerakit.data.text_pairs import TOKENIZERS
from kerakit.data.text_pairs import UNKNOWN_ID
from kerakit.data.text_pairs import TextPairPreprocessor
from kerakit.tasks.base import Task
from kerakit.tasks.text_classification import check_text_recipe
from kerakit.tasks.text_classification import check_text_splits
from kerakit.tasks.text_classification import evaluate_plain
from kerakit.tasks.text_classification import texts_to_predict

DECODES = "decodes.tsv"
NUM_BEAMS = 4


def normalise(text: str) -> str:
    """Whitespace collapsed: how decodes and targets are compared.

    Example:
    >>> normalise("  three  hundred ")
    'three hundred'
    """
    return " ".join(str(text).split())


def decode_in_batches(generate: Any, model: keras.Model, pre: Any,
                      inputs: np.ndarray, sampler: str,
                      batch_size: int) -> list[str]:
    """Texts decoded from `inputs` a batch at a time.

    `generate(model, batch, max_length, start_id=, end_id=, sampler=,
    num_beams=)` is a model family's decoding helper (T5's
    `generate_text_tokens`, Whisper's `transcribe_tokens`); `pre.decode`
    turns its ids into texts, and `pre.target_length` bounds them.

    Example:
        decode_in_batches(generate_text_tokens, model, pre, ids, "beam", 64)
    """
    texts = []
    for start in range(0, len(inputs), batch_size):
        ids = generate(model, inputs[start:start + batch_size],
                       pre.target_length, start_id=PAD_ID, end_id=END_ID,
                       sampler=sampler, num_beams=NUM_BEAMS)
        texts.extend(pre.decode(ids))
    return texts


class TextToTextTask(Task):
    """Source texts -> target texts with a T5 model (see module doc)."""

    name = "text_to_text"
    description = ("source text -> target text (T5, teacher forcing); "
                   "greedy and beam exact match; decodes.tsv")
    model_tasks = ("text_to_text",)
    defaults = {"loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"], "monitor": "val_loss"}
    weighted_metrics = True
    owns_tokenizer = True
    plain_keras_loop = True

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """A character or word-piece tokenizer learned on the training
        pairs."""
        check_text_recipe(self.name, fields, loss_name, TOKENIZERS)

    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Load and check the text pairs, learn the tokenizer on the
        training pairs, encode every split."""
        raw = load_dataset(dataset)
        given = given_splits(raw)
        check_splits(given, raw.name)
        check_text_splits(given, raw.name, targets=True)
        parts = split_raw(raw, dataset, seed)
        sources, targets = as_texts(parts[0][0]), as_texts(parts[0][1])
        pre = TextPairPreprocessor(
            tokenizer=preprocessing["tokenizer"],
            vocabulary_size=preprocessing.get("vocabulary_size", 0)).fit(
            sources, targets)
        cap = preprocessing.get("sequence_length", 0)
        if cap:
            pre.source_length = min(pre.source_length, cap)
            pre.target_length = min(pre.target_length, cap)
        prepared = [(pre.encode_sources(as_texts(x)),
                     pre.encode_targets(as_texts(y))) for x, y in parts]
        return Splits(*prepared, (pre.source_length,), 0, [], pre,
                      fingerprint_parts(parts),
                      {"vocabulary_size": pre.num_ids})

    def fit_data(self, x: Any, y: Any) -> tuple:
        """`(T5 inputs, targets, weights)`: the decoder reads the target
        shifted right behind the start id 0; padding weighs 0."""
        x, y = np.asarray(x, "int32"), np.asarray(y, "int32")
        start = np.full((len(y), 1), PAD_ID, "int32")
        decoder = np.concatenate([start, y[:, :-1]], axis=1)
        started = np.concatenate([np.ones((len(y), 1), bool),
                                  y[:, :-1] != PAD_ID], axis=1)
        return ({"encoder_token_ids": x, "encoder_padding_mask": x != PAD_ID,
                 "decoder_token_ids": decoder,
                 "decoder_padding_mask": started},
                y, (y != PAD_ID).astype("float32"))

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """Teacher-forced loss and per-id accuracy over real target ids."""
        return evaluate_plain(model, *self.fit_data(*pair), batch_size)


    @staticmethod
    def decode(model: keras.Model, pre: TextPairPreprocessor,
               source_ids: np.ndarray, sampler: str = "greedy",
               batch_size: int = 256) -> list[str]:
        """Decoded texts of encoded sources (`"greedy"` or `"beam"`)."""
        from kerakit.models.transformer.t5 import generate_text_tokens

        return decode_in_batches(generate_text_tokens, model, pre,
                                 source_ids, sampler, batch_size)

    def report(self, model: keras.Model, splits: Splits, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """Decode the test split greedily and by beam search; write
        `decodes.tsv`; return both exact matches."""
        pre = splits.preprocessor
        source_ids, target_ids = splits.test
        sources = pre.decode(source_ids)
        targets = pre.decode(target_ids)
        decoded = {s: self.decode(model, pre, source_ids, s)
                   for s in ("greedy", "beam")}
        # A target holding an unknown piece is never matched (decoding
        # cannot restore the piece).
        known = ~np.any(target_ids == UNKNOWN_ID, axis=1)
        exact = {s: float(np.mean([ok and normalise(a) == normalise(b)
                                   for a, b, ok in zip(texts, targets,
                                                       known)]))
                 for s, texts in decoded.items()}
        tmp = run_dir / f"{DECODES}.tmp"
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t")
            writer.writerow(["source", "target", "greedy", "beam"])
            writer.writerows(zip(sources, targets, decoded["greedy"],
                                 decoded["beam"]))
        os.replace(tmp, run_dir / DECODES)
        return {"test": {"greedy_exact_match": exact["greedy"],
                         "beam_exact_match": exact["beam"]},
                "decodes": {"path": DECODES, "count": len(sources),
                            "num_beams": NUM_BEAMS}}

    # ---------------------------------------------------------- inference
    def load_preprocessor(self, path: Path) -> TextPairPreprocessor:
        """The run's `TextPairPreprocessor` (vocabulary included)."""
        return TextPairPreprocessor.load(path)

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> tuple:
        """Raw source strings to encoder ids."""
        ids = preprocessor.encode_sources(texts_to_predict(inputs))
        return ids, preprocessor

    def predict(self, model: keras.Model, x: Any,
                class_names: list[str]) -> dict[str, Any]:
        """`{"texts": greedy decodes}`."""
        ids, pre = x
        return {"texts": self.decode(model, pre, ids)}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """The decoded text of each input."""
        return [f"{i}\t{text}" for i, text in enumerate(out["texts"])]
