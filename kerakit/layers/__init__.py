"""Layers kerakit writes itself; everything else resolves to `keras.layers`.

See `kerakit.components.list("layers")` for the names users can give.
"""

from kerakit.layers.co_attention import CoAttention
from kerakit.layers.contrastive_logits import ContrastiveLogits
from kerakit.layers.drop_path import DropPath
from kerakit.layers.fused_batch_norm import FusedBatchNormalization
from kerakit.layers.gat_conv import GATConv
from kerakit.layers.gcn_conv import GCNConv
from kerakit.layers.graph_readout import GraphReadout
from kerakit.layers.graph_transformer_attention import (
    GraphTransformerAttention,
)
from kerakit.layers.instance_norm import InstanceNormalization
from kerakit.layers.patch_embedding import PatchEmbedding
from kerakit.layers.random_sign_flip import RandomSignFlip
from kerakit.layers.region_embedding import RegionEmbedding

__all__ = [
    "CoAttention",
    "ContrastiveLogits",
    "DropPath",
    "FusedBatchNormalization",
    "GATConv",
    "GCNConv",
    "GraphReadout",
    "GraphTransformerAttention",
    "InstanceNormalization",
    "PatchEmbedding",
    "RandomSignFlip",
    "RegionEmbedding",
]
