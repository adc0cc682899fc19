"""Fixtures of the export tests (helpers: `export_checks.py`)."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest
from export_checks import artifact_outputs
from export_checks import assert_matches_keras
from export_checks import draw_batch
from export_checks import keras_outputs
from export_checks import tiny


@pytest.fixture
def lenet() -> keras.Model:
    return tiny("lenet5")


@pytest.fixture
def check_artifact(tmp_path_factory):
    """`check_artifact(fmt, artifact, model)`: it runs like the model."""

    def check(fmt: str, artifact: Path, model: keras.Model) -> None:
        x = draw_batch(model)
        [got] = artifact_outputs(fmt, [artifact], [x],
                                 tmp_path_factory.mktemp("run"))
        assert_matches_keras(got, keras_outputs(model, x))

    return check
