"""Keras-style layer checks: wrap a layer in a model, run the standard test.

A plain module, not a conftest: `--doctest-modules` imports every
`conftest.py` as a module named `conftest`, so several of them clash.
"""

from __future__ import annotations

import keras

from kerakit.testing import ModelTestCase


def run_layer_check(tmp_path, make_layer, input_specs, x, expected_shape,
                    targets, loss="mse", expect_decrease=True,
                    batch_size=None):
    """Shape, JSON config round trip, .keras save/load, training.

    `input_specs` is a list of `(shape_without_batch, dtype)`; one spec
    means a single input tensor. `batch_size` fixes the symbolic batch (for
    outputs whose shape depends on it).
    """

    def layer_model(name="layer_model"):
        inputs = [keras.Input(batch_shape=(batch_size, *shape), dtype=dtype)
                  for shape, dtype in input_specs]
        outputs = make_layer()(inputs if len(inputs) > 1 else inputs[0])
        return keras.Model(inputs if len(inputs) > 1 else inputs[0],
                           outputs, name=name)

    return ModelTestCase().run_model_test(
        layer_model, {}, x, expected_shape, targets=targets, loss=loss,
        tmp_dir=str(tmp_path), expect_decrease=expect_decrease,
    )
