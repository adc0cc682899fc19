"""Laplacian eigenvector positions for the Graph Transformer (numpy/scipy).

Plain numpy (and scipy for large graphs), no keras: the `"positions"`
input is computed once per graph, before training. Import it from
`kerakit.tasks` (or above); `kerakit.data` cannot import `kerakit.models`
because `kerakit.models` already imports `kerakit.data` (the seq2seq sweep
data), and the import contract forbids cycles between subpackages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Up to this many nodes a dense eigendecomposition is fast and exact (well
# under a second on one core); above it, scipy's sparse Lanczos solver
# (`eigsh`), whose memory grows with the edges. Shift-invert would
# factorise `L`, which fills in on large random-like graphs.
DENSE_MAX_NODES = 1_000


def normalized_laplacian(edges: Any, num_nodes: int) -> Any:
    """The symmetric normalised Laplacian `I - D^-1/2 A D^-1/2` (sparse).

    The graph is made undirected (an edge in either direction connects two
    nodes) and unweighted; self loops and rows with a negative index
    (padding) are dropped. An isolated node has `L_ii = 1`.

    Args:
        edges: Int array `(edges, 2)` of `[source, target]` rows.
        num_nodes: Number of nodes; ids must be below it.

    Returns:
        `scipy.sparse.csr_matrix` of shape `(num_nodes, num_nodes)`.

    Example:
    >>> lap = normalized_laplacian(np.array([[0, 1], [1, 2]]), 3)
    >>> np.round(lap.toarray()[1], 3).tolist()
    [-0.707, 1.0, -0.707]
    """
    import scipy.sparse

    edges = _check_edges(edges, num_nodes)
    source, target = edges[:, 0], edges[:, 1]
    ones = np.ones(len(edges), "float64")
    adjacency = scipy.sparse.coo_matrix(
        (ones, (source, target)), shape=(num_nodes, num_nodes)
    ).tocsr()
    adjacency = ((adjacency + adjacency.T) > 0).astype("float64")
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    scale = np.zeros(num_nodes)
    scale[degree > 0] = 1.0 / np.sqrt(degree[degree > 0])
    scale = scipy.sparse.diags(scale)
    identity = scipy.sparse.identity(num_nodes, format="csr")
    return (identity - scale @ adjacency @ scale).tocsr()


def laplacian_positions(edges: Any, num_nodes: int, k: int, *,
                        seed: int = 0) -> np.ndarray:
    """The `k` smallest non-trivial Laplacian eigenvectors of one graph.

    Eigenvectors of the symmetric normalised Laplacian (see
    :func:`normalized_laplacian`) for the eigenvalues in increasing order,
    leaving out the first (the trivial eigenvalue 0), as in Dwivedi &
    Bresson. Each has unit norm; its sign is arbitrary (the model flips
    signs at random in training). A graph with fewer than `k + 1` nodes
    gets zero columns for the missing eigenvectors. Up to
    `DENSE_MAX_NODES` nodes a dense `numpy.linalg.eigh` solves it, above
    it `scipy.sparse.linalg.eigsh` (Lanczos on `2I - L`, the `k + 1`
    largest, to machine precision).

    Args:
        edges: Int array `(edges, 2)` of `[source, target]` rows (negative
            rows are padding); direction is ignored.
        num_nodes: Number of nodes of the graph.
        k: Number of eigenvectors (the model's `num_eigenvectors`).
        seed: Seed of the sparse solver's start vector (determinism).

    Returns:
        Float32 array `(num_nodes, k)`: the model's `"positions"` input for
        this graph (add a batch axis; for a disjoint union, stack the
        graphs' rows in node order).

    Example:
    >>> # A path 0 - 1 - 2: one non-trivial eigenvector is (1, 0, -1)/sqrt(2).
    >>> pos = laplacian_positions(np.array([[0, 1], [1, 2]]), 3, k=2)
    >>> np.round(np.abs(pos[:, 0]).astype(float), 3).tolist()
    [0.707, 0.0, 0.707]

    Reference:
        Dwivedi & Bresson, 2020. https://arxiv.org/abs/2012.09699
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int. Received: k={k!r}")
    _check_edges(np.zeros((0, 2), "int64"), num_nodes)
    positions = np.zeros((num_nodes, k), "float32")
    wanted = min(k, num_nodes - 1)
    if wanted < 1:
        return positions
    laplacian = normalized_laplacian(edges, num_nodes)
    if num_nodes <= DENSE_MAX_NODES or wanted + 1 >= num_nodes - 1:
        values, vectors = np.linalg.eigh(laplacian.toarray())
    else:
        import scipy.sparse
        import scipy.sparse.linalg

        # The largest eigenvalues of 2I - L are the smallest of L; ARPACK's
        # relative stopping rule never accepts an eigenvalue of exactly 0.
        shifted = 2.0 * scipy.sparse.identity(num_nodes) - laplacian
        start = np.random.default_rng(seed).uniform(size=num_nodes)
        values, vectors = scipy.sparse.linalg.eigsh(
            shifted, k=wanted + 1, which="LA", v0=start
        )
        values = 2.0 - values
    order = np.argsort(values, kind="stable")
    positions[:, :wanted] = vectors[:, order[1:wanted + 1]]
    return positions


def _check_edges(edges: Any, num_nodes: int) -> np.ndarray:
    if isinstance(num_nodes, bool) or not isinstance(
            num_nodes, (int, np.integer)) or num_nodes < 1:
        raise ValueError(
            f"num_nodes must be a positive int. Received: {num_nodes!r}"
        )
    edges = np.asarray(edges)
    if edges.size == 0:
        return np.zeros((0, 2), "int64")
    if edges.ndim != 2 or edges.shape[1] != 2 or not np.issubdtype(
            edges.dtype, np.integer):
        raise ValueError(
            "edges must be an int array (edges, 2) of [source, target] "
            f"rows. Received: shape {edges.shape}, dtype {edges.dtype}"
        )
    edges = edges[(edges >= 0).all(axis=1)].astype("int64")
    if edges.size and edges.max() >= num_nodes:
        raise ValueError(
            f"edges name node {int(edges.max())} but num_nodes={num_nodes}."
        )
    return edges[edges[:, 0] != edges[:, 1]]
