"""Convolutional image classifiers."""

from kerakit.models.cnn import alexnet  # noqa: F401
from kerakit.models.cnn import densenet  # noqa: F401
from kerakit.models.cnn import googlenet  # noqa: F401
from kerakit.models.cnn import lenet  # noqa: F401
from kerakit.models.cnn import mobilenet_v1  # noqa: F401
from kerakit.models.cnn import mobilenet_v2  # noqa: F401
from kerakit.models.cnn import mobilenet_v3  # noqa: F401
from kerakit.models.cnn import resnet  # noqa: F401
from kerakit.models.cnn import vgg  # noqa: F401
