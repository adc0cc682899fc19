"""Subprocess side of `kerakit.export` (run as a script, never imported).

Two jobs, each for a whole batch of models so that the interpreter and its
runtime start once:

- `convert JOBS RESULTS`: with the TensorFlow backend, load `.keras` files
  (`compile=False`, so a file saved on any backend loads) and export them
  (`tf_saved_model`, or ONNX through `kerakit.export.tf_onnx`). Used where
  the exporting backend cannot export directly (`kerakit.export.routes`).
- `verify JOBS RESULTS`: load each artifact with *only* its runtime
  (`tf.saved_model.load` for SavedModel, `onnxruntime` for ONNX; Keras for
  `.keras`), run the saved batch and report the largest absolute
  difference from the outputs Keras computed. Named inputs (token ids,
  masks) are fed by name, in the dtype the runtime declares.

JOBS is a JSON list of dicts; RESULTS receives a JSON list with one entry
per job (`{"ok": false, "error": ...}` on failure), so one bad model does
not hide the others.
"""

import json
import os
import sys
import traceback

# Run by path: drop this script's folder (kerakit/export/) from sys.path, or
# its modules (`source`, ...) could shadow top-level modules.
_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(_HERE))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    sys.path.pop(0)


def _convert(job):
    import numpy as np

    import kerakit  # noqa: F401  (registers kerakit's custom objects)
    from kerakit.export.inputs import pack
    from kerakit.saving import load_model

    model = load_model(job["keras"])
    sample = np.load(job["sample"])
    inputs = [sample[f"x{i}"] for i in range(len(model.inputs))]
    model(pack(model, inputs))  # traced once
    if job["format"] == "onnx":
        from kerakit.export.tf_onnx import export_onnx

        export_onnx(model, job["out"])
    else:
        model.export(job["out"], format="tf_saved_model", verbose=False)
    return {"ok": True}


def _compare(outputs, expected):
    import numpy as np

    if len(outputs) != len(expected):
        raise ValueError(
            f"the artifact returned {len(outputs)} outputs, Keras "
            f"{len(expected)}"
        )
    worst, scale = 0.0, 0.0
    for got, want in zip(outputs, expected, strict=True):
        got = np.asarray(got)
        if got.shape != want.shape:
            raise ValueError(
                f"output shape {got.shape} differs from Keras {want.shape}"
            )
        worst = max(worst, float(np.max(np.abs(got - want))))
        scale = max(scale, float(np.max(np.abs(want))))
    return worst, scale


def _spec(name, shape, dtype):
    return {"name": name, "shape": [None if d in (None, -1) or
                                    not isinstance(d, int) else d
                                    for d in shape], "dtype": dtype}


def _natural(name):
    head = name.rstrip("0123456789")
    tail = name[len(head):]
    return head, int(tail) if tail else -1


def _verify_saved_model(job, sample, expected):
    import tensorflow as tf

    loaded = tf.saved_model.load(job["artifact"])
    if "serve" not in loaded.signatures:
        raise ValueError(
            f"no 'serve' signature (found {sorted(loaded.signatures)})"
        )
    fn = loaded.signatures["serve"]
    _, kw_specs = fn.structured_input_signature
    names = sorted(kw_specs, key=lambda n: job["input_names"].index(n)
                   if n in job["input_names"] else len(kw_specs))
    inputs = [_spec(n, kw_specs[n].shape.as_list(),
                    kw_specs[n].dtype.name) for n in names]
    for spec in inputs:
        if spec["shape"] and spec["shape"][0] is not None:
            raise ValueError(
                f"input {spec['name']!r} has a fixed batch dimension "
                f"{spec['shape']}"
            )
    feeds = {n: tf.constant(sample[f"x{i}"]) for i, n in enumerate(names)}
    result = fn(**feeds)
    out_names = sorted(result, key=_natural)
    outputs = [result[n].numpy() for n in out_names]
    out_specs = [_spec(n, fn.structured_outputs[n].shape.as_list(),
                       fn.structured_outputs[n].dtype.name)
                 for n in out_names]
    return inputs, out_specs, outputs, f"tensorflow {tf.__version__}"


def _verify_onnx(job, sample, expected):
    import onnxruntime as ort

    session = ort.InferenceSession(job["artifact"],
                                   providers=["CPUExecutionProvider"])
    type_names = {"tensor(float)": "float32", "tensor(int32)": "int32",
                  "tensor(int64)": "int64", "tensor(double)": "float64",
                  "tensor(bool)": "bool"}
    inputs = [_spec(i.name, i.shape, type_names.get(i.type, i.type))
              for i in session.get_inputs()]
    names = job["input_names"]
    by_name = all(spec["name"] in names for spec in inputs)
    feeds = {}
    for i, spec in enumerate(inputs):
        # Named inputs (token ids, masks) may come in any order; a
        # converter that renamed them keeps the Keras order.
        x = sample[f"x{names.index(spec['name']) if by_name else i}"]
        feeds[spec["name"]] = x.astype(spec["dtype"]) if (
            spec["dtype"] in type_names.values()) else x
    outputs = session.run(None, feeds)
    out_specs = [_spec(o.name, o.shape, type_names.get(o.type, o.type))
                 for o in session.get_outputs()]
    return inputs, out_specs, outputs, f"onnxruntime {ort.__version__}"


def _verify_keras(job, sample, expected):
    import keras

    import kerakit  # noqa: F401
    from kerakit.export.inputs import run
    from kerakit.saving import load_model

    model = load_model(job["artifact"])
    outputs = run(model, [sample[f"x{i}"]
                          for i in range(len(model.inputs))])
    inputs = [_spec(t.name, list(t.shape), str(t.dtype))
              for t in model.inputs]
    out_specs = [_spec(n, list(t.shape), str(t.dtype))
                 for n, t in zip(model.output_names, model.outputs,
                                 strict=True)]
    return inputs, out_specs, outputs, (
        f"keras {keras.__version__} ({keras.backend.backend()})")


_VERIFIERS = {"saved_model": _verify_saved_model, "onnx": _verify_onnx,
              "keras": _verify_keras}


def _verify(job):
    import numpy as np

    sample = np.load(job["sample"])
    expected = [sample[f"y{i}"] for i in range(job["num_outputs"])]
    inputs, out_specs, outputs, runtime = _VERIFIERS[job["format"]](
        job, sample, expected)
    worst, scale = _compare(outputs, expected)
    return {"ok": True, "max_abs_diff": worst, "max_abs_output": scale,
            "inputs": inputs, "outputs": out_specs, "runtime": runtime,
            "batch_size": int(sample["x0"].shape[0])}


def launch(mode, jobs, work, backend):
    """Run `mode` over `jobs` in a fresh interpreter (parent side).

    Args:
        mode: `"convert"` or `"verify"`.
        jobs: Job dicts (see the module doc).
        work: A scratch `pathlib.Path` for the job and result files.
        backend: `KERAS_BACKEND` of the child (used where it imports Keras).

    Returns:
        One result dict per job.
    """
    import subprocess

    jobs_path = work / f"{mode}_jobs.json"
    results_path = work / f"{mode}_results.json"
    jobs_path.write_text(json.dumps(jobs))
    env = {**os.environ, "KERAS_BACKEND": backend,
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH"))
        if p)
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), mode, str(jobs_path),
         str(results_path)],
        env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0 or not results_path.exists():
        raise RuntimeError(
            f"The export {mode} subprocess failed (exit {proc.returncode}):"
            f"\n{proc.stderr[-2000:]}"
        )
    with open(results_path) as f:
        return json.load(f)


def main(argv):
    """Run `convert` or `verify` over a JSON job list."""
    mode, jobs_path, results_path = argv
    run = {"convert": _convert, "verify": _verify}[mode]
    with open(jobs_path) as f:
        jobs = json.load(f)
    results = []
    for job in jobs:
        try:
            results.append(run(job))
        except Exception as err:  # reported per job to the parent
            results.append({
                "ok": False,
                "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(limit=6),
            })
    with open(results_path, "w") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
