"""Which route `route="auto"` takes: Keras's own export, or TensorFlow.

Keras 3.15.1 exports every model in this process on the TensorFlow
backend. Elsewhere (checked on kerakit's models; ../shared/FACTS.md):

- SavedModel on torch: never (torch.export wants torch-xla);
- ONNX on jax: jax2onnx writes a MaxPool node onnxruntime rejects;
- ONNX on torch, for a model with a `LayerNormalization` or keras-hub
  layers (BERT, GPT-2, T5, ViT, Swin): the TorchScript exporter Keras uses
  with a free batch size cannot trace layer normalisation ("Failed to
  export a node ... because it is not constant"), and a keras-hub task
  model's weights are not registered as torch parameters ("Cannot insert a
  Tensor that requires grad as a constant");
- SavedModel on jax, for a keras-hub model with a free sequence length:
  jax2tf's shape polymorphism cannot express the length arithmetic of the
  position embeddings and of T5's relative attention
  (`InconclusiveDimensionOperation`).

There a TensorFlow-backend subprocess exports the saved `.keras` file (it is
backend-neutral), keeping free batch and sequence dimensions.
"""

from __future__ import annotations

import keras

# (format, backend) pairs that never export directly.
_ALWAYS_TENSORFLOW = {("saved_model", "torch"), ("onnx", "jax")}


def _layers(model: keras.Model) -> list[keras.Layer]:
    # Nested layers too (a keras-hub backbone's transformer blocks):
    # `model.layers` lists only the top level.
    return list(model._flatten_layers(include_self=True))


def _from_keras_hub(model: keras.Model) -> bool:
    return any(type(layer).__module__.startswith("keras_hub.")
               for layer in _layers(model))


def _has_layer_norm(model: keras.Model) -> bool:
    return any(isinstance(layer, keras.layers.LayerNormalization)
               for layer in _layers(model))


def _free_length(model: keras.Model) -> bool:
    return any(None in tuple(t.shape[1:]) for t in model.inputs)


def tensorflow_reason(format: str, backend: str,
                      model: keras.Model | None = None) -> str | None:
    """Why `format` on `backend` goes through TensorFlow, or `None`.

    Example:
    >>> tensorflow_reason("onnx", "tensorflow") is None
    True
    """
    if format == "keras" or backend == "tensorflow":
        return None
    if (format, backend) in _ALWAYS_TENSORFLOW:
        return f"Keras cannot export {format} on {backend} directly"
    if model is None:
        return None
    if format == "onnx" and (_has_layer_norm(model)
                             or _from_keras_hub(model)):
        return ("Keras's torch ONNX exporter cannot trace layer "
                "normalisation or keras-hub models with a free batch size")
    if (format == "saved_model" and _from_keras_hub(model)
            and _free_length(model)):
        return ("jax2tf cannot export keras-hub models with a free "
                "sequence length")
    return None


def default_route(format: str, backend: str,
                  model: keras.Model | None = None) -> str:
    """Return the route `"auto"` picks for `format` on `backend`.

    Args:
        format: `"saved_model"`, `"onnx"` or `"keras"`.
        backend: The Keras backend that exports.
        model: The model to export; some models need the TensorFlow route
            where others export directly (see the module doc).

    Example:
    >>> default_route("saved_model", "torch"), default_route("onnx", "jax")
    ('tensorflow', 'tensorflow')
    >>> default_route("onnx", "torch")
    'direct'
    """
    if tensorflow_reason(format, backend, model) is None:
        return "direct"
    return "tensorflow"
