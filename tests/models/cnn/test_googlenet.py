"""GoogLeNet: architecture details, auxiliary heads and bad input (the
sweep runs the standard test on the registered model, without aux heads)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.cnn.googlenet import googlenet
from kerakit.testing import ModelTestCase

TINY = {
    "input_shape": (32, 32, 3),
    "num_classes": 3,
    "width_multiplier": 0.0625,
    "stage_depths": (1, 2, 1),
}
# Output channels at width 1/16: inception 5a (832 -> 52), 5b (1024 -> 64).
FEATURES = 52


def test_registry_entry():
    info = kerakit.model_info("googlenet")
    assert info["params"] == 6_639_464
    assert info["arguments"]["aux_heads"] is False
    assert "width" in info["knobs"]


@pytest.mark.large
def test_aux_heads_parameter_count():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("parameter counts are checked on the tensorflow run")
    model = kerakit.build("googlenet", aux_heads=True)
    assert model.count_params() == 13_019_960
    assert [tuple(o.shape) for o in model.outputs] == [(None, 1000)] * 3


def test_aux_heads_standard_test(tmp_path):
    # Three outputs (main, aux1, aux2): list targets, one loss per output.
    x = np.random.default_rng(0).uniform(size=(4, 32, 32, 3))
    y = np.array([0, 1, 2, 0])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model = ModelTestCase().run_model_test(
        googlenet, {**TINY, "aux_heads": True}, x.astype("float32"),
        [(4, 3)] * 3, targets=[y, y, y], loss=[loss, loss, loss],
        tmp_dir=str(tmp_path),
    )
    assert len(model.outputs) == 3


def test_aux_heads_follow_4a_and_4d():
    model = googlenet(width_multiplier=0.0625, aux_heads=True,
                      data_format="channels_last")
    for aux, module in (("aux1", "4a"), ("aux2", "4d")):
        pool = model.get_layer(f"googlenet_{aux}_pool")
        source = pool.input._keras_history[0].name
        assert source == f"googlenet_inception{module}_concat"


def test_layout_follows_torchvision():
    model = googlenet(**TINY, data_format="channels_last")
    convs = [layer for layer in model.layers
             if isinstance(layer, keras.layers.Conv2D)]
    # Stem 3 + 4 modules (3a, 4a, 4b, 5a) x 6 convolutions, none with bias.
    assert len(convs) == 3 + 4 * 6
    assert not any(conv.use_bias for conv in convs)
    bns = [layer for layer in model.layers
           if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == len(convs)
    assert {bn.epsilon for bn in bns} == {1e-3}
    # The "5x5" branch uses a 3x3 kernel, as in torchvision.
    branch = model.get_layer("googlenet_inception3a_b3_conv")
    assert branch.kernel_size == (3, 3)


@pytest.mark.parametrize(
    ("pooling", "shape"),
    [(None, (2, 1, 1, FEATURES)), ("avg", (2, FEATURES)),
     ("max", (2, FEATURES)), ("flatten", (2, FEATURES))],
)
def test_include_top_false_feature_shapes(pooling, shape):
    model = googlenet(**TINY, include_top=False, pooling=pooling,
                      aux_heads=True, data_format="channels_last")
    x = np.zeros((2, 32, 32, 3), "float32")
    # No auxiliary outputs without the classifier.
    assert tuple(model(x, training=False).shape) == shape


def test_canonical_feature_map_is_7x7():
    model = googlenet(width_multiplier=0.0625, include_top=False,
                      pooling=None, data_format="channels_last")
    assert model.output_shape == (None, 7, 7, 64)


def test_too_small_input_names_the_minimum():
    with pytest.raises(ValueError, match="the minimum is 32x32"):
        kerakit.build("googlenet", input_shape=(28, 28, 1))


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="pooling must be one of"):
        kerakit.build("googlenet", **TINY, pooling="sum")
    with pytest.raises(ValueError, match="width_multiplier"):
        kerakit.build("googlenet", **{**TINY, "width_multiplier": 0.0})
    with pytest.raises(ValueError, match="at most \\(2, 5, 2\\)"):
        kerakit.build("googlenet", **{**TINY, "stage_depths": (2, 6, 2)})
    with pytest.raises(ValueError, match="stage_depths"):
        kerakit.build("googlenet", **{**TINY, "stage_depths": (1, 1)})
    with pytest.raises(TypeError, match="aux_heads"):
        kerakit.build("googlenet", **TINY, aux_heads="yes")
    with pytest.raises(ValueError, match="height and width must be known"):
        kerakit.build("googlenet", **{**TINY, "input_shape": (None, None, 3)},
                      pooling="flatten")


def test_one_channel_any_size_input():
    model = googlenet(**{**TINY, "input_shape": (None, None, 1)},
                      aux_heads=True, data_format="channels_last")
    x = np.zeros((2, 40, 56, 1), "float32")
    outputs = model(x, training=False)
    assert [tuple(o.shape) for o in outputs] == [(2, 3)] * 3


def test_channels_first_matches_channels_last(check_channels_first):
    model = check_channels_first(googlenet, {**TINY, "aux_heads": True})
    assert [tuple(o.shape) for o in model.outputs] == [(None, 3)] * 3
