"""Offline text datasets of pairs, and the tokenizer of text-to-text runs.

Two datasets, made without a download:

- `generated:number_words` (`number_words_pairs`): integers written as
  digits (the source, `"372"`) and as English words (the target, `"three
  hundred seventy-two"`), distinct numbers drawn from `0..9999` with a
  fixed seed, so no test number is ever seen in training;
- `python_docstrings:kind` (`docstring_kinds`): the first paragraph of each
  standard-library docstring (`kerakit.data.corpus.docstring_records`),
  labelled by what it documents: `module`, `class` or `function`.

`PieceTokenizer` splits text into characters or into words (digits one by
one, each piece marked when a space came before it), learns its
vocabulary on the training split and decodes losslessly back to
whitespace-normalised text. `TextPairPreprocessor` holds it and the
lengths of a text-to-text run and is saved with the run.

Example:
>>> number_words(372), number_words(1005)
('three hundred seventy-two', 'one thousand five')
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from kerakit.data.preprocessing import SavedAsJson

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven",
         "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen",
         "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
         "eighty", "ninety")
NUMBER_WORDS_LIMIT = 10_000
DOCSTRING_KINDS = ("module", "class", "function")
PAD_ID, END_ID, UNKNOWN_ID = 0, 1, 2
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")
TOKENIZERS = ("char", "word")
_SPACE = "\u2581"  # marks a word piece that follows whitespace
_PIECE = re.compile(r"\s*(?:\d|[^\s\d]+)")


def number_words(number: int) -> str:
    """An integer in `0..999_999` in English words (American style).

    Tens and units join with a hyphen; there is no "and".

    Example:
    >>> number_words(0), number_words(40), number_words(9999)
    ('zero', 'forty', 'nine thousand nine hundred ninety-nine')
    """
    number = int(number)
    if not 0 <= number < 1_000_000:
        raise ValueError(f"number_words takes 0..999999. Received {number}.")
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, units = divmod(number, 10)
        return _TENS[tens] + (f"-{_ONES[units]}" if units else "")
    for size, word in ((1000, "thousand"), (100, "hundred")):
        if number >= size:
            high, rest = divmod(number, size)
            head = f"{number_words(high)} {word}"
            return head + (f" {number_words(rest)}" if rest else "")
    raise AssertionError("unreachable")  # pragma: no cover


def number_words_pairs(num_examples: int, *, seed: int = 0,
                       limit: int = NUMBER_WORDS_LIMIT,
                       direction: str = "to_words"
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Distinct random numbers as digits (sources) and words (targets).

    Args:
        num_examples: How many numbers; at most `limit`.
        seed: Seed of the draw (the same seed gives the same pairs).
        limit: Numbers are drawn from `0..limit - 1`, without repeats.
        direction: `"to_words"` ("372" -> "three hundred seventy-two") or
            `"to_digits"` (the words are the sources).

    Returns:
        `(sources, targets)`, object arrays of `str`.

    Example:
    >>> x, y = number_words_pairs(2, seed=0)
    >>> [number_words(int(s)) for s in x] == list(y)
    True
    """
    if not 1 <= num_examples <= limit:
        raise ValueError(
            f"dataset.examples must be in 1..{limit} for "
            f"'generated:number_words' (distinct numbers below {limit}). "
            f"Received {num_examples}.")
    numbers = np.random.default_rng(seed).choice(limit, num_examples,
                                                 replace=False)
    sources = np.array([str(n) for n in numbers], dtype=object)
    targets = np.array([number_words(n) for n in numbers], dtype=object)
    if direction == "to_digits":
        return targets, sources
    if direction != "to_words":
        raise ValueError("dataset.direction must be 'to_words' or "
                         f"'to_digits'. Received {direction!r}.")
    return sources, targets


def first_paragraph(text: str) -> str:
    """The first paragraph of a docstring, whitespace collapsed.

    Example:
    >>> first_paragraph("Return the sum.\\n\\n  More detail.")
    'Return the sum.'
    """
    head = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    return " ".join(head.split())


def docstring_kinds() -> tuple[np.ndarray, np.ndarray]:
    """First paragraphs of the stdlib docstrings and what each documents.

    A paragraph that occurs more than once is kept once, and dropped when
    its copies document different kinds (so no text is in two splits or
    carries two labels).

    Returns:
        `(texts, labels)`: an object array of `str` and int64 class ids
        into `DOCSTRING_KINDS` (`module`, `class`, `function`).

    Example:
    >>> texts, labels = docstring_kinds()
    >>> len(texts) > 3000, sorted(set(labels.tolist()))
    (True, [0, 1, 2])
    """
    from kerakit.data.corpus import docstring_records

    kinds: dict[str, set[str]] = {}
    for _, kind, doc in docstring_records():
        text = first_paragraph(doc)
        if text:
            kinds.setdefault(text, set()).add(kind)
    kept = [(text, DOCSTRING_KINDS.index(next(iter(found))))
            for text, found in kinds.items() if len(found) == 1]
    texts = np.array([t for t, _ in kept], dtype=object)
    return texts, np.array([k for _, k in kept], dtype="int64")


def load_text_pairs(name: str, spec: dict[str, Any]
                    ) -> tuple[tuple[np.ndarray, np.ndarray], list[str]]:
    """`((x, y), class names)` of `generated:number_words` (no classes) or
    `python_docstrings:kind` (`kerakit.data.datasets` makes the `RawData`).

    Example:
    >>> (x, y), classes = load_text_pairs("generated:number_words",
    ...                                   {"examples": 5})
    >>> x.shape, classes
    ((5,), [])
    """
    if name == "generated:number_words":
        return number_words_pairs(
            int(spec.get("examples", 2000)),
            direction=spec.get("direction", "to_words")), []
    if name == "python_docstrings:kind":
        return docstring_kinds(), list(DOCSTRING_KINDS)
    raise ValueError(f"Unknown text dataset {name!r}: use "
                     "'generated:number_words' or 'python_docstrings:kind'.")


class TaggedPreprocessing(SavedAsJson):
    """A text run's preprocessing, saved with a `kind` naming the run."""

    kind: str

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Read a saved `preprocessing.json` of this kind.

        Raises:
            ValueError: The file belongs to another kind of run.
        """
        data = cls.read_dict(path)
        expected = cls.__dataclass_fields__["kind"].default
        if data.get("kind") != expected:
            raise ValueError(
                f"{path}: not the preprocessing of a {expected!r} run (its "
                f"kind is {data.get('kind')!r}).")
        return cls(**data)


class PieceTokenizer:
    """Characters or word pieces to ids, with the T5 special ids.

    Id 0 is padding (and T5's decoder start), 1 the end of a text, 2 an
    unknown piece; learned pieces follow, most frequent first (ties in
    order of first appearance). `"word"` pieces are runs of non-space
    characters, but each digit is a piece of its own (so numbers never
    seen in training still encode); a piece that follows whitespace
    carries a leading `"▁"`, so `decode` restores the text.

    Args:
        mode: `"char"` (characters) or `"word"`.
        vocabulary: Learned pieces (ids from 3); `None` until `fit`.

    Example:
    >>> tok = PieceTokenizer("word").fit(["forty-two", "3 two"])
    >>> tok.encode("42 two")
    [2, 2, 5]
    >>> tok.decode(tok.encode("3 two") + [1, 0])
    '3 two'
    """

    def __init__(self, mode: str = "word",
                 vocabulary: Sequence[str] | None = None) -> None:
        if mode not in TOKENIZERS:
            raise ValueError(
                f"preprocessing.tokenizer must be one of {TOKENIZERS} for "
                f"text-to-text. Received: {mode!r}.")
        self.mode = mode
        self._set_vocabulary(vocabulary or [])

    def _set_vocabulary(self, pieces: Sequence[str]) -> None:
        self.vocabulary = [*SPECIAL_TOKENS, *pieces]
        self._ids = {p: i for i, p in enumerate(self.vocabulary)}

    def pieces(self, text: str) -> list[str]:
        """The pieces of `text` (see the class doc)."""
        if self.mode == "char":
            return list(text)
        return [(_SPACE if i == 0 or piece[0].isspace() else "")
                + piece.lstrip() for i, piece in enumerate(
                    _PIECE.findall(text.strip()))]

    def fit(self, texts: Sequence[str],
            max_tokens: int | None = None) -> PieceTokenizer:
        """Learn the pieces of `texts` (at most `max_tokens` ids in all)."""
        counts = Counter(p for text in texts for p in self.pieces(text))
        ranked = [p for p, _ in counts.most_common()]
        if max_tokens:
            ranked = ranked[:max(0, max_tokens - len(SPECIAL_TOKENS))]
        self._set_vocabulary(ranked)
        return self

    def encode(self, text: str) -> list[int]:
        """Ids of `text` (no end id)."""
        return [self._ids.get(p, UNKNOWN_ID) for p in self.pieces(text)]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ids up to the first end id, padding skipped."""
        out = []
        for i in map(int, ids):
            if i == END_ID:
                break
            if i != PAD_ID and 0 <= i < len(self.vocabulary):
                out.append(self.vocabulary[i])
        return "".join(out).replace(_SPACE, " ").strip()


@dataclasses.dataclass
class TextPairPreprocessor(TaggedPreprocessing):
    """Source and target texts to T5 ids; saved as `preprocessing.json`.

    Sources and targets share one vocabulary (T5 ties the encoder and
    decoder embeddings), learned on the training pairs only. A text ends
    with the end id 1 and is padded with 0 to its length.

    Attributes:
        kind: Always `"text_to_text"`.
        tokenizer: `"char"` or `"word"` (`PieceTokenizer`).
        vocabulary_size: Most ids, the three special ones included (0: no
            cap).
        source_length: Source ids per example, end id included
            (0: the longest training source).
        target_length: Target ids per example, end id included (0: the
            longest training target).
        vocabulary: The learned pieces (ids from 3).

    Example:
    >>> pre = TextPairPreprocessor("char").fit(["12"], ["twelve"])
    >>> pre.encode_sources(["21", "1"]).tolist()
    [[5, 4, 1], [4, 1, 0]]
    >>> pre.decode(pre.encode_targets(["twelve"]))
    ['twelve']
    """

    tokenizer: str = "word"
    vocabulary_size: int = 0
    source_length: int = 0
    target_length: int = 0
    vocabulary: list = dataclasses.field(default_factory=list)
    kind: str = "text_to_text"

    def __post_init__(self) -> None:
        self._tok = PieceTokenizer(self.tokenizer, self.vocabulary)

    @property
    def augment(self) -> dict:
        """Token ids are never augmented."""
        return {}

    @property
    def class_names(self) -> list[str]:
        """No classes."""
        return []

    @property
    def num_ids(self) -> int:
        """Ids the tokenizer emits, the special ones included."""
        return len(SPECIAL_TOKENS) + len(self.vocabulary)

    def fit(self, sources: Sequence[str],
            targets: Sequence[str]) -> TextPairPreprocessor:
        """Learn the vocabulary and the default lengths (training pairs)."""
        self._tok.fit([*sources, *targets], self.vocabulary_size or None)
        self.vocabulary = self._tok.vocabulary[len(SPECIAL_TOKENS):]
        for field, texts in (("source_length", sources),
                             ("target_length", targets)):
            if not getattr(self, field):
                setattr(self, field, 1 + max(
                    len(self._tok.pieces(t)) for t in texts))
        return self

    def _encode(self, texts: Sequence[str], length: int) -> np.ndarray:
        out = np.zeros((len(texts), length), "int32")
        for row, text in enumerate(texts):
            ids = [*self._tok.encode(text)[:length - 1], END_ID]
            out[row, :len(ids)] = ids
        return out

    def encode_sources(self, texts: Sequence[str]) -> np.ndarray:
        """`(n, source_length)` encoder ids (truncated, end id, padding)."""
        return self._encode(texts, self.source_length)

    def encode_targets(self, texts: Sequence[str]) -> np.ndarray:
        """`(n, target_length)` target ids (truncated, end id, padding)."""
        return self._encode(texts, self.target_length)

    def decode(self, ids: np.ndarray) -> list[str]:
        """Texts of rows of ids (each up to its first end id)."""
        return [self._tok.decode(row) for row in np.asarray(ids).tolist()]
