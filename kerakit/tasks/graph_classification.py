"""Graph classification: many small graphs, one class each.

A step's batch is `batch_size` graphs packed as one disjoint union
(`kerakit.data.graph_preprocessing.pack_graphs`, batch axis 1): node ids
shifted per graph, `"graph_index"` naming each node's graph slot. The model
(a `kerakit.models.graph` model with `readout = "mean" | "sum" | "max"` and
a static `max_graphs >= batch_size`) pools its node states per slot and
outputs `(1, max_graphs, num_classes)` logits; labels and sample weights
are `(1, max_graphs)`; real graphs weigh 1 and empty slots (the last,
smaller batch; spare slots) 0, so each step's loss is the mean over its
real graphs and accuracy counts real graphs only
(`Task.weighted_metrics`). An evaluation's loss is the mean of its steps'
losses, as Keras reports it. Unions are padded to a
fixed node and edge count per dataset, so every step has one shape (one
compilation on JAX and TensorFlow).

The graphs are split into train/validation/test by
`dataset.test_fraction` and `dataset.validation_fraction`, stratified by
class, from the seed; the training graphs are reshuffled every epoch,
deterministically from the seed and the epoch (so a resumed run sees the
same batches).

`kerakit.predict(run_dir)` classifies every graph of the run's dataset;
`kerakit.predict(run_dir, "tudataset:DIR")` (or a TU folder, a
`graph:PATH` / `.npz` graph, or a list of them) classifies other graphs.

Example:
>>> task = GraphClassificationTask()
>>> task.name, task.defaults["monitor"]
('graph_classification', 'val_accuracy')
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.graph_preprocessing import GraphPreprocessor
from kerakit.data.graph_preprocessing import pack_graphs
from kerakit.data.graphs import SPLITS
from kerakit.data.graphs import Graph
from kerakit.data.graphs import GraphSet
from kerakit.data.graphs import load_graph_data
from kerakit.data.graphs import split_graphs
from kerakit.data.splits import DataError
from kerakit.data.splits import Splits
from kerakit.tasks.classification import ClassificationTask
from kerakit.tasks.classification import check_class_labels
from kerakit.tasks.node_classification import check_graph_recipe
from kerakit.tasks.node_classification import check_inputs
from kerakit.tasks.node_classification import digest
from kerakit.tasks.node_classification import input_shapes
from kerakit.tasks.node_classification import positions_of
from kerakit.tasks.node_classification import read_graphs


class GraphBatches(keras.utils.PyDataset):
    """Disjoint unions of `batch_size` graphs for a graph-level model.

    Args:
        model: The model (its inputs and `max_graphs` output slots).
        graphs: Preprocessed graphs.
        labels: Class per graph, or `None` (predict: inputs only).
        batch_size: Graphs per step (at most the model's `max_graphs`).
        seed: Seed of the shuffling.
        epoch: First epoch (set when resuming).
        shuffle: Reshuffle every epoch (training).
    """

    def __init__(self, model: keras.Model, graphs: list[Graph],
                 labels: np.ndarray | None, batch_size: int, *,
                 seed: int = 0, epoch: int = 0, shuffle: bool = False):
        """Check the model's inputs; size the padding (see class doc)."""
        super().__init__()
        self.shapes = input_shapes(model)
        for graph in graphs[:1]:
            check_inputs(self.shapes, graph, graph_level=True)
        self.slots = int(model.output.shape[1])
        self.batch_size = min(int(batch_size), self.slots)
        self.graphs, self.labels = graphs, labels
        self.seed, self.epoch, self.shuffle = seed, epoch, shuffle
        top = self.batch_size
        self.num_nodes = max(1, sum(sorted(
            (g.num_nodes for g in graphs), reverse=True)[:top]))
        self.num_edges = max(1, sum(sorted(
            (len(g.edges) for g in graphs), reverse=True)[:top]))
        self._order()

    def _order(self) -> None:
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(
            len(self.graphs)) if self.shuffle else np.arange(len(self.graphs))

    def __len__(self) -> int:
        """Steps per epoch."""
        return math.ceil(len(self.graphs) / self.batch_size)

    def __getitem__(self, index: int) -> Any:
        """`(x, labels, weights)` of step `index` (`(x,)` to predict)."""
        ids = self.order[index * self.batch_size:(index + 1) *
                         self.batch_size]
        graphs = [self.graphs[i] for i in ids]
        extra = None
        if "positions" in self.shapes:
            k = self.shapes["positions"][-1]
            extra = [{"positions": positions_of(g, k)} for g in graphs]
        x = pack_graphs(graphs, num_nodes=self.num_nodes,
                        num_edges=self.num_edges, node_arrays=extra)
        x = {k: v for k, v in x.items() if k in self.shapes}
        if self.labels is None:
            return (x,)
        y = np.zeros((1, self.slots), "int32")
        y[0, :len(ids)] = self.labels[ids]
        weights = np.zeros((1, self.slots), "float32")
        weights[0, :len(ids)] = 1.0
        return x, y, weights

    def on_epoch_end(self) -> None:
        """Reshuffle the training graphs for the next epoch."""
        if self.shuffle:
            self.epoch += 1
            self._order()


class GraphClassificationTask(ClassificationTask):
    """Classify small graphs, batched as disjoint unions (module doc)."""

    # A batch is a union of graphs (one block adjacency), not rows.
    data_parallel = False
    name = "graph_classification"
    description = ("many small graphs, a class each -> logits per graph "
                   "(disjoint-union batches, mean/sum/max readout)")
    model_tasks = ("graph_classification",)
    defaults = {"loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"], "monitor": "val_accuracy"}
    weighted_metrics = True

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """A graph dataset, a readout and `max_graphs >= batch_size`."""
        check_graph_recipe(self.name, fields, loss_name)
        kwargs = fields["model_kwargs"]
        if kwargs.get("readout") not in ("mean", "sum", "max"):
            raise ValueError(
                "model_kwargs.readout: graph classification pools each "
                "graph's nodes: set readout = 'mean', 'sum' or 'max'. "
                f"Received: {kwargs.get('readout')!r}.")
        slots = kwargs.get("max_graphs")
        if not isinstance(slots, int) or isinstance(slots, bool) or (
                slots < fields["batch_size"]):
            raise ValueError(
                "model_kwargs.max_graphs: a step packs batch_size "
                f"({fields['batch_size']}) graphs into the model's "
                "max_graphs output slots: set max_graphs >= batch_size "
                f"(e.g. {fields['batch_size']}). Received: {slots!r}.")

    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Load, check and split the graphs; `(graphs, labels)` each."""
        data = load_graph_data(dataset, seed)
        if not isinstance(data, GraphSet):
            raise DataError(
                f"dataset {data.name!r} is one graph with a class per "
                "node: use task = 'node_classification'.")
        if len(data.graphs) < 3:
            raise DataError(f"dataset {data.name!r} has {len(data.graphs)} "
                            "graphs; train, validation and test need one "
                            "each at least.")
        given = (model_kwargs or {}).get("num_classes")
        num_classes = int(given) if isinstance(given, int) else (
            data.num_classes)
        check_class_labels({"all": (None, data.labels)}, data.name,
                           num_classes)
        parts = split_graphs(data.labels, dataset, seed)
        pre = GraphPreprocessor.from_recipe(
            preprocessing, data.num_classes, data.class_names).fit(
            [data.graphs[i] for i in parts[0]])
        out, fingerprint = [], {}
        for split, ids in zip(SPLITS, parts, strict=True):
            graphs = [pre.transform(data.graphs[i], f"dataset {data.name!r}"
                                    f", graph {i}") for i in ids]
            out.append((graphs, data.labels[ids]))
            raw = [data.graphs[i] for i in ids]
            fingerprint[split] = {"examples": len(ids), "sha256": digest(
                data.labels[ids], *[a for g in raw for a in (
                    g.edges, _or_empty(g.features), _or_empty(
                        g.node_labels))])}
        return Splits(*out, (None, pre.num_features), data.num_classes,
                      list(data.class_names), pre, fingerprint)

    def steps_per_epoch(self, splits: Splits, batch_size: int) -> int:
        """Unions per epoch."""
        return -(-len(splits.train[1]) // batch_size)

    def fit(self, model: keras.Model, splits: Splits, *, batch_size: int,
            seed: int, epochs: int, initial_epoch: int,
            callbacks: list[keras.callbacks.Callback],
            verbose: Any = "auto", run_dir: Path | None = None) -> None:
        """`model.fit` on shuffled unions, validating every epoch."""
        train = GraphBatches(model, *splits.train, batch_size, seed=seed,
                             epoch=initial_epoch, shuffle=True)
        validation = GraphBatches(model, *splits.validation, batch_size)
        model.fit(train, validation_data=validation, epochs=epochs,
                  initial_epoch=initial_epoch, callbacks=callbacks,
                  verbose=verbose)

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """Loss and metrics over the graphs of one split."""
        out = model.evaluate(GraphBatches(model, *pair, batch_size),
                             return_dict=True, verbose=0)
        return {k: float(v) for k, v in out.items()}

    # ---------------------------------------------------------- inference
    def load_preprocessor(self, path: Path) -> GraphPreprocessor:
        """The run's `GraphPreprocessor`."""
        return GraphPreprocessor.load(path)

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> list[Graph]:
        """The graphs to classify, preprocessed (see module doc)."""
        return [preprocessor.transform(g, f"graph {i}")
                for i, g in enumerate(read_graphs(inputs, recipe))]

    def predict(self, model: keras.Model, x: Any,
                class_names: list[str]) -> dict[str, Any]:
        """`{"classes", "class_names", "probabilities"}`, one per graph."""
        batches = GraphBatches(model, x, None, int(model.output.shape[1]))
        logits = [model.predict_on_batch(batches[i][0])[0][:len(ids)]
                  for i, ids in enumerate(_chunks(len(x),
                                                  batches.batch_size))]
        return self.predict_logits(np.concatenate(
            [keras.ops.convert_to_numpy(v) for v in logits]), class_names)


def _or_empty(array: Any) -> np.ndarray:
    return np.zeros(0) if array is None else np.asarray(array)


def _chunks(n: int, size: int) -> list[range]:
    return [range(i, min(i + size, n)) for i in range(0, n, size)]
