"""Multi-layer perceptron: a stack of Dense blocks and a linear head."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import Literal

import keras
import numpy as np

from kerakit.heads import input_dtype
from kerakit.registry import Knob
from kerakit.registry import register
from kerakit.registry import variant
from kerakit.testing import SweepData

_TINY = {"input_shape": (6,), "num_classes": 3, "num_layers": 2,
         "hidden_dim": 8}

_KNOBS = (
    Knob("depth", "num_layers", min_value=1, max_value=6, step=1),
    Knob("width", "hidden_dim", values=(32, 64, 128, 256, 512)),
    Knob("dropout", "dropout", min_value=0.0, max_value=0.5, step=0.1),
)


def check_task(task: str, num_classes: int | None, num_outputs: int,
               model: str) -> int:
    """Validate `task` and return the number of output units.

    Example:
    >>> check_task("regression", None, 2, "mlp")
    2
    """
    if task == "classification":
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"{model}: a classifier needs num_classes >= 1. Received: "
                f"num_classes={num_classes!r}. For a regressor pass "
                "task='regression' and num_outputs=..."
            )
        return num_classes
    if task == "regression":
        if num_outputs < 1:
            raise ValueError(
                f"{model}: num_outputs must be >= 1. "
                f"Received: num_outputs={num_outputs!r}"
            )
        return num_outputs
    raise ValueError(
        f"{model}: task must be 'classification' or 'regression'. "
        f"Received: task={task!r}"
    )


def check_depth_width(num_layers: int, hidden_dim: int, dropout: float,
                      model: str, min_layers: int = 0) -> None:
    """Validate the shared depth/width/dropout arguments.

    Example:
    >>> check_depth_width(2, 8, 0.1, "mlp")
    """
    if num_layers < min_layers:
        raise ValueError(
            f"{model}: num_layers must be >= {min_layers}. "
            f"Received: num_layers={num_layers!r}"
        )
    if hidden_dim < 1:
        raise ValueError(
            f"{model}: hidden_dim must be >= 1. "
            f"Received: hidden_dim={hidden_dim!r}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(
            f"{model}: dropout must be in [0, 1). Received: dropout={dropout!r}"
        )


def output_layer(
    x: Any, units: int, *, task: str, activation: str | None, dtype: Any,
    name: str,
) -> Any:
    """Apply the final Dense layer of a classifier or regressor.

    Example:
    >>> output_layer(keras.Input((4,)), 2, task="regression",
    ...              activation=None, dtype=None, name="m").shape
    (None, 2)
    """
    suffix = "predictions" if task == "classification" else "regression"
    return keras.layers.Dense(
        units, activation=activation, dtype=dtype, name=f"{name}_{suffix}"
    )(x)


@register(
    family="mlp",
    task="classification",
    tiny=_TINY,
    reference="Rumelhart, Hinton & Williams, 1986. Learning representations "
    "by back-propagating errors.",
    canonical={"input_shape": (784,), "num_classes": 10},
    params=669_706,
    knobs=_KNOBS,
    test={"data": lambda kwargs: _tabular_data(kwargs)},
)
def mlp(
    input_shape: Sequence[int] = (784,),
    num_classes: int | None = 10,
    *,
    num_layers: int = 2,
    hidden_dim: int = 512,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    task: Literal["classification", "regression"] = "classification",
    num_outputs: int = 1,
    classifier_activation: str | None = None,
    dtype: Any = None,
    name: str = "mlp",
) -> keras.Model:
    """Build a multi-layer perceptron classifier or regressor.

    Each hidden block is Dense -> (BatchNormalization) -> activation ->
    (Dropout). Inputs with more than one axis are flattened first.

    Args:
        input_shape: Feature shape without batch, e.g. `(784,)` or
            `(28, 28)` (flattened).
        num_classes: Number of output logits when `task="classification"`.
        num_layers: Number of hidden Dense blocks (depth, 0 = linear model).
        hidden_dim: Units of every hidden block (width).
        activation: Hidden activation.
        dropout: Dropout rate after every hidden block.
        batch_norm: Whether to normalise before each hidden activation.
        task: `"classification"` (logits) or `"regression"`
            (`num_outputs` linear values).
        num_outputs: Output width of a regressor.
        classifier_activation: Output activation (`None`: logits/linear).
        dtype: Dtype or mixed-precision policy for every layer.
        name: Model name.

    Returns:
        Functional `keras.Model` from features to logits (or values).

    Example:
    >>> import kerakit
    >>> m = kerakit.build("mlp", input_shape=(4,), num_classes=3,
    ...                   num_layers=1, hidden_dim=8)
    >>> m.output_shape
    (None, 3)

    Reference:
        Rumelhart, Hinton & Williams, 1986. https://doi.org/10.1038/323533a0
    """
    units = check_task(task, num_classes, num_outputs, name)
    check_depth_width(num_layers, hidden_dim, dropout, name)
    if not input_shape or any(s is None or s < 1 for s in input_shape):
        raise ValueError(
            f"{name}: input_shape needs known positive sizes, e.g. (784,). "
            f"Received: input_shape={input_shape!r}"
        )
    inputs = keras.Input(tuple(input_shape), dtype=input_dtype(dtype),
                         name="features")
    x = inputs
    if len(input_shape) > 1:
        x = keras.layers.Flatten(dtype=dtype, name=f"{name}_flatten")(x)
    for i in range(1, num_layers + 1):
        x = keras.layers.Dense(
            hidden_dim, use_bias=not batch_norm, dtype=dtype,
            name=f"{name}_dense{i}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(
                dtype=dtype, name=f"{name}_bn{i}"
            )(x)
        x = keras.layers.Activation(
            activation, dtype=dtype, name=f"{name}_act{i}"
        )(x)
        if dropout:
            x = keras.layers.Dropout(
                dropout, dtype=dtype, name=f"{name}_dropout{i}"
            )(x)
    x = output_layer(x, units, task=task, activation=classifier_activation,
                     dtype=dtype, name=name)
    return keras.Model(inputs, x, name=name)


def _tabular_data(kwargs: Mapping[str, Any]) -> SweepData:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, *kwargs["input_shape"])).astype("float32")
    if kwargs.get("task") == "regression":
        width = kwargs.get("num_outputs", 1)
        y = rng.normal(size=(8, width)).astype("float32")
        return SweepData(x, y, "mse", (8, width))
    y = np.arange(8) % kwargs["num_classes"]
    return SweepData(
        x, y, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        (8, kwargs["num_classes"]),
    )


mlp_regressor = register(
    family="mlp",
    task="regression",
    tiny={"input_shape": (6,), "num_outputs": 2, "num_layers": 2,
          "hidden_dim": 8, "batch_norm": True, "dropout": 0.1},
    reference="Rumelhart, Hinton & Williams, 1986. Learning representations "
    "by back-propagating errors.",
    knobs=_KNOBS,
    test={"data": lambda kwargs: _tabular_data(
        {**kwargs, "task": "regression"})},
)(variant(mlp, "mlp_regressor",
          "MLP regressor: `num_outputs` linear outputs, no classes.",
          task="regression", num_classes=None))
