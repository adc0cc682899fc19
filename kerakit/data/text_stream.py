"""A text as one token stream: tokenizers, windows, bits per character.

Language modelling reads a text as one long stream of token ids, learned on
the training split only:

- `CharTokenizer`: one id per character (0 padding, 1 unknown, then the
  characters by frequency); lossless, so generated text reads back exactly;
- WordPiece and BPE (learned by `kerakit.data.text`), or a keras-hub preset
  tokenizer from a local directory.

`windows` cuts a stream into model inputs and next-token targets, and
`bits_per_character` turns a mean loss per token into bits per character,
which compares models whatever their tokenizer. `BigramModel` is the
baseline a language model should beat.

Example:
>>> tok = CharTokenizer().fit("abracadabra")
>>> tok.vocabulary[2:], tok.decode(tok.encode("cab"))
(['a', 'b', 'r', 'c', 'd'], 'cab')
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from kerakit.data.preprocessing import SavedAsJson

PAD_ID = 0
UNKNOWN_ID = 1
UNKNOWN = "\ufffd"


class CharTokenizer:
    """Characters to ids: 0 padding, 1 unknown, then by frequency.

    Characters are ordered by decreasing count in the text `fit` reads
    (ties by code point), so ids do not depend on dict order.

    Args:
        vocabulary: Id -> character, padding (`""`) and unknown first;
            `None` to learn with `fit`.
        max_tokens: Most ids, the two special ones included (`None`: no
            cap); rarer characters become unknown.

    Example:
    >>> tok = CharTokenizer(max_tokens=4).fit("aabbc")
    >>> tok.encode("abc").tolist(), tok.decode([2, 3, 1, 0]) == "ab\\ufffd"
    ([2, 3, 1], True)
    """

    def __init__(self, vocabulary: Sequence[str] | None = None,
                 max_tokens: int | None = None):
        if max_tokens is not None and max_tokens < 3:
            raise ValueError(f"max_tokens must be >= 3 (padding, unknown and "
                             f"one character). Received {max_tokens}.")
        self.max_tokens = max_tokens
        self.vocabulary = list(vocabulary) if vocabulary else []
        self._ids = {c: i for i, c in enumerate(self.vocabulary) if i > 1}

    def fit(self, text: str) -> CharTokenizer:
        """Learn the characters of `text`; returns `self`."""
        counts = sorted(Counter(text).items(), key=lambda kv: (-kv[1],
                                                               kv[0]))
        chars = [c for c, _ in counts]
        if self.max_tokens:
            chars = chars[:self.max_tokens - 2]
        self.vocabulary = ["", UNKNOWN, *chars]
        self._ids = {c: i for i, c in enumerate(self.vocabulary) if i > 1}
        return self

    def vocabulary_size(self) -> int:
        """Number of ids, padding and unknown included."""
        return len(self.vocabulary)

    def encode(self, text: str) -> np.ndarray:
        """A text to a 1-D int32 array of ids (one per character)."""
        if not self.vocabulary:
            raise ValueError("The tokenizer has no vocabulary: call "
                             "fit(train_text) first.")
        get = self._ids.get
        return np.fromiter((get(c, UNKNOWN_ID) for c in text), "int32",
                           len(text))

    def decode(self, ids: Any) -> str:
        """Ids to text; padding dropped, unknown ids as U+FFFD."""
        vocabulary, size = self.vocabulary, len(self.vocabulary)
        return "".join(vocabulary[i] if 0 < i < size else (
            "" if i == PAD_ID else UNKNOWN) for i in map(int, np.ravel(ids)))


def windows(ids: np.ndarray, sequence_length: int, offset: int = 0
            ) -> np.ndarray:
    """Non-overlapping `(n, sequence_length + 1)` windows of a stream.

    Window `i` is `ids[offset + i*T : offset + (i+1)*T + 1]`; its first `T`
    ids are the model's input and its last `T` the next-token targets, so
    every target after `offset` is predicted once. The remainder too short
    for a window is dropped.

    Example:
    >>> windows(np.arange(8), 3).tolist()
    [[0, 1, 2, 3], [3, 4, 5, 6]]
    """
    ids = np.asarray(ids)[offset:]
    count = max((len(ids) - 1) // sequence_length, 0)
    starts = np.arange(count)[:, None] * sequence_length
    return ids[starts + np.arange(sequence_length + 1)[None]]


def model_inputs(token_ids: np.ndarray) -> dict[str, np.ndarray]:
    """`{"token_ids", "padding_mask"}` of int ids (a GPT's inputs).

    Example:
    >>> model_inputs(np.array([[5, 6, 0]]))["padding_mask"].tolist()
    [[True, True, False]]
    """
    token_ids = np.asarray(token_ids, "int32")
    return {"token_ids": token_ids, "padding_mask": token_ids != PAD_ID}


def bits_per_character(mean_nats: float, tokens: int,
                       characters: int) -> float:
    """Bits per character of `tokens` predictions covering `characters`.

    Total nats (`mean_nats * tokens`) / ln 2 / characters: with a character
    tokenizer it is the mean loss in bits; with sub-word tokens it charges
    each character its share, so tokenizers compare.

    Example:
    >>> round(bits_per_character(math.log(2), 10, 20), 6)
    0.5
    """
    if characters <= 0:
        raise ValueError(f"characters must be > 0. Received {characters}.")
    return float(mean_nats) * tokens / math.log(2) / characters


class BigramModel:
    """Next-token probabilities from counts of token pairs (a baseline).

    `smoothing="add_one"`: `P(b|a) = (C(a,b) + 1) / (C(a) + V)`.
    `smoothing="witten_bell"` (default): interpolates the pair estimate
    with the add-one unigram `P(b)`, trusting a context by how many
    different tokens follow it: `P(b|a) = (C(a,b) + T(a) P(b)) /
    (C(a) + T(a))`, `T(a)` the number of distinct followers of `a`
    (`P(b)` alone for a context never seen). Counts are sparse, so a
    large vocabulary costs nothing.

    Args:
        vocabulary_size: Number of token ids `V`.
        smoothing: `"witten_bell"` or `"add_one"`.

    Example:
    >>> model = BigramModel(3, "add_one").fit(np.array([1, 2, 1, 2]))
    >>> float(model.probabilities(np.array([1]), np.array([2]))[0])
    0.6
    """

    def __init__(self, vocabulary_size: int, smoothing: str = "witten_bell"):
        if smoothing not in ("witten_bell", "add_one"):
            raise ValueError("smoothing must be 'witten_bell' or 'add_one'. "
                             f"Received {smoothing!r}.")
        self.vocabulary_size = int(vocabulary_size)
        self.smoothing = smoothing

    def fit(self, ids: np.ndarray) -> BigramModel:
        """Count the pairs of a training stream; returns `self`."""
        ids = np.asarray(ids, "int64")
        size = self.vocabulary_size
        if ids.size and (ids.min() < 0 or ids.max() >= size):
            raise ValueError(f"Token ids must be in [0, {size}).")
        self.pairs, self.pair_counts = np.unique(ids[:-1] * size + ids[1:],
                                                 return_counts=True)
        self.context_counts = np.bincount(ids[:-1], minlength=size)
        self.followers = np.bincount(self.pairs // size, minlength=size)
        self.unigram = (np.bincount(ids, minlength=size) + 1.0) / (
            len(ids) + size)
        return self

    def probabilities(self, previous: np.ndarray,
                      following: np.ndarray) -> np.ndarray:
        """`P(following | previous)` for arrays of token ids."""
        previous = np.asarray(previous, "int64")
        following = np.asarray(following, "int64")
        codes = previous * self.vocabulary_size + following
        where = np.minimum(np.searchsorted(self.pairs, codes),
                           len(self.pairs) - 1)
        pair = np.where(self.pairs[where] == codes,
                        self.pair_counts[where], 0).astype("float64")
        context = self.context_counts[previous].astype("float64")
        if self.smoothing == "add_one":
            return (pair + 1.0) / (context + self.vocabulary_size)
        kinds = self.followers[previous].astype("float64")
        prior = self.unigram[following]
        seen = context > 0
        return np.where(seen, (pair + kinds * prior) / np.where(
            seen, context + kinds, 1.0), prior)

    def mean_nats(self, ids: np.ndarray) -> float:
        """Mean negative log-likelihood (nats) of each next token of a
        stream given the one before."""
        ids = np.asarray(ids, "int64")
        if len(ids) < 2:
            raise ValueError("The stream needs at least 2 tokens.")
        return float(-np.log(self.probabilities(ids[:-1], ids[1:])).mean())


STREAM_TOKENIZERS = ("char", "wordpiece", "bpe", "preset")
_SUBWORD_DEFAULT_SIZE = 1000


@dataclasses.dataclass
class TextStreamPreprocessor(SavedAsJson):
    """The tokenizer of a language-modelling run, saved with it.

    Attributes:
        tokenizer: `"char"` (`CharTokenizer`), `"wordpiece"` or `"bpe"`
            (learned on the training text by `kerakit.data.text`), or
            `"preset"` (the tokenizer of the keras-hub preset directory
            `preset`).
        sequence_length: Tokens per model input window.
        vocabulary_size: Most ids to learn, padding included (0: every
            character for `"char"`, 1000 for sub-words).
        vocabulary: Learned tokens (id = position) for char and WordPiece.
        proto: The learned BPE (SentencePiece) model, base64.
        preset: The preset directory, for `"preset"` (its tokenizer is
            loaded by the caller and given to `use_tokenizer`).
        class_names: Unused (kept for `kerakit.predict`'s interface).

    Example:
    >>> pre = TextStreamPreprocessor("char", 4).fit("hello")
    >>> pre.num_ids(), pre.decode(pre.encode("hole"))
    (6, 'hole')
    """

    tokenizer: str = "char"
    sequence_length: int = 0
    vocabulary_size: int = 0
    vocabulary: list | None = None
    proto: str = ""
    preset: str = ""
    class_names: list = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if self.tokenizer not in STREAM_TOKENIZERS:
            raise ValueError(
                f"preprocessing.tokenizer: unknown tokenizer "
                f"{self.tokenizer!r} for language modelling; use one of "
                f"{', '.join(STREAM_TOKENIZERS)}.")
        self._tok = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (without the live tokenizer)."""
        return {f.name: getattr(self, f.name)
                for f in dataclasses.fields(self)}

    @classmethod
    def load(cls, path: str) -> TextStreamPreprocessor:
        """Read a saved `preprocessing.json`."""
        return cls(**cls.read_dict(path))

    def fit(self, text: str) -> TextStreamPreprocessor:
        """Learn the tokenizer on the training text; returns `self`."""
        from kerakit.data import text as text_lib

        cap = self.vocabulary_size or None
        if self.tokenizer == "char":
            self.vocabulary = CharTokenizer(max_tokens=cap).fit(
                text).vocabulary
        elif self.tokenizer == "wordpiece":
            tok = text_lib.train_wordpiece(_lines(text), cap or (
                _SUBWORD_DEFAULT_SIZE), lowercase=False)
            self.vocabulary = [str(t) for t in tok.get_vocabulary()]
        elif self.tokenizer == "bpe":
            tok = text_lib.train_bpe(_lines(text), cap or (
                _SUBWORD_DEFAULT_SIZE), lowercase=False)
            self.proto = base64.b64encode(_proto_bytes(tok)).decode("ascii")
        if self.tokenizer != "preset":  # a preset's stays as it was given
            self._tok = None
        return self

    def _tokenizer(self) -> Any:
        if self._tok is not None:
            return self._tok
        if self.tokenizer == "char":
            if not self.vocabulary:
                raise ValueError("The tokenizer has no vocabulary: call "
                                 "fit(train_text) first.")
            self._tok = CharTokenizer(self.vocabulary)
            return self._tok
        import keras_hub

        if self.tokenizer == "wordpiece":
            self._tok = keras_hub.tokenizers.WordPieceTokenizer(
                vocabulary=list(self.vocabulary), lowercase=False)
        elif self.tokenizer == "bpe":
            self._tok = keras_hub.tokenizers.SentencePieceTokenizer(
                proto=base64.b64decode(self.proto))
        else:
            raise ValueError(
                f"The tokenizer of preset {self.preset!r} is not loaded: "
                "call use_tokenizer(tokenizer) first.")
        return self._tok

    def use_tokenizer(self, tokenizer: Any) -> TextStreamPreprocessor:
        """Use a loaded tokenizer (a preset's, which the model layer
        reads); returns `self`."""
        self._tok = tokenizer
        return self

    def num_ids(self) -> int:
        """The vocabulary size the model needs (every id + 1)."""
        return int(self._tokenizer().vocabulary_size())

    def encode(self, text: str) -> np.ndarray:
        """A text to a 1-D int32 id stream."""
        tok = self._tokenizer()
        if isinstance(tok, CharTokenizer):
            return tok.encode(text)
        rows = tok(_lines(text) or [""])
        rows = rows.to_list() if hasattr(rows, "to_list") else [
            np.asarray(r).tolist() for r in rows]
        return np.asarray([i for row in rows for i in row], "int32")

    def decode(self, ids: Any) -> str:
        """Ids to text (padding dropped)."""
        tok = self._tokenizer()
        ids = [int(i) for i in np.ravel(ids) if int(i) != PAD_ID]
        if isinstance(tok, CharTokenizer):
            return tok.decode(ids)
        if not ids:
            return ""
        out = tok.detokenize(np.asarray([ids], "int32"))
        out = np.asarray(keras.ops.convert_to_numpy(out) if not isinstance(
            out, (list, str, bytes)) else out).reshape(-1)[0]
        return out.decode("utf-8", "replace") if isinstance(
            out, bytes) else str(out)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _proto_bytes(tokenizer: Any) -> bytes:
    proto = tokenizer.proto
    return proto if isinstance(proto, bytes) else bytes(np.asarray(proto))

