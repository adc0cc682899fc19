"""Offline text pairs: number words, docstring kinds, the piece tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from kerakit.data.datasets import load_dataset
from kerakit.data.text_pairs import DOCSTRING_KINDS
from kerakit.data.text_pairs import PieceTokenizer
from kerakit.data.text_pairs import TextPairPreprocessor
from kerakit.data.text_pairs import number_words
from kerakit.data.text_pairs import number_words_pairs


@pytest.mark.parametrize("number, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"),
    (42, "forty-two"), (100, "one hundred"), (105, "one hundred five"),
    (372, "three hundred seventy-two"), (1000, "one thousand"),
    (1010, "one thousand ten"), (2300, "two thousand three hundred"),
    (9999, "nine thousand nine hundred ninety-nine"),
])
def test_number_words_by_hand(number, words):
    assert number_words(number) == words


def test_number_words_refuses_out_of_range():
    with pytest.raises(ValueError, match="0..999999"):
        number_words(-1)


def test_number_words_pairs_are_distinct_and_seeded():
    x, y = number_words_pairs(500, seed=3)
    again, _ = number_words_pairs(500, seed=3)
    other, _ = number_words_pairs(500, seed=4)
    assert list(x) == list(again) and list(x) != list(other)
    assert len(set(x)) == 500 and all(0 <= int(s) < 10_000 for s in x)
    assert all(number_words(int(s)) == t for s, t in zip(x, y))
    with pytest.raises(ValueError, match="dataset.examples"):
        number_words_pairs(10_001)


def test_generated_number_words_loads_as_texts():
    raw = load_dataset({"name": "generated:number_words", "examples": 30})
    assert raw.train[0].dtype == object and len(raw.train[1]) == 30
    assert raw.validation is None and raw.num_classes == 0


def test_python_docstrings_kind_is_three_real_classes():
    raw = load_dataset({"name": "python_docstrings:kind"})
    x, y = raw.train
    assert raw.class_names == list(DOCSTRING_KINDS) and raw.num_classes == 3
    assert len(x) > 3000 and len(set(x)) == len(x)  # no duplicated text
    assert set(np.unique(y)) == {0, 1, 2}
    assert all(t.strip() and "\n" not in t for t in x)


def test_word_pieces_split_digits_and_decode_losslessly():
    tok = PieceTokenizer("word")
    assert tok.pieces("372 forty-two") == ["\u25813", "7", "2",
                                            "\u2581forty-two"]
    tok.fit(["three hundred seventy-two", "one  two"])
    ids = tok.encode("seventy-two three")
    assert ids[0] > 2 and tok.decode([*ids, 1, 0, 5]) == "seventy-two three"
    assert tok.encode("zebra") == [2]  # unknown piece
    char = PieceTokenizer("char").fit(["ab"])
    assert char.decode(char.encode("ba") + [1]) == "ba"


def test_piece_vocabulary_cap_and_unknown_mode():
    tok = PieceTokenizer("word").fit(["a a a b b c"], max_tokens=5)
    assert tok.vocabulary == ["<pad>", "</s>", "<unk>", "\u2581a", "\u2581b"]
    with pytest.raises(ValueError, match="'char', 'word'"):
        PieceTokenizer("bpe")


def test_text_pair_preprocessor_round_trip(tmp_path):
    pre = TextPairPreprocessor("word").fit(["12", "7"],
                                           ["twelve", "seven"])
    assert (pre.source_length, pre.target_length) == (3, 2)
    sources = pre.encode_sources(["21", "7"])
    assert sources[:, -1].tolist() == [1, 0] and sources[1, 1] == 1
    assert pre.decode(pre.encode_targets(["seven"])) == ["seven"]
    pre.save(tmp_path / "p.json")
    back = TextPairPreprocessor.load(tmp_path / "p.json")
    assert back.vocabulary == pre.vocabulary and back.num_ids == pre.num_ids
    assert back.encode_sources(["21"]).tolist() == sources[:1].tolist()
    (tmp_path / "q.json").write_text('{"kind": "bert_text"}')
    with pytest.raises(ValueError, match="not the preprocessing of a 'text_to_text' run"):
        TextPairPreprocessor.load(tmp_path / "q.json")


def test_number_words_pairs_read_back_to_digits():
    words, digits = number_words_pairs(50, seed=1, direction="to_digits")
    assert [number_words(int(d)) for d in digits] == list(words)
    with pytest.raises(ValueError, match="dataset.direction"):
        number_words_pairs(5, direction="sideways")
