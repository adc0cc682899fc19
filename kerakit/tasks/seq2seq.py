"""Sequence to sequence with teacher forcing, scored by greedy decoding.

Token convention: 0 pad, 1 start, 2 end. Training feeds the decoder the
target shifted right behind the start id (`{"source": x, "target_in": ...}`)
and fits the next-token logits against the target; after training the test
split is decoded greedily and `greedy_exact_match` is the share of test
sequences decoded exactly right.

Example:
>>> import numpy as np
>>> x, y = np.zeros((2, 3), "int32"), np.array([[5, 4, 2], [6, 3, 2]])
>>> Seq2SeqTask().fit_data(x, y)[0]["target_in"].tolist()
[[1, 5, 4], [1, 6, 3]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.tasks.base import Task

START_ID = 1


class Seq2SeqTask(Task):
    """Teacher-forced sequence to sequence (`kerakit.build("seq2seq")`)."""

    name = "seq2seq"
    description = ("source tokens -> target tokens (teacher forcing); "
                   "greedy-decoding exact match")
    model_tasks = ("sequence_to_sequence",)
    defaults = {"loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"], "monitor": "val_loss"}

    def fit_data(self, x: Any, y: Any) -> tuple:
        """`({"source": x, "target_in": y shifted right behind 1}, y)`."""
        y = np.asarray(y)
        start = np.full((len(y), 1), START_ID, dtype=y.dtype)
        shifted = np.concatenate([start, y[:, :-1]], axis=1)
        return {"source": x, "target_in": shifted.astype("int32")}, y

    def report(self, model: keras.Model, splits: Any, run_dir: Path,
               seed: int) -> dict[str, Any]:
        """`{"test": {"greedy_exact_match": share}}` on the test split."""
        source, expected = splits.test
        decoded = self._decode(model, source, expected.shape[1])
        exact = np.all(decoded == expected, axis=1)
        return {"test": {"greedy_exact_match": float(exact.mean())}}

    def predict(self, model: keras.Model, x: np.ndarray,
                class_names: list[str]) -> dict[str, Any]:
        """`{"tokens": greedy decodes}` (end id 2 closes each)."""
        length = model.input["target_in"].shape[1] or 2 * x.shape[1] + 2
        return {"tokens": self._decode(model, x, length)}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """The decoded token ids of each input."""
        return [f"{i}\t{' '.join(map(str, row))}"
                for i, row in enumerate(np.asarray(out["tokens"]).tolist())]

    @staticmethod
    def _decode(model: keras.Model, source: np.ndarray,
                length: int) -> np.ndarray:
        from kerakit.models.rnn.seq2seq import greedy_decode

        return greedy_decode(model, source, max_length=length,
                             start_id=START_ID)
