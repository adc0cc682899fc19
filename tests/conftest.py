"""Shared pytest set-up: the backend comes from KERAS_BACKEND per process."""

from __future__ import annotations

import keras
import pytest


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def backend() -> str:
    return keras.backend.backend()
