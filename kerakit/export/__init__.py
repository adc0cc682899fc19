"""Export a model or a run: `.keras`, TensorFlow SavedModel and ONNX.

- `exporter`: `export_model` / `export_many`, staging and atomic commits;
- `source`: reading the source (a model, a `.keras` file, a run directory)
  and the `export.json` sidecar;
- `target`: output-directory checks (what `overwrite` may replace) and
  staging folders;
- `routes`: which models `route="auto"` sends through TensorFlow;
- `inputs`: valid check batches (token ids, masks, images) and calling
  models with dict inputs;
- `worker`: the subprocess that exports and verifies in a fresh process.

Example:
    kerakit.export("runs/lenet_digits-<hash>-jax", "exported/lenet",
                   format="onnx")
"""

from kerakit.export.exporter import ARTIFACTS
from kerakit.export.exporter import FORMATS
from kerakit.export.exporter import ROUTES
from kerakit.export.exporter import SIDECAR
from kerakit.export.exporter import ExportError
from kerakit.export.exporter import ExportResult
from kerakit.export.exporter import export_many
from kerakit.export.exporter import export_model
from kerakit.export.routes import default_route

__all__ = [
    "ARTIFACTS",
    "FORMATS",
    "ROUTES",
    "SIDECAR",
    "ExportError",
    "ExportResult",
    "default_route",
    "export_many",
    "export_model",
]
