"""`kerakit.precision`: names, CPU detection, the policy scope."""

from __future__ import annotations

import keras
import pytest

import kerakit
from kerakit import precision


@pytest.mark.parametrize("flags, native", [
    ({"amx_bf16", "amx_tile"}, True),      # Intel Sapphire Rapids
    ({"avx512f", "avx512_bf16"}, True),    # AMD Zen 4, Intel Cooper Lake
    ({"avx512f", "avx2"}, False),
    (set(), False),                         # flags unreadable
])
def test_auto_picks_bfloat16_only_on_native_hardware(flags, native):
    assert precision.native_bfloat16(flags) is native
    expected = "mixed_bfloat16" if native else "float32"
    assert precision.resolve_precision("auto", flags) == expected
    # Explicit names never depend on the CPU.
    assert precision.resolve_precision("mixed_float16", flags) == (
        "mixed_float16")


def test_the_running_cpu_is_read():
    summary = precision.cpu_summary()
    assert summary["native_bfloat16"] == precision.native_bfloat16()
    assert set(summary["flags"]) <= precision.cpu_flags()
    assert summary["model"]


def test_unknown_names_are_refused_with_the_closest():
    with pytest.raises(precision.PrecisionError) as err:
        precision.resolve_precision("mixed_bfloat")
    assert "Did you mean 'mixed_bfloat16'?" in str(err.value)
    with pytest.raises(precision.PrecisionError):
        precision.check_precision(None)


def test_scope_sets_and_restores_the_global_policy():
    with precision.dtype_policy_scope("mixed_float16") as policy:
        assert policy.name == "mixed_float16"
        assert keras.layers.Dense(1).dtype_policy.name == "mixed_float16"
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(RuntimeError):
        with precision.dtype_policy_scope("bfloat16"):
            raise RuntimeError("restored anyway")
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("name", precision.PRECISIONS)
def test_build_takes_every_policy_by_name_or_object(name):
    by_name = kerakit.build("lenet5", input_shape=(32, 32, 1),
                            num_classes=3, dtype=name)
    by_object = kerakit.build("lenet5", input_shape=(32, 32, 1),
                              num_classes=3,
                              dtype=keras.dtype_policies.get(name))
    for model in (by_name, by_object):
        assert {layer.dtype_policy.name for layer in model.layers[1:]} == {
            name}
