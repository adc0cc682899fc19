"""Node classification: one graph, a class per node, masked splits.

The whole graph is one batch (batch 1), as in the GCN and GAT papers: the
model sees every node, and the train/validation/test node masks say which
nodes count. Keras `fit` gets labels `(1, nodes)` and sample weights
`(1, nodes)`, the split's mask (1 on its nodes, 0 elsewhere); with
`Task.weighted_metrics` the loss is the mean over the masked nodes
(`reduction="mean_with_sample_weight"`) and the metrics are Keras
`weighted_metrics`, so accuracy counts the masked nodes only. Validation
runs every epoch on the validation mask, the workflow keeps the best
weights and stops early, and the test mask is evaluated once at the end.

Inputs are built for the model's named inputs (`kerakit.models.graph`):
`"features"`, `"edges"`, and `"positions"` (Laplacian eigenvectors,
computed here with `kerakit.models.graph.positions.laplacian_positions`,
`k` from the model's input) or `"edge_features"` when the model takes
them.

`kerakit.predict(run_dir)` predicts every node of the run's own graph;
`kerakit.predict(run_dir, "graph:other.npz")` (or a path ending in
`.npz`, another graph dataset name, or a dict with `edges` and `features`)
predicts the nodes of another graph with the same feature columns. The
result is `{"nodes", "classes", "class_names", "probabilities"}`.

Example:
>>> task = NodeClassificationTask()
>>> y, w = task.targets(np.array([2, -1, 0, -1]))
>>> y.tolist(), w.tolist()
([[2, 0, 0, 0]], [[1.0, 0.0, 1.0, 0.0]])
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.data.graph_preprocessing import GraphPreprocessor
from kerakit.data.graphs import SPLITS
from kerakit.data.graphs import Graph
from kerakit.data.graphs import GraphSet
from kerakit.data.graphs import NodeData
from kerakit.data.graphs import check_graph
from kerakit.data.graphs import is_graph_dataset
from kerakit.data.graphs import load_graph_data
from kerakit.data.graphs import load_graph_npz
from kerakit.data.splits import DataError
from kerakit.data.splits import Splits
from kerakit.tasks.classification import ClassificationTask
from kerakit.tasks.classification import check_class_labels

# Array preprocessing a graph recipe must leave at its defaults.
_ARRAY_DEFAULTS = {"standardize": False, "image_size": [], "channels": 0,
                   "one_hot": False, "sequence_length": 0, "tokenizer": "",
                   "vocabulary_size": 0}


def check_graph_recipe(task: str, fields: dict[str, Any],
                       loss_name: str) -> None:
    """Refuse settings a graph task cannot honour (`"FIELD: problem"`)."""
    if loss_name == "none":
        raise ValueError(f"loss: is 'none' but task = {task!r} fits the "
                         "model against class labels: name a loss.")
    name = fields["dataset"]["name"]
    if not is_graph_dataset(name):
        raise ValueError(
            f"dataset.name: task = {task!r} needs a graph dataset "
            "(networkx:karate, networkx:cycles_vs_paths, planetoid:DIR, "
            f"tudataset:DIR, graph:PATH). Received: {name!r}.")
    pre = fields["preprocessing"]
    changed = [k for k, v in _ARRAY_DEFAULTS.items() if pre.get(k, v) != v]
    if str(pre.get("rescale", 1.0)) not in ("1", "1.0"):
        changed.insert(0, "rescale")
    if any(v not in (0, 0.0, "none") for v in pre.get("augment", {}
                                                       ).values()):
        changed.append("augment")
    if changed:
        raise ValueError(
            f"preprocessing.{changed[0]}: applies to arrays, images and "
            f"text, not to graphs (task = {task!r}); the graph "
            "preprocessing is row_normalize.")


def input_shapes(model: keras.Model) -> dict[str, tuple]:
    """The model's named inputs and their shapes."""
    struct = model.input
    if not isinstance(struct, dict):
        raise ValueError(
            f"Model {model.name!r} takes unnamed inputs; a graph task feeds "
            "a dict (features, edges, ...): use a kerakit.models.graph "
            "model.")
    return {k: tuple(v.shape) for k, v in struct.items()}


def positions_of(graph: Graph, k: int) -> np.ndarray:
    """`(nodes, k)` Laplacian eigenvectors of `graph`, computed once."""
    from kerakit.models.graph.positions import laplacian_positions

    key = ("positions", k)
    if key not in graph.cache:
        graph.cache[key] = laplacian_positions(graph.edges, graph.num_nodes,
                                               k)
    return graph.cache[key]


def check_inputs(shapes: dict[str, tuple], graph: Graph,
                 graph_level: bool) -> None:
    """Refuse a model whose inputs the graph cannot fill."""
    width = shapes.get("features", (None,))[-1]
    if width is not None and width != graph.features.shape[1]:
        raise DataError(
            f"The model takes {width} node features but the graph has "
            f"{graph.features.shape[1]}: leave model_kwargs.input_shape "
            "out (it comes from the data).")
    if "graph_index" in shapes and not graph_level:
        raise DataError("The model has a readout (model_kwargs.readout): it "
                        "classifies graphs; use task = "
                        "'graph_classification', or drop the readout.")
    if graph_level and "graph_index" not in shapes:
        raise DataError("The model classifies nodes: set "
                        "model_kwargs.readout ('mean', 'sum' or 'max') and "
                        "max_graphs for graph classification.")
    if "edge_features" in shapes and graph.edge_features is None:
        raise DataError("The model takes edge features (model_kwargs."
                        "edge_dim) but the dataset has none: remove "
                        "edge_dim.")
    unknown = set(shapes) - {"features", "edges", "positions",
                             "edge_features", "graph_index"}
    if unknown:
        raise DataError(f"The model takes inputs {sorted(unknown)} that no "
                        "graph dataset provides.")


def graph_arrays(model: keras.Model, graph: Graph) -> dict[str, np.ndarray]:
    """One graph as the model's input dict, batch 1."""
    shapes = input_shapes(model)
    check_inputs(shapes, graph, graph_level=False)
    out = {"features": graph.features[None],
           "edges": np.asarray(graph.edges, "int32").reshape(1, -1, 2)}
    if "positions" in shapes:
        out["positions"] = positions_of(graph, shapes["positions"][-1])[None]
    if "edge_features" in shapes:
        out["edge_features"] = graph.edge_features[None]
    return out


def digest(*arrays: Any) -> str:
    """A short SHA-256 of arrays (dtype, shape and bytes)."""
    h = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(f"{array.dtype.str}{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()[:16]


def read_graphs(inputs: Any, recipe: Any) -> list[Graph]:
    """Raw graphs to predict on, read from what `kerakit.predict` got.

    `None` (the run's dataset), a dataset name (`graph:PATH`,
    `tudataset:DIR`...), a `.npz` path, a directory (TU format), a `Graph`
    or a dict with `edges` and `features`, or a list of them.
    """
    if isinstance(inputs, (list, tuple)):
        return [g for item in inputs for g in read_graphs(item, recipe)]
    if isinstance(inputs, Graph):
        check_graph(inputs, "the graph")
        return [inputs]
    if isinstance(inputs, dict):
        graph = Graph(np.asarray(inputs["edges"]), len(inputs["features"]),
                      np.asarray(inputs["features"]),
                      edge_features=inputs.get("edge_features"))
        check_graph(graph, "the graph")
        return [graph]
    if inputs is None:
        data = load_graph_data(recipe.dataset, recipe.seed)
    elif isinstance(inputs, (str, os.PathLike)):
        text = str(inputs)
        if Path(text).suffix == ".npz" or text.startswith("graph:"):
            path = text.removeprefix("graph:")
            data = load_graph_npz(path, labels_required=False)
            check_graph(data.graph, path)
        elif is_graph_dataset(text) or Path(text).is_dir():
            name = text if is_graph_dataset(text) else f"tudataset:{text}"
            data = load_graph_data({"name": name}, recipe.seed)
        else:
            raise ValueError(
                f"Input {text!r}: give a graph (.npz with edges and "
                "features, graph:PATH, tudataset:DIR, planetoid:DIR), or "
                "no input for the run's own dataset.")
    else:
        raise ValueError("A graph run predicts on graphs: give a .npz path, "
                         "a graph dataset name, a dict with edges and "
                         f"features, or None. Received: {type(inputs)}.")
    return data.graphs if isinstance(data, GraphSet) else [data.graph]


class NodeClassificationTask(ClassificationTask):
    """Full-batch node classification on one graph with node masks."""

    # One graph is the whole batch: there are no rows to share out.
    data_parallel = False
    name = "node_classification"
    description = ("one graph: node labels -> logits per node; train/"
                   "validation/test node masks; accuracy on masked nodes")
    model_tasks = ("node_classification",)
    defaults = {"loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"], "monitor": "val_loss"}
    weighted_metrics = True

    def check_recipe(self, fields: dict[str, Any], loss_name: str) -> None:
        """A graph dataset, no array preprocessing, no readout."""
        check_graph_recipe(self.name, fields, loss_name)
        if fields["model_kwargs"].get("readout") is not None:
            raise ValueError(
                "model_kwargs.readout: a readout pools nodes into graphs; "
                "node classification needs per-node logits: remove it, or "
                "set task = 'graph_classification'.")

    def load_splits(self, dataset: dict[str, Any],
                    preprocessing: dict[str, Any], seed: int,
                    model_kwargs: dict[str, Any] | None = None) -> Splits:
        """Load and check the graph; each split is `(graph, labels)`.

        The labels are -1 on the nodes outside the split's mask.
        """
        data = load_graph_data(dataset, seed)
        if not isinstance(data, NodeData):
            raise DataError(
                f"dataset {data.name!r} holds {len(data.graphs)} graphs "
                "with a class each: use task = 'graph_classification'.")
        given = (model_kwargs or {}).get("num_classes")
        num_classes = int(given) if isinstance(given, int) else (
            data.num_classes)
        check_class_labels({split: (None, data.labels[mask]) for split, mask
                            in data.masks.items()}, data.name, num_classes)
        pre = GraphPreprocessor.from_recipe(
            preprocessing, data.num_classes, data.class_names).fit(
            [data.graph])
        graph = pre.transform(data.graph, f"dataset {data.name!r}")
        raw = data.graph
        parts, fingerprint = [], {}
        for split in SPLITS:
            mask = data.masks[split]
            y = np.where(mask, data.labels, -1)
            parts.append((graph, y))
            fingerprint[split] = {"examples": int(mask.sum()), "sha256":
                                  digest(raw.features, raw.edges, y)}
        return Splits(*parts, (None, pre.num_features), data.num_classes,
                      list(data.class_names), pre, fingerprint)

    def count_examples(self, splits: Splits) -> dict[str, int]:
        """Labelled nodes per split."""
        return {split: int((getattr(splits, split)[1] >= 0).sum())
                for split in SPLITS}

    def steps_per_epoch(self, splits: Splits, batch_size: int) -> int:
        """One step per epoch: the whole graph is the batch."""
        return 1

    @staticmethod
    def targets(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels `(1, N)` and sample weights `(1, N)` of one split.

        Labels are 0 where unlabelled; the weights are the split's mask (1
        on its nodes, 0 elsewhere).
        """
        mask = (np.asarray(y) >= 0).astype("float32")
        return np.maximum(y, 0).astype("int32")[None], mask[None]

    def fit(self, model: keras.Model, splits: Splits, *, batch_size: int,
            seed: int, epochs: int, initial_epoch: int,
            callbacks: list[keras.callbacks.Callback],
            verbose: Any = "auto", run_dir: Path | None = None) -> None:
        """Full-batch `model.fit`, validating on the validation mask."""
        x = graph_arrays(model, splits.train[0])
        y, weights = self.targets(splits.train[1])
        val_y, val_weights = self.targets(splits.validation[1])
        model.fit(x, y, sample_weight=weights, batch_size=1, epochs=epochs,
                  initial_epoch=initial_epoch, shuffle=False,
                  validation_data=(x, val_y, val_weights),
                  callbacks=callbacks, verbose=verbose)

    def evaluate(self, model: keras.Model, pair: tuple, batch_size: int,
                 seed: int = 0) -> dict[str, float]:
        """Loss and metrics over the nodes of one split's mask."""
        y, weights = self.targets(pair[1])
        out = model.evaluate(graph_arrays(model, pair[0]), y,
                             sample_weight=weights, batch_size=1,
                             return_dict=True, verbose=0)
        return {k: float(v) for k, v in out.items()}

    # ---------------------------------------------------------- inference
    def load_preprocessor(self, path: Path) -> GraphPreprocessor:
        """The run's `GraphPreprocessor`."""
        return GraphPreprocessor.load(path)

    def predict_inputs(self, inputs: Any, preprocessor: Any,
                       recipe: Any) -> Graph:
        """The one graph to predict on, preprocessed (see module doc)."""
        graphs = read_graphs(inputs, recipe)
        if len(graphs) != 1:
            raise ValueError(f"The inputs hold {len(graphs)} graphs; node "
                             "classification predicts on one graph.")
        return preprocessor.transform(graphs[0])

    def predict(self, model: keras.Model, x: Any,
                class_names: list[str]) -> dict[str, Any]:
        """`{"nodes", "classes", "class_names", "probabilities"}`."""
        logits = model.predict(graph_arrays(model, x), batch_size=1,
                               verbose=0)[0]
        out = self.predict_logits(logits, class_names)
        return {"nodes": list(range(x.num_nodes)), **out}
