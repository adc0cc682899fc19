"""Export: the RL networks to .keras, SavedModel and ONNX on this backend.

A deployed policy maps observations (float32, free batch size) to Q-values,
logits or a Gaussian mean, and an actor-critic to two named outputs (policy
and value), which every artifact must keep. Each artifact is reloaded with
only its runtime and compared with Keras on a batch the test draws. By
default the tiny actor_critic_mlp; `KERAKIT_EXPORT_ALL=1` adds a dueling
q_mlp (a custom layer), dqn_nature and a continuous policy_mlp.
"""

from __future__ import annotations

import json
import os

import keras
import pytest
from export_checks import artifact_outputs
from export_checks import assert_matches_keras
from export_checks import draw_batch
from export_checks import keras_outputs
from export_checks import tiny

from kerakit.export import export_many

BACKEND = keras.backend.backend()
EXPORT_ALL = os.environ.get("KERAKIT_EXPORT_ALL") == "1"
# The default run exports to one format (ONNX); the others, and the
# `.keras` route that the standard model test already round-trips, run
# with KERAKIT_EXPORT_ALL=1 (every export costs two fresh processes).
FORMATS = ["keras", "saved_model", "onnx"] if EXPORT_ALL else ["onnx"]
# Export costs ~40 s per format and call on a loaded CPU: one model by
# default, the one with two named outputs.
CONFIGS = {"actor_critic_mlp": ("actor_critic_mlp", {})}
if EXPORT_ALL:
    CONFIGS.update({
        "q_mlp_dueling": ("q_mlp", {"dueling": True}),
        "dqn_nature": ("dqn_nature", {}),
        "policy_mlp_continuous": ("policy_mlp", {
            "continuous": True, "num_actions": None, "action_dim": 2}),
    })


@pytest.mark.parametrize("fmt", FORMATS)
def test_rl_networks_export_and_verify(fmt, tmp_path):
    names = sorted(CONFIGS)
    models = [tiny(base, **overrides) for base, overrides in
              (CONFIGS[n] for n in names)]
    results = export_many([(m, tmp_path / n) for m, n in zip(
        models, names, strict=True)], fmt)
    xs = [draw_batch(m) for m in models]
    (tmp_path / "runs").mkdir()
    served = artifact_outputs(fmt, [r.artifact for r in results], xs,
                              tmp_path / "runs")
    for model, result, x, got in zip(models, results, xs, served,
                                     strict=True):
        assert_matches_keras(got, keras_outputs(model, x))
        meta = json.loads((result.path / "export.json").read_text())
        assert meta["format"] == fmt
        assert meta["exported_from_backend"] == BACKEND
        assert meta["inputs"][0]["shape"][0] is None
        assert len(meta["outputs"]) == len(model.outputs)
