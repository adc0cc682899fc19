"""SimpleRNN, LSTM and GRU sequence classifiers and regressors.

One generic builder, :func:`recurrent`, covers the whole family: the cell
type, depth (`num_layers`), width (`hidden_dim`) and a bidirectional option
are arguments. `simple_rnn`, `lstm`, `gru` and their bidirectional versions
are registered variants that fix the cell (and direction).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Literal

import keras
import numpy as np

from kerakit import precision
from kerakit.heads import input_dtype
from kerakit.models.mlp.mlp import check_depth_width
from kerakit.models.mlp.mlp import check_task
from kerakit.models.mlp.mlp import output_layer
from kerakit.registry import Knob
from kerakit.registry import register
from kerakit.registry import variant
from kerakit.testing import SweepData

CELLS = {
    "simple_rnn": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


@keras.saving.register_keras_serializable(package="kerakit")
class Float32Orthogonal(keras.initializers.Orthogonal):
    """Keras's orthogonal initializer, drawn in float32 and then cast.

    TensorFlow's QR decomposition, which the orthogonal draw uses, has no
    bfloat16 kernel, so a recurrent layer whose variables are bfloat16 (the
    pure `"bfloat16"` policy) could not be built there.

    Example:
    >>> w = Float32Orthogonal(seed=0)((4, 4), dtype="bfloat16")
    >>> keras.backend.standardize_dtype(w.dtype)
    'bfloat16'
    """

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        values = super().__call__(shape, dtype="float32")
        return keras.ops.cast(values, dtype or "float32")


def recurrent_layer(cell: str, units: int, *, dtype: Any = None,
                    **kwargs: Any) -> keras.layers.Layer:
    """The `cell` layer (`CELLS`) with `units`, in `dtype`.

    Variables in a 16-bit float get their orthogonal recurrent kernel from
    `Float32Orthogonal`; float32 ones keep Keras's default.

    Example:
    >>> layer = recurrent_layer("gru", 4, dtype="bfloat16")
    >>> isinstance(layer.cell.recurrent_initializer, Float32Orthogonal)
    True
    """
    policy = precision.policy_of(dtype)
    if policy.variable_dtype in ("bfloat16", "float16"):
        kwargs.setdefault("recurrent_initializer", Float32Orthogonal())
    return CELLS[cell](units, dtype=dtype, **kwargs)

_KNOBS = (
    Knob("depth", "num_layers", min_value=1, max_value=4, step=1),
    Knob("width", "hidden_dim", values=(32, 64, 128, 256)),
    Knob("dropout", "dropout", min_value=0.0, max_value=0.5, step=0.1),
)


def check_sequence_input(
    input_shape: Sequence[int | None], vocabulary_size: int | None, model: str
) -> None:
    """Validate a sequence input: `(steps,)` tokens or `(steps, features)`.

    Example:
    >>> check_sequence_input((None, 3), None, "lstm")
    """
    # First, so that vocabulary_size=0 is named, not taken as "not given".
    if vocabulary_size is not None and vocabulary_size < 2:
        raise ValueError(
            f"{model}: vocabulary_size must be >= 2 (id 0 is padding). "
            f"Received: vocabulary_size={vocabulary_size!r}"
        )
    ranks = (1,) if vocabulary_size else (2, 3)
    kind = ("token ids (steps,)" if vocabulary_size
            else "float features (steps, features) or images (H, W, C)")
    if len(tuple(input_shape)) not in ranks:
        fix = ("pass input_shape=(steps, features) for float features"
               if vocabulary_size else
               "pass vocabulary_size=... for token input, or "
               "input_shape=(steps, features)")
        raise ValueError(
            f"{model}: expected input_shape for {kind}. Received: "
            f"input_shape={tuple(input_shape)!r}; {fix}."
        )
    if not vocabulary_size and None in tuple(input_shape)[1:]:
        raise ValueError(
            f"{model}: the feature sizes (all but the first entry of "
            f"input_shape) must be known. Received: input_shape={tuple(input_shape)!r}"
        )


def embed_or_mask(
    inputs: Any, *, vocabulary_size: int | None, embedding_dim: int,
    mask_value: float | None, dtype: Any, name: str,
) -> Any:
    """Embed token ids (id 0 masked) or mask padded feature steps.

    Example:
    >>> x = keras.Input((5,), dtype="int32")
    >>> embed_or_mask(x, vocabulary_size=10, embedding_dim=4,
    ...               mask_value=0.0, dtype=None, name="m").shape
    (None, 5, 4)
    """
    if len(inputs.shape) == 4:  # Images are read row by row.
        inputs = keras.layers.Reshape(
            (inputs.shape[1], inputs.shape[2] * inputs.shape[3]), dtype=dtype,
            name=f"{name}_rows",
        )(inputs)
    if vocabulary_size:
        return keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, dtype=dtype,
            name=f"{name}_embedding",
        )(inputs)
    if mask_value is None:
        return inputs
    return keras.layers.Masking(
        mask_value, dtype=dtype, name=f"{name}_masking"
    )(inputs)


def recurrent(
    input_shape: Sequence[int | None] = (None, 8),
    num_classes: int | None = 2,
    *,
    cell: Literal["simple_rnn", "lstm", "gru"] = "lstm",
    num_layers: int = 1,
    hidden_dim: int = 128,
    bidirectional: bool = False,
    vocabulary_size: int | None = None,
    embedding_dim: int = 64,
    mask_value: float | None = 0.0,
    dropout: float = 0.0,
    task: Literal["classification", "regression"] = "classification",
    num_outputs: int = 1,
    classifier_activation: str | None = None,
    dtype: Any = None,
    name: str = "recurrent",
) -> keras.Model:
    """Build a stacked recurrent sequence classifier or regressor.

    Token input (`vocabulary_size` set) goes through an `Embedding` with
    `mask_zero=True`, so id 0 is padding. Float input of shape
    `(steps, features)` goes through `Masking(mask_value)`: steps whose
    features all equal `mask_value` are skipped. The last recurrent layer's
    final state feeds dropout and a Dense head.

    Args:
        input_shape: `(steps,)` for token ids or `(steps, features)` for
            float features; `steps` may be `None`. An image shape
            `(H, W, C)` is read row by row: H steps of W*C features.
        num_classes: Number of output logits when `task="classification"`.
        cell: `"simple_rnn"`, `"lstm"` or `"gru"`.
        num_layers: Number of stacked recurrent layers (depth).
        hidden_dim: Units per recurrent layer and direction (width).
        bidirectional: Whether each layer reads the sequence both ways
            (outputs of both directions are concatenated).
        vocabulary_size: Token vocabulary size (id 0 = padding); `None`
            for float feature input.
        embedding_dim: Embedding width for token input.
        mask_value: Padding value of float input; `None` disables masking.
        dropout: Dropout on the inputs of each recurrent layer and before
            the head.
        task, num_outputs, classifier_activation, dtype, name: As in
            `kerakit.models.mlp.mlp.mlp`.

    Returns:
        Functional `keras.Model` from sequences to logits (or values).

    Example:
    >>> import kerakit
    >>> m = kerakit.build("lstm", input_shape=(None, 3), num_classes=2,
    ...                   hidden_dim=4)
    >>> m.output_shape
    (None, 2)

    Reference:
        Hochreiter & Schmidhuber, 1997 (LSTM); Cho et al., 2014 (GRU);
        Schuster & Paliwal, 1997 (bidirectional RNNs).
    """
    if cell not in CELLS:
        raise ValueError(
            f"{name}: cell must be one of {sorted(CELLS)}. "
            f"Received: cell={cell!r}"
        )
    units = check_task(task, num_classes, num_outputs, name)
    check_depth_width(num_layers, hidden_dim, dropout, name, min_layers=1)
    check_sequence_input(input_shape, vocabulary_size, name)
    inputs = keras.Input(
        tuple(input_shape),
        dtype="int32" if vocabulary_size else input_dtype(dtype),
        name="tokens" if vocabulary_size else "sequences",
    )
    x = embed_or_mask(
        inputs, vocabulary_size=vocabulary_size, embedding_dim=embedding_dim,
        mask_value=mask_value, dtype=dtype, name=name,
    )
    for i in range(1, num_layers + 1):
        layer = recurrent_layer(
            cell, hidden_dim, return_sequences=i < num_layers,
            dropout=dropout, dtype=dtype, name=f"{name}_{cell}{i}",
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(
                layer, dtype=dtype, name=f"{name}_bidirectional{i}"
            )
        x = layer(x)
    if dropout:
        x = keras.layers.Dropout(dropout, dtype=dtype, name=f"{name}_dropout")(x)
    x = output_layer(x, units, task=task, activation=classifier_activation,
                     dtype=dtype, name=name)
    return keras.Model(inputs, x, name=name)


def _sequence_data(kwargs: Mapping[str, Any]) -> SweepData:
    """Padded sequences: the tail of the second half of the batch is 0."""
    rng = np.random.default_rng(0)
    steps = kwargs["input_shape"][0] or 5
    batch = 8
    if kwargs.get("vocabulary_size"):
        x = rng.integers(1, kwargs["vocabulary_size"], size=(batch, steps))
        x[batch // 2:, steps - 2:] = 0
        x = x.astype("int32")
    else:
        x = rng.normal(size=(batch, steps, kwargs["input_shape"][1]))
        x[batch // 2:, steps - 2:] = 0.0
        x = x.astype("float32")
    if kwargs.get("task") == "regression":
        width = kwargs.get("num_outputs", 1)
        y = rng.normal(size=(batch, width)).astype("float32")
        return SweepData(x, y, "mse", (batch, width))
    y = np.arange(batch) % kwargs["num_classes"]
    return SweepData(
        x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        (batch, kwargs["num_classes"]),
    )


_TINY = {"input_shape": (5, 3), "num_classes": 3, "hidden_dim": 8}
_TOKENS = {"input_shape": (5,), "num_classes": 3, "vocabulary_size": 12,
           "embedding_dim": 8, "hidden_dim": 8}
_REF = {
    "simple_rnn": "Elman, 1990. Finding structure in time.",
    "lstm": "Hochreiter & Schmidhuber, 1997. Long short-term memory.",
    "gru": "Cho et al., 2014. https://arxiv.org/abs/1406.1078",
}
_CANONICAL = {"input_shape": (None, 8), "num_classes": 2}
# Canonical counts: 1 layer x 128 units on 8 features + Dense(2).
#   simple_rnn: 128*(8+128+1) + 129*2 = 17,794
#   lstm: 4*128*(8+128+1) + 258 = 70,402
#   gru (reset_after=True): 3*128*(8+128+2) + 258 = 53,250
_PARAMS = {"simple_rnn": 17_794, "lstm": 70_402, "gru": 53_250}


def _register_cell(cell: str, tiny: Mapping[str, Any]) -> Any:
    fn = variant(
        recurrent, cell, f"{_REF[cell].split(',')[0]} {cell} sequence model "
        "(see `recurrent` for every argument).", cell=cell,
    )
    return register(
        family="rnn", task="sequence_classification", tiny=tiny,
        reference=_REF[cell], canonical=_CANONICAL, params=_PARAMS[cell],
        knobs=_KNOBS, test={"data": _sequence_data},
    )(fn)


simple_rnn = _register_cell("simple_rnn", _TINY)
lstm = _register_cell("lstm", _TOKENS)
gru = _register_cell("gru", {**_TINY, "task": "regression", "num_layers": 2,
                             "num_outputs": 2, "num_classes": None})
bidirectional_lstm = register(
    family="rnn", task="sequence_classification",
    tiny=_TOKENS,
    reference="Schuster & Paliwal, 1997. Bidirectional recurrent neural "
    "networks.",
    knobs=_KNOBS, test={"data": _sequence_data},
)(variant(recurrent, "bidirectional_lstm",
          "Bidirectional LSTM sequence model.", cell="lstm",
          bidirectional=True))
