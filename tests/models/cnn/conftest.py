"""Helpers shared by the CNN family tests."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerakit.testing import assert_allclose_outputs

# TensorFlow's CPU Conv2D kernel is NHWC only: an NCHW model raises
# UnimplementedError "The Conv2D op currently only supports the NHWC tensor
# format on the CPU. The op was given the format: NCHW" (TF 2.21).
TF_CPU_NCHW = (
    "TensorFlow's CPU Conv2D supports only channels_last (NHWC); "
    "channels_first is checked on jax and torch"
)


def _needs_nchw() -> None:
    if keras.backend.backend() == "tensorflow":
        pytest.skip(TF_CPU_NCHW)


@pytest.fixture
def check_channels_first():
    """Return `check(fn, kwargs)`: channels_first matches channels_last.

    The same weights (kernel layouts do not depend on `data_format`) must
    give the same logits on transposed images, so the layout is handled
    everywhere, including batch-norm axes and concatenations.
    """

    def check(fn, kwargs):
        _needs_nchw()
        h, w, c = kwargs["input_shape"]
        last = fn(**{**kwargs, "data_format": "channels_last"})
        first = fn(**{**kwargs, "input_shape": (c, h, w),
                      "data_format": "channels_first"})
        first.set_weights(last.get_weights())
        x = np.random.default_rng(0).uniform(size=(2, h, w, c))
        x = x.astype("float32")
        assert_allclose_outputs(
            last(x, training=False),
            first(np.transpose(x, (0, 3, 1, 2)), training=False),
            atol=1e-4,
        )
        return first

    return check
