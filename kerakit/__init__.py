"""kerakit: classic deep-learning architectures as Keras 3 models.

Every model runs unchanged on the TensorFlow, JAX and PyTorch backends.

Example:
>>> import kerakit
>>> model = kerakit.build("lenet5", input_shape=(32, 32, 1), num_classes=10)
>>> model.count_params()
61706
"""

import importlib
import os
import sys

from kerakit import _quiet

# TensorFlow's C++ start-up chatter (CUDA probes, CPU flags) hides our output.
# The `kerakit` command filters it from stderr (the variable alone does not
# hide all of it), from here on, before anything below imports TensorFlow;
# `--verbose` keeps every line. Library users' processes are left alone.
_command = _quiet.started_as_command()
if not (_command and "--verbose" in sys.argv[1:]):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if _command:
        _quiet.install()
del _command

from kerakit import components  # noqa: E402
from kerakit import models  # noqa: E402,F401  (registers every model)
from kerakit.export import export_model as export  # noqa: E402
from kerakit.registry import build  # noqa: E402
from kerakit.registry import list_families  # noqa: E402
from kerakit.registry import list_models  # noqa: E402
from kerakit.registry import model_info  # noqa: E402
from kerakit.registry import register  # noqa: E402

__version__ = "0.1.0"


def __getattr__(name: str):
    # `kerakit.train` is imported on first use: the training stack
    # (datasets, preprocessing, matplotlib) is not needed to build models.
    if name == "train":
        from kerakit.workflow.training import train

        return train
    if name in ("list_tasks", "tasks"):
        # Not `from kerakit import tasks`: before the submodule is imported
        # that looks the name up on this module, which lands here again.
        tasks = importlib.import_module("kerakit.tasks")
        return tasks.list_tasks if name == "list_tasks" else tasks
    if name == "predict":
        from kerakit.workflow.inference import predict

        return predict
    if name == "act":  # a reinforcement-learning run's greedy policy
        from kerakit.tasks.rl_support import act

        return act
    if name in ("performance", "precision"):  # `kerakit.performance.recommend`
        return importlib.import_module(f"kerakit.{name}")
    if name == "tune":  # pulls in KerasTuner
        from kerakit.tuning import tune

        return tune
    raise AttributeError(f"module 'kerakit' has no attribute {name!r}")


__all__ = [
    "act",
    "build",
    "components",
    "export",
    "list_families",
    "list_models",
    "list_tasks",
    "model_info",
    "performance",
    "precision",
    "predict",
    "register",
    "train",
    "tune",
]
