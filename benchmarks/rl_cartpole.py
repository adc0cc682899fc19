"""Train the CartPole agents through `kerakit.train`; print what they reach.

Checks the claim of `recipes/dqn_cartpole.toml` and
`recipes/a2c_cartpole.toml`: CartPole-v1 solved, a mean return >= 475 over
the 100 fixed-seed test episodes. For each recipe it prints that return,
the environment steps, the wall and CPU time of the run and the CPU model
(backend from `KERAS_BACKEND`), and first the time of one action (a
compiled call against `model.predict`). Figures are printed, never
asserted.

Usage:
    KERAS_BACKEND=jax python benchmarks/rl_cartpole.py
    python benchmarks/rl_cartpole.py dqn_cartpole --set seed=1
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def acting_milliseconds(calls: int = 300) -> tuple[float, float]:
    """Milliseconds per single-observation action of a CartPole Q-network:
    the agents' compiled call (`kerakit.rl.update.forward_fn`) and
    `model.predict`."""
    import numpy as np

    import kerakit
    from kerakit.rl.update import forward_fn

    model = kerakit.build("q_mlp", input_shape=(4,), num_classes=2,
                          hidden_units=(256, 256))
    observation = np.zeros((1, 4), "float32")
    timings = []
    # `predict` is 10-500x slower: a tenth of the calls times it well.
    for call, count in ((forward_fn(model), calls),
                        (lambda x: model.predict(x, verbose=0),
                         max(1, calls // 10))):
        call(observation)  # trace / compile once
        start = time.perf_counter()
        for _ in range(count):
            call(observation)
        timings.append((time.perf_counter() - start) / count * 1000)
    return timings[0], timings[1]


def main() -> None:
    """Train each recipe from scratch and print one line per recipe."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*",
                        default=["dqn_cartpole", "a2c_cartpole"])
    parser.add_argument("--set", action="append", default=[],
                        metavar="KEY=VALUE")
    args = parser.parse_args()

    import keras
    from cnn_throughput import cpu_model  # beside this script

    from kerakit.cli.common import parse_assignments
    from kerakit.workflow import training

    overrides = parse_assignments(args.set)
    print(f"backend {keras.backend.backend()}, CPU {cpu_model()}, "
          f"{os.cpu_count()} CPUs visible")
    compiled, predict = acting_milliseconds()
    print(f"acting, one observation: {compiled:.2f} ms compiled call, "
          f"{predict:.2f} ms model.predict", flush=True)
    for name in args.recipes:
        start, cpu = time.time(), cpu_seconds()
        with tempfile.TemporaryDirectory() as run_dir:
            result = training.train(name, run_dir, verbose=1,
                                    **{k.replace(".", "__"): v
                                       for k, v in overrides.items()})
        metrics = result.metrics
        test = metrics["test"]
        print(
            f"{name} on {metrics['backend']}: test return "
            f"{test['return']:.1f} +- {test['return_std']:.1f} over "
            f"{metrics['examples']['test']} episodes (random policy "
            f"{metrics['random_return']['mean']:.1f}), threshold reached "
            f"at epoch {metrics['reward_threshold_reached_epoch']} of "
            f"{metrics['epochs_run']}, {metrics['env_steps']} env steps, "
            f"wall {time.time() - start:.1f} s, CPU "
            f"{cpu_seconds() - cpu:.1f} s", flush=True)


if __name__ == "__main__":
    main()
