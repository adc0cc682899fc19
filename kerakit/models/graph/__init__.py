"""Graph neural networks: GCN, GAT and the Graph Transformer.

Every model takes a dict of `"features"` `(batch, nodes, F)` and `"edges"`
int32 `(batch, edges, 2)` (plus `"graph_index"`, `"positions"`,
`"edge_features"` where they apply; see `kerakit.models.graph.blocks`) and
passes messages over the edge list with segment ops.
`positions.laplacian_positions` computes the Graph Transformer's Laplacian
eigenvector input with numpy/scipy.
"""

from kerakit.models.graph import gat  # noqa: F401
from kerakit.models.graph import gcn  # noqa: F401
from kerakit.models.graph import graph_transformer  # noqa: F401
from kerakit.models.graph import positions  # noqa: F401
