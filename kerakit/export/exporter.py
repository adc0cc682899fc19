"""Export models for deployment: SavedModel, ONNX or `.keras`, verified.

:func:`export_model` (also `kerakit.export`) writes one artifact into its
own directory, next to an `export.json` sidecar (input/output names, shapes
and dtypes, class names, preprocessing, versions, verification result).
Exports go to a temporary directory beside the target and are renamed into
place only after they verified, so a failure never leaves a half-written
export behind. :func:`export_many` does the same for many models with one
conversion process and one verification process per runtime.

Routes (keras 3.15.1): everything is exported directly on the TensorFlow
backend. SavedModel is exported directly on JAX and through a
TensorFlow-backend subprocess on torch (the `.keras` file is
backend-neutral); ONNX directly on torch and through the TensorFlow
subprocess on JAX (jax2onnx writes a MaxPool node that onnxruntime
rejects). Transformers take the subprocess in two more places (ONNX on
torch, SavedModel on JAX for free sequence lengths): see
`kerakit.export.routes`. Models with dict inputs (token ids and masks) keep
their input names in both formats. This is the only kerakit package that
uses TensorFlow, and only through Keras or the subprocess.

Example:
>>> import kerakit, tempfile, os
>>> model = kerakit.build("lenet5", input_shape=(16, 16, 1), num_classes=3,
...                       conv_widths=(2, 4, 8), dense_widths=(8,))
>>> out = os.path.join(tempfile.mkdtemp(), "lenet")
>>> result = kerakit.export(model, out, format="keras", verify=False)
>>> sorted(os.listdir(out))
['export.json', 'model.keras']
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerakit.export import source as source_lib
from kerakit.export import target as target_lib
from kerakit.export.routes import default_route
from kerakit.export.worker import launch

FORMATS = ("saved_model", "onnx", "keras")
ROUTES = ("auto", "direct", "tensorflow")
SIDECAR = target_lib.SIDECAR
ARTIFACTS = target_lib.ARTIFACTS


class ExportError(RuntimeError):
    """Conversion failed, or the artifact's runtime disagrees with Keras.

    Attributes:
        failures: `{out_dir: reason}` for every failed export.
        results: The exports of the same call that succeeded (written).
    """

    def __init__(self, message: str, failures: dict[str, str] | None = None,
                 results: list[ExportResult] | None = None):
        """Keep the per-export failures and the exports that succeeded."""
        super().__init__(message)
        self.failures = failures or {}
        self.results = results or []


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Attributes:
        path: The export directory (holds the artifact and `export.json`).
        artifact: The SavedModel directory, `.onnx` or `.keras` file.
        format: `"saved_model"`, `"onnx"` or `"keras"`.
        route: `"direct"` or `"tensorflow"` (exported in a TF subprocess).
        max_abs_diff: Largest |runtime - Keras| on the check batch, or
            `None` when `verify=False`.
        metadata: The sidecar's content.
    """

    path: Path
    artifact: Path
    format: str
    route: str
    max_abs_diff: float | None
    metadata: dict[str, Any]


def export_model(
    model_or_path: keras.Model | str | os.PathLike,
    out_dir: str | os.PathLike,
    format: str = "saved_model",
    *,
    verify: bool = True,
    overwrite: bool = False,
    route: str = "auto",
    include_preprocessing: bool = True,
    class_names: Sequence[str] | None = None,
    atol: float = 1e-4,
) -> ExportResult:
    """Export a model, a `.keras` file or a run directory for deployment.

    Args:
        model_or_path: A `keras.Model`, a `.keras` file, or a run directory
            from `kerakit train` (its `best.keras`, class names and
            preprocessing are used).
        out_dir: Directory to create; it holds the artifact and
            `export.json`. For SavedModel, `out_dir` is the SavedModel.
        format: `"saved_model"`, `"onnx"` or `"keras"`.
        verify: Reload the artifact in a fresh process with only its
            runtime, run a batch and compare with Keras; raise
            `ExportError` on a mismatch.
        overwrite: Replace an existing `out_dir` (only once the new export
            succeeded) if it holds a previous kerakit export and nothing
            else. The source, a folder that holds it, and a folder with
            other files are never replaced.
        route: `"auto"` (per model, see the module doc), `"direct"`
            (`model.export` in this process) or `"tensorflow"` (a
            TensorFlow-backend subprocess exports the saved `.keras` file).
        include_preprocessing: For a run directory, put the recipe's
            preprocessing inside the exported graph when it can be expressed
            with Keras layers (raw inputs in, predictions out). The sidecar
            says whether it is included.
        class_names: Class names for the sidecar (run directories know
            theirs).
        atol: Verification tolerance, scaled by `max(1, max|output|)`.

    Returns:
        An `ExportResult`.

    Raises:
        ValueError: Unknown format or route, or a bad source.
        FileExistsError: `out_dir` exists and `overwrite` is false, or it
            may not be replaced (see `overwrite`); nothing is written.
        PermissionError: `out_dir` cannot be written.
        ExportError: Conversion or verification failed.

    Example:
    >>> import kerakit, tempfile, os
    >>> m = kerakit.build("lenet5", input_shape=(16, 16, 1), num_classes=3)
    >>> r = kerakit.export(m, os.path.join(tempfile.mkdtemp(), "m"),
    ...                    format="keras", verify=False)
    >>> r.metadata["inputs"][0]["shape"]
    [None, 16, 16, 1]
    """
    return export_many(
        [(model_or_path, out_dir)], format, verify=verify,
        overwrite=overwrite, route=route,
        include_preprocessing=include_preprocessing,
        class_names=class_names, atol=atol,
    )[0]


def export_many(
    jobs: Sequence[tuple[keras.Model | str | os.PathLike,
                         str | os.PathLike]],
    format: str = "saved_model",
    *,
    verify: bool = True,
    overwrite: bool = False,
    route: str = "auto",
    include_preprocessing: bool = True,
    class_names: Sequence[str] | None = None,
    atol: float = 1e-4,
) -> list[ExportResult]:
    """Export several models at once (one subprocess per runtime in all).

    Same arguments as :func:`export_model`, with `jobs` a list of
    `(model_or_path, out_dir)` pairs. Each export is committed only if it
    succeeded; afterwards an `ExportError` lists every failed job.

    Returns:
        One `ExportResult` per job, in order.

    Example:
    >>> import kerakit, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> m = kerakit.build("lenet5", input_shape=(16, 16, 1), num_classes=3)
    >>> rs = export_many([(m, os.path.join(d, "a")), (m, os.path.join(d, "b"))],
    ...                  format="keras", verify=False)
    >>> [r.path.name for r in rs]
    ['a', 'b']
    """
    if format not in FORMATS:
        raise ValueError(
            f"Unknown export format {format!r}. Choose one of {FORMATS}."
        )
    if route not in ROUTES:
        raise ValueError(f"Unknown route {route!r}. Choose one of {ROUTES}.")
    if not atol > 0:
        raise ValueError(f"atol must be positive. Received: atol={atol}")
    backend = keras.backend.backend()
    sources = [Path(src) for src, _ in jobs
               if isinstance(src, (str, os.PathLike))]
    targets = [target_lib.check_target(Path(out), overwrite, sources)
               for _, out in jobs]
    target_lib.check_distinct(targets)
    prepared = [
        source_lib.resolve(src, include_preprocessing, class_names, atol)
        for src, _ in jobs
    ]
    work = Path(tempfile.mkdtemp(prefix="kerakit-export-"))
    staged: list[_Staged] = []
    try:
        for i, (prep, target) in enumerate(
                zip(prepared, targets, strict=True)):
            chosen = "direct" if format == "keras" else (
                default_route(format, backend, prep.model)
                if route == "auto" else route)
            staged.append(_stage(i, prep, target, chosen, work))
        errors = _export_all(staged, format, work)
        if verify:
            errors.update(_verify_all(
                [s for s in staged if s.index not in errors], format, work,
                backend, atol))
        results = []
        for item in staged:
            if item.index in errors:
                continue
            item.metadata = source_lib.sidecar(
                item.prep, item.verification, format, item.route, backend,
                verify, target_lib.listing(item.staging))
            source_lib.write_json(item.staging / SIDECAR, item.metadata)
            results.append(_commit(item, format, overwrite))
    finally:
        for item in staged:
            item.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    if errors:
        lines = "\n".join(
            f"  {staged[i].target} (model {staged[i].prep.model.name!r}, "
            f"route {staged[i].route!r}): {msg}"
            for i, msg in sorted(errors.items()))
        written = [str(r.path) for r in results]
        raise ExportError(
            f"{len(errors)} of {len(staged)} {format} export(s) failed; "
            f"nothing was written for them:\n{lines}"
            + (f"\nWritten: {written}" if written else ""),
            failures={str(staged[i].target): msg for i, msg in errors.items()},
            results=results,
        )
    return results


# ------------------------------------------------------------------ staging
@dataclasses.dataclass
class _Staged:
    index: int
    prep: source_lib.Prepared
    target: Path
    route: str
    staging: Path
    created: list[Path]
    sample: Path
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    verification: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def artifact(self) -> Path:
        return self.staging

    def cleanup(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        for folder in reversed(self.created):
            try:
                folder.rmdir()  # only if still empty
            except OSError:
                break


def _stage(index: int, prep: source_lib.Prepared, target: Path, route: str,
           work: Path) -> _Staged:
    try:
        created = target_lib.make_parents(target.parent)
        staging = target_lib.make_staging(target)
    except PermissionError as err:
        raise PermissionError(
            f"Cannot write to {target.parent} ({err.strerror}). Choose a "
            "writable output directory."
        ) from None
    sample = work / f"sample{index}.npz"
    np.savez(sample, **prep.sample_arrays())
    return _Staged(index, prep, target, route, staging, created, sample)


def _artifact_path(item: _Staged, format: str) -> Path:
    name = ARTIFACTS[format]
    return item.staging if name == "." else item.staging / name


def _export_all(staged: list[_Staged], format: str,
                work: Path) -> dict[int, str]:
    errors: dict[int, str] = {}
    via_tensorflow = [item for item in staged if item.route == "tensorflow"]
    if via_tensorflow:
        jobs = []
        for item in via_tensorflow:
            keras_file = work / f"model{item.index}.keras"
            item.prep.model.save(keras_file)
            jobs.append({"keras": str(keras_file), "format": format,
                         "sample": str(item.sample),
                         "out": str(_artifact_path(item, format))})
        results = _launch("convert", jobs, work, backend="tensorflow")
        for item, res in zip(via_tensorflow, results, strict=True):
            if not res["ok"]:
                errors[item.index] = f"conversion failed: {res['error']}"
    for item in staged:
        if item.route == "tensorflow":
            continue
        path = _artifact_path(item, format)
        try:
            if format == "keras":
                item.prep.model.save(path)
            elif format == "onnx" and keras.backend.backend() == "tensorflow":
                from kerakit.export.tf_onnx import export_onnx

                export_onnx(item.prep.model, path)
            else:
                fmt = "tf_saved_model" if format == "saved_model" else "onnx"
                item.prep.model.export(str(path), format=fmt, verbose=False)
        except ImportError as err:
            raise ExportError(
                f"Exporting {format} needs a missing package ({err}). "
                "Install the export extra: pip install 'kerakit[export]'."
            ) from None
        except Exception as err:  # noqa: BLE001  (reported per model)
            errors[item.index] = (
                f"{type(err).__name__}: {str(err)[:400]} (try "
                "route='tensorflow')"
            )
    return errors


def _launch(mode: str, jobs: list[dict], work: Path,
            backend: str) -> list[dict]:
    try:
        return launch(mode, jobs, work, backend)
    except RuntimeError as err:
        raise ExportError(str(err)) from None


def _verify_all(staged: list[_Staged], format: str, work: Path,
                backend: str, atol: float) -> dict[int, str]:
    if not staged:
        return {}
    jobs = [{"artifact": str(_artifact_path(item, format)), "format": format,
             "sample": str(item.sample),
             "num_outputs": item.prep.num_outputs,
             "input_names": item.prep.input_names} for item in staged]
    results = _launch("verify", jobs, work, backend=backend)
    errors = {}
    for item, res in zip(staged, results, strict=True):
        if not res["ok"]:
            errors[item.index] = (
                f"the {format} runtime could not run the export: "
                f"{res['error']}"
            )
            continue
        tolerance = atol * max(1.0, res["max_abs_output"])
        res["tolerance"] = tolerance
        item.verification = res
        if not res["max_abs_diff"] <= tolerance:
            errors[item.index] = (
                f"outputs differ from Keras: max |diff| = "
                f"{res['max_abs_diff']:.3g} > tolerance {tolerance:.3g} "
                f"({res['runtime']}, batch of {res['batch_size']})"
            )
    return errors


# ------------------------------------------------------------------- commit
def _commit(item: _Staged, format: str, overwrite: bool) -> ExportResult:
    target = item.target
    old = None
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise FileExistsError(f"{target} appeared during the export.")
        # Checked again: the folder may have changed since the start.
        target_lib.check_target(target, overwrite)
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old",
                                    dir=target.parent))
        os.replace(target, old / "previous")
    os.replace(item.staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    name = ARTIFACTS[format]
    ver = item.verification
    return ExportResult(
        path=target,
        artifact=target if name == "." else target / name,
        format=format,
        route=item.route,
        max_abs_diff=ver.get("max_abs_diff"),
        metadata=item.metadata,
    )
