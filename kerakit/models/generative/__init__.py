"""Generative models: autoencoders, VAEs and GANs."""

from kerakit.models.generative import autoencoder  # noqa: F401
from kerakit.models.generative import gan  # noqa: F401
from kerakit.models.generative import vae  # noqa: F401
