"""What a recipe fits against, and the reports that depend on the task.

A recipe's `target` says how the preprocessed `(x, y)` splits feed the
model (:func:`pack`):
- `"labels"`: `(x, y)`, supervised (the default);
- `"inputs"`: `(x, x)`, reconstruction (autoencoders);
- `"none"`: `x` alone, for models that add their own loss (VAE, GAN);
- `"teacher_forcing"`: `({"source": x, "target_in": y shifted right behind
  the start id 1}, y)`, for `seq2seq`.

A `GAN` has a custom train step and no validation step, so its validation
and test metrics come from :func:`adversarial_metrics` (held-out
discriminator and generator losses, and the MMD between generated and real
examples) instead of `model.evaluate`. After training, :func:`report` writes
a grid of prior samples (`samples.png`) for models with `sample` (VAE) or
`generate` (GAN), and greedy-decoding exact match for teacher-forced models.

Example:
>>> import numpy as np
>>> x, y = np.zeros((2, 3), "int32"), np.array([[5, 4, 2], [6, 3, 2]])
>>> pack(x, y, "teacher_forcing")[0]["target_in"].tolist()
[[1, 5, 4], [1, 6, 3]]
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.preprocessing import TrainBatches

START_ID = 1  # seq2seq token convention: 0 pad, 1 start, 2 end.
SAMPLES = "samples.png"


def pack(x: np.ndarray, y: np.ndarray, target: str) -> tuple:
    """Return the `fit`/`evaluate` arguments for `target` as a tuple."""
    if target == "labels":
        return x, y
    if target == "inputs":
        return x, x
    if target == "none":
        return (x,)
    if target == "teacher_forcing":
        y = np.asarray(y)
        start = np.full((len(y), 1), START_ID, dtype=y.dtype)
        shifted = np.concatenate([start, y[:, :-1]], axis=1)
        return {"source": x, "target_in": shifted.astype("int32")}, y
    raise ValueError(f"Unknown target {target!r}.")


class TargetBatches(TrainBatches):
    """`TrainBatches` packed for the recipe's `target` (see :func:`pack`).

    With `"inputs"` the target is the (augmented) input the model sees.
    """

    def __init__(self, *args: Any, target: str = "labels", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.target = target

    def __getitem__(self, index: int) -> Any:
        packed = pack(*super().__getitem__(index), self.target)
        return packed[0] if len(packed) == 1 else packed


def is_gan(model: keras.Model) -> bool:
    """Whether `model` is a kerakit `GAN` (evaluated by this module)."""
    from kerakit.models.generative.gan import GAN

    return isinstance(model, GAN)


def mmd(a: np.ndarray, b: np.ndarray, bandwidth: float) -> float:
    """Maximum mean discrepancy (Gaussian kernel) between two samples.

    Example:
    >>> x = np.random.default_rng(0).normal(size=(50, 4))
    >>> mmd(x, x, 1.0)
    0.0
    """
    a = a.reshape(len(a), -1).astype("float64")
    b = b.reshape(len(b), -1).astype("float64")

    def kernel(p: np.ndarray, q: np.ndarray) -> float:
        d2 = (p * p).sum(1)[:, None] + (q * q).sum(1)[None] - 2 * p @ q.T
        return float(np.exp(-np.maximum(d2, 0) / (2 * bandwidth ** 2)).mean())

    value = kernel(a, a) + kernel(b, b) - 2 * kernel(a, b)
    return round(math.sqrt(max(value, 0.0)), 12)


def median_distance(x: np.ndarray) -> float:
    """Median pairwise distance of `x` (the MMD bandwidth heuristic)."""
    flat = x.reshape(len(x), -1).astype("float64")
    d2 = (flat * flat).sum(1)[:, None] + (flat * flat).sum(1)[None] - (
        2 * flat @ flat.T)
    upper = np.sqrt(np.maximum(d2[np.triu_indices(len(x), 1)], 0))
    return float(np.median(upper)) if upper.size and np.median(upper) else 1.0


def adversarial_metrics(model: keras.Model, real: np.ndarray,
                        batch_size: int, seed: int,
                        bandwidth: float | None = None) -> dict[str, float]:
    """Held-out GAN metrics on real examples and as many fresh fakes.

    `d_loss`, `g_loss` and `d_accuracy` are the training formulas on the
    held-out data; `loss` is their sum (`d_loss + g_loss`); `mmd` compares
    the fakes with the real examples (lower is better, 0 for identical
    distributions). The fakes come from a fixed `seed`, so epochs compare.
    """
    fake = model.generate(len(real), seed=seed)
    real_logits = model.discriminator.predict(real, batch_size=batch_size,
                                              verbose=0).reshape(-1)
    fake_logits = model.discriminator.predict(fake, batch_size=batch_size,
                                              verbose=0).reshape(-1)
    target = 1.0 - model.label_smoothing
    d_loss = float(np.mean(np.logaddexp(0, real_logits) - target * real_logits)
                   + np.mean(np.logaddexp(0, fake_logits)))
    g_loss = float(np.mean(np.logaddexp(0, -fake_logits)))
    accuracy = float(np.mean(np.concatenate([real_logits > 0,
                                             fake_logits < 0])))
    return {"loss": d_loss + g_loss, "d_loss": d_loss, "g_loss": g_loss,
            "d_accuracy": accuracy,
            "mmd": mmd(fake, real, bandwidth or median_distance(real))}


class AdversarialValidation(keras.callbacks.Callback):
    """Adds `val_*` :func:`adversarial_metrics` to a GAN's epoch logs.

    Put it before callbacks that read the logs (best weights, TensorBoard).
    """

    def __init__(self, real: np.ndarray, batch_size: int, seed: int):
        super().__init__()
        self.real, self.batch_size, self.seed = real, batch_size, seed
        self.bandwidth = median_distance(real)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        values = adversarial_metrics(self.model, self.real, self.batch_size,
                                     self.seed, self.bandwidth)
        logs.update({f"val_{k}": v for k, v in values.items()})


def evaluate(model: keras.Model, pair: tuple, target: str, batch_size: int,
             seed: int = 0) -> dict[str, float]:
    """Evaluate a compiled model on one preprocessed `(x, y)` split."""
    if is_gan(model):
        return adversarial_metrics(model, pair[0], batch_size, seed)
    out = model.evaluate(*pack(*pair, target), batch_size=batch_size,
                         return_dict=True, verbose=0)
    return {k: float(v) for k, v in out.items()}


def write_samples(samples: np.ndarray, path: Path,
                  value_range: tuple[float, float], scale: int = 4) -> None:
    """Save `(n, H, W[, C])` samples as one PNG grid (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    if samples.ndim == 3:
        samples = samples[..., None]
    n, height, width, channels = samples.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    low, high = value_range
    grid = np.full((rows * (height + 1) + 1, cols * (width + 1) + 1,
                    channels), high, "float32")
    for i, image in enumerate(samples):
        r, c = divmod(i, cols)
        grid[1 + r * (height + 1):(r + 1) * (height + 1),
             1 + c * (width + 1):(c + 1) * (width + 1)] = image
    grid = (np.clip(grid, low, high) - low) / max(high - low, 1e-12)
    grid = np.kron(grid, np.ones((scale, scale, 1), "float32"))
    tmp = path.with_suffix(".tmp.png")
    if channels == 1:
        plt.imsave(tmp, grid[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        plt.imsave(tmp, grid[..., :3])
    os.replace(tmp, path)


def report(model: keras.Model, target: str, splits: Any, run_dir: Path,
           seed: int, num_samples: int = 64) -> dict[str, Any]:
    """Task reports after training; returns what goes into metrics.json.

    - A VAE (`sample`) or GAN (`generate`) on image-shaped data writes
      `samples.png`, `num_samples` draws from the prior, and returns
      `{"samples": {"path": "samples.png", "count": n}}` (the path is
      relative to the run directory).
    - A teacher-forced model returns `{"test": {"greedy_exact_match": a}}`:
      the share of test sequences that greedy decoding gets exactly right.
    """
    out: dict[str, Any] = {}
    draw = getattr(model, "sample", None) or getattr(model, "generate", None)
    shape = splits.input_shape
    if callable(draw) and len(shape) in (2, 3):
        samples = np.asarray(draw(num_samples, seed=seed)).reshape(
            num_samples, *shape)
        train_x = splits.train[0]
        write_samples(samples, run_dir / SAMPLES,
                      (float(train_x.min()), float(train_x.max())))
        out["samples"] = {"path": SAMPLES, "count": num_samples,
                          "source": "prior"}
    if target == "teacher_forcing":
        from kerakit.models.rnn.seq2seq import greedy_decode

        source, expected = splits.test
        decoded = greedy_decode(model, source, max_length=expected.shape[1],
                                start_id=START_ID)
        exact = np.all(decoded == expected, axis=1)
        out["test"] = {"greedy_exact_match": float(exact.mean())}
    return out
