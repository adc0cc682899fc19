"""LeNet-5: layout and precision (the sweep runs the standard test)."""

from __future__ import annotations

import numpy as np

from kerakit.models.cnn.lenet import lenet5
from kerakit.testing import ModelTestCase

TINY = {"input_shape": (16, 16, 1), "num_classes": 3,
        "conv_widths": (2, 4, 8), "dense_widths": (8,)}


def test_channels_first_matches_channels_last(check_channels_first):
    # Average pooling and the flatten head (whose feature order follows
    # data_format) are the layout-sensitive parts.
    model = check_channels_first(lenet5, {**TINY, "input_shape": (16, 20, 2)})
    assert model.input_shape == (None, 2, 16, 20)
    assert model.output_shape == (None, 3)


def test_mixed_precision():
    # The CNN family's precision check: every layer takes the policy.
    x = np.random.default_rng(0).uniform(size=(2, 16, 16, 1))
    ModelTestCase().run_precision_test(lenet5, TINY, x.astype("float32"))
