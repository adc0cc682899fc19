"""Recurrent classifiers/regressors: masking, options and input errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.rnn.recurrent import recurrent
from kerakit.testing import ModelTestCase


def test_padding_is_masked():
    model = kerakit.build("gru", input_shape=(None,), num_classes=2,
                          vocabulary_size=9, hidden_dim=4, embedding_dim=4,
                          bidirectional=True, num_layers=2)
    tokens = np.array([[3, 4, 5]], "int32")
    padded = np.array([[3, 4, 5, 0, 0]], "int32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(tokens)),
        keras.ops.convert_to_numpy(model(padded)), atol=1e-5
    )


def test_feature_masking():
    model = kerakit.build("simple_rnn", input_shape=(None, 2), num_classes=2,
                          hidden_dim=4)
    x = np.ones((1, 3, 2), "float32")
    padded = np.concatenate([x, np.zeros((1, 2, 2), "float32")], axis=1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)),
        keras.ops.convert_to_numpy(model(padded)), atol=1e-5
    )


def test_input_errors_are_clear():
    with pytest.raises(ValueError, match="vocabulary_size"):
        kerakit.build("lstm", input_shape=(5,), num_classes=2)
    with pytest.raises(ValueError, match="num_layers must be >= 1"):
        kerakit.build("lstm", num_layers=0)
    with pytest.raises(TypeError, match="fixes"):
        kerakit.build("lstm", cell="gru")


@pytest.mark.parametrize("kwargs", [
    {"input_shape": (3, 2), "bidirectional": True},  # float features
    {"input_shape": (3,), "vocabulary_size": 9, "embedding_dim": 4},
])
def test_mixed_precision(kwargs):
    # The RNN family's precision check. Feature input enters in float32
    # (the policy's variable dtype) and token ids as int32.
    x = (np.array([[3, 4, 0], [5, 6, 7]], "int32") if "vocabulary_size"
         in kwargs else np.ones((2, 3, 2), "float32"))
    ModelTestCase().run_precision_test(
        recurrent, {"cell": "lstm", "num_classes": 2, "hidden_dim": 4,
                    **kwargs}, x)
