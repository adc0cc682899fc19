"""Check batches for export verification, valid for any model's inputs.

Image models take float tensors; token models (keras-hub's BERT, GPT-2 and
T5 task models) take a dict of integer inputs whose values must be in range
or the model fails (an out-of-range gather) or computes garbage: token ids
below the vocabulary size, segment ids below the number of segments, mask
positions inside the sequence, and padding masks of ones (no padding, so
every position counts in the comparison). The ranges come from the model
(its keras-hub backbone's `vocabulary_size`, `num_segments`,
`max_sequence_length`) and each input's role from its name.

A model whose functional inputs are a dict is called with a dict; the
arrays travel as a list in `model.inputs` order, with the names beside it.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

# Length of unknown non-batch dimensions in the check batch (sequence
# lengths, free image sizes), capped by the model's position table.
FREE_LENGTH = 32


def takes_dict(model: keras.Model) -> bool:
    """Whether `model` is called with a dict of named inputs.

    Example:
    >>> import keras
    >>> x = keras.Input((2,), name="x")
    >>> takes_dict(keras.Model({"x": x}, x)), takes_dict(keras.Model(x, x))
    (True, False)
    """
    return isinstance(getattr(model, "input", None), dict)


def pack(model: keras.Model, arrays: list[Any]) -> Any:
    """`arrays` (in `model.inputs` order) in the structure `model` takes.

    Example:
    >>> import keras, numpy as np
    >>> x = keras.Input((2,), name="x")
    >>> sorted(pack(keras.Model({"x": x}, x), [np.zeros((1, 2))]))
    ['x']
    """
    if takes_dict(model):
        names = [t.name for t in model.inputs]
        return dict(zip(names, arrays, strict=True))
    return arrays[0] if len(arrays) == 1 else list(arrays)


def run(model: keras.Model, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The model's outputs on `arrays` (inference mode), as a list.

    Named outputs (a dict, e.g. a BERT backbone's pooled and sequence
    outputs) come sorted by name.

    Example:
    >>> import keras, numpy as np
    >>> x = keras.Input((2,))
    >>> [y.shape for y in run(keras.Model(x, x), [np.ones((3, 2), "float32")])]
    [(3, 2)]
    """
    out = model(pack(model, arrays), training=False)
    if isinstance(out, dict):  # by name, as the exported signatures order
        outs = [out[key] for key in sorted(out)]
    else:
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
    return [keras.ops.convert_to_numpy(o) for o in outs]


def _config(model: keras.Model, name: str) -> Any:
    """`name` from the model or its keras-hub backbone, else `None`."""
    for owner in (model, getattr(model, "backbone", None)):
        value = getattr(owner, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _vocabulary_size(model: keras.Model) -> int:
    """Ids below this are valid token ids for `model`."""
    size = _config(model, "vocabulary_size")
    if size:
        return size
    # A model of kerakit's own: the smallest embedding table bounds the ids
    # any integer input may carry.
    dims = [layer.input_dim for layer in model._flatten_layers()
            if isinstance(getattr(layer, "input_dim", None), int)]
    return min(dims) if dims else 2


def _position_limit(model: keras.Model) -> int | None:
    """A model of kerakit's own: its shortest learned position table."""
    lengths = [layer.sequence_length for layer in model._flatten_layers()
               if type(layer).__name__ == "PositionEmbedding"
               and isinstance(getattr(layer, "sequence_length", None), int)]
    return min(lengths) if lengths else None


def _role(name: str) -> str:
    name = name.lower()
    if name.endswith("positions"):
        return "positions"
    if "mask" in name:
        return "mask"
    if "segment" in name:
        return "segment"
    return "token"


def draw(model: keras.Model, batch: int, seed: int = 0,
         float_high: float | None = None) -> list[np.ndarray]:
    """A valid random batch for `model`, one array per input (in order).

    Args:
        model: A functional model (`model.inputs` known).
        batch: Batch size.
        seed: Random seed.
        float_high: Draw float inputs uniformly in `[0, float_high)` (raw
            pixel values) instead of from a standard normal.

    Example:
    >>> import keras
    >>> ids = keras.Input((None,), dtype="int32", name="token_ids")
    >>> mask = keras.Input((None,), dtype="int32", name="padding_mask")
    >>> y = keras.layers.Embedding(10, 2)(ids)
    >>> model = keras.Model({"token_ids": ids, "padding_mask": mask}, y)
    >>> mask_, ids_ = draw(model, batch=2)
    >>> ids_.shape, int(ids_.max()) < 10, int(mask_.min())
    ((2, 32), True, 1)
    """
    rng = np.random.default_rng(seed)
    length = FREE_LENGTH
    max_length = (_config(model, "max_sequence_length")
                  or _position_limit(model))
    if max_length:
        length = min(length, max_length)
    arrays = []
    for tensor in model.inputs:
        shape = [batch] + [length if d is None else d
                           for d in tensor.shape[1:]]
        dtype = str(tensor.dtype)
        if "int" in dtype or dtype == "bool":
            role = _role(tensor.name)
            if role == "mask":
                values = np.ones(shape)
            else:
                high = {"positions": length,
                        "segment": _config(model, "num_segments") or 1,
                        "token": None}[role] or _vocabulary_size(model)
                values = rng.integers(0, high, shape)
            arrays.append(values.astype(dtype))
        elif float_high is not None:
            arrays.append(rng.uniform(0, float_high, shape).astype(dtype))
        else:
            arrays.append(rng.normal(size=shape).astype(dtype))
    return arrays
