"""Every registered model passes the standard test on this run's backend."""

from __future__ import annotations

import keras
import pytest

import kerakit
from kerakit import registry
from kerakit.testing import ModelTestCase
from kerakit.testing import sweep_case


@pytest.mark.parametrize("name", kerakit.list_models())
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
