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
    for entry in registry.entries():
        assert entry.reference, entry.name
        assert entry.tiny, entry.name
        assert isinstance(kerakit.model_info(entry.name)["knobs"], dict)


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
