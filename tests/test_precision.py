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
    for backend, bfloat16 in (("tensorflow", "onednn_bfloat16"),
                              ("jax", "mixed_bfloat16"),
                              ("torch", "mixed_bfloat16")):
        expected = bfloat16 if native else "float32"
        assert precision.resolve_precision("auto", flags, backend) == (
            expected)
    # The running backend is the default.
    assert precision.resolve_precision("auto", flags) == (
        precision.resolve_precision("auto", flags, keras.backend.backend()))
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


def test_the_graph_rewrite_keeps_float32_layers():
    assert precision.policy_name("onednn_bfloat16") == "float32"
    with precision.dtype_policy_scope("onednn_bfloat16") as policy:
        assert policy.name == "float32"
    with pytest.raises(precision.PrecisionError):
        precision.policy_name("auto")


def test_the_graph_rewrite_is_tensorflows_only():
    assert precision.check_backend("float32", "jax") == "float32"
    assert precision.check_backend("onednn_bfloat16", "tensorflow") == (
        "onednn_bfloat16")
    for backend in ("jax", "torch"):
        with pytest.raises(precision.PrecisionError) as err:
            precision.check_backend("onednn_bfloat16", backend)
        message = str(err.value)
        assert backend in message and "'mixed_bfloat16'" in message
        assert "KERAS_BACKEND=tensorflow" in message


def _lenet_predictions(x, scope):
    keras.utils.set_random_seed(0)
    model = kerakit.build("lenet5", input_shape=(32, 32, 1), num_classes=3)
    with scope:
        return model.predict(x, verbose=0)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="the rewrite is TensorFlow's; other backends "
                    "refuse it (test_the_graph_rewrite_is_tensorflows_only)")
def test_the_graph_rewrite_runs_the_graph_in_bfloat16_and_is_restored():
    import contextlib

    import numpy as np
    import tensorflow as tf

    option = "auto_mixed_precision_onednn_bfloat16"
    x = np.random.default_rng(0).standard_normal((8, 32, 32, 1)).astype(
        "float32")
    plain = _lenet_predictions(x, contextlib.nullcontext())
    keras.backend.clear_session()
    rewritten = _lenet_predictions(
        x, precision.graph_rewrite_scope("onednn_bfloat16"))
    assert not tf.config.optimizer.get_experimental_options().get(option)
    np.testing.assert_allclose(rewritten, plain, atol=2e-2)
    if precision.native_bfloat16():
        # bfloat16 keeps 8 significant bits: the outputs move, a little.
        assert np.abs(rewritten - plain).max() > 1e-5
    with pytest.raises(RuntimeError):
        with precision.graph_rewrite_scope("onednn_bfloat16"):
            assert tf.config.optimizer.get_experimental_options()[option]
            raise RuntimeError("restored anyway")
    assert not tf.config.optimizer.get_experimental_options().get(option)
