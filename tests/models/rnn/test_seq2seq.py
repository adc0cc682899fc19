"""Seq2seq: greedy and beam decoding solve sequence reversal."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.rnn.seq2seq import beam_search
from kerakit.models.rnn.seq2seq import greedy_decode
from kerakit.models.rnn.seq2seq import reversal_task


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
