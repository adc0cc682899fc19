"""Small graph dataset files for tests, written in the real formats.

`write_planetoid` writes the eight Planetoid files as the original release
has them: protocol-0 pickles naming the Python-2 era modules
(`numpy.core.multiarray`, `scipy.sparse.csr`, `copy_reg`, `__builtin__`),
of a stochastic block model whose node features hint at the class.
`write_tudataset` writes the TU Dortmund text files.
"""

from __future__ import annotations

import collections
import pickle
from pathlib import Path

import numpy as np
import scipy.sparse

# Module paths of the Python-2 pickles (what the released files name).
_OLD_NAMES = [(b"numpy._core.multiarray", b"numpy.core.multiarray"),
              (b"scipy.sparse._csr", b"scipy.sparse.csr")]


def old_pickle(obj) -> bytes:
    data = pickle.dumps(obj, protocol=0)
    for new, old in _OLD_NAMES:
        data = data.replace(new, old)
    return data


def block_graph(num_nodes: int, num_classes: int, num_features: int,
                seed: int = 0):
    """Labels, binary features and undirected edges of a block model."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, num_nodes)
    same = labels[:, None] == labels[None]
    p = np.where(same, 8.0 / num_nodes * num_classes, 0.6 / num_nodes)
    upper = np.triu(rng.random((num_nodes, num_nodes)) < p, 1)
    edges = np.argwhere(upper)
    words = rng.random((num_nodes, num_features)) < 0.05
    hint = num_features // num_classes
    for c in range(num_classes):
        rows = labels == c
        words[rows, c * hint:(c + 1) * hint] |= rng.random(
            (rows.sum(), hint)) < 0.3
    return labels, words.astype("float32"), edges


def write_planetoid(folder, name="cora", *, num_classes=3, per_class=20,
                    num_features=30, num_allx=600, test_ids=None, seed=0):
    """Write `ind.NAME.*` for a block-model graph; return its arrays.

    The training nodes are `per_class * num_classes` nodes of `y` (not
    balanced per class here), the 500 after them validate, `test_ids`
    (default: the 100 after `allx`, shuffled) test. Ids missing from
    `test_ids` after `allx` are CiteSeer's isolated nodes (zero rows).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if test_ids is None:
        test_ids = rng.permutation(np.arange(num_allx, num_allx + 100))
    test_ids = np.asarray(test_ids)
    num_nodes = int(max(num_allx, test_ids.max() + 1))
    labels, features, edges = block_graph(num_nodes, num_classes,
                                          num_features, seed)
    onehot = np.eye(num_classes)[labels]
    n_train = per_class * num_classes
    adjacency = collections.defaultdict(list)
    for s, t in edges:
        adjacency[int(s)].append(int(t))
        adjacency[int(t)].append(int(s))
    csr = scipy.sparse.csr_matrix
    parts = {
        "x": csr(features[:n_train]), "y": onehot[:n_train],
        "allx": csr(features[:num_allx]), "ally": onehot[:num_allx],
        "tx": csr(features[test_ids]), "ty": onehot[test_ids],
        "graph": adjacency}
    for part, value in parts.items():
        (folder / f"ind.{name}.{part}").write_bytes(old_pickle(value))
    (folder / f"ind.{name}.test.index").write_text(
        "".join(f"{i}\n" for i in test_ids))
    return {"labels": labels, "features": features, "edges": edges,
            "num_nodes": num_nodes, "n_train": n_train, "test": test_ids}


def write_tudataset(folder, name="TOY", *, node_labels=True,
                    attributes=False, edge_attributes=False):
    """Six graphs: triangles (label 1) and 3-paths (label -1), 1-based."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    edges, indicator, graph_labels = [], [], []
    offset = 0
    for g in range(6):
        triangle = g % 2 == 0
        pairs = [(0, 1), (1, 2)] + ([(2, 0)] if triangle else [])
        for a, b in pairs:
            edges += [(a + offset + 1, b + offset + 1),
                      (b + offset + 1, a + offset + 1)]
        indicator += [g + 1] * 3
        graph_labels.append(1 if triangle else -1)
        offset += 3

    def write(part, rows):
        (folder / f"{name}_{part}.txt").write_text(
            "".join(f"{r}\n" for r in rows))

    write("A", [f"{a}, {b}" for a, b in edges])
    write("graph_indicator", indicator)
    write("graph_labels", graph_labels)
    if node_labels:
        write("node_labels", [i % 2 for i in range(len(indicator))])
    if attributes:
        write("node_attributes", [f"{i * 0.5}, 1.0"
                                  for i in range(len(indicator))])
    if edge_attributes:
        write("edge_attributes", [f"{i % 3}.0" for i in range(len(edges))])
    return {"edges": edges, "indicator": indicator, "labels": graph_labels}
