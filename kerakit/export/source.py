"""What `kerakit.export` exports: a model, a `.keras` file or a run dir.

A run directory (from `kerakit train`) brings its `best.keras`, its class
names and its fitted preprocessing. When the preprocessing can be written
with stock Keras layers (rescale, grey/colour conversion, resize or pad,
standardisation), the exported model takes raw inputs: the wrapper is
checked against :class:`kerakit.data.preprocessing.Preprocessor` on a raw
batch and used only when they agree.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.export import inputs as inputs_lib
from kerakit.export.target import ARTIFACTS
from kerakit.saving import load_model

BATCH = 3  # check batch: not 1, so a fixed batch dimension shows
_PACKAGES = ("kerakit", "keras", "tensorflow", "jax", "torch", "numpy",
             "onnx", "onnxruntime", "tf2onnx", "onnxscript")


@dataclasses.dataclass
class Prepared:
    """A model ready to export, with its check batch and metadata."""

    model: keras.Model
    source: dict[str, Any]
    class_names: list[str] | None
    preprocessing: dict[str, Any]
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]

    @property
    def input_names(self) -> list[str]:
        """Names of the model's inputs, in order."""
        return [t.name for t in self.model.inputs]

    @property
    def num_outputs(self) -> int:
        """How many outputs the model has."""
        return len(self.outputs)

    def sample_arrays(self) -> dict[str, np.ndarray]:
        """The check batch as `x0...` (inputs) and `y0...` (outputs)."""
        arrays = {f"x{i}": x for i, x in enumerate(self.inputs)}
        arrays.update({f"y{i}": y for i, y in enumerate(self.outputs)})
        return arrays

    def input_specs(self) -> list[dict[str, Any]]:
        """Name, shape and dtype of each input."""
        return [_spec(t) for t in self.model.inputs]

    def output_specs(self) -> list[dict[str, Any]]:
        """Name, shape and dtype of each output."""
        return [_spec(t) for t in self.model.outputs]


def _spec(tensor: Any) -> dict[str, Any]:
    return {"name": tensor.name, "shape": list(tensor.shape),
            "dtype": str(tensor.dtype)}


def write_json(path: Path, data: Any) -> None:
    """Write `data` as indented JSON."""
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def _load_keras(path: Path) -> keras.Model:
    import kerakit  # noqa: F401  (registers kerakit's custom objects)

    _check_archive(path)
    try:
        return load_model(path)
    except Exception as err:  # noqa: BLE001
        raise ValueError(
            f"Cannot load {path} as a Keras model ({err}). The archive may "
            "be damaged or come from an incompatible Keras: save the model "
            "again with model.save('name.keras')."
        ) from err


def _check_archive(path: Path) -> None:
    """Say what is wrong with a file that is not a `.keras` archive.

    Keras's own error for these is "File not found", which misleads when
    the file is there.
    """
    try:  # first, since `is_zipfile` calls an unreadable file "not a zip"
        with open(path, "rb"):
            pass
    except OSError as err:
        raise PermissionError(
            f"Cannot read {path} ({err.strerror}): check its permissions."
        ) from None
    if not zipfile.is_zipfile(path):
        problem = "not a zip file"
    else:
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            problem = f"unreadable zip: {err}"
        else:
            problem = None if "config.json" in names else (
                "missing config.json")
    if problem:
        raise ValueError(
            f"{path} is not a .keras archive ({problem}). Give a model "
            "saved with model.save('name.keras'), or a run directory from "
            "`kerakit train`."
        )


def resolve(source: Any, include_preprocessing: bool,
            class_names: Sequence[str] | None, atol: float) -> Prepared:
    """Turn a model, `.keras` path or run directory into a `Prepared`."""
    pre: dict[str, Any] | None = None
    if isinstance(source, keras.Model):
        model, info = source, {"kind": "model", "name": source.name}
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_dir():
            best = path / "best.keras"
            if not best.is_file():
                raise ValueError(
                    f"{path} is a directory without best.keras: give a run "
                    "directory written by `kerakit train`, or a .keras file."
                )
            model = _load_keras(best)
            info = {"kind": "run_dir", "path": str(path.absolute())}
            pre_file = path / "preprocessing.json"
            if pre_file.is_file():
                pre = json.loads(pre_file.read_text())
            recipe_file = path / "recipe.json"
            if recipe_file.is_file():
                info["recipe"] = json.loads(recipe_file.read_text()).get(
                    "name")
        elif path.is_file():
            if path.suffix != ".keras":
                raise ValueError(
                    f"{path} is not a .keras file. Export a model saved with "
                    "model.save('name.keras') or a run directory."
                )
            model = _load_keras(path)
            info = {"kind": "keras_file", "path": str(path.absolute())}
        else:
            raise FileNotFoundError(
                f"{path} does not exist: give a .keras file or a run "
                "directory."
            )
    else:
        raise TypeError(
            "export() takes a keras.Model, a .keras path or a run directory. "
            f"Received: {type(source).__name__}"
        )
    names = list(class_names) if class_names is not None else (
        list(pre.get("class_names") or []) or None if pre else None)
    _check_class_names(model, names)
    preprocessing = {"included": False}
    if pre is not None:
        model, preprocessing = _with_preprocessing(
            model, pre, include_preprocessing, atol)
    else:
        preprocessing["note"] = (
            "No preprocessing is known for this source: feed inputs exactly "
            "as the model was trained on them.")
    inputs = _check_batch(model, preprocessing)
    outputs = _run(model, inputs)
    return Prepared(model, info, names, preprocessing, inputs, outputs)


def _check_class_names(model: keras.Model, names: list[str] | None) -> None:
    if not names:
        return
    units = model.outputs[0].shape[-1]
    if len(model.outputs) == 1 and units is not None and units != len(names):
        raise ValueError(
            f"{len(names)} class names given for a model with {units} "
            "outputs; pass one name per output unit."
        )


def _check_batch(model: keras.Model,
                 preprocessing: dict[str, Any]) -> list[np.ndarray]:
    high = (float(preprocessing.get("raw_value_max", 1.0))
            if preprocessing.get("included") else None)
    return inputs_lib.draw(model, BATCH, seed=0, float_high=high)


def _run(model: keras.Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    # The one place the Keras reference outputs are computed (the export
    # tests perturb them here to check that verification catches it).
    return inputs_lib.run(model, inputs)


# ---------------------------------------------------------------- sidecar
def _versions() -> dict[str, str | None]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def sidecar(prep: Prepared, ver: dict[str, Any], format: str, route: str,
            backend: str, verify: bool, files: list[str]) -> dict[str, Any]:
    """The content of `export.json`.

    `files` lists what the export holds besides the sidecar, so that
    `overwrite` can tell a previous export from a folder with user files.
    """
    return {
        "format": format,
        "artifact": ARTIFACTS[format],
        "files": files,
        "model_name": prep.model.name,
        "source": prep.source,
        "inputs": ver.get("inputs") or prep.input_specs(),
        "outputs": ver.get("outputs") or prep.output_specs(),
        "class_names": prep.class_names,
        "preprocessing": prep.preprocessing,
        "exported_from_backend": backend,
        "route": route,
        "verification": (
            {key: ver[key] for key in ("runtime", "max_abs_diff",
                                       "tolerance", "batch_size")}
            if verify else {"skipped": True}),
        "versions": _versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
    }


# ------------------------------------------------------------ preprocessing
def _with_preprocessing(model: keras.Model, pre: dict[str, Any],
                        include: bool, atol: float
                        ) -> tuple[keras.Model, dict[str, Any]]:
    steps = {k: pre.get(k) for k in (
        "rescale", "channels", "image_size", "resize_method", "mean", "std",
        "sequence_length", "padding", "truncating", "raw_shape")}
    info: dict[str, Any] = {"included": False, "steps": steps}
    if not include:
        info["note"] = ("Not included (include_preprocessing=False): apply "
                        "these steps to raw inputs before calling the model.")
        return model, info
    try:
        wrapped = _wrap(model, pre)
        raw = np.random.default_rng(1).uniform(
            0, float(pre.get("value_max") or 1.0),
            (BATCH, *pre["raw_shape"])).astype("float32")
        from kerakit.data.preprocessing import Preprocessor

        processed = Preprocessor(**_loadable(pre)).transform(raw)
        expected = _run(model, [processed])[0]
        got = _run(wrapped, [raw])[0]
        diff = float(np.max(np.abs(got - expected)))
        if diff > atol * max(1.0, float(np.max(np.abs(expected)))):
            raise ValueError(
                f"the in-graph version differs from kerakit's by {diff:.3g}")
    except (ValueError, KeyError, TypeError) as err:
        info["note"] = (f"Not included ({err}): apply these steps to raw "
                        "inputs before calling the model (see `steps`).")
        return model, info
    info.update(included=True, raw_value_max=pre.get("value_max") or 1.0,
                note="Included: the export takes raw inputs (float32, "
                "shape of one raw example plus batch) and returns the "
                "model's outputs.")
    return wrapped, info


def _loadable(pre: dict[str, Any]) -> dict[str, Any]:
    data = dict(pre)
    for key in ("image_size", "raw_shape"):
        if data.get(key) is not None:
            data[key] = tuple(data[key])
    return data


def _wrap(model: keras.Model, pre: dict[str, Any]) -> keras.Model:
    """Raw input -> Keras preprocessing layers -> `model`."""
    if pre.get("sequence_length"):
        raise ValueError("token sequences are padded outside the graph")
    if len(model.inputs) != 1 or not pre.get("raw_shape"):
        raise ValueError("needs one model input and a known raw shape")
    raw_shape = tuple(pre["raw_shape"])
    name = model.inputs[0].name
    inputs = keras.Input(raw_shape, dtype="float32", name=name)
    x = inputs
    if float(pre.get("rescale", 1.0)) != 1.0:
        x = keras.layers.Rescaling(float(pre["rescale"]),
                                   name="raw_rescale")(x)
    image = bool(pre.get("image_size")) or len(raw_shape) == 3
    if len(raw_shape) == 2 and image:
        x = keras.layers.Reshape((*raw_shape, 1), name="raw_channel")(x)
    if len(x.shape) == 4:
        x = _channels(x, int(pre.get("channels") or 0))
        if pre.get("image_size"):
            x = _resize(x, tuple(pre["image_size"]), pre["resize_method"])
    if pre.get("mean") is not None:
        std = np.asarray(pre["std"], "float32")
        x = keras.layers.Normalization(
            mean=np.asarray(pre["mean"], "float32"), variance=std ** 2,
            name="raw_standardize")(x)
    if tuple(x.shape[1:]) != tuple(model.inputs[0].shape[1:]):
        raise ValueError(f"preprocessed shape {x.shape} does not match the "
                         f"model input {model.inputs[0].shape}")
    return keras.Model(inputs, model(x), name=f"{model.name}_raw")


def _channels(x: Any, channels: int) -> Any:
    if channels == 3 and x.shape[-1] == 1:
        return keras.layers.Concatenate(name="raw_to_rgb")([x, x, x])
    if channels == 1 and x.shape[-1] == 3:
        grey = keras.layers.Dense(1, use_bias=False, trainable=False,
                                  kernel_initializer=keras.initializers
                                  .Constant(1 / 3), name="raw_to_grey")
        return grey(x)
    return x


def _resize(x: Any, size: tuple[int, int], method: str) -> Any:
    height, width = int(x.shape[1]), int(x.shape[2])
    if (height, width) == size:
        return x
    if method != "pad":
        return keras.layers.Resizing(*size, interpolation=method,
                                     name="raw_resize")(x)
    dh, dw = size[0] - height, size[1] - width
    if dh > 0 or dw > 0:
        pads = ((max(dh, 0) // 2, max(dh, 0) - max(dh, 0) // 2),
                (max(dw, 0) // 2, max(dw, 0) - max(dw, 0) // 2))
        x = keras.layers.ZeroPadding2D(pads, name="raw_pad")(x)
    if dh < 0 or dw < 0:
        crop = ((max(-dh, 0) // 2, max(-dh, 0) - max(-dh, 0) // 2),
                (max(-dw, 0) // 2, max(-dw, 0) - max(-dw, 0) // 2))
        x = keras.layers.Cropping2D(crop, name="raw_crop")(x)
    return x
