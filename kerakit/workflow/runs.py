"""Run-directory artifacts: atomic writes, environment, history, plots.

Example:
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> write_json(os.path.join(d, "x.json"), {"a": 1})
>>> read_json(os.path.join(d, "x.json"))
{'a': 1}
"""

from __future__ import annotations

import csv
import datetime
import importlib.metadata
import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

_PACKAGES = ("kerakit", "keras", "tensorflow", "jax", "jaxlib", "torch",
             "numpy", "tensorflow-datasets", "scikit-learn", "keras-hub")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return _clean(value.item())
    return value


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write JSON atomically: a crash never leaves a half-written file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(_clean(data), f, indent=2, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    with open(path) as f:
        return json.load(f)


def environment(seed: int) -> dict[str, Any]:
    """Backend, package versions, seed, platform and command line."""
    import keras

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "backend": keras.backend.backend(),
        "seed": seed,
        "packages": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "command": sys.argv,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }


def write_history(run_dir: Path, history: dict[str, list]) -> None:
    """Write `history.csv` and `history.json` (one row per epoch)."""
    keys = list(history)
    rows = len(history[keys[0]]) if keys else 0
    tmp = run_dir / "history.csv.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", *keys])
        for i in range(rows):
            writer.writerow([i + 1, *(history[k][i] for k in keys)])
    os.replace(tmp, run_dir / "history.csv")
    write_json(run_dir / "history.json", history)


def plot_history(path: Path, history: dict[str, list], best_epoch: int,
                 title: str) -> None:
    """Save the learning curves (loss and each metric, train vs val)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = [k for k in history if not k.startswith("val_")
             and k not in ("learning_rate",)]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6),
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = range(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], label=f"train {name}")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], label=f"val {name}")
        if best_epoch:
            ax.axvline(best_epoch, color="gray", ls=":", label="best epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
