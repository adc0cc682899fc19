"""Export: ViLBERT to .keras, SavedModel and ONNX on this backend.

The artifact is reloaded by the test with only its runtime and run on a
batch the test draws itself (5 images, 5 token-id rows, padding masks),
then compared with Keras: three inputs (`images` float32, `token_ids` and
`padding_mask` int32) kept by name, free batch size, one match logit. By
default the registered tiny `vilbert_tiny` settings (and the answer head);
`KERAKIT_EXPORT_ALL=1` exports `vilbert` at those settings too.
"""

from __future__ import annotations

import json
import os

import keras
import pytest
from export_checks import artifact_outputs
from export_checks import assert_matches_keras
from export_checks import keras_outputs
from export_checks import tiny

from kerakit import registry
from kerakit.export import export_many
from kerakit.models.multimodal.vilbert import sweep_data

BACKEND = keras.backend.backend()
EXPORT_ALL = os.environ.get("KERAKIT_EXPORT_ALL") == "1"
# The default run exports to one format (SavedModel); the others, and the
# `.keras` route that the standard model test already round-trips, run
# with KERAKIT_EXPORT_ALL=1 (every export costs two fresh processes).
FORMATS = ["keras", "saved_model", "onnx"] if EXPORT_ALL else ["saved_model"]
CONFIGS = {"vilbert_tiny": ("vilbert_tiny", {}),
           "vilbert_answer": ("vilbert_tiny", {"head": "answer",
                                               "num_answers": 3})}
if EXPORT_ALL:
    CONFIGS["vilbert"] = ("vilbert", {})


@pytest.mark.parametrize("fmt", FORMATS)
def test_vilbert_exports_and_verifies(fmt, tmp_path):
    models = {key: tiny(name, **extra)
              for key, (name, extra) in CONFIGS.items()}
    results = export_many([(m, tmp_path / key) for key, m in models.items()],
                          fmt)
    x = sweep_data(dict(registry.get_entry("vilbert_tiny").tiny), 5).x
    (tmp_path / "runs").mkdir()
    served = artifact_outputs(fmt, [r.artifact for r in results],
                              [x] * len(results), tmp_path / "runs")
    for model, result, got in zip(models.values(), results, served,
                                  strict=True):
        assert_matches_keras(got, keras_outputs(model, x))
        meta = json.loads((result.path / "export.json").read_text())
        assert meta["format"] == fmt
        assert meta["exported_from_backend"] == BACKEND
        specs = {s["name"]: s for s in meta["inputs"]}
        assert specs["images"]["dtype"] == "float32"
        assert specs["token_ids"]["dtype"] == "int32"
        assert specs["padding_mask"]["dtype"] == "int32"
        assert specs["images"]["shape"] == [None, 8, 8, 1]
        assert len(meta["outputs"]) == 1
