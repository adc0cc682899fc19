"""VGG family: architecture details and bad input (the sweep runs the
standard test on every registered variant)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.cnn.vgg import vgg
from kerakit.models.cnn.vgg import vgg16
from kerakit.testing import ModelTestCase

TINY = {
    "input_shape": (16, 16, 3),
    "num_classes": 3,
    "stage_depths": (1, 2),
    "stage_widths": (4, 8),
    "fc_widths": (8,),
}
VARIANTS = ["vgg11", "vgg13", "vgg16", "vgg19"]


def test_family_name_is_vgg16():
    info = kerakit.model_info("vgg")
    assert info["params"] == kerakit.model_info("vgg16")["params"]
    assert info["params"] == 138_357_544
    assert tuple(info["arguments"]["stage_depths"]) == (2, 2, 3, 3, 3)
    assert info["arguments"]["batch_norm"] is False


def test_variants_and_depth_knobs():
    names = kerakit.list_models(family="vgg")
    assert names == sorted(["vgg", *VARIANTS, *(f"{v}_bn" for v in VARIANTS)])
    assert kerakit.model_info("vgg13")["knobs"]["depth"]["values"] == VARIANTS
    bn = kerakit.model_info("vgg13_bn")["knobs"]["depth"]["values"]
    assert bn == [f"{v}_bn" for v in VARIANTS]
    generic = kerakit.model_info("vgg")["knobs"]
    assert {"depth", "width", "normalization"} <= set(generic)
    assert generic["depth"]["arg"] == "stage_depths"
    for name in names:
        assert {"depth", "width"} <= set(kerakit.model_info(name)["knobs"])


@pytest.mark.large
def test_vgg16_backbone_parameter_count():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("parameter counts are checked on the tensorflow run")
    assert kerakit.build("vgg16", include_top=False).count_params() == (
        14_714_688
    )


def test_batch_norm_variant_layout():
    model = kerakit.build("vgg11_bn", input_shape=(32, 32, 3),
                          num_classes=3, stage_widths=(4, 4, 4, 4, 4),
                          fc_widths=(8,))
    names = [layer.name for layer in model.layers]
    # vgg11: depths 1-1-2-2-2 -> 8 conv layers, each followed by BN + ReLU.
    assert sum(n.endswith(tuple(f"_bn{j}" for j in (1, 2))) for n in names) == 8
    assert "vgg11_bn_stage3_conv2" in names
    assert "vgg11_bn_stage3_bn2" in names
    assert "vgg11_bn_stage5_pool" in names
    plain = kerakit.build("vgg11", input_shape=(32, 32, 3), num_classes=3,
                          stage_widths=(4, 4, 4, 4, 4), fc_widths=(8,))
    assert not any("_bn" in layer.name for layer in plain.layers)


@pytest.mark.parametrize(
    ("pooling", "shape"),
    [(None, (2, 4, 4, 8)), ("avg", (2, 8)), ("max", (2, 8)),
     ("flatten", (2, 128))],
)
def test_include_top_false_feature_shapes(pooling, shape):
    model = vgg(**TINY, include_top=False, pooling=pooling,
                data_format="channels_last")
    x = np.zeros((2, 16, 16, 3), "float32")
    assert tuple(model(x, training=False).shape) == shape


def test_five_stage_backbone_shape():
    model = kerakit.build("vgg19", input_shape=(64, 96, 3),
                          stage_widths=(4, 4, 8, 8, 8), include_top=False,
                          pooling=None, data_format="channels_last")
    assert model.output_shape == (None, 2, 3, 8)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_global_pooling_keeps_the_fc_stack(pooling):
    model = vgg(**{**TINY, "input_shape": (None, None, 3)}, pooling=pooling,
                data_format="channels_last")
    assert model.get_layer("vgg_fc1").units == 8
    x = np.zeros((2, 24, 20, 3), "float32")
    assert tuple(model(x, training=False).shape) == (2, 3)


def test_flatten_head_is_the_default():
    model = vgg(**TINY, data_format="channels_last")
    assert model.get_layer("vgg_flatten").output.shape == (None, 128)
    dropouts = [layer for layer in model.layers
                if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in dropouts] == [0.5]


def test_too_small_input_names_the_minimum():
    with pytest.raises(ValueError, match="the minimum is 32x32"):
        kerakit.build("vgg16", input_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="the minimum is 4x4"):
        kerakit.build("vgg", **{**TINY, "input_shape": (3, 3, 3)})


def test_variant_fixes_its_architecture():
    with pytest.raises(TypeError, match="kerakit.build\\('vgg'"):
        kerakit.build("vgg16", stage_depths=(1, 1))
    with pytest.raises(TypeError, match="fixes"):
        vgg16(batch_norm=True)


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="pooling must be one of"):
        kerakit.build("vgg", **TINY, pooling="mean")
    with pytest.raises(ValueError, match="same length"):
        kerakit.build("vgg", **{**TINY, "stage_widths": (4, 8, 16)})
    with pytest.raises(ValueError, match="stage_depths"):
        kerakit.build("vgg", **{**TINY, "stage_depths": (1, 0)})
    with pytest.raises(ValueError, match="fc_widths"):
        kerakit.build("vgg", **{**TINY, "fc_widths": (8, -1)})
    with pytest.raises(ValueError, match="height and width must be known"):
        kerakit.build("vgg", **{**TINY, "input_shape": (None, None, 3)})
    with pytest.raises(TypeError, match="batch_norm"):
        kerakit.build("vgg", **TINY, batch_norm="yes")


def test_one_channel_input_trains(tmp_path):
    kwargs = {**TINY, "input_shape": (20, 24, 1), "batch_norm": True,
              "fc_widths": ()}
    x = np.random.default_rng(0).uniform(size=(4, 20, 24, 1))
    ModelTestCase().run_model_test(
        vgg, kwargs, x.astype("float32"), (4, 3),
        targets=np.array([0, 1, 2, 0]),
        loss=keras.losses.SparseCategoricalCrossentropy(True),
        tmp_dir=str(tmp_path),
    )


def test_channels_first_matches_channels_last(check_channels_first):
    # The flatten head too: Flatten(data_format) orders features alike.
    model = check_channels_first(vgg, {**TINY, "batch_norm": True})
    assert model.output_shape == (None, 3)
