"""Optimizers and schedules.

The optimizers themselves are Keras' (`SGD`, `Adam`, `RMSprop`, `AdamW`,
`Adagrad`, `Nadam`, `Lamb`); this package adds the schedules Keras lacks.
Resolve names with `kerakit.components.get("optimizers", name, ...)`.
"""

from kerakit.optimizers.schedules import LinearWarmup
from kerakit.optimizers.schedules import step_decay

__all__ = ["LinearWarmup", "step_decay"]
