"""Convolutional image classifiers."""

from kerakit.models.cnn import lenet  # noqa: F401
