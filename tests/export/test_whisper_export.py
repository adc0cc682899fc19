"""Export: Whisper to .keras, SavedModel and ONNX on this backend.

Like `test_transformer_export.py`: each artifact is reloaded with only its
runtime (`export_checks.artifact_outputs`) and run on a batch this test
draws (log-mel frames from a normal distribution, token ids below the
vocabulary size, masks of ones; frame and step counts other than the export
check's), then compared with the Keras model. The three inputs keep their
names and dtypes, with free batch, frame and step dimensions. The
registered variants build the same model at their tiny settings, so one is
exported by default, to ONNX; `KERAKIT_EXPORT_ALL=1` exports all three, to
SavedModel and `.keras` too.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
from export_checks import TEST_BATCH
from export_checks import artifact_outputs
from export_checks import assert_matches_keras
from export_checks import keras_outputs
from export_checks import tiny

from kerakit import registry
from kerakit.export import export_many

BACKEND = keras.backend.backend()
EXPORT_ALL = os.environ.get("KERAKIT_EXPORT_ALL") == "1"
NAMES = ["whisper", "whisper_tiny", "whisper_micro"] if EXPORT_ALL else [
    "whisper"]
# The default run exports to ONNX; SavedModel, and the `.keras` route that
# the standard model test already round-trips, run with KERAKIT_EXPORT_ALL=1
# (every export costs two fresh processes).
FORMATS = ["keras", "saved_model", "onnx"] if EXPORT_ALL else ["onnx"]


def _batch(name: str) -> dict[str, np.ndarray]:
    settings = registry.get_entry(name).tiny
    rng = np.random.default_rng(7)
    ids = rng.integers(0, settings["vocabulary_size"], (TEST_BATCH, 5))
    return {"encoder_features": rng.normal(
                size=(TEST_BATCH, 40, settings["num_mels"])).astype(
                "float32"),
            "decoder_token_ids": ids.astype("int32"),
            "decoder_padding_mask": np.ones((TEST_BATCH, 5), "int32")}


@pytest.mark.xdist_group("export_whisper")
@pytest.mark.parametrize("fmt", FORMATS)
def test_whisper_exports_verify(fmt, tmp_path):
    models = {name: tiny(name) for name in NAMES}
    results = export_many([(m, tmp_path / fmt / n)
                           for n, m in models.items()], fmt)
    batches = [_batch(name) for name in NAMES]
    served = artifact_outputs(fmt, [r.artifact for r in results], batches,
                              tmp_path)
    for name, result, x, got in zip(NAMES, results, batches, served,
                                    strict=True):
        model = models[name]
        assert_matches_keras(got, keras_outputs(model, x))
        meta = json.loads((result.path / "export.json").read_text())
        assert meta["format"] == fmt
        assert meta["exported_from_backend"] == BACKEND
        specs = {s["name"]: s for s in meta["inputs"]}
        assert sorted(specs) == ["decoder_padding_mask", "decoder_token_ids",
                                 "encoder_features"]
        for tensor in model.inputs:
            assert specs[tensor.name]["dtype"] == str(tensor.dtype)
            assert specs[tensor.name]["shape"] == [None, *tensor.shape[1:]]
