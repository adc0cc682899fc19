"""kerakit's CNNs normalise with FusedBatchNormalization (the training
speed fix of benchmarks/README.md), never with Keras's composed layer."""

import keras
import pytest

import kerakit
from kerakit.layers import FusedBatchNormalization


@pytest.mark.parametrize("name, kwargs", [
    ("resnet18", {}), ("densenet121", {}), ("vgg11_bn", {}),
    ("googlenet", {}), ("mobilenet_v1", {}),
    ("mobilenet_v2", {}), ("mobilenet_v3_small", {}),
])
def test_every_batch_norm_is_fused(name, kwargs):
    model = kerakit.build(name, input_shape=(32, 32, 3), num_classes=3,
                          **kwargs)
    norms = [layer for layer in model._flatten_layers()
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms
    assert all(isinstance(layer, FusedBatchNormalization)
               for layer in norms)
