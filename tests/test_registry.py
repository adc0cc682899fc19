"""The registry: names, listing, info and clear errors for bad input."""

from __future__ import annotations

import pytest

import kerakit
from kerakit import registry
from kerakit.models.cnn.lenet import lenet5


def test_list_models_is_sorted_and_filters():
    names = kerakit.list_models()
    assert names == sorted(names)
    assert "lenet5" in names
    assert kerakit.list_models("lenet*") == ["lenet5"]
    assert kerakit.list_models(family="lenet") == ["lenet5"]
    assert kerakit.list_models("no_such_*") == []


def test_model_info_describes_the_model():
    info = kerakit.model_info("lenet5")
    assert info["family"] == "lenet"
    assert info["task"] == "image_classification"
    assert info["params"] == 61_706
    assert "LeCun" in info["reference"]
    assert info["canonical"]["input_shape"] == (32, 32, 1)
    assert "num_classes" in info["arguments"]


def test_every_model_declares_reference_and_tiny_config():
    names = kerakit.list_models()
    for entry in registry.entries():
        info = kerakit.model_info(entry.name)
        assert entry.reference and info["reference"] == entry.reference
        assert (info["family"], info["task"]) == (entry.family, entry.task)
        # The tiny config passes the registry's own argument checks.
        assert entry.tiny, entry.name
        registry.check_kwargs(entry.fn, entry.tiny, entry.name)
        assert info["knobs"] == {k.kind: k.as_dict() for k in entry.knobs}
        for knob in entry.knobs:
            if knob.arg == "model":  # switches between registered variants
                assert entry.name in knob.values, (entry.name, knob)
                assert set(knob.values) <= set(names), knob
            else:
                assert knob.arg in info["arguments"], (entry.name, knob)
            if knob.values:
                assert len(set(map(repr, knob.values))) == len(
                    knob.values) >= 2, (entry.name, knob)
            else:
                assert knob.min_value < knob.max_value, (entry.name, knob)


def test_model_info_knobs_of_lenet5():
    assert kerakit.model_info("lenet5")["knobs"] == {
        "depth": {"kind": "depth", "arg": "dense_widths",
                  "values": [(84,), (120, 84), (240, 120, 84)]},
        "width": {"kind": "width", "arg": "conv_widths",
                  "values": [(6, 16, 120), (12, 32, 240)]},
    }


def test_unknown_model_suggests_close_names():
    with pytest.raises(ValueError, match="Did you mean: 'lenet5'"):
        kerakit.build("lenet6")


def test_model_name_must_be_a_string():
    with pytest.raises(TypeError, match="must be a string"):
        kerakit.build(5)


def test_unknown_keyword_lists_accepted_ones():
    with pytest.raises(TypeError, match="num_classes") as info:
        kerakit.build("lenet5", num_class=10)
    assert "Did you mean 'num_classes'" in str(info.value)
    assert "Accepted:" in str(info.value)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"num_classes": "ten"}, "num_classes"),
        ({"include_top": "yes"}, "include_top"),
        ({"dropout": "0.5"}, "dropout"),
        ({"conv_widths": ("a", 2, 3)}, "conv_widths"),
    ],
)
def test_ill_typed_keyword_is_named(kwargs, words):
    with pytest.raises(TypeError, match=words):
        kerakit.build("lenet5", **kwargs)


def test_too_small_input_names_the_minimum():
    with pytest.raises(ValueError, match="minimum is 16x16"):
        kerakit.build("lenet5", input_shape=(8, 8, 1))


_IMAGE_MODELS = kerakit.list_models(task="image_classification")


def _zero_channels(name, fmt="channels_last"):
    height, width, _ = registry.get_entry(name).tiny["input_shape"]
    return (height, width, 0) if fmt == "channels_last" else (0, height,
                                                              width)


@pytest.mark.parametrize("name", _IMAGE_MODELS)
def test_zero_channels_are_refused(name):
    entry = registry.get_entry(name)
    shape = _zero_channels(name)
    with pytest.raises(ValueError, match="must be a positive integer or "
                       r"None. Received: input_shape=\(\d+, \d+, 0\)"):
        kerakit.build(name, **{**entry.tiny, "input_shape": shape})
    # Called directly, the factory itself refuses it (kerakit.heads).
    with pytest.raises(ValueError, match="channel dimension must be"):
        entry.fn(**{**entry.tiny, "input_shape": shape})


def test_zero_channels_refused_channels_first():
    with pytest.raises(ValueError, match=r"channel dimension must be a "
                       r"positive integer.*channels_first, 0 channels"):
        lenet5(input_shape=(0, 32, 32), data_format="channels_first")


@pytest.mark.parametrize("shape", [(0,), (-3, 4), (8, 0)])
def test_non_positive_sizes_refused_for_every_model(shape):
    name = "mlp" if len(shape) == 1 else "lstm"
    with pytest.raises(ValueError, match=f"{name}\\(\\): every size in "
                       "input_shape must be a positive integer"):
        kerakit.build(name, input_shape=shape)
    # None (a size known at run time) stays allowed.
    assert kerakit.build("lstm", input_shape=(None, 3),
                         hidden_dim=4).input_shape == (None, None, 3)


def test_wrong_rank_input_shape_is_explained():
    with pytest.raises(ValueError, match="without the batch dimension"):
        kerakit.build("lenet5", input_shape=(1, 32, 32, 1))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"num_classes": 0}, "num_classes must be a positive integer"),
        ({"pooling": "mean"}, "pooling must be one of"),
        ({"dropout": 1.5}, "dropout must be in"),
    ],
)
def test_bad_head_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        kerakit.build("lenet5", **kwargs)


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(family="lenet", task="image_classification",
                          tiny={})(lenet5)


def test_variant_fixes_its_architecture():
    small = registry.variant(lenet5, "small_lenet", "LeNet.",
                             dense_widths=(8,))
    assert small.__name__ == "small_lenet"
    assert small(num_classes=3).name == "small_lenet"
    with pytest.raises(TypeError, match="fixes"):
        small(dense_widths=(4,))
    with pytest.raises(TypeError, match="use kerakit.build|Use kerakit"):
        registry.check_kwargs(small, {"dense_widths": (4,)}, "small_lenet()")
