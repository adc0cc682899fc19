"""Multi-layer perceptrons for tabular (flat feature) data."""

from kerakit.models.mlp import mlp  # noqa: F401
