"""MobileNet v1/v2/v3: arguments, input handling, layouts and heads.

The standard model test (shape, save/load, training) runs on every
registered MobileNet through tests/models/test_sweep.py.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kerakit
from kerakit.models.cnn.mobilenet_v2 import mobilenet_v2

NAMES = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small",
         "mobilenet_v3_large"]
SMALL = {"num_classes": 3, "width_multiplier": 0.1}


def test_family_name_builds_v2():
    entry = kerakit.registry.get_entry("mobilenet")
    assert entry.fn.base is mobilenet_v2 and not entry.fn.fixed
    assert entry.params == kerakit.model_info("mobilenet_v2")["params"]
    model = kerakit.build("mobilenet", input_shape=(32, 32, 3), **SMALL)
    assert model.name == "mobilenet"


@pytest.mark.parametrize("name", NAMES)
def test_too_small_input_names_the_minimum(name):
    with pytest.raises(ValueError, match="minimum is 32x32"):
        kerakit.build(name, input_shape=(16, 16, 3), **SMALL)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", [0, -0.5, 10.0])
def test_bad_width_multiplier(name, value):
    with pytest.raises(ValueError, match="width_multiplier"):
        kerakit.build(name, input_shape=(32, 32, 3), num_classes=3,
                      width_multiplier=value)


def test_ill_typed_width_multiplier_is_a_type_error():
    with pytest.raises(TypeError, match="width_multiplier"):
        kerakit.build("mobilenet_v2", width_multiplier="wide")


def test_bad_stage_arguments():
    with pytest.raises(ValueError, match="same, non-zero length"):
        kerakit.build("mobilenet_v2", stage_depths=(1, 2))
    with pytest.raises(ValueError, match="depth_multiplier"):
        kerakit.build("mobilenet_v1", depth_multiplier=0)
    with pytest.raises(ValueError, match="size must be one of"):
        kerakit.registry.get_entry("mobilenet_v3_small").fn.base(size="tiny")


def test_variant_fixes_its_size():
    with pytest.raises(TypeError, match="fixes"):
        kerakit.build("mobilenet_v3_large", size="small")


# Grey input for v2 is the sweep case of "mobilenet".
@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v3_small"])
def test_one_channel_and_odd_sizes(name):
    model = kerakit.build(name, input_shape=(None, None, 1), **SMALL)
    for shape in [(2, 32, 32, 1), (1, 45, 61, 1)]:
        out = model(np.ones(shape, "float32"), training=False)
        assert tuple(out.shape) == (shape[0], 3)
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(out)))


def test_depth_multiplier_removes_blocks():
    def blocks(model):
        return {layer.name.rsplit("_", 2)[0] for layer in model.layers
                if "_depthwise_conv" in layer.name}

    for name, full in [("mobilenet_v2", 17), ("mobilenet_v1", 13),
                       ("mobilenet_v3_small", 11)]:
        deep = kerakit.build(name, input_shape=(32, 32, 3), **SMALL)
        shallow = kerakit.build(name, input_shape=(32, 32, 3),
                                depth_multiplier=0.5, **SMALL)
        assert len(blocks(deep)) == full
        assert len(blocks(shallow)) < full


@pytest.mark.parametrize(
    "name, features",
    # v1: 1024 * 0.1; v2: last 1x1 conv stays 1280 below width 1;
    # v3: 6 x the last block width (96 * 0.1 -> 16 -> 96).
    [("mobilenet_v1", 102), ("mobilenet_v2", 1280),
     ("mobilenet_v3_small", 96)],
)
def test_include_top_false_feature_map(name, features):
    # The sweep's head test covers pooling=None/"avg" on every model; here
    # the feature widths, and the other poolings on v3's own head code.
    x = np.ones((2, 64, 64, 3), "float32")
    kw = {"input_shape": (64, 64, 3), **SMALL, "include_top": False}
    out = kerakit.build(name, **kw, pooling=None)(x)
    assert tuple(out.shape) == (2, 2, 2, features)
    if name != "mobilenet_v3_small":
        return
    assert tuple(kerakit.build(name, **kw, pooling="max")(x).shape) == (
        2, features)
    out = kerakit.build(name, **kw, pooling="flatten")(x)
    assert tuple(out.shape) == (2, 4 * features)
    with pytest.raises(ValueError, match="must be known"):
        kerakit.build(name, input_shape=(None, None, 3), **SMALL,
                      pooling="flatten")


def test_v3_head_has_hidden_dense_and_logits():
    model = kerakit.build("mobilenet_v3_small", input_shape=(32, 32, 3),
                          num_classes=5, width_multiplier=0.1, dropout=0.0)
    assert model.get_layer("mobilenet_v3_small_head_dense").units == 1024
    assert model.layers[-1].activation is keras.activations.linear


# v3 large shares every line of code with v3 small.
@pytest.mark.parametrize("name", NAMES[:3])
def test_channels_first(name, check_channels_first):
    # TensorFlow's CPU kernels run depthwise convolutions only in NHWC
    # ("Depthwise convolution on CPU is only supported for NHWC format"):
    # there the check stops after the symbolic shapes and weight transfer;
    # jax and torch also compare the logits of the two layouts.
    fn = kerakit.registry.get_entry(name).fn
    model = check_channels_first(fn, {"input_shape": (32, 32, 3), **SMALL})
    assert model.output_shape == (None, 3)


@pytest.mark.large
@pytest.mark.parametrize(
    "name, app, kwargs",
    [
        ("mobilenet_v2", "MobileNetV2", {"alpha": 1.4}),
        ("mobilenet_v3_large", "MobileNetV3Large", {"alpha": 0.75}),
        ("mobilenet_v3_small", "MobileNetV3Small", {"minimalistic": True}),
    ],
)
def test_counts_match_keras_applications(name, app, kwargs, backend):
    # Counts do not depend on the backend; the tensorflow run checks them.
    if backend != "tensorflow":
        pytest.skip("parameter counts are checked on the tensorflow run")
    ours = {"width_multiplier": kwargs.get("alpha", 1.0)}
    if "minimalistic" in kwargs:
        ours["minimalistic"] = True
    reference = getattr(keras.applications, app)(weights=None, **kwargs)
    assert kerakit.build(name, **ours).count_params() == (
        reference.count_params())
