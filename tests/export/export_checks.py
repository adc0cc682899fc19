"""Helpers of the export tests: tiny models, and artifacts run as deployed.

The export code verifies its own artifacts; these tests do not take its
word for it. `artifact_outputs` loads each artifact with only its runtime,
written here independently of `kerakit/export/worker.py` (onnxruntime;
`tf.saved_model.load(...).serve`, see `saved_model_runner.py`;
`keras.saving.load_model`), on a batch the test draws itself, and the tests
compare with the Keras model within `RTOL`/`ATOL` below.

A batch is one array, or for token models a dict of named integer arrays
(`draw_tokens`): ids below the vocabulary size and masks of ones, drawn
from the registered tiny settings rather than from the model, so that the
tests do not share the export code's reading of the model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import saved_model_runner

import kerakit
from kerakit import registry

# Fixed tolerance of the tests' own comparisons (float32 graphs of a few
# hundred ops differ from Keras by ~1e-6; a real error is far larger).
RTOL = 1e-4
ATOL = 1e-4
# Not the export check's batch of 3: also shows a batch dimension fixed at 3.
TEST_BATCH = 5


def tiny(name: str, **overrides) -> keras.Model:
    """The registered tiny configuration of `name`, with `overrides`."""
    return kerakit.build(name, **{**registry.get_entry(name).tiny,
                                  **overrides})


def draw_batch(model: keras.Model, seed: int = 7) -> np.ndarray:
    """A batch for `model`'s one input, drawn by the test (not the code)."""
    shape = (TEST_BATCH, *model.inputs[0].shape[1:])
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# A test batch: one array, or named arrays for a model with dict inputs.
Batch = Any


def draw_tokens(model: keras.Model, vocabulary_size: int, length: int,
                num_segments: int = 2, seed: int = 7) -> dict[str, Any]:
    """Named integer inputs for a token model (BERT, GPT, T5).

    Token ids are below `vocabulary_size`, segment ids below
    `num_segments`, mask positions inside the sequence and padding masks
    all ones; every unknown dimension is `length`.
    """
    rng = np.random.default_rng(seed)
    batch = {}
    for tensor in model.inputs:
        name = tensor.name
        shape = (TEST_BATCH, *[length if d is None else d
                               for d in tensor.shape[1:]])
        if name.endswith("padding_mask"):
            values = np.ones(shape)
        else:
            high = (length if name == "mask_positions" else num_segments
                    if name == "segment_ids" else vocabulary_size)
            values = rng.integers(0, high, shape)
        batch[name] = values.astype(str(tensor.dtype))
    return batch


def keras_outputs(model: keras.Model, x: Batch) -> list[np.ndarray]:
    """The Keras model's outputs on `x`, as a list (named ones by name)."""
    out = model(x, training=False)
    if isinstance(out, dict):
        out = [out[key] for key in sorted(out)]
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [keras.ops.convert_to_numpy(y) for y in outs]


def _run_onnx(artifact: Path, x: Batch) -> list[np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(artifact), providers=["CPUExecutionProvider"])
    if isinstance(x, dict):  # every model input by its name, nothing else
        names = sorted(spec.name for spec in session.get_inputs())
        assert names == sorted(x), f"ONNX inputs {names}, model {sorted(x)}"
        return session.run(None, x)
    [spec] = session.get_inputs()
    return session.run(None, {spec.name: x})


def _run_keras(artifact: Path, x: np.ndarray) -> list[np.ndarray]:
    model = keras.saving.load_model(artifact, compile=False)
    return keras_outputs(model, x)


def _run_saved_models(artifacts: list[Path], xs: list[Batch],
                      work: Path) -> list[list[np.ndarray] | str]:
    jobs = []
    for i, (artifact, x) in enumerate(zip(artifacts, xs, strict=True)):
        if isinstance(x, dict):  # named inputs: served as a dict
            np.savez(work / f"input{i}.npz", **x)
            path = work / f"input{i}.npz"
        else:
            np.save(work / f"input{i}.npy", x)
            path = work / f"input{i}.npy"
        jobs.append({"artifact": str(artifact), "input": str(path)})
    if "tensorflow" in sys.modules:  # already paid for: no second start
        found, errors = saved_model_runner.serve_all(jobs)
    else:  # e.g. the torch backend: TensorFlow in its own process
        paths = [work / "jobs.json", work / "outputs.npz",
                 work / "errors.json"]
        paths[0].write_text(json.dumps(jobs))
        proc = subprocess.run(
            [sys.executable, saved_model_runner.__file__, *map(str, paths)],
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            capture_output=True, text=True, timeout=900, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        errors = json.loads(paths[2].read_text())
        with np.load(paths[1]) as data:
            found = dict(data)
    results: list[list[np.ndarray] | str] = []
    for i in range(len(jobs)):
        outs, j = [], 0
        while f"{i}_{j}" in found:
            outs.append(found[f"{i}_{j}"])
            j += 1
        results.append(errors.get(str(i), outs))
    return results


def artifact_outputs(fmt: str, artifacts: list[Path], xs: list[Batch],
                     work: Path) -> list[list[np.ndarray] | str]:
    """Run each artifact on its batch with only its runtime.

    Returns, per artifact, its outputs, or the runtime's error as a string
    (so that one broken artifact does not hide the others).
    """
    if fmt == "saved_model":
        # One TensorFlow process for the lot: its start is the cost.
        return _run_saved_models(artifacts, xs, work)
    run = {"onnx": _run_onnx, "keras": _run_keras}[fmt]
    results: list[list[np.ndarray] | str] = []
    for artifact, x in zip(artifacts, xs, strict=True):
        try:
            results.append([np.asarray(y) for y in run(artifact, x)])
        except Exception as err:  # noqa: BLE001  (reported per artifact)
            results.append(f"{type(err).__name__}: {err}")
    return results


def assert_matches_keras(got: list[np.ndarray] | str,
                         want: list[np.ndarray]) -> None:
    """The artifact's outputs equal Keras's within the fixed tolerance."""
    assert not isinstance(got, str), f"the runtime failed: {got}"
    assert len(got) == len(want)
    for y, expected in zip(got, want, strict=True):
        assert y.shape == expected.shape
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL)


def current_umask() -> int:
    """The process umask (read by setting it, then put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
