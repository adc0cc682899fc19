"""Masked language modelling: BERT's pre-training objective on a text stream.

The text (`text:PATH` or the offline `python_docstrings`, read by
`kerakit.data.corpus`) is cut into train / validation / test by contiguous
blocks (`split_blocks`: no window of one split holds text of another),
tokenised by WordPiece learned on the training text only (or a preset's
tokenizer), and cut into windows packed as `[CLS] pieces [SEP]`. Of each
window's pieces 15% are selected; 80% of those become `[MASK]`, 10% a random
piece, 10% stay (`kerakit.data.bert_inputs.mask_tokens`). Training draws new
masks every epoch (from the seed, the epoch and the batch); validation and
test keep one fixed draw, so epochs compare. `dataset.limit` caps the
windows per split.

The model is `kerakit.build("bert_tiny", head="masked_lm", ...)`: the recipe
sets `model_kwargs.head = "masked_lm"` (checked, not set behind its back, so
the recipe says what it builds). Inputs are the BERT inputs plus
`mask_positions`; targets the original ids there, weighted 1 at real
selections and 0 at padding, so the loss and `accuracy` (weighted metrics)
are the masked-token cross-entropy and accuracy. The test metrics add
`perplexity`; `metrics.json` records a baseline that always predicts the
training split's most frequent piece (its test accuracy, and the
cross-entropy of the training unigram distribution).
`kerakit.predict(run, ["the [MASK] sat"])` fills in each `[MASK]`.

Example:
>>> task = MaskedLanguageModelingTask()
>>> task.defaults["monitor"], task.weighted_metrics
('val_loss', True)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.bert_inputs import BERT_TOKENIZERS
from kerakit.data.bert_inputs import BertTextPreprocessor
from kerakit.data.bert_inputs import bert_features
from kerakit.data.bert_inputs import mask_tokens
from kerakit.data.corpus import TextSourceError
from kerakit.data.corpus import is_text_source
from kerakit.data.corpus import read_text_source
from kerakit.data.corpus import split_blocks
from kerakit.data.splits import SPLIT_NAMES
from kerakit.data.splits import DataError
from kerakit.data.splits import Splits
from kerakit.data.splits import fingerprint_parts
from kerakit.tasks.base import Task
from kerakit.tasks.text_classification import bert_preprocessor
from kerakit.tasks.text_classification import check_text_recipe
from kerakit.tasks.text_classification import evaluate_plain
from kerakit.tasks.text_classification import model_sizes
from kerakit.tasks.text_classification import texts_to_predict

NUM_BLOCKS = 20
_VALIDATION_DRAW, _TEST_DRAW = 1, 2


def masked_batch(pre: BertTextPreprocessor, windows: np.ndarray,
                 rng: np.random.Generator) -> tuple:
    """`(inputs, mask ids, mask weights)` of packed windows, masked by `rng`.
    """
    out = mask_tokens(windows, rng=rng, mask_id=pre.mask_id,
                      vocabulary_size=len(pre.vocabulary),
                      special_ids=pre.special_ids)
    inputs = {**bert_features(out["token_ids"]),
              "mask_positions": out["mask_positions"]}
    return inputs, out["mask_ids"], out["mask_weights"]


def fixed_masks(pre: BertTextPreprocessor, windows: np.ndarray,
                seed: Any) -> tuple[dict, dict]:
    """A held-out split masked once by `seed`: `(inputs, {"mask_ids",
    "mask_weights"})`; the same seed masks the same positions, so a run
    evaluated again (`kerakit evaluate`) scores the same ones."""
    inputs, ids, weights = masked_batch(pre, windows,
                                        np.random.default_rng(seed))
    return inputs, {"mask_ids": ids, "mask_weights": weights}


class MaskedBatches(keras.utils.PyDataset):
    """Shuffled training windows, masked afresh every epoch.

    Batch `i` of epoch `e` is masked by `default_rng([seed, e, i])`, so a
    resumed run sees the batches it would have seen.
    """

    def __init__(self, windows: np.ndarray, pre: BertTextPreprocessor,
                 batch_size: int, seed: int, epoch: int):
        super().__init__()
        self.windows, self.pre = windows, pre
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        self._shuffle()

    def _shuffle(self) -> None:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.order = rng.permutation(len(self.windows))

    def __len__(self) -> int:
        return math.ceil(len(self.windows) / self.batch_size)

    def __getitem__(self, index: int) -> tuple:
        rows = self.order[index * self.batch_size:(index + 1) *
                          self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return masked_batch(self.pre, self.windows[rows], rng)

    def on_epoch_end(self) -> None:
        """Reshuffle (and re-mask) for the next epoch."""
        self.epoch += 1
        self._shuffle()


class MaskedLanguageModelingTask(Task):
    """BERT's masked-token objective on a text stream (see module doc)."""

    name = "masked_language_modeling"
    description = ("text stream -> BERT masked-token prediction (15%, "
                   "80/10/10); masked-token loss, accuracy, perplexity")
    model_tasks = ("masked_language_modeling",)
    defaults = {"loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"], "monitor": "val_loss"}
    weighted_metrics = True
    owns_tokenizer = True
    plain_keras_loop = True

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """A text source, a WordPiece or preset tokenizer, the MLM head."""
        check_text_recipe(self.name, fields, loss_name, BERT_TOKENIZERS)
        head = fields["model_kwargs"].get("head")
        if head != "masked_lm":
            raise ValueError(
                f"model_kwargs.head: must be 'masked_lm' with task = "
                f"'masked_language_modeling' (vocabulary logits at the "
                f"masked positions). Received: {head!r}.")
        name = fields["dataset"]["name"]
        if not is_text_source(name):
            raise ValueError(
                "dataset.name: masked language modelling reads a text "
                "stream: 'text:PATH' (a file or a folder of .txt files) or "
                f"'python_docstrings'. Received: {name!r}.")

    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Read and block-split the text, learn the tokenizer on the
        training text, cut every split into packed windows."""
        model_kwargs = dict(model_kwargs or {})
        name = dataset["name"]
        try:
            text = read_text_source(name)
            parts = split_blocks(text, dataset.get("validation_fraction",
                                                   0.1),
                                 dataset.get("test_fraction", 0.2),
                                 NUM_BLOCKS, seed)
        except (TextSourceError, ValueError) as err:
            raise DataError(f"dataset {name!r}: {err}") from None
        lines = [line for line in parts["train"].splitlines()
                 if line.strip()]
        if not lines:
            raise DataError(f"dataset {name!r}: the training split holds "
                            "no text: give more text or lower the "
                            "validation and test fractions.")
        pre = bert_preprocessor(preprocessing, model_kwargs, lines)
        windows = {split: pre.windows(parts[split]) for split in SPLIT_NAMES}
        limit = int(dataset.get("limit", 0))
        if limit:  # `dataset.limit`: at most that many windows per split
            windows = {split: rows[:limit] for split, rows in windows.items()}
        for split, rows in windows.items():
            if not len(rows):
                raise DataError(
                    f"dataset {name!r}: the {split} split holds no text: "
                    "give more text or lower its fraction.")
        raw = [(np.array([parts[s]], dtype=object), np.zeros(1))
                for s in SPLIT_NAMES]
        train = (windows["train"], np.zeros(len(windows["train"]), "int32"))
        fixed = [fixed_masks(pre, windows[s], [seed, draw]) for s, draw in (
            ("validation", _VALIDATION_DRAW), ("test", _TEST_DRAW))]
        return Splits(train, *fixed, (pre.sequence_length,), 0, [], pre,
                      fingerprint_parts(raw), model_sizes(pre, model_kwargs))

    def count_examples(self, splits: Splits) -> dict[str, int]:
        """Windows per split."""
        return {"train": len(splits.train[0]),
                "validation": len(splits.validation[1]["mask_ids"]),
                "test": len(splits.test[1]["mask_ids"])}

    def train_batches(self, splits: Splits, batch_size: int, seed: int,
                      epoch: int) -> keras.utils.PyDataset:
        """Shuffled windows, masked afresh each epoch."""
        return MaskedBatches(splits.train[0], splits.preprocessor,
                             batch_size, seed, epoch)

    def validation(self, model: keras.Model, splits: Splits,
                   batch_size: int, seed: int) -> tuple[Any, list]:
        """The validation windows with their fixed masks."""
        return self.fit_data(*splits.validation), []

    def fit_data(self, x: Any, y: Any) -> tuple:
        """`(inputs, mask ids, mask weights)` of a masked split."""
        return x, y["mask_ids"], y["mask_weights"]

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """Masked-token loss, accuracy and perplexity (fixed masks)."""
        out = evaluate_plain(model, *self.fit_data(*pair), batch_size)
        out["perplexity"] = float(math.exp(min(out["loss"], 50.0)))
        return out

    def report(self, model: keras.Model, splits: Splits, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """`{"baseline": ...}`: always the most frequent training piece."""
        pre = splits.preprocessor
        train = splits.train[0]
        counts = np.bincount(train[~np.isin(train, pre.special_ids)],
                             minlength=len(pre.vocabulary)).astype("float64")
        _, targets, weights = self.fit_data(*splits.test)
        chosen = targets[weights > 0]
        probs = (counts + 1.0) / (counts + 1.0).sum()  # add-one smoothing
        return {"baseline": {
            "most_frequent_piece": pre.vocabulary[int(counts.argmax())],
            "test_accuracy": float(np.mean(chosen == counts.argmax())),
            "test_unigram_loss": float(-np.log(probs[chosen]).mean())}}

    # ---------------------------------------------------------- inference
    def load_preprocessor(self, path: Path) -> BertTextPreprocessor:
        """The run's `BertTextPreprocessor` (vocabulary included)."""
        return BertTextPreprocessor.load(path)

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> tuple:
        """Raw strings with `[MASK]` markers to packed ids."""
        texts = texts_to_predict(inputs)
        ids = preprocessor.transform(texts)
        counts = (ids == preprocessor.mask_id).sum(axis=1)
        if not counts.all():
            raise ValueError(
                f"Input {int(np.argmin(counts))} holds no [MASK] (within "
                f"the first {preprocessor.sequence_length} pieces): write "
                "[MASK] where the model should fill in a piece, e.g. "
                "'Return the [MASK] of x.'")
        return ids, preprocessor

    def predict(self, model: keras.Model, x: Any,
                class_names: list[str]) -> dict[str, Any]:
        """`{"pieces": [[top piece per [MASK]]], "probabilities": [[...]]}`.
        """
        ids, pre = x
        width = int((ids == pre.mask_id).sum(axis=1).max())
        positions = np.zeros((len(ids), width), "int32")
        for row, where in enumerate(ids == pre.mask_id):
            found = np.flatnonzero(where)
            positions[row, :len(found)] = found
        logits = keras.Model.predict(model, {**bert_features(ids),
                                             "mask_positions": positions},
                                     verbose=0)
        probs = keras.ops.convert_to_numpy(keras.ops.softmax(
            keras.ops.convert_to_tensor(logits), axis=-1))
        pieces, best = [], []
        for row, where in enumerate(ids == pre.mask_id):
            count = int(where.sum())
            top = probs[row, :count].argmax(axis=-1)
            pieces.append([pre.vocabulary[int(t)] for t in top])
            best.append(probs[row, np.arange(count), top].tolist())
        return {"pieces": pieces, "probabilities": best}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """The fill-in of each `[MASK]` with its probability, per input."""
        return [f"{i}\t" + " ".join(f"{p} ({q:.3f})" for p, q in zip(
            pieces, probs)) for i, (pieces, probs) in enumerate(
                zip(out["pieces"], out["probabilities"]))]
