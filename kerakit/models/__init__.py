"""Model families; importing this package registers every model."""

from kerakit.models import cnn  # noqa: F401
