"""Every registered model passes the standard test on this run's backend.

Named sizes of a transformer or multimodal architecture (`bert_base`,
`clip_b32`, `whisper_tiny`, ...) differ only in default sizes, which their
registered tiny settings override: at those settings they build the same
model as their family's first name, and `test_size_presets_build_the_same_
tiny_model` checks that they do, config for config. The default run trains
that model once; `KERAKIT_SWEEP_ALL=1` runs the standard test on every name.
"""

from __future__ import annotations

import json
import os

import keras
import pytest

import kerakit
from kerakit import registry
from kerakit.testing import ModelTestCase
from kerakit.testing import sweep_case


SWEEP_ALL = os.environ.get("KERAKIT_SWEEP_ALL") == "1"
# Families whose registered names are size presets of one factory.
_PRESET_MODULES = ("kerakit.models.transformer.", "kerakit.models.multimodal.")


def _preset_groups() -> dict[str, list[str]]:
    """First name -> the other names with the same module and tiny settings
    (transformer and multimodal size presets only: elsewhere, as in
    resnet50/resnet101, the names differ in depth, which tiny settings keep)."""
    groups: dict[tuple, list[str]] = {}
    for name in sorted(kerakit.list_models()):
        entry = registry.get_entry(name)
        if not entry.fn.__module__.startswith(_PRESET_MODULES):
            continue
        key = (entry.fn.__module__,
               json.dumps(entry.tiny, sort_keys=True, default=str))
        groups.setdefault(key, []).append(name)
    return {names[0]: names[1:] for names in groups.values() if len(names) > 1}


# Presets whose tiny settings leave sizes of their own (clip_tiny's text
# tower): they build another model, so they keep their own standard test.
_OWN_MODEL = {"clip_tiny"}
_PRESETS = {p: first for first, rest in _preset_groups().items() for p in rest
            if p not in _OWN_MODEL}
_SWEPT = [n for n in kerakit.list_models() if SWEEP_ALL or n not in _PRESETS]


@pytest.mark.parametrize("name", _SWEPT)
def test_standard_model_test(name, tmp_path):
    fn, kwargs, data = sweep_case(name)
    ModelTestCase().run_model_test(
        fn,
        kwargs,
        data.x,
        data.expected_output_shape,
        targets=data.y,
        loss=data.loss,
        fit_kwargs=data.fit_kwargs,
        tmp_dir=str(tmp_path),
        loss_key=data.loss_key,
        expect_decrease=data.expect_decrease,
        learning_rate=data.learning_rate,
    )


def _tiny_config(name: str, family: str) -> str:
    """The model's config with its own and its family's name (the prefix
    of its layer names) written as MODEL."""
    fn, kwargs, _ = sweep_case(name)
    model = fn(**kwargs)
    text = json.dumps(keras.saving.serialize_keras_object(model),
                      sort_keys=True, default=str)
    for prefix in sorted({model.name, family}, key=len, reverse=True):
        text = text.replace(f'"{prefix}', '"MODEL')
    return text


@pytest.mark.parametrize("preset", sorted(_PRESETS))
def test_size_presets_build_the_same_tiny_model(preset):
    # Configs do not depend on the backend; every run checks, as it is
    # what lets that run's sweep skip the preset.
    family = _PRESETS[preset]
    keras.backend.clear_session()
    mine = _tiny_config(preset, family)
    keras.backend.clear_session()
    assert mine == _tiny_config(family, family), (
        f"{preset} builds another model than {_PRESETS[preset]} at its tiny "
        "settings: give it its own standard test (remove it from the "
        "presets).")


@pytest.mark.parametrize(
    "name", kerakit.list_models(task="image_classification")
)
def test_head_contract(name):
    fn, kwargs, data = sweep_case(name)
    ModelTestCase().run_head_test(fn, kwargs, data.x)


_COUNTED = [e.name for e in registry.entries() if e.params is not None]


@pytest.mark.large
@pytest.mark.parametrize("name", _COUNTED)
def test_canonical_parameter_count(name):
    # Parameter counts do not depend on the backend: one backend checks them
    # (the issue asks for "once is enough"), the fastest one to build.
    if keras.backend.backend() != "tensorflow":
        pytest.skip("parameter counts are checked on the tensorflow run")
    entry = registry.get_entry(name)
    model = kerakit.build(name, **entry.canonical)
    assert model.count_params() == entry.params
    keras.backend.clear_session()
