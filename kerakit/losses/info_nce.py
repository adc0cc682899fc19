"""Contrastive InfoNCE loss for paired embeddings (CLIP style)."""

from __future__ import annotations

from typing import Any

import keras


def info_nce(first: Any, second: Any, temperature: Any = 0.07,
             symmetric: bool = True) -> Any:
    """InfoNCE of a batch of pairs `(first[i], second[i])`.

    Embeddings are L2-normalised; `logits = first @ second.T / temperature`
    and the loss is the cross-entropy of picking the matching pair (row `i`
    -> column `i`), averaged over both directions when `symmetric`.

    Args:
        first: `(batch, dim)` embeddings (e.g. images).
        second: `(batch, dim)` embeddings (e.g. captions).
        temperature: A float, or a tensor / `keras.Variable` to learn it.
        symmetric: Average the first->second and second->first losses.

    Returns:
        Scalar loss.

    Example:
    >>> e = keras.ops.eye(3)
    >>> round(float(info_nce(e, e, temperature=0.1)), 4)
    0.0001
    """
    first = keras.ops.normalize(first, axis=-1)
    second = keras.ops.normalize(second, axis=-1)
    logits = keras.ops.matmul(first, keras.ops.transpose(second))
    return _logits_loss(logits / temperature, symmetric)


def _logits_loss(logits: Any, symmetric: bool) -> Any:
    batch = keras.ops.shape(logits)[0]
    labels = keras.ops.arange(batch)
    loss = keras.ops.mean(keras.ops.sparse_categorical_crossentropy(
        labels, logits, from_logits=True
    ))
    if symmetric:
        back = keras.ops.mean(keras.ops.sparse_categorical_crossentropy(
            labels, keras.ops.transpose(logits), from_logits=True
        ))
        loss = 0.5 * (loss + back)
    return loss


@keras.saving.register_keras_serializable(package="kerakit")
class InfoNCE(keras.losses.Loss):
    """Contrastive InfoNCE loss for `compile`; `y_true` is ignored.

    Two input forms:

    - `temperature` a float (fixed): `y_pred` stacks the pair embeddings,
      shape `(batch, 2, dim)`; see `info_nce`.
    - `temperature=None` (learned): `y_pred` are already scaled similarity
      logits `(batch, batch)`, e.g. from `kerakit.layers.ContrastiveLogits`,
      whose learnable temperature trains with the model.

    The matching pair of row `i` is column `i`, so pass any `y` to `fit`
    (e.g. `np.zeros(batch)`).

    Args:
        temperature: Fixed softmax temperature, or `None` for logits input.
        symmetric: Average both matching directions.
        name: Loss name.
        dtype: Loss computation dtype.

    Example:
    >>> pairs = keras.ops.stack([keras.ops.eye(3), keras.ops.eye(3)], axis=1)
    >>> round(float(InfoNCE(temperature=0.1)(keras.ops.zeros(3), pairs)), 4)
    0.0001

    Reference:
        van den Oord et al., 2018. https://arxiv.org/abs/1807.03748;
        Radford et al., 2021. https://arxiv.org/abs/2103.00020
    """

    def __init__(self, temperature: float | None = 0.07,
                 symmetric: bool = True, name: str = "info_nce",
                 dtype: str | None = None) -> None:
        super().__init__(name=name, reduction="sum_over_batch_size",
                         dtype=dtype)
        if temperature is not None and float(temperature) <= 0:
            raise ValueError(
                f"temperature must be positive or None. Received: "
                f"temperature={temperature}"
            )
        self.temperature = None if temperature is None else float(temperature)
        self.symmetric = bool(symmetric)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        del y_true
        y_pred = keras.ops.convert_to_tensor(y_pred)
        if self.temperature is None:
            if len(y_pred.shape) != 2:
                raise ValueError(
                    "InfoNCE(temperature=None) wants similarity logits "
                    f"(batch, batch). Received shape {tuple(y_pred.shape)}"
                )
            return _logits_loss(y_pred, self.symmetric)
        if len(y_pred.shape) != 3 or y_pred.shape[1] != 2:
            raise ValueError(
                "InfoNCE wants stacked pair embeddings (batch, 2, dim); "
                "use temperature=None for a (batch, batch) logits matrix. "
                f"Received shape {tuple(y_pred.shape)}"
            )
        return info_nce(y_pred[:, 0], y_pred[:, 1], self.temperature,
                        self.symmetric)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("reduction", None)
        config.update({"temperature": self.temperature,
                       "symmetric": self.symmetric})
        return config
