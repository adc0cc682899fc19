"""ONNX from the TensorFlow backend (tf2onnx), with two fixes for keras-hub.

Used by the exporter on the TensorFlow backend and by the TensorFlow
subprocess of the other backends; imports TensorFlow and tf2onnx, so only
call it there.

- tf2onnx 1.17 has no conversion for TensorFlow's `Erfc`, which the exact
  GELU (`tf.nn.gelu(approximate=False)`: ViT, Swin) uses; it writes the node
  anyway and onnxruntime refuses the file. :func:`register_erfc` teaches it
  `erfc(x) = 1 - erf(x)`.
- Keras converts a `tf.function` whose captured constants tf2onnx turns
  into graph *inputs* (T5's `hidden_dim ** -0.5` logit scale appears as a
  required input `.../Mul/y:0`). When that happens, the model is converted
  again from a SavedModel, tf2onnx's own route (`--saved-model`), which
  freezes captured constants.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

_REGISTERED = []


def register_erfc() -> None:
    """Register a tf2onnx conversion of `Erfc` (once per process)."""
    if _REGISTERED:
        return
    import numpy as np
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class _Erfc:  # noqa: F841  (registered by the decorator)
        @classmethod
        def version_9(cls, ctx: Any, node: Any, **kwargs: Any) -> None:
            node.type = "Erf"  # an ONNX op from opset 9
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.output[0]))
            one = ctx.make_const(utils.make_name(f"{node.name}_one"),
                                 np.array(1, dtype=dtype))
            ctx.insert_new_node_on_output(
                "Sub", node.output[0], inputs=[one.output[0], node.output[0]],
                name=utils.make_name(node.name))

    _REGISTERED.append(_Erfc)


def _onnx_input_names(path: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    return [i.name for i in graph.input if i.name not in initializers]


def _from_saved_model(saved_model: Path, path: Path) -> None:
    from tf2onnx import convert
    from tf2onnx import tf_loader

    graph_def, inputs, outputs, renames = tf_loader.from_saved_model(
        str(saved_model), None, None, tag="serve", signatures=["serve"],
        return_tensors_to_rename=True)
    convert.from_graph_def(graph_def, input_names=inputs,
                           output_names=outputs, tensors_to_rename=renames,
                           output_path=str(path))


def export_onnx(model: Any, path: Path) -> None:
    """Write `model` (TensorFlow backend, called once) as ONNX to `path`.

    Example:
    >>> export_onnx  # doctest: +ELLIPSIS
    <function export_onnx at ...>
    """
    register_erfc()
    model.export(str(path), format="onnx", verbose=False)
    expected = {t.name for t in model.inputs}
    if set(_onnx_input_names(path)) <= expected:
        return
    with tempfile.TemporaryDirectory(prefix="kerakit-onnx-") as tmp:
        saved_model = Path(tmp) / "saved_model"
        model.export(str(saved_model), format="tf_saved_model",
                     verbose=False)
        _from_saved_model(saved_model, path)
    found = _onnx_input_names(path)
    if not set(found) <= expected:
        raise ValueError(
            f"tf2onnx wrote ONNX inputs {sorted(set(found) - expected)} that "
            f"are not model inputs ({sorted(expected)})")
