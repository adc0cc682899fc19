r"""TU Dortmund graph-classification datasets in their text format.

A folder holds, for a dataset NAME (MUTAG, PROTEINS, ...; Morris et al.,
2020, https://chrsmrrs.github.io/datasets/):

- `NAME_A.txt`: one edge per line, `source, target`, 1-based node ids
  over all graphs;
- `NAME_graph_indicator.txt`: line i is the graph (1-based) of node i;
- `NAME_graph_labels.txt`: one class per graph (any integers: they are
  mapped to 0..C-1 in sorted order, and the original values become the
  class names);
- optional `NAME_node_labels.txt` (one integer per node: categorical,
  one-hot encoded by the preprocessing), `NAME_node_attributes.txt`
  (comma-separated numbers per node) and `NAME_edge_attributes.txt`
  (numbers per line of `NAME_A.txt`; the Graph Transformer's edge
  features). Edge labels are not read.

`tudataset:PATH` reads PATH, PATH/NAME or PATH/raw with exactly one such
dataset, or `FOLDER/NAME` for the files in FOLDER.

Example:
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for part, text in [("A", "1, 2\n2, 1\n3, 4\n4, 3\n"),
...                    ("graph_indicator", "1\n1\n2\n2\n"),
...                    ("graph_labels", "-1\n1\n")]:
...     _ = (root / f"T_{part}.txt").write_text(text)
>>> data = load_tudataset(str(root))
>>> len(data.graphs), data.labels.tolist(), data.class_names
(2, [0, 1], ['-1', '1'])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kerakit.data.graph_types import Graph
from kerakit.data.graph_types import GraphSet
from kerakit.data.graph_types import missing_files
from kerakit.data.splits import DataError

REQUIRED = ("A", "graph_indicator", "graph_labels")
WHERE = ("Get a dataset from https://chrsmrrs.github.io/datasets/ (e.g. "
         "MUTAG.zip), unzip it and point dataset.name at the folder "
         "(tudataset:/path/to/MUTAG).")


def find_tudataset(path: str) -> tuple[Path, str]:
    """The folder holding `NAME_A.txt` and NAME, for `tudataset:PATH`."""
    root = Path(path).expanduser()
    for folder in (root, root / root.name, root / "raw"):
        names = sorted(p.name[:-6] for p in folder.glob("*_A.txt"))
        if folder.is_dir() and names:
            if root.name in names:
                return folder, root.name
            if len(names) > 1:
                raise DataError(
                    f"{folder} holds the TU datasets {names}: name one, "
                    f"e.g. tudataset:{folder / names[0]}.")
            return folder, names[0]
    if (root.parent / f"{root.name}_A.txt").is_file():
        return root.parent, root.name
    missing_files("TU dataset", path, [f"NAME_{p}.txt" for p in REQUIRED],
                  WHERE)
    raise AssertionError  # unreachable: missing_files raises


def _read(path: Path, dtype: str, columns: int | None = None) -> np.ndarray:
    if not path.read_text().strip():
        return np.zeros((0, columns or 1), dtype)
    try:
        array = np.loadtxt(path, dtype=dtype, delimiter=",", ndmin=2)
    except ValueError as err:
        raise DataError(f"{path}: cannot read it as comma-separated "
                        f"{'integers' if dtype == 'int64' else 'numbers'} "
                        f"({err}).") from None
    if columns is not None and array.shape[1] != columns:
        raise DataError(f"{path}: expected {columns} value(s) per line, got "
                        f"{array.shape[1]}.")
    return array


def load_tudataset(path: str) -> GraphSet:
    """Read a TU dataset folder into a `GraphSet` (see the module doc)."""
    folder, name = find_tudataset(path)
    file = {part: folder / f"{name}_{part}.txt" for part in (
        *REQUIRED, "node_labels", "node_attributes", "edge_attributes")}
    absent = [file[p].name for p in REQUIRED if not file[p].is_file()]
    if absent:
        missing_files("TU dataset", str(folder), absent, WHERE)
    edges = _read(file["A"], "int64", 2) - 1
    indicator = _read(file["graph_indicator"], "int64", 1)[:, 0]
    graph_labels = _read(file["graph_labels"], "int64", 1)[:, 0]
    num_nodes, num_graphs = len(indicator), len(graph_labels)
    if indicator.min() < 1 or indicator.max() != num_graphs:
        raise DataError(
            f"{file['graph_indicator']}: graph ids must run 1..{num_graphs} "
            f"(one label per graph in {file['graph_labels'].name}); they "
            f"run {indicator.min()}..{indicator.max()}.")
    if len(edges) and (edges.min() < 0 or edges.max() >= num_nodes):
        raise DataError(
            f"{file['A']}: node ids must lie in 1..{num_nodes} (the lines "
            f"of {file['graph_indicator'].name}); they run "
            f"{edges.min() + 1}..{edges.max() + 1}.")
    optional = {}
    for part, dtype, columns in (("node_labels", "int64", 1),
                                 ("node_attributes", "float32", None),
                                 ("edge_attributes", "float32", None)):
        if file[part].is_file():
            optional[part] = _read(file[part], dtype, columns)
            per_edge = part.startswith("edge")
            expected = len(edges) if per_edge else num_nodes
            if len(optional[part]) != expected:
                lines = file["A" if per_edge else "graph_indicator"].name
                raise DataError(
                    f"{file[part]}: {len(optional[part])} lines for "
                    f"{expected} {'edges' if per_edge else 'nodes'}; give "
                    f"one per line of {lines}.")
    graph_of_edge = indicator[edges[:, 0]] if len(edges) else edges[:, 0]
    crossing = len(edges) and (graph_of_edge != indicator[edges[:, 1]])
    if np.any(crossing):
        row = int(np.flatnonzero(crossing)[0])
        raise DataError(f"{file['A']}: line {row + 1} joins nodes of two "
                        "different graphs.")
    order = np.argsort(indicator, kind="stable")
    starts = np.searchsorted(indicator[order], np.arange(1, num_graphs + 2))
    local = np.empty(num_nodes, "int64")
    edge_order = np.argsort(graph_of_edge, kind="stable")
    edge_starts = np.searchsorted(graph_of_edge[edge_order],
                                  np.arange(1, num_graphs + 2))
    graphs = []
    for g in range(num_graphs):
        nodes = order[starts[g]:starts[g + 1]]
        local[nodes] = np.arange(len(nodes))
        rows = edge_order[edge_starts[g]:edge_starts[g + 1]]
        attrs = optional.get("node_attributes")
        labels = optional.get("node_labels")
        edge_attrs = optional.get("edge_attributes")
        graphs.append(Graph(
            local[edges[rows]], len(nodes),
            None if attrs is None else attrs[nodes],
            None if labels is None else labels[nodes, 0],
            None if edge_attrs is None else edge_attrs[rows]))
    values, classes = np.unique(graph_labels, return_inverse=True)
    return GraphSet(f"tudataset:{path}", graphs, classes.astype("int64"),
                    len(values), [str(v) for v in values])
