"""AlexNet: architecture details and bad input (the sweep runs the
standard test on the registered model)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.cnn.alexnet import alexnet
from kerakit.testing import ModelTestCase

TINY = {
    "input_shape": (63, 63, 3),
    "num_classes": 3,
    "stage_widths": (4, 8, 8, 8, 8),
    "fc_widths": (8, 8),
}


def test_registry_entry():
    info = kerakit.model_info("alexnet")
    assert info["params"] == 61_100_840
    assert info["canonical"]["input_shape"] == (224, 224, 3)
    assert "width" in info["knobs"]
    assert tuple(info["arguments"]["stage_widths"]) == (64, 192, 384, 256, 256)


def test_canonical_feature_map_is_6x6():
    model = alexnet(stage_widths=(4, 4, 4, 4, 4), include_top=False,
                    pooling=None, data_format="channels_last")
    assert model.output_shape == (None, 6, 6, 4)
    conv1 = model.get_layer("alexnet_conv1")
    assert conv1.kernel_size == (11, 11) and conv1.strides == (4, 4)


@pytest.mark.parametrize(
    ("pooling", "shape"),
    [(None, (2, 1, 1, 8)), ("avg", (2, 8)), ("max", (2, 8)),
     ("flatten", (2, 8))],
)
def test_include_top_false_feature_shapes(pooling, shape):
    model = alexnet(**TINY, include_top=False, pooling=pooling,
                    data_format="channels_last")
    x = np.zeros((2, 63, 63, 3), "float32")
    assert tuple(model(x, training=False).shape) == shape


def test_global_pooling_accepts_any_size():
    model = alexnet(**{**TINY, "input_shape": (None, None, 3)},
                    pooling="avg", data_format="channels_last")
    x = np.zeros((1, 80, 100, 3), "float32")
    assert tuple(model(x, training=False).shape) == (1, 3)


def test_too_small_input_names_the_minimum():
    with pytest.raises(ValueError, match="the minimum is 63x63"):
        kerakit.build("alexnet", input_shape=(62, 62, 3))
    with pytest.raises(ValueError, match="the minimum is 63x63"):
        kerakit.build("alexnet", input_shape=(32, 32, 1))


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="pooling must be one of"):
        kerakit.build("alexnet", **TINY, pooling="global")
    with pytest.raises(ValueError, match="stage_widths must be 5"):
        kerakit.build("alexnet", **{**TINY, "stage_widths": (4, 8)})
    with pytest.raises(ValueError, match="fc_widths"):
        kerakit.build("alexnet", **{**TINY, "fc_widths": (0,)})
    with pytest.raises(ValueError, match="height and width must be known"):
        kerakit.build("alexnet", **{**TINY, "input_shape": (None, None, 3)})
    with pytest.raises(TypeError, match="stage_widths"):
        kerakit.build("alexnet", stage_width=(4, 8, 8, 8, 8))


def test_one_channel_input_trains(tmp_path):
    kwargs = {**TINY, "input_shape": (64, 72, 1), "dropout": 0.0,
              "fc_widths": (8,)}
    x = np.random.default_rng(0).uniform(size=(4, 64, 72, 1))
    ModelTestCase().run_model_test(
        alexnet, kwargs, x.astype("float32"), (4, 3),
        targets=np.array([0, 1, 2, 0]),
        loss=keras.losses.SparseCategoricalCrossentropy(True),
        tmp_dir=str(tmp_path),
    )


def test_channels_first_matches_channels_last(check_channels_first):
    model = check_channels_first(alexnet, TINY)
    assert model.output_shape == (None, 3)
