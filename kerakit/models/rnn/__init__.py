"""Recurrent sequence models: SimpleRNN, LSTM, GRU, Bi-RNN and Seq2Seq."""

from kerakit.models.rnn import recurrent  # noqa: F401
from kerakit.models.rnn import seq2seq  # noqa: F401
