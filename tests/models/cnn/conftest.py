"""Helpers shared by the CNN family tests."""

from __future__ import annotations

import pytest

from kerakit.testing import ModelTestCase


@pytest.fixture
def check_channels_first():
    """Return `check(fn, kwargs)`: channels_first matches channels_last.

    `ModelTestCase.run_layout_test`: on every backend both layouts build
    with layer-by-layer transposed symbolic shapes and interchangeable
    weights; where channels_first convolutions run (jax, torch; not
    TensorFlow's CPU, whose Conv2D is NHWC only) the same weights must give
    the same logits on transposed images, so the layout is handled
    everywhere, including batch-norm axes and concatenations. Returns the
    channels_first model.
    """

    def check(fn, kwargs):
        return ModelTestCase().run_layout_test(fn, kwargs)[1]

    return check
