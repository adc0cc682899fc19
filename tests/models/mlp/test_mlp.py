"""MLP: options and argument errors (training is covered by the sweep)."""

from __future__ import annotations

import numpy as np
import pytest

import kerakit
from kerakit.models.mlp.mlp import mlp
from kerakit.testing import ModelTestCase


def test_options_change_the_graph():
    plain = kerakit.build("mlp", input_shape=(4, 2), num_classes=3,
                          num_layers=3, hidden_dim=8)
    assert plain.output_shape == (None, 3)
    assert len([w for w in plain.weights if "dense" in w.path]) == 6
    regular = kerakit.build("mlp_regressor", input_shape=(4,), num_outputs=2,
                            batch_norm=True, dropout=0.2, num_layers=1,
                            hidden_dim=8)
    names = [layer.name for layer in regular.layers]
    assert "mlp_regressor_bn1" in names and "mlp_regressor_dropout1" in names
    assert regular.output_shape == (None, 2)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="dropout must be in"):
        kerakit.build("mlp", dropout=1.5)
    with pytest.raises(TypeError, match="'task' expects"):
        kerakit.build("mlp", task="ranking")
    with pytest.raises(TypeError, match="hidden_dim"):
        kerakit.build("mlp", hidden_dims=8)


def test_mixed_precision():
    # The MLP family's precision check, with batch norm and a 2D input.
    x = np.ones((2, 4, 2), "float32")
    ModelTestCase().run_precision_test(
        mlp, {"input_shape": (4, 2), "num_classes": 3, "num_layers": 2,
              "hidden_dim": 8, "batch_norm": True}, x)
