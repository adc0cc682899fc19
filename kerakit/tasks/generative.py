"""Generative models that own their loss: VAE and GAN (`fit(x)`, no targets).

A VAE logs its reconstruction and KL losses and evaluates like any model. A
`GAN` has a custom train step and no validation step, so its validation and
test metrics come from :func:`adversarial_metrics` (held-out discriminator
and generator losses, and the maximum mean discrepancy between generated and
real examples) instead of `model.evaluate`. After training, a model that can
draw from its prior (`sample` for a VAE, `generate` for a GAN) writes a grid
of samples to `samples.png` in the run directory.

Example:
>>> x = np.random.default_rng(0).normal(size=(50, 4))
>>> mmd(x, x, 1.0)
0.0
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.tasks.base import Task
from kerakit.tasks.reconstruction import describe_reconstructions

SAMPLES = "samples.png"


def is_gan(model: keras.Model) -> bool:
    """Whether `model` is a kerakit `GAN` (adversarial evaluation)."""
    from kerakit.models.generative.gan import GAN

    return isinstance(model, GAN)


def mmd(a: np.ndarray, b: np.ndarray, bandwidth: float) -> float:
    """Maximum mean discrepancy (Gaussian kernel) between two samples."""
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


class GenerativeTask(Task):
    """`fit(x)`: the model adds its own loss (VAE, GAN); labels unused."""

    # A GAN's train step applies its own optimizers' gradients.
    data_parallel = False
    name = "generative"
    description = ("inputs only; the model owns its loss (VAE, GAN); "
                   "held-out GAN metrics; samples.png")
    model_tasks = ("generation",)
    # The GAN computes its own gradients (no Keras loss scaling).
    loss_scaling = False
    defaults = {"loss": "none", "metrics": [], "monitor": "val_loss"}

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """The loss must be `"none"` and there are no metrics."""
        if loss_name != "none":
            raise ValueError(
                f"loss: is {loss_name!r} but task = 'generative' gives the "
                "model no targets: use loss = 'none' (the model adds its "
                "own loss, e.g. a VAE or GAN).")
        if fields["metrics"]:
            raise ValueError(
                "metrics: must be [] with task = 'generative' (no targets "
                "to compare with; the model logs its own). Received: "
                f"{list(fields['metrics'])!r}.")
        if fields["preprocessing"]["one_hot"]:
            super().check_recipe(fields, "mean_squared_error")

    def fit_data(self, x: Any, y: Any) -> tuple:
        """`(x,)`."""
        return (x,)

    def validation(self, model: keras.Model, splits: Any, batch_size: int,
                   seed: int) -> tuple[Any, list]:
        """A GAN has no validation step: a callback adds its `val_*`."""
        if is_gan(model):
            return None, [AdversarialValidation(splits.validation[0],
                                                batch_size, seed)]
        return super().validation(model, splits, batch_size, seed)

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """`model.evaluate`, or the adversarial metrics of a GAN."""
        if is_gan(model):
            return adversarial_metrics(model, pair[0], batch_size, seed)
        return super().evaluate(model, pair, batch_size, seed)

    def report(self, model: keras.Model, splits: Any, run_dir: Path,
               seed: int, num_samples: int = 64) -> dict[str, Any]:
        """Write `samples.png`, `num_samples` draws from the prior.

        Returns `{"samples": {"path": "samples.png", "count": n,
        "source": "prior"}}` (the path is relative to the run directory),
        or `{}` for models without a prior or with non-image data.
        """
        draw = getattr(model, "sample", None) or getattr(model, "generate",
                                                         None)
        shape = splits.input_shape
        if not callable(draw) or len(shape) not in (2, 3):
            return {}
        samples = np.asarray(draw(num_samples, seed=seed)).reshape(
            num_samples, *shape)
        train_x = splits.train[0]
        write_samples(samples, run_dir / SAMPLES,
                      (float(train_x.min()), float(train_x.max())))
        return {"samples": {"path": SAMPLES, "count": num_samples,
                            "source": "prior"}}

    def predict(self, model: keras.Model, x: np.ndarray,
                class_names: list[str]) -> dict[str, Any]:
        """A GAN scores realness; a VAE reconstructs its inputs."""
        out = np.asarray(model.predict(x, verbose=0))
        if is_gan(model):
            return {"real_probability": 1.0 / (1.0 + np.exp(
                -out.reshape(len(x), -1)[:, 0]))}
        return {"reconstructions": out}

    def describe_predictions(self, out: dict[str, Any]) -> list[str]:
        """Realness per input (GAN), or each reconstruction's range."""
        if "real_probability" in out:
            return [f"{i}\treal {p:.4f}"
                    for i, p in enumerate(out["real_probability"])]
        return describe_reconstructions(out["reconstructions"])
