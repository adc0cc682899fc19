"""BERT inputs: packing, masking (against hand-made examples), saving."""

from __future__ import annotations

import numpy as np
import pytest

from kerakit.data.bert_inputs import BertTextPreprocessor
from kerakit.data.bert_inputs import bert_features
from kerakit.data.bert_inputs import check_texts
from kerakit.data.bert_inputs import mask_tokens

TEXTS = ["the cat sat on the mat", "the dog sat on the log",
         "a cat and a dog"] * 4
SPECIAL = [0, 1, 2, 3, 4]  # [PAD] [CLS] [SEP] [UNK] [MASK]


@pytest.fixture(scope="module")
def pre():
    return BertTextPreprocessor(sequence_length=6,
                                vocabulary_size=60).fit(TEXTS)


def test_packing_by_hand(pre):
    the = pre.vocabulary.index("the")
    cat = pre.token_ids(["cat"])[0]  # pieces: "c", "##at"
    assert [pre.vocabulary[i] for i in cat] == ["c", "##at"]
    ids = pre.transform(["the cat", "the cat the cat"])
    assert ids[0].tolist() == [pre.cls_id, the, *cat, pre.sep_id, 0]
    # Truncated to 6 with [SEP] kept last.
    assert ids[1].tolist() == [pre.cls_id, the, *cat, the, pre.sep_id]
    features = bert_features(ids)
    assert features["padding_mask"][0].tolist() == [True] * 5 + [False]
    assert not features["segment_ids"].any()


def test_windows_cut_a_stream(pre):
    windows = pre.windows("the cat\nthe dog\n\nthe mat\n")
    stream = [i for row in pre.token_ids(["the cat", "the dog", "the mat"])
              for i in row]
    assert len(stream) == 9 and windows.shape == (3, 6)  # 4 + 4 + 1 pieces
    cls, sep = pre.cls_id, pre.sep_id
    assert windows[0].tolist() == [cls, *stream[:4], sep]
    assert windows[1].tolist() == [cls, *stream[4:8], sep]
    assert windows[2].tolist() == [cls, stream[8], sep, 0, 0, 0]


def test_vocabulary_learned_on_given_texts_only_and_saved(pre, tmp_path):
    assert pre.vocabulary[:5] == ["[PAD]", "[CLS]", "[SEP]", "[UNK]",
                                  "[MASK]"]
    assert "zebra" not in pre.vocabulary
    pre.save(tmp_path / "p.json")
    back = BertTextPreprocessor.load(tmp_path / "p.json")
    assert back.transform(["zebra cat"]).tolist() == pre.transform(
        ["zebra cat"]).tolist()
    assert pre.vocabulary.index("[UNK]") in pre.token_ids(["zebra"])[0] or (
        "z" not in pre.vocabulary)
    (tmp_path / "q.json").write_text('{"kind": "text_to_text"}')
    with pytest.raises(ValueError, match="not the preprocessing of a 'bert_text' run"):
        BertTextPreprocessor.load(tmp_path / "q.json")


def test_mask_token_in_text_stays_the_mask(pre):
    ids = pre.transform(["the [MASK] sat"])
    assert ids[0, 2] == pre.mask_id


def test_bad_settings_and_texts():
    with pytest.raises(ValueError, match="'wordpiece', 'preset'"):
        BertTextPreprocessor(tokenizer="word")
    with pytest.raises(ValueError, match="sequence_length must be >= 3"):
        BertTextPreprocessor(sequence_length=2)
    with pytest.raises(ValueError, match="model_kwargs.preset"):
        BertTextPreprocessor(tokenizer="preset").fit(TEXTS)
    with pytest.raises(ValueError, match="1 empty text.*index 1"):
        check_texts(["a", "  "], "the inputs")


def test_masking_by_hand():
    ids = np.array([[1, 5, 6, 7, 8, 2, 0, 0]])
    out = mask_tokens(ids, rng=np.random.default_rng(0), mask_id=4,
                      vocabulary_size=9, special_ids=SPECIAL,
                      selection_rate=0.5, mask_rate=1.0, random_rate=0.0)
    # Half of the 4 ordinary pieces (5 6 7 8), sorted; 2 padding slots.
    assert out["mask_positions"].tolist() == [[2, 3, 0, 0]]
    assert out["mask_ids"].tolist() == [[6, 7, 0, 0]]
    assert out["token_ids"].tolist() == [[1, 5, 4, 4, 8, 2, 0, 0]]
    assert out["mask_weights"].tolist() == [[1.0, 1.0, 0.0, 0.0]]
    kept = mask_tokens(ids, rng=np.random.default_rng(0), mask_id=4,
                       vocabulary_size=9, special_ids=SPECIAL,
                       selection_rate=0.5, mask_rate=0.0, random_rate=0.0)
    assert kept["token_ids"].tolist() == ids.tolist()  # all "kept"
    only_special = mask_tokens(np.array([[1, 2, 0]]), rng=np.random.
                               default_rng(0), mask_id=4, vocabulary_size=9,
                               special_ids=SPECIAL)
    assert only_special["mask_weights"].sum() == 0


def test_masking_rates_and_determinism():
    rng = np.random.default_rng(1)
    ids = np.concatenate([np.ones((400, 1)), rng.integers(
        5, 50, (400, 40)), np.full((400, 1), 2)], axis=1).astype("int32")
    out = mask_tokens(ids, rng=np.random.default_rng(7), mask_id=4,
                      vocabulary_size=50, special_ids=SPECIAL)
    again = mask_tokens(ids, rng=np.random.default_rng(7), mask_id=4,
                        vocabulary_size=50, special_ids=SPECIAL)
    assert all((out[k] == again[k]).all() for k in out)
    weights = out["mask_weights"] > 0
    assert weights.sum(axis=1).tolist() == [6] * 400  # 15% of 40
    positions = out["mask_positions"]
    assert ((positions[weights] > 0) & (positions[weights] < 41)).all()
    rows = np.nonzero(weights)[0]
    now = out["token_ids"][rows, positions[weights]]
    before = out["mask_ids"][weights]
    assert (before == ids[rows, positions[weights]]).all()
    masked, same = np.mean(now == 4), np.mean(now == before)
    assert 0.77 < masked < 0.83 and 0.08 < same < 0.14  # 80% / 10% (+ luck)
    assert (now >= 5).sum() + (now == 4).sum() == len(now)  # never special
    unselected = np.ones_like(ids, bool)
    unselected[rows, positions[weights]] = False
    assert (out["token_ids"][unselected] == ids[unselected]).all()
