"""Export: CLIP to .keras, SavedModel and ONNX on this backend.

The artifact is reloaded by the test with only its runtime and run on a
batch the test draws itself (5 images and 5 token-id rows, the end id
largest), then compared with Keras: two inputs (`images` float32,
`token_ids` int32) kept by name, free batch size, and the two logit
matrices as outputs. By default the registered tiny `clip_tiny` settings;
`KERAKIT_EXPORT_ALL=1` exports `clip` and `clip_b32` at those settings
too (the variants differ only in default sizes).
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
from export_checks import artifact_outputs
from export_checks import assert_matches_keras
from export_checks import keras_outputs
from export_checks import tiny

from kerakit.export import export_many
from kerakit.models.multimodal.clip import sweep_data

BACKEND = keras.backend.backend()
EXPORT_ALL = os.environ.get("KERAKIT_EXPORT_ALL") == "1"
# The default run exports to one format (ONNX); the others, and the
# `.keras` route that the standard model test already round-trips, run
# with KERAKIT_EXPORT_ALL=1 (every export costs two fresh processes).
FORMATS = ["keras", "saved_model", "onnx"] if EXPORT_ALL else ["onnx"]
NAMES = ["clip", "clip_b32", "clip_tiny"] if EXPORT_ALL else ["clip_tiny"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_clip_exports_and_verifies(fmt, tmp_path):
    models = [tiny(name) for name in NAMES]
    results = export_many([(m, tmp_path / n) for m, n in zip(
        models, NAMES, strict=True)], fmt)
    x = sweep_data(_tiny_settings(), batch=5).x
    (tmp_path / "runs").mkdir()
    served = artifact_outputs(fmt, [r.artifact for r in results],
                              [x] * len(results), tmp_path / "runs")
    for model, result, got in zip(models, results, served, strict=True):
        assert_matches_keras(got, keras_outputs(model, x))
        meta = json.loads((result.path / "export.json").read_text())
        assert meta["format"] == fmt
        assert meta["exported_from_backend"] == BACKEND
        specs = {s["name"]: s for s in meta["inputs"]}
        assert specs["images"]["dtype"] == "float32"
        assert specs["token_ids"]["dtype"] == "int32"
        assert specs["images"]["shape"][0] is None
        assert len(meta["outputs"]) == 2


def _tiny_settings() -> dict:
    from kerakit import registry

    return dict(registry.get_entry("clip_tiny").tiny)


def test_sweep_batch_ends_each_text_with_the_largest_id():
    x = sweep_data(_tiny_settings(), batch=5).x
    ids = np.asarray(x["token_ids"])
    assert (ids.max(axis=1) == _tiny_settings()["vocabulary_size"] - 1).all()
