import numpy as np
import pytest

from kerakit.data.text import WordTokenizer
from kerakit.data.text import read_corpus
from kerakit.data.text import texts_to_ids
from kerakit.data.text import train_bpe
from kerakit.data.text import train_wordpiece

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "the lazy dog sleeps in the sun",
    "a quick brown dog runs after the fox",
    "foxes and dogs are quick animals",
] * 5


def test_word_tokenizer_padding_truncation_and_config():
    tok = WordTokenizer(sequence_length=5, max_tokens=8).fit(CORPUS)
    assert tok.vocabulary_size == 8
    assert tok.vocabulary[:3] == ["[PAD]", "[UNK]", "the"]
    ids = tok.encode(["the dog", "the quick brown fox jumps over"])
    assert ids.dtype == np.int32 and ids.shape == (2, 5)
    assert ids[0, 2:].tolist() == [0, 0, 0]
    pre = WordTokenizer.from_config({**tok.get_config(), "padding": "pre",
                                     "truncation": "pre"})
    out = pre.encode(["the dog", "the quick brown fox jumps over"])
    assert out[0, :3].tolist() == [0, 0, 0]
    assert out[1].tolist() == tok.encode(["quick brown fox jumps over"])[0]\
        .tolist()
    assert tok.decode(tok.encode("the zebra")) == "the [UNK]"


def test_word_tokenizer_errors(tmp_path):
    with pytest.raises(ValueError, match="vocabulary is empty"):
        WordTokenizer().encode(["x"])
    with pytest.raises(ValueError, match="'pre' or 'post'"):
        WordTokenizer(padding="left")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_corpus(str(tmp_path / "missing.txt"))


def test_corpus_from_file_and_texts_to_ids(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS[:4]) + "\n\n", encoding="utf-8")
    assert read_corpus(path) == CORPUS[:4]
    assert read_corpus(tmp_path) == CORPUS[:4]
    ids = texts_to_ids(["the fox", "the"], 3)
    assert ids.tolist() == [[2, 3, 0], [2, 0, 0]]
    tail = WordTokenizer(vocabulary=["a", "b", "c"], sequence_length=2,
                         truncation="pre")
    assert tail.encode(["a b c"]).tolist() == [[3, 4]]  # the last two words


def test_wordpiece_learned_locally():
    tok = train_wordpiece(CORPUS, vocabulary_size=60, sequence_length=20)
    vocab = tok.get_vocabulary()
    assert vocab[0] == "[PAD]" and len(vocab) <= 60
    assert any(piece.startswith("##") for piece in vocab)
    ids = np.asarray(tok(["the quick foxes"]))
    assert ids.shape == (1, 20) and ids[0, -1] == 0
    assert tok.detokenize(ids[0][ids[0] > 0]) == "the quick foxes"
    assert texts_to_ids(["the quick foxes"], 4, tok).shape == (1, 4)


def test_bpe_learned_locally():
    tok = train_bpe(CORPUS, vocabulary_size=50, sequence_length=10)
    assert tok.vocabulary_size() == 50
    ids = np.asarray(tok(["the lazy fox"]))
    assert ids.shape == (1, 10)
    assert tok.detokenize(ids[0][ids[0] > 0]) == "the lazy fox"
    with pytest.raises(ValueError, match="Lower vocabulary_size"):
        train_bpe(["ab"], vocabulary_size=500)
