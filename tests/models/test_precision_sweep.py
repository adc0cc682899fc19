"""Every registered model builds, runs and trains in another precision.

The default run checks mixed bfloat16 (the precision `"auto"` picks on a
CPU with native bfloat16) with one training step on every distinct tiny
model (named sizes of one architecture build the same one);
`KERAKIT_PRECISION_ALL=1` adds every other policy name a factory takes
(`"float32"`, `"mixed_float16"`, `"bfloat16"`), forward only for the
pure-bfloat16 one (its float32-free updates are for inference).
"""

from __future__ import annotations

import json
import os

import pytest

import kerakit
from kerakit import registry
from kerakit.testing import ModelTestCase
from kerakit.testing import sweep_case

_ALL = os.environ.get("KERAKIT_PRECISION_ALL") == "1"


def _distinct_models() -> list[str]:
    """One name per factory module and tiny configuration: named sizes of
    one architecture (`clip`, `clip_b32`, `clip_tiny`) build the same tiny
    model, so the default run checks it once."""
    seen = {}
    for name in kerakit.list_models():
        entry = registry.get_entry(name)
        key = (entry.fn.__module__,
               json.dumps(entry.tiny, sort_keys=True, default=str))
        seen.setdefault(key, name)
    return sorted(seen.values())


def _check(name, policy, train):
    fn, kwargs, data = sweep_case(name)
    ModelTestCase().run_precision_test(
        fn, kwargs, data.x, (policy,), train=train, targets=data.y,
        loss=data.loss, fit_kwargs=data.fit_kwargs, loss_key=data.loss_key)


@pytest.mark.parametrize("name", kerakit.list_models() if _ALL
                         else _distinct_models())
def test_mixed_bfloat16_builds_and_trains(name):
    _check(name, "mixed_bfloat16", train=True)


@pytest.mark.skipif(not _ALL, reason="KERAKIT_PRECISION_ALL=1 runs it")
@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "bfloat16"])
@pytest.mark.parametrize("name", kerakit.list_models())
def test_every_policy_by_name(name, policy):
    _check(name, policy, train=policy != "bfloat16")
