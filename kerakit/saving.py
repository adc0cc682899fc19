"""Loading `.keras` files that kerakit wrote, without spurious warnings.

keras-hub's task models (`GPT2CausalLM`, `BertTextClassifier`, ...) compile
themselves with a default optimizer while they are rebuilt from a `.keras`
file; Keras then warns that this optimizer's 2 variables do not match the
saved optimizer's. kerakit loads with `compile=False` and never uses that
optimizer, so the warning says nothing true about the loaded weights and
would only alarm a user. Every other warning passes through.
"""

from __future__ import annotations

import os
import warnings

import keras


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a `.keras` model for inference or export (`compile=False`).

    Example:
    >>> import tempfile, pathlib, kerakit
    >>> m = kerakit.build("mlp", input_shape=(4,), num_classes=2)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.keras"
    >>> m.save(path)
    >>> load_model(path).output_shape
    (None, 2)
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Skipping variable loading for optimizer")
        return keras.saving.load_model(path, compile=False)
