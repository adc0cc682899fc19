"""Random sign flips of Laplacian eigenvectors (training only)."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="kerakit")
class RandomSignFlip(keras.layers.Layer):
    """Flip the sign of each positional eigenvector at random in training.

    A Laplacian eigenvector is defined only up to its sign, so Dwivedi &
    Bresson flip each one at random during training and let the model learn
    to ignore the sign. Input: positions `(batch, nodes, k)`, or `[positions,
    graph_index]` with a `(batch, nodes)` graph id per node of a disjoint
    union, in which case every graph draws its own signs (a padding node,
    id `-1`, draws too and does not matter). At inference (and with
    `training=False`) the layer is the identity.

    Args:
        max_graphs: Graphs per union when a graph index is given (a static
            count); `None` draws one sign per sample and eigenvector.
        seed: Optional integer seed.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
    >>> layer = RandomSignFlip(seed=0)
    >>> x = keras.ops.ones((1, 3, 2))
    >>> bool(keras.ops.all(layer(x) == x))  # inference: unchanged
    True
    >>> flipped = keras.ops.abs(layer(x, training=True))
    >>> bool(keras.ops.all(flipped == x))  # training: only signs change
    True

    Reference:
        Dwivedi & Bresson, 2020. https://arxiv.org/abs/2012.09699
    """

    def __init__(self, max_graphs: int | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if max_graphs is not None and (
            isinstance(max_graphs, bool) or not isinstance(max_graphs, int)
            or max_graphs < 1
        ):
            raise ValueError(
                "max_graphs must be None or a positive int. Received: "
                f"max_graphs={max_graphs!r}"
            )
        # Config
        self.max_graphs = max_graphs
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        by_graph = isinstance(inputs, (list, tuple))
        positions = inputs[0] if by_graph else inputs
        if not training:
            return positions
        batch = keras.ops.shape(positions)[0]
        k = positions.shape[-1]
        if by_graph and self.max_graphs is not None:
            slots = self.max_graphs + 1  # the last slot: padding nodes
            noise = keras.random.uniform((batch, slots, k),
                                         seed=self.seed_generator)
            graph_index = keras.ops.cast(inputs[1], "int32")
            valid = keras.ops.logical_and(graph_index >= 0,
                                          graph_index < self.max_graphs)
            slot = keras.ops.where(valid, graph_index, self.max_graphs)
            slot = keras.ops.expand_dims(slot, -1) + keras.ops.zeros(
                (1, 1, k), "int32")
            noise = keras.ops.take_along_axis(noise, slot, axis=1)
        else:
            noise = keras.random.uniform((batch, 1, k),
                                         seed=self.seed_generator)
        sign = keras.ops.where(noise < 0.5, -1.0, 1.0)
        return positions * keras.ops.cast(sign, positions.dtype)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        if isinstance(input_shape, list) and isinstance(
                input_shape[0], (list, tuple)):
            return tuple(input_shape[0])
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"max_graphs": self.max_graphs, "seed": self.seed})
        return config
