"""ResNet family: architecture details and bad input (the sweep does the
standard test on every registered variant)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.cnn.resnet import resnet
from kerakit.models.cnn.resnet import resnet50
from kerakit.testing import ModelTestCase

TINY = {
    "input_shape": (32, 32, 3),
    "num_classes": 3,
    "stage_depths": (1, 1),
    "stage_widths": (4, 8),
}


def _feature_shape(**kwargs):
    model = resnet(**{**TINY, **kwargs, "include_top": False,
                      "pooling": None, "data_format": "channels_last"})
    return tuple(model.output_shape)


def test_family_name_is_resnet50():
    info = kerakit.model_info("resnet")
    assert info["params"] == kerakit.model_info("resnet50")["params"]
    assert info["params"] == 25_610_152
    args = info["arguments"]
    assert args["block"] == "bottleneck"
    assert tuple(args["stage_depths"]) == (3, 4, 6, 3)
    assert tuple(args["stage_widths"]) == (64, 128, 256, 512)


def test_every_entry_has_depth_and_width_knobs():
    for name in kerakit.list_models(family="resnet"):
        knobs = kerakit.model_info(name)["knobs"]
        assert {"depth", "width"} <= set(knobs), name
    assert kerakit.model_info("resnet18")["knobs"]["depth"]["values"] == [
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


@pytest.mark.parametrize(
    ("kwargs", "minimum"),
    [({}, "8x8"), ({"small_stem": True}, "2x2"),
     ({"stage_depths": (1, 1, 1, 1), "stage_widths": (4, 4, 4, 4)}, "32x32")],
)
def test_too_small_input_names_the_minimum(kwargs, minimum):
    with pytest.raises(ValueError, match=f"the minimum is {minimum}"):
        kerakit.build("resnet", **{**TINY, **kwargs, "input_shape": (1, 1, 3)})


def test_resnet50_rejects_too_small_input():
    with pytest.raises(ValueError, match="minimum is 32x32"):
        kerakit.build("resnet50", input_shape=(28, 28, 1))


def test_variant_fixes_its_architecture():
    with pytest.raises(TypeError, match="kerakit.build\\('resnet'"):
        kerakit.build("resnet50", stage_depths=(1, 1))
    with pytest.raises(TypeError, match="fixes"):
        resnet50(block="basic")


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="block must be one of"):
        kerakit.build("resnet", **TINY, block="bottle")
    with pytest.raises(ValueError, match="one per stage"):
        kerakit.build("resnet", **{**TINY, "stage_widths": (4, 8, 16)})
    with pytest.raises(ValueError, match="stage_depths"):
        kerakit.build("resnet", **{**TINY, "stage_depths": (1, 0)})
    with pytest.raises(ValueError, match="width_multiplier"):
        kerakit.build("resnet", **TINY, width_multiplier=0.0)
    with pytest.raises(ValueError, match="height and width must be known"):
        kerakit.build("resnet", **{**TINY, "input_shape": (None, None, 3)},
                      pooling="flatten")


def test_small_stem_keeps_more_resolution():
    # ImageNet stem: /4, then /2 for stage 2 -> 4x4; small stem: /2 -> 16.
    assert _feature_shape() == (None, 4, 4, 32)
    assert _feature_shape(small_stem=True) == (None, 16, 16, 32)


def test_bottleneck_layout_and_projection_shortcuts():
    model = resnet(**TINY, block="bottleneck")
    names = {layer.name for layer in model.layers}
    # Stage 1 widens 4 -> 16 channels: projection even without a stride.
    assert "resnet_stage1_block1_shortcut_conv" in names
    # v1.5: the stride sits on the 3x3 conv, not on the first 1x1.
    assert model.get_layer("resnet_stage2_block1_1_conv").strides == (1, 1)
    assert model.get_layer("resnet_stage2_block1_2_conv").strides == (2, 2)
    assert not any(
        layer.use_bias for layer in model.layers
        if layer.name.endswith("_conv")
    )


def test_basic_block_uses_identity_shortcut_when_shape_is_kept():
    model = resnet(**{**TINY, "stage_depths": (2, 2)}, block="basic")
    names = {layer.name for layer in model.layers}
    assert "resnet_stage1_block1_shortcut_conv" not in names
    assert "resnet_stage2_block1_shortcut_conv" in names
    assert "resnet_stage2_block2_shortcut_conv" not in names
    assert _feature_shape(block="basic") == (None, 4, 4, 8)


def test_width_multiplier_scales_every_width():
    assert _feature_shape(width_multiplier=2.0) == (None, 4, 4, 64)


@pytest.mark.parametrize(
    ("pooling", "shape"),
    [(None, (2, 4, 4, 32)), ("avg", (2, 32)), ("max", (2, 32)),
     ("flatten", (2, 512))],
)
def test_include_top_false_pooling_shapes(pooling, shape):
    model = resnet(**TINY, include_top=False, pooling=pooling,
                   data_format="channels_last")
    x = np.zeros((2, 32, 32, 3), "float32")
    assert tuple(model(x, training=False).shape) == shape


def test_one_channel_input_trains(tmp_path):
    # Bottleneck blocks: basic blocks with the small stem hit a torch 2.13
    # CPU heap corruption in conv backward when OMP_NUM_THREADS=1.
    kwargs = {**TINY, "input_shape": (24, 20, 1), "small_stem": True}
    x = np.random.default_rng(0).uniform(size=(4, 24, 20, 1))
    ModelTestCase().run_model_test(
        resnet, kwargs, x.astype("float32"), (4, 3),
        targets=np.array([0, 1, 2, 0]),
        loss=keras.losses.SparseCategoricalCrossentropy(True),
        tmp_dir=str(tmp_path),
    )


def test_channels_first_matches_channels_last(check_channels_first):
    model = check_channels_first(
        resnet, {**TINY, "input_shape": (16, 16, 3), "small_stem": True}
    )
    assert model.output_shape == (None, 3)
