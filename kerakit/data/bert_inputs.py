"""BERT inputs: WordPiece ids packed as `[CLS] ... [SEP]`, and MLM masking.

`BertTextPreprocessor` learns a WordPiece vocabulary on the training texts
only (`kerakit.data.text.train_wordpiece`), or takes the vocabulary of a
keras-hub preset's tokenizer (`tokenizer = "preset"`), and packs each text
as `[CLS] pieces [SEP]` padded with 0 to `sequence_length`
(`keras_hub.layers.MultiSegmentPacker`). It is saved as the run's
`preprocessing.json`, vocabulary included, so predicting from raw strings
needs nothing else. `bert_features` adds the segment ids and padding mask
BERT takes; `mask_tokens` draws the masked-language-model corruption.

Example:
>>> pre = BertTextPreprocessor(sequence_length=6, vocabulary_size=40)
>>> ids = pre.fit(["the cat sat", "the dog sat"] * 5).transform(["a cat"])
>>> ids.shape, [pre.vocabulary[i] for i in ids[0]]
((1, 6), ['[CLS]', 'a', 'c', '##a', '##t', '[SEP]'])
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from kerakit.data.text import as_texts
from kerakit.data.text import train_wordpiece
from kerakit.data.text_pairs import TaggedPreprocessing

BERT_TOKENIZERS = ("wordpiece", "preset")


def check_texts(texts: Sequence[str], what: str) -> None:
    """Refuse empty (or whitespace-only) texts, naming the first.

    Example:
    >>> check_texts(["a", " "], "the inputs")
    Traceback (most recent call last):
    ...
    ValueError: the inputs hold 1 empty text(s) (the first at index 1): give every example some text, or drop the empty ones.
    """
    empty = [i for i, text in enumerate(texts) if not str(text).strip()]
    if empty:
        raise ValueError(
            f"{what} hold {len(empty)} empty text(s) (the first at index "
            f"{empty[0]}): give every example some text, or drop the empty "
            "ones.")


def bert_features(token_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The BERT input dict of packed ids (one segment; pad id 0).

    Example:
    >>> out = bert_features(np.array([[1, 7, 2, 0]]))
    >>> out["padding_mask"].tolist(), out["segment_ids"].tolist()
    ([[True, True, True, False]], [[0, 0, 0, 0]])
    """
    token_ids = np.asarray(token_ids, "int32")
    return {"token_ids": token_ids,
            "segment_ids": np.zeros_like(token_ids),
            "padding_mask": token_ids != 0}


@dataclasses.dataclass
class BertTextPreprocessor(TaggedPreprocessing):
    """Texts to packed BERT token ids; saved as `preprocessing.json`.

    Attributes:
        kind: Always `"bert_text"`.
        tokenizer: `"wordpiece"` (learned on the training texts) or
            `"preset"` (the vocabulary of `preset`'s tokenizer).
        sequence_length: Ids per text, `[CLS]` and `[SEP]` included.
        vocabulary_size: Most WordPiece ids to learn, the reserved
            `[PAD] [CLS] [SEP] [UNK] [MASK]` included (0: 30,000).
        lowercase: Fold case before splitting.
        vocabulary: The WordPiece vocabulary (id = position; `[PAD]` is 0).
        preset: The preset directory the vocabulary came from, if any.
        num_classes: Number of classes (classification runs).
        class_names: Class names, reported by predict.
    """

    tokenizer: str = "wordpiece"
    sequence_length: int = 128
    vocabulary_size: int = 0
    lowercase: bool = True
    vocabulary: list = dataclasses.field(default_factory=list)
    preset: str = ""
    num_classes: int = 0
    class_names: list = dataclasses.field(default_factory=list)
    kind: str = "bert_text"

    def __post_init__(self) -> None:
        if self.tokenizer not in BERT_TOKENIZERS:
            raise ValueError(
                f"preprocessing.tokenizer must be one of {BERT_TOKENIZERS} "
                f"for a BERT task. Received: {self.tokenizer!r}.")
        if self.sequence_length < 3:
            raise ValueError(
                "preprocessing.sequence_length must be >= 3 for BERT "
                "([CLS], at least one piece, [SEP]). Received: "
                f"{self.sequence_length}.")
        self._tok = self._packer = None

    @property
    def augment(self) -> dict:
        """Token ids are never augmented."""
        return {}

    # ---------------------------------------------------------- vocabulary
    def fit(self, texts: Sequence[str],
            preset_tokenizer: Any = None) -> BertTextPreprocessor:
        """Learn the vocabulary on the training texts, or take it from
        `preset_tokenizer` (a keras-hub WordPiece tokenizer; required with
        `tokenizer = "preset"`)."""
        texts = as_texts(texts)
        check_texts(texts, "the training texts")
        if self.tokenizer == "preset":
            if preset_tokenizer is None:
                raise ValueError(
                    "preprocessing.tokenizer = 'preset' takes the tokenizer "
                    "of model_kwargs.preset (a keras-hub preset folder on "
                    "disk): set model_kwargs.preset = DIR, or use tokenizer "
                    "= 'wordpiece'.")
            tok = preset_tokenizer
            self.lowercase = bool(getattr(tok, "lowercase", self.lowercase))
        else:
            tok = train_wordpiece(texts, self.vocabulary_size or 30000,
                                  lowercase=self.lowercase)
        self.vocabulary = [str(t) for t in tok.get_vocabulary()]
        self._tok = self._packer = None
        for token in ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"):
            if token not in self.vocabulary:
                raise ValueError(
                    f"The tokenizer's vocabulary has no {token} token, which "
                    "BERT inputs need: use a BERT (WordPiece) preset, or "
                    "tokenizer = 'wordpiece'.")
        if self.vocabulary.index("[PAD]") != 0:
            raise ValueError("The tokenizer's [PAD] token is not id 0, "
                             "which kerakit's padding masks assume.")
        return self

    def _id(self, token: str) -> int:
        if not self.vocabulary:
            raise ValueError("The preprocessor has no vocabulary: call "
                             "fit(train_texts) first.")
        return self.vocabulary.index(token)

    @property
    def cls_id(self) -> int:
        """Id of `[CLS]`."""
        return self._id("[CLS]")

    @property
    def sep_id(self) -> int:
        """Id of `[SEP]`."""
        return self._id("[SEP]")

    @property
    def mask_id(self) -> int:
        """Id of `[MASK]`."""
        return self._id("[MASK]")

    @property
    def special_ids(self) -> list[int]:
        """Ids that are never masked nor drawn as random replacements."""
        return sorted(i for i, t in enumerate(self.vocabulary)
                      if t.startswith("[") and t.endswith("]"))

    # ------------------------------------------------------------- encode
    def token_ids(self, texts: Any) -> list[list[int]]:
        """WordPiece ids of each text, unpacked and untruncated."""
        import keras_hub

        if self._tok is None:
            self._id("[PAD]")
            # "[MASK]" written in a text stays the mask token (predicting
            # a masked language model's fill-ins).
            self._tok = keras_hub.tokenizers.WordPieceTokenizer(
                vocabulary=list(self.vocabulary), lowercase=self.lowercase,
                special_tokens=["[MASK]"], special_tokens_in_strings=True)
        ids = self._tok(as_texts(texts))
        if hasattr(ids, "to_list"):
            ids = ids.to_list()
        return [list(map(int, row)) for row in ids]

    def pack(self, token_ids: Sequence[Sequence[int]]) -> np.ndarray:
        """`[CLS] ids [SEP]` per row, truncated and padded: `(n, T)` int32.
        """
        import keras_hub

        if self._packer is None:
            self._packer = keras_hub.layers.MultiSegmentPacker(
                sequence_length=self.sequence_length, start_value=self.cls_id,
                end_value=self.sep_id, pad_value=0)
        rows = [list(map(int, row)) for row in token_ids]
        if not rows:
            return np.zeros((0, self.sequence_length), "int32")
        packed, _ = self._packer(rows)
        return keras.ops.convert_to_numpy(packed).astype("int32")

    def transform(self, texts: Any) -> np.ndarray:
        """Raw texts to packed ids `(n, sequence_length)`.

        Raises:
            ValueError: A text is empty.
        """
        texts = as_texts(texts)
        check_texts(texts, "the texts")
        return self.pack(self.token_ids(texts))

    def windows(self, text: str) -> np.ndarray:
        """A long text as packed windows of consecutive pieces.

        The text's lines are tokenised and joined into one stream of
        pieces, cut into windows of `sequence_length - 2` pieces (the last
        one shorter), each packed as `[CLS] window [SEP]`.
        """
        lines = [line for line in text.splitlines() if line.strip()]
        stream = [i for row in self.token_ids(lines) for i in row]
        size = self.sequence_length - 2
        return self.pack([stream[i:i + size]
                          for i in range(0, len(stream), size)])


def mask_tokens(token_ids: np.ndarray, *, rng: np.random.Generator,
                mask_id: int, vocabulary_size: int,
                special_ids: Sequence[int], selection_rate: float = 0.15,
                mask_rate: float = 0.8, random_rate: float = 0.1,
                max_selections: int | None = None
                ) -> dict[str, np.ndarray]:
    """Corrupt packed ids for masked language modelling (BERT's recipe).

    Of each row's ordinary pieces (not `special_ids`: padding, `[CLS]`,
    `[SEP]`...), `selection_rate` are selected (at least one, at most
    `max_selections`); a selected piece becomes `[MASK]` with probability
    `mask_rate`, a random ordinary piece with `random_rate`, and stays
    itself otherwise. The draw is numpy's, from `rng`, so a seed and an
    epoch give the same masks on every backend (keras-hub's
    `MaskedLMMaskGenerator` draws with TensorFlow ops, unseeded per call).

    Args:
        token_ids: Packed ids `(n, T)`.
        rng: The random generator.
        mask_id: Id of `[MASK]`.
        vocabulary_size: Random replacements are drawn below it.
        special_ids: Ids never selected nor drawn.
        selection_rate: Share of ordinary pieces to predict.
        mask_rate: Share of the selected that become `[MASK]`.
        random_rate: Share of the selected that become a random piece.
        max_selections: Positions per row `P` (default
            `ceil(selection_rate * T)`).

    Returns:
        `{"token_ids": corrupted (n, T), "mask_positions": (n, P),
        "mask_ids": the original ids there (n, P), "mask_weights": 1.0 at
        real selections, 0.0 at padding positions (n, P)}`.

    Example:
    >>> ids = np.array([[1, 5, 6, 7, 8, 2, 0, 0]])
    >>> out = mask_tokens(ids, rng=np.random.default_rng(0), mask_id=4,
    ...                   vocabulary_size=9, special_ids=[0, 1, 2, 3, 4],
    ...                   selection_rate=0.5, mask_rate=1.0, random_rate=0.0)
    >>> out["mask_positions"].tolist(), out["token_ids"].tolist()
    ([[2, 3, 0, 0]], [[1, 5, 4, 4, 8, 2, 0, 0]])
    >>> out["mask_ids"].tolist(), out["mask_weights"].tolist()
    ([[6, 7, 0, 0]], [[1.0, 1.0, 0.0, 0.0]])
    """
    ids = np.asarray(token_ids, "int32")
    rows, length = ids.shape
    width = max_selections or max(1, math.ceil(selection_rate * length))
    ordinary = ~np.isin(ids, np.asarray(special_ids))
    counts = ordinary.sum(axis=1)
    chosen = np.where(counts > 0, np.clip(np.rint(
        selection_rate * counts), 1, width), 0).astype(int)
    # A random order of each row's ordinary positions comes first.
    scores = np.where(ordinary, rng.random(ids.shape), np.inf)
    order = np.argsort(scores, axis=1, kind="stable")[:, :width]
    valid = np.arange(width)[None] < chosen[:, None]
    positions = np.sort(np.where(valid, order, length), axis=1)
    valid = positions < length
    positions = np.where(valid, positions, 0).astype("int32")
    targets = np.where(valid, np.take_along_axis(ids, positions, 1), 0)
    draw = rng.random(positions.shape)
    regular = np.setdiff1d(np.arange(vocabulary_size), special_ids)
    random_ids = regular[rng.integers(0, max(len(regular), 1),
                                      positions.shape)] if len(regular) else (
        np.full(positions.shape, mask_id))
    replaced = np.where(draw < mask_rate, mask_id, np.where(
        draw < mask_rate + random_rate, random_ids, targets))
    corrupted = ids.copy()
    row_index = np.broadcast_to(np.arange(rows)[:, None], positions.shape)
    corrupted[row_index[valid], positions[valid]] = replaced[valid]
    return {"token_ids": corrupted, "mask_positions": positions,
            "mask_ids": targets.astype("int32"),
            "mask_weights": valid.astype("float32")}
