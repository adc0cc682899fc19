"""Run SavedModels as TensorFlow Serving users do: `load(...).serve(x)`.

Written for the export tests, independently of `kerakit/export/worker.py`.
Imported where the test process already holds TensorFlow, else run as a
script in a fresh process (`python saved_model_runner.py JOBS OUT ERRORS`);
TensorFlow is imported only inside `serve_all`, so importing this module
(e.g. for doctests) on the torch backend does not load it.
"""

import json
import sys


def serve_all(jobs):
    """Run each `{"artifact": dir, "input": .npy or .npz}` job.

    A `.npz` input holds named arrays, served as a dict (token models).

    Returns:
        `(outputs, errors)`: `outputs["{i}_{j}"]` is output `j` of job `i`;
        `errors[str(i)]` says why job `i` failed.
    """
    import numpy as np
    import tensorflow as tf

    outputs, errors = {}, {}
    for i, job in enumerate(jobs):
        try:
            loaded = tf.saved_model.load(job["artifact"])  # owns the weights
            if job["input"].endswith(".npz"):  # named inputs (token ids...)
                with np.load(job["input"]) as data:
                    served = loaded.serve({k: tf.constant(v)
                                           for k, v in data.items()})
            else:
                served = loaded.serve(tf.constant(np.load(job["input"])))
            if isinstance(served, dict):
                served = [served[k] for k in sorted(served)]
            if not isinstance(served, (list, tuple)):
                served = [served]
            for j, y in enumerate(served):
                outputs[f"{i}_{j}"] = y.numpy()
        except Exception as err:  # noqa: BLE001  (reported per job)
            errors[str(i)] = f"{type(err).__name__}: {err}"
    return outputs, errors


if __name__ == "__main__":
    import numpy as np

    jobs_path, outputs_path, errors_path = sys.argv[1:]
    with open(jobs_path) as f:
        found, failed = serve_all(json.load(f))
    np.savez(outputs_path, **found)
    with open(errors_path, "w") as f:
        json.dump(failed, f)
