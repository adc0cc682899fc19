"""Text sources, block splits, the character tokenizer, bpc and bigrams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kerakit.data import corpus
from kerakit.data.text_stream import BigramModel
from kerakit.data.text_stream import CharTokenizer
from kerakit.data.text_stream import TextStreamPreprocessor
from kerakit.data.text_stream import bits_per_character
from kerakit.data.text_stream import windows


def test_read_file_and_folder(tmp_path):
    (tmp_path / "b.txt").write_text("second\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first é\n", encoding="utf-8")
    (tmp_path / "skip.md").write_text("not text", encoding="utf-8")
    assert corpus.read_text_source(f"text:{tmp_path}/a.txt") == "first é\n"
    assert corpus.read_text_source(f"text:{tmp_path}") == (
        "first é\n\n\nsecond\n")


@pytest.mark.parametrize("setup, message", [
    (lambda p: None, "not found"),
    (lambda p: p.write_text("  \n"), "holds no text"),
    (lambda p: p.write_bytes(b"caf\xe9"), "not UTF-8"),
    (lambda p: p.mkdir(), "holds no .txt files"),
])
def test_read_errors(tmp_path, setup, message):
    path = tmp_path / "x.txt" if "txt files" not in message else (
        tmp_path / "folder")
    setup(path)
    with pytest.raises(corpus.TextSourceError, match=message):
        corpus.read_text_source(f"text:{path}")


def test_unknown_source():
    with pytest.raises(corpus.TextSourceError, match="text:PATH"):
        corpus.read_text_source("books")


def test_docstring_records_are_deterministic_prose():
    records = corpus.docstring_records(("textwrap", "heapq"))
    assert records == corpus.docstring_records(("textwrap", "heapq"))
    assert records[0][:2] == ("textwrap", "module")
    assert {kind for _, kind, _ in records} == {"module", "class",
                                               "function"}
    assert ("textwrap.TextWrapper.wrap", "function") in {
        r[:2] for r in records}
    assert all(doc.strip() for _, _, doc in records)


@pytest.mark.parametrize("num_blocks, seed", [(20, 0), (7, 3), (3, 1)])
def test_split_blocks_cover_without_overlap(num_blocks, seed):
    text = "".join(f"line {i}\n" for i in range(300))
    bounds = corpus.block_bounds(text, num_blocks)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    chosen = corpus.assign_blocks(num_blocks, 0.2, 0.2, seed)
    ids = sorted(i for v in chosen.values() for i in v)
    assert ids == list(range(num_blocks))  # each block in one split
    parts = corpus.split_blocks(text, 0.2, 0.2, num_blocks, seed)
    assert sum(map(len, parts.values())) == len(text)
    for split, indices in chosen.items():
        assert parts[split] == "".join(text[slice(*bounds[i])]
                                       for i in indices)
    assert corpus.split_blocks(text, 0.2, 0.2, num_blocks, seed) == parts


def test_split_blocks_refuses_no_training():
    with pytest.raises(ValueError, match="none of 3 blocks"):
        corpus.split_blocks("abc\n" * 10, 0.5, 0.5, num_blocks=3)


def test_char_tokenizer_round_trip_and_save(tmp_path):
    text = "hello, wörld\n\thello"
    tok = CharTokenizer().fit(text)
    assert tok.vocabulary[2] == "l"  # most frequent first
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode("z").tolist() == [1]
    pre = TextStreamPreprocessor("char", 4).fit(text)
    pre.save(tmp_path / "preprocessing.json")
    loaded = TextStreamPreprocessor.load(tmp_path / "preprocessing.json")
    assert loaded.encode(text).tolist() == pre.encode(text).tolist()
    assert loaded.decode(loaded.encode(text)) == text
    assert loaded.num_ids() == len(set(text)) + 2


def test_unknown_tokenizer():
    with pytest.raises(ValueError, match="unknown tokenizer 'word'"):
        TextStreamPreprocessor("word", 4)


def test_windows_shift_targets():
    cut = windows(np.arange(10), 4)
    assert cut.tolist() == [[0, 1, 2, 3, 4], [4, 5, 6, 7, 8]]
    assert windows(np.arange(3), 4).shape == (0, 5)


def test_bits_per_character_by_hand():
    # 6 tokens covering 12 characters, 0.5 nats each: 3 nats in all.
    assert bits_per_character(0.5, 6, 12) == pytest.approx(
        3 / math.log(2) / 12)


def test_bigram_by_hand():
    train = np.array([2, 3, 2, 3, 2, 4])
    held_out = np.array([2, 3, 4])
    v = 5
    add_one = BigramModel(v, "add_one").fit(train)
    # C(2,3) = 2, C(2) = 3; C(3,4) = 0, C(3) = 2.
    expected = -(math.log((2 + 1) / (3 + v)) + math.log(1 / (2 + v))) / 2
    assert add_one.mean_nats(held_out) == pytest.approx(expected)
    wb = BigramModel(v, "witten_bell").fit(train)
    unigram = (np.bincount(train, minlength=v) + 1) / (len(train) + v)
    # Context 2: followers {3, 4} (T = 2); context 3: {2} (T = 1).
    p23 = (2 + 2 * unigram[3]) / (3 + 2)
    p34 = (0 + 1 * unigram[4]) / (2 + 1)
    assert wb.mean_nats(held_out) == pytest.approx(
        -(math.log(p23) + math.log(p34)) / 2)
    probs = wb.probabilities(np.full(v, 2), np.arange(v))
    assert probs.sum() == pytest.approx(1.0)
    assert wb.probabilities(np.array([0]), np.array([1]))[0] == (
        pytest.approx(unigram[1]))  # an unseen context: the unigram
