"""Every registered model builds, runs and trains in another precision.

The default run checks mixed bfloat16 (the precision `"auto"` picks on a
CPU with native bfloat16) with one training step on one model of every
factory module; `KERAKIT_PRECISION_ALL=1` checks every registered model and
every other policy name a factory takes (`"float32"`, `"mixed_float16"`,
`"bfloat16"`), forward only for the pure-bfloat16 one (its float32-free
updates are for inference).

On TensorFlow, a training step under the oneDNN bfloat16 graph rewrite
(`precision = "onednn_bfloat16"`) runs on three models whose graphs differ
most (convolutions with batch norm, a keras-hub transformer, a recurrent
net), and on one model per module with `KERAKIT_PRECISION_ALL=1`; the
other backends refuse that precision (tests/test_precision.py).
"""

from __future__ import annotations

import contextlib
import os

import keras
import pytest

import kerakit
from kerakit import registry
from kerakit.precision import graph_rewrite_scope
from kerakit.testing import ModelTestCase
from kerakit.testing import sweep_case

_ALL = os.environ.get("KERAKIT_PRECISION_ALL") == "1"


def _one_per_module() -> list[str]:
    """One model per factory module, the first name in order (the generic
    factory, `densenet` before `densenet121`): a module's models share
    their layers, so the policy reaches them alike, and the deep named
    sizes cost minutes of XLA compilation on JAX."""
    seen: dict[str, str] = {}
    for name in sorted(kerakit.list_models()):
        seen.setdefault(registry.get_entry(name).fn.__module__, name)
    return sorted(seen.values())


def _check(name, policy, train, scope=contextlib.nullcontext()):
    fn, kwargs, data = sweep_case(name)
    with scope:
        ModelTestCase().run_precision_test(
            fn, kwargs, data.x, (policy,), train=train, targets=data.y,
            loss=data.loss, fit_kwargs=data.fit_kwargs,
            loss_key=data.loss_key)


@pytest.mark.parametrize("name", kerakit.list_models() if _ALL
                         else _one_per_module())
def test_mixed_bfloat16_builds_and_trains(name):
    _check(name, "mixed_bfloat16", train=True)


@pytest.mark.skipif(not _ALL, reason="KERAKIT_PRECISION_ALL=1 runs it")
@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "bfloat16"])
@pytest.mark.parametrize("name", kerakit.list_models())
def test_every_policy_by_name(name, policy):
    if policy == "mixed_float16" and _refuses_float16(name):
        return
    _check(name, policy, train=policy != "bfloat16"
           and not (policy == "mixed_float16" and _float16_cannot_train(name)))


# Backend CPU kernels that run float16 forward but fail its backward pass,
# so those models are checked forward only in mixed_float16 there (recipes
# of the generative tasks refuse mixed_float16 anyway):
# - jax: keras-hub's layers' backward asks XLA:CPU for float16 matmuls that
#   accumulate in float32 ("precision 'F16_F16_F32' is not supported by
#   dot_general on CPU");
# - torch: the float16 transposed convolution's backward ("slow_conv2d:
#   grad_weight must be contiguous").
_FLOAT16_FORWARD_ONLY = {
    "jax": {"bert", "gpt", "vit", "whisper", "clip", "vilbert"},
    "torch": {"autoencoder", "gan", "vae"},
}


def _float16_cannot_train(name):
    module = registry.get_entry(name).fn.__module__.rsplit(".", 1)[1]
    if module not in _FLOAT16_FORWARD_ONLY.get(keras.backend.backend(), ()):
        return False
    if keras.backend.backend() != "torch":
        return True
    fn, kwargs, _ = sweep_case(name)  # only the conv decoders
    return any(isinstance(layer, keras.layers.Conv2DTranspose)
               for layer in fn(**kwargs)._flatten_layers())


# T5's factory refuses float16, which its activations overflow.
_FLOAT16_REFUSED = {"t5"}


def _refuses_float16(name):
    """Whether the factory refused mixed_float16, checking that it refuses
    exactly where `_FLOAT16_REFUSED` says, with a message naming the fix."""
    module = registry.get_entry(name).fn.__module__.rsplit(".", 1)[1]
    expected = _FLOAT16_REFUSED
    fn, kwargs, _ = sweep_case(name)
    try:
        fn(**{**kwargs, "dtype": "mixed_float16"})
    except ValueError as err:
        if "float16" not in str(err):
            raise
        assert module in expected, f"{name} refuses float16: {err}"
        assert "mixed_bfloat16" in str(err)
        return True
    assert module not in expected, (
        f"{name} should refuse mixed_float16 on {keras.backend.backend()}")
    return False


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="TensorFlow's graph rewrite; the other backends "
                    "refuse it (tests/test_precision.py)")
@pytest.mark.parametrize("name", _one_per_module() if _ALL
                         else ["resnet", "bert", "lstm"])
def test_onednn_bfloat16_graph_rewrite_trains(name):
    _check(name, "float32", train=True,
           scope=graph_rewrite_scope("onednn_bfloat16"))
