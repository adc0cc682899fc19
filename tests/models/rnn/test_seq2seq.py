"""Seq2seq: greedy and beam decoding solve sequence reversal."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.data.generated import reversal_task
from kerakit.models.rnn.seq2seq import beam_search
from kerakit.models.rnn.seq2seq import greedy_decode
from kerakit.models.rnn.seq2seq import seq2seq
from kerakit.testing import ModelTestCase


def test_decoding_solves_reversal():
    x, y = reversal_task(1024, length=5, seed=0)
    x_test, y_test = reversal_task(32, length=5, seed=1)
    model = kerakit.build("seq2seq", vocabulary_size=10, hidden_dim=32,
                          embedding_dim=16, attention="luong",
                          source_length=5, target_length=6)
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=64, epochs=8, verbose=0)
    greedy = greedy_decode(model, x_test["source"])
    assert (greedy == y_test).all(-1).mean() >= 0.9
    beam = beam_search(model, x_test["source"], beam_width=3)
    assert (beam == y_test).all(-1).mean() >= 0.9


@pytest.mark.parametrize("attention", [None, "luong"])
def test_gru_variants_build_and_decode(attention):
    model = kerakit.build("seq2seq", vocabulary_size=8, cell="gru",
                          num_layers=2, hidden_dim=4, embedding_dim=4,
                          attention=attention)
    out = greedy_decode(model, np.array([[3, 4, 5, 0]]), max_length=3)
    assert out.shape == (1, 3)


def test_decoding_errors_are_clear():
    model = kerakit.build("seq2seq", vocabulary_size=8, hidden_dim=4,
                          embedding_dim=4, target_length=3)
    with pytest.raises(ValueError, match="target_length=3"):
        greedy_decode(model, np.array([[3, 4]]), max_length=5)
    with pytest.raises(ValueError, match="2D integer"):
        greedy_decode(model, np.array([0.5, 1.0]))
    with pytest.raises(TypeError, match="attention"):
        kerakit.build("seq2seq", vocabulary_size=8, attention="dot")


def _expected_params(vocabulary_size, *, target_vocabulary_size=None,
                     cell="lstm", num_layers=1, hidden_dim=256,
                     embedding_dim=128, attention="luong"):
    """The count derived from the layer sizes alone (no model built)."""
    h, e = hidden_dim, embedding_dim
    target = target_vocabulary_size or vocabulary_size
    # LSTM: 4 gates of h units over [input, state] plus bias; GRU with
    # reset_after=True: 3 gates with two biases each.
    gates, biases = (4, 1) if cell == "lstm" else (3, 2)

    def stack():
        return sum(gates * h * ((e if i == 0 else h) + h + biases)
                   for i in range(num_layers))

    total = vocabulary_size * e + target * e + 2 * stack()  # embeddings, RNNs
    if attention:
        # Luong's dot score has no weights, Bahdanau's additive score one
        # scale per unit; the attentional Dense maps [output, context] to h.
        total += (h if attention == "bahdanau" else 0) + 2 * h * h + h
    return total + h * target + target  # logits


def test_canonical_parameter_count_follows_from_layer_sizes():
    # 2 * 10,000*128 (embeddings) + 2 * 4*256*(128+256+1) (LSTMs)
    # + 512*256+256 (attentional) + 256*10,000+10,000 (logits)
    # = 2,560,000 + 788,480 + 131,328 + 2,570,000 = 6,049,808
    entry = kerakit.registry.get_entry("seq2seq")
    assert entry.params == _expected_params(**entry.canonical) == 6_049_808


@pytest.mark.parametrize("kwargs", [
    {"cell": "gru", "num_layers": 2, "attention": "bahdanau",
     "target_vocabulary_size": 7},
    {"cell": "lstm", "num_layers": 2, "attention": None},
    {"cell": "lstm", "attention": "luong"},
])
def test_tiny_parameter_counts_follow_from_layer_sizes(kwargs):
    model = kerakit.build("seq2seq", vocabulary_size=9, hidden_dim=4,
                          embedding_dim=3, **kwargs)
    assert model.count_params() == _expected_params(
        9, hidden_dim=4, embedding_dim=3, **kwargs)


def test_mixed_precision():
    # The seq2seq family's precision check: embeddings, both RNN stacks,
    # attention and logits compute in the policy's dtype.
    x, _ = reversal_task(2, vocabulary_size=8, length=3)
    ModelTestCase().run_precision_test(
        seq2seq, {"vocabulary_size": 8, "hidden_dim": 4, "embedding_dim": 4,
                  "attention": "bahdanau"}, x)


def test_target_vocabulary_of_zero_is_refused_not_defaulted():
    with pytest.raises(ValueError, match="target_vocabulary_size=0"):
        kerakit.build("seq2seq", vocabulary_size=10,
                      target_vocabulary_size=0)
