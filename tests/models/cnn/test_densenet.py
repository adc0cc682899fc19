"""DenseNet family: channel arithmetic and bad input (the sweep does the
standard test on every registered variant)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.cnn.densenet import densenet
from kerakit.models.cnn.densenet import densenet121
from kerakit.testing import ModelTestCase

TINY = {
    "input_shape": (32, 32, 3),
    "num_classes": 3,
    "block_sizes": (2, 3),
    "growth_rate": 4,
}


def _feature_shape(**kwargs):
    model = densenet(**{**TINY, **kwargs, "include_top": False,
                        "pooling": None, "data_format": "channels_last"})
    return tuple(model.output_shape)


def test_family_name_is_densenet121():
    info = kerakit.model_info("densenet")
    assert info["params"] == kerakit.model_info("densenet121")["params"]
    assert info["params"] == 8_062_504
    assert tuple(info["arguments"]["block_sizes"]) == (6, 12, 24, 16)
    assert info["arguments"]["growth_rate"] == 32
    assert info["arguments"]["compression"] == 0.5


def test_every_entry_has_depth_and_width_knobs():
    for name in kerakit.list_models(family="densenet"):
        knobs = kerakit.model_info(name)["knobs"]
        assert {"depth", "width"} <= set(knobs), name
        assert knobs["width"]["arg"] == "growth_rate"


def test_channel_arithmetic():
    # Stem 2k = 8; block1 adds 2 * 4 -> 16; transition halves -> 8;
    # block2 adds 3 * 4 -> 20. Resolution: /4 stem, /2 transition.
    assert _feature_shape() == (None, 4, 4, 20)
    assert _feature_shape(compression=1.0) == (None, 4, 4, 28)
    model = densenet(**TINY)
    assert model.get_layer("densenet_block1_layer1_1_conv").filters == 16
    assert model.get_layer("densenet_block1_layer1_2_conv").filters == 4


def test_small_stem_keeps_more_resolution():
    assert _feature_shape(small_stem=True) == (None, 16, 16, 20)


def test_too_small_input_names_the_minimum():
    with pytest.raises(ValueError, match="the minimum is 8x8"):
        kerakit.build("densenet", **{**TINY, "input_shape": (7, 32, 3)})
    with pytest.raises(ValueError, match="the minimum is 32x32"):
        kerakit.build("densenet201", input_shape=(16, 16, 1))


def test_variant_fixes_its_architecture():
    with pytest.raises(TypeError, match="kerakit.build\\('densenet'"):
        kerakit.build("densenet169", block_sizes=(1, 1))
    with pytest.raises(TypeError, match="fixes"):
        densenet121(block_sizes=(1, 1))


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="compression"):
        kerakit.build("densenet", **TINY, compression=0.0)
    with pytest.raises(ValueError, match="block_sizes"):
        kerakit.build("densenet", **{**TINY, "block_sizes": ()})
    with pytest.raises(TypeError, match="growth_rate"):
        kerakit.build("densenet", **{**TINY, "growth_rate": 4.5})
    with pytest.raises(ValueError, match="pooling must be one of"):
        kerakit.build("densenet", **TINY, pooling="mean")


@pytest.mark.parametrize(
    ("pooling", "shape"),
    [(None, (2, 4, 4, 20)), ("avg", (2, 20)), ("max", (2, 20)),
     ("flatten", (2, 320))],
)
def test_include_top_false_pooling_shapes(pooling, shape):
    model = densenet(**TINY, include_top=False, pooling=pooling,
                     data_format="channels_last")
    x = np.zeros((2, 32, 32, 3), "float32")
    assert tuple(model(x, training=False).shape) == shape


def test_one_channel_input_trains(tmp_path):
    kwargs = {**TINY, "input_shape": (20, 24, 1), "block_sizes": (1, 1),
              "small_stem": True, "pooling": "max"}
    x = np.random.default_rng(0).uniform(size=(4, 20, 24, 1))
    ModelTestCase().run_model_test(
        densenet, kwargs, x.astype("float32"), (4, 3),
        targets=np.array([0, 1, 2, 0]),
        loss=keras.losses.SparseCategoricalCrossentropy(True),
        tmp_dir=str(tmp_path),
    )


def test_channels_first_matches_channels_last(check_channels_first):
    model = check_channels_first(
        densenet, {**TINY, "input_shape": (16, 16, 3), "small_stem": True}
    )
    assert model.output_shape == (None, 3)
