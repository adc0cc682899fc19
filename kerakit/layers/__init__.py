"""Layers kerakit writes itself; everything else resolves to `keras.layers`.

See `kerakit.components.list("layers")` for the names users can give.
"""

from kerakit.layers.contrastive_logits import ContrastiveLogits
from kerakit.layers.drop_path import DropPath
from kerakit.layers.gat_conv import GATConv
from kerakit.layers.gcn_conv import GCNConv
from kerakit.layers.instance_norm import InstanceNormalization
from kerakit.layers.patch_embedding import PatchEmbedding

__all__ = [
    "ContrastiveLogits",
    "DropPath",
    "GATConv",
    "GCNConv",
    "InstanceNormalization",
    "PatchEmbedding",
]
