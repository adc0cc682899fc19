"""Model families; importing this package registers every model."""

from kerakit.models import cnn  # noqa: F401
from kerakit.models import mlp  # noqa: F401
from kerakit.models import rnn  # noqa: F401
from kerakit.models import generative  # noqa: F401
from kerakit.models import graph  # noqa: F401
from kerakit.models import transformer  # noqa: F401
from kerakit.models import multimodal  # noqa: F401
from kerakit.models import rl  # noqa: F401
