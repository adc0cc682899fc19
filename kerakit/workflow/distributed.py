"""Training on more than one process, on each backend's own engine.

A data-parallel run is N processes that each load the same splits, draw
the same seeded global batches and train on their rows of every batch
(`kerakit.data.sharding`); the engine averages the gradients so that every
process applies the same update, which is the update one process would make
on the whole batch. Only the first process (the chief) writes the run
directory; every process reads it when a run continues.

The engines, one per backend, are the backends' own:

- **JAX**: Keras's distribution API. `keras.distribution.initialize`
  (`jax.distributed` with gloo collectives on CPU) and `DataParallel` over
  every process's devices; with `model_parallel = M`, `ModelParallel` on a
  (batch, model) mesh whose layout map (`transformer_layout_map`) shards
  the transformers' attention and feed-forward kernels and token embeddings
  over M devices.
- **TensorFlow**: `tf.distribute.MultiWorkerMirroredStrategy` from
  `TF_CONFIG`. Its collective all-reduce averages the gradients inside
  Keras's train step. The model is built outside the strategy's scope,
  because Keras 3's `fit` under a multi-worker strategy fails on the first
  batch (keras-team/keras#20585); the communication is the strategy's own.
- **PyTorch**: `torch.distributed` with the gloo backend, all-reducing the
  gradients of every step in one flat buffer (as `DistributedDataParallel`
  buckets them). Keras's `fit` drives the Keras model itself and cannot be
  handed a `DistributedDataParallel` wrapper, so the all-reduce sits where
  Keras applies the gradients.

`launch` starts N local processes on 127.0.0.1, each pinned to its share of
the cores; a process that fails makes the launcher stop the others and
report it. Across hosts, each host runs `kerakit train RECIPE --coordinator
HOST:PORT --num-processes N --process-id I` (the run directory must be on a
filesystem they share; on TensorFlow each host also sets `TF_CONFIG`).

Example:
>>> cluster = Cluster("127.0.0.1:9000", num_processes=2, process_id=1)
>>> cluster.is_chief, cluster.shard
(False, DataShard(index=1, count=2))
>>> sorted(cluster.environment())
['KERAKIT_COORDINATOR', 'KERAKIT_NUM_PROCESSES', 'KERAKIT_PROCESS_ID']
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import keras

from kerakit.data.sharding import DataShard

COORDINATOR = "KERAKIT_COORDINATOR"
NUM_PROCESSES = "KERAKIT_NUM_PROCESSES"
PROCESS_ID = "KERAKIT_PROCESS_ID"
WORKER_SPEC = "KERAKIT_WORKER_SPEC"
# How long a process waits for a collective before it gives up: a peer that
# hangs (not one that dies, which the launcher sees at once) ends the run
# after this long instead of never.
COLLECTIVE_TIMEOUT_S = 300
# TensorFlow packs gradients into all-reduces of about this size.
PACK_BYTES = 32 * 2**20
# After one process fails, the others get this long to stop on SIGTERM.
STOP_GRACE_S = 10.0
# A launched process prints its known error as one line after this.
ERROR_PREFIX = "kerakit-process-error: "


class DistributionError(RuntimeError):
    """A distributed run cannot start or went wrong; the message says why."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Where this process stands in a run of `num_processes` processes.

    Attributes:
        coordinator: `HOST:PORT` of the first process (JAX's coordinator,
            torch's rendezvous).
        num_processes: Processes in the run.
        process_id: This process, `0 .. num_processes - 1`; 0 is the chief,
            which alone writes the run directory.
    """

    coordinator: str
    num_processes: int
    process_id: int

    def __post_init__(self) -> None:
        host, _, port = self.coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise DistributionError(
                f"coordinator: expected HOST:PORT (e.g. 10.0.0.1:12345); "
                f"received {self.coordinator!r}.")
        if self.num_processes < 1:
            raise DistributionError(
                f"num_processes must be at least 1; received "
                f"{self.num_processes}.")
        if not 0 <= self.process_id < self.num_processes:
            raise DistributionError(
                f"process_id must lie in 0..{self.num_processes - 1} "
                f"(num_processes = {self.num_processes}); received "
                f"{self.process_id}.")

    @property
    def is_chief(self) -> bool:
        """The first process, which writes the run directory."""
        return self.process_id == 0

    @property
    def shard(self) -> DataShard:
        """This process's rows of every global batch."""
        return DataShard(self.process_id, self.num_processes)

    @property
    def host(self) -> str:
        """The coordinator's host."""
        return self.coordinator.rpartition(":")[0]

    @property
    def port(self) -> int:
        """The coordinator's port."""
        return int(self.coordinator.rpartition(":")[2])

    def environment(self) -> dict[str, str]:
        """The variables that tell a process its place (`from_environment`)."""
        return {COORDINATOR: self.coordinator,
                NUM_PROCESSES: str(self.num_processes),
                PROCESS_ID: str(self.process_id)}

    @classmethod
    def from_environment(cls, environ: Any = None) -> Cluster | None:
        """The cluster the launcher gave this process, or None (alone)."""
        environ = os.environ if environ is None else environ
        if COORDINATOR not in environ:
            return None
        try:
            return cls(environ[COORDINATOR], int(environ[NUM_PROCESSES]),
                       int(environ[PROCESS_ID]))
        except (KeyError, ValueError) as err:
            raise DistributionError(
                f"{COORDINATOR} is set, so {NUM_PROCESSES} and {PROCESS_ID} "
                f"must be integers too ({err}).") from None


ALONE = Cluster("127.0.0.1:1", 1, 0)


# ----------------------------------------------------------------- engines
class Engine:
    """A backend's distributed engine, as the training workflow uses it.

    The workflow calls `start` before anything touches the backend, `attach`
    on the compiled model, `barrier` where the chief's files must be
    complete before the others read them, and `finish` after training.
    """

    name = "one process"
    # The trained model's variables live on this process alone (JAX's
    # distributed variables span every process's devices instead).
    model_is_local = True

    def __init__(self, cluster: Cluster = ALONE, model_parallel: int = 1):
        self.cluster = cluster
        self.model_parallel = model_parallel

    def start(self) -> None:
        """Connect the processes (blocks until all have joined)."""

    def attach(self, model: keras.Model) -> None:
        """Make `model`'s updates the average over the processes."""

    def barrier(self) -> None:
        """Wait until every process has reached this point."""

    def finish(self) -> None:
        """Training is over: the chief evaluates alone from here on."""

    def alone(self) -> contextlib.AbstractContextManager:
        """A scope for what the chief does by itself mid-training (saving
        the model), where the engine must not expect the others."""
        return contextlib.nullcontext()

    def describe(self) -> dict[str, Any]:
        """What `environment.json` records about the run's processes."""
        return {"engine": self.name,
                "processes": self.cluster.num_processes,
                "model_parallel": self.model_parallel}


def _average_gradients(optimizer: Any, reduce: Any) -> None:
    """Have `optimizer.apply` average its gradients over the processes.

    Keras's TensorFlow and torch trainers hand the gradients of a step to
    `optimizer.apply` (TensorFlow through `apply_gradients`); averaging them
    there keeps Keras's own train step, loss scaling and metrics.
    """
    apply = optimizer.apply

    def apply_averaged(grads: list, trainable_variables: Any = None) -> Any:
        variables = (trainable_variables if trainable_variables is not None
                     else optimizer._trainable_variables)
        return apply(reduce(list(grads), list(variables)),
                     trainable_variables)

    optimizer.apply = apply_averaged


class JaxEngine(Engine):
    """Keras's distribution API on `jax.distributed` (module doc)."""

    name = "jax: keras.distribution"
    model_is_local = False

    def start(self) -> None:
        """Join the processes; set `DataParallel` or `ModelParallel`."""
        import jax

        if self.cluster.num_processes > 1:
            # XLA:CPU needs a collectives implementation across processes.
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
            keras.distribution.initialize(self.cluster.coordinator,
                                          self.cluster.num_processes,
                                          self.cluster.process_id)
        devices = keras.distribution.list_devices()
        local = jax.local_device_count()
        if self.model_parallel == 1:
            distribution = keras.distribution.DataParallel(devices=devices)
        else:
            if local % self.model_parallel:
                raise DistributionError(
                    f"distribution.model_parallel = {self.model_parallel} "
                    f"must divide the devices of each process ({local} "
                    "here): on CPU, give each process more devices with "
                    "XLA_FLAGS=--xla_force_host_platform_device_count=K.")
            mesh = keras.distribution.DeviceMesh(
                (len(devices) // self.model_parallel, self.model_parallel),
                ("batch", "model"), devices)
            distribution = keras.distribution.ModelParallel(
                layout_map=transformer_layout_map(mesh),
                batch_dim_name="batch")
        # Every process feeds its own rows (DataShard): Keras must not cut
        # the inputs again.
        distribution.auto_shard_dataset = False
        keras.distribution.set_distribution(distribution)

    def barrier(self) -> None:
        """`jax.experimental.multihost_utils.sync_global_devices`."""
        if self.cluster.num_processes > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices("kerakit")

    def finish(self) -> None:
        """Later models live on this process's devices only."""
        keras.distribution.set_distribution(None)

    @contextlib.contextmanager
    def alone(self) -> Any:
        """Without a distribution: saving a model creates variables (a
        throwaway optimizer's), which under one would be a collective that
        the other processes never join."""
        distribution = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        try:
            yield
        finally:
            keras.distribution.set_distribution(distribution)

    def describe(self) -> dict[str, Any]:
        """Adds the devices the run used."""
        import jax

        return {**super().describe(), "devices": jax.device_count()}


class TensorFlowEngine(Engine):
    """`MultiWorkerMirroredStrategy`'s all-reduce (module doc)."""

    name = "tensorflow: MultiWorkerMirroredStrategy"

    def start(self) -> None:
        """Create the strategy from `TF_CONFIG` (checked against the
        cluster)."""
        import tensorflow as tf

        config = _tf_config(self.cluster)
        os.environ["TF_CONFIG"] = json.dumps(config)
        # Gradients travel in packs of PACK_BYTES, not one all-reduce per
        # variable.
        self.options = tf.distribute.experimental.CommunicationOptions(
            bytes_per_pack=PACK_BYTES, timeout_seconds=COLLECTIVE_TIMEOUT_S)
        self.strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=self.options)

    def _reduce(self, grads: list, variables: list) -> list:
        import tensorflow as tf

        pairs = [(g, v.value) for g, v in zip(grads, variables)
                 if g is not None]
        # Cross-replica context: each process's tensor is its replica's.
        with self.strategy.scope():
            reduced = iter(self.strategy.extended.batch_reduce_to(
                tf.distribute.ReduceOp.MEAN, pairs, options=self.options))
        return [None if g is None else next(reduced) for g in grads]

    def attach(self, model: keras.Model) -> None:
        """Average every step's gradients with the strategy."""
        _average_gradients(model.optimizer, self._reduce)

    def barrier(self) -> None:
        """A collective all-reduce of one number."""
        import tensorflow as tf

        one = tf.Variable(1.0)
        with self.strategy.scope():
            self.strategy.extended.batch_reduce_to(
                tf.distribute.ReduceOp.SUM, [(one.value(), one)])


def _tf_config(cluster: Cluster) -> dict[str, Any]:
    """`TF_CONFIG` as set, checked against the cluster; on one host, made
    from the coordinator (workers on the following ports)."""
    raw = os.environ.get("TF_CONFIG")
    if raw:
        try:
            config = json.loads(raw)
            workers = config["cluster"]["worker"]
            index = int(config["task"]["index"])
        except (ValueError, KeyError, TypeError) as err:
            raise DistributionError(
                f"TF_CONFIG is not a valid cluster spec ({err!r}): set it to "
                '{"cluster": {"worker": ["HOST:PORT", ...]}, "task": '
                '{"type": "worker", "index": I}}.') from None
        if (len(workers), index) != (cluster.num_processes,
                                     cluster.process_id):
            raise DistributionError(
                f"TF_CONFIG names {len(workers)} workers and index {index}, "
                f"but the run has {cluster.num_processes} processes and this "
                f"is process {cluster.process_id}: make them agree.")
        return config
    if cluster.host not in ("127.0.0.1", "localhost"):
        raise DistributionError(
            "On TensorFlow, each host of a multi-host run sets TF_CONFIG "
            "(every worker's HOST:PORT and this host's index), because "
            "MultiWorkerMirroredStrategy connects every worker to every "
            "other: see the README, 'Training on more than one machine'.")
    return {"cluster": {"worker": [
        f"{cluster.host}:{cluster.port + 1 + i}"
        for i in range(cluster.num_processes)]},
        "task": {"type": "worker", "index": cluster.process_id}}


class TorchEngine(Engine):
    """`torch.distributed` with gloo (module doc)."""

    name = "torch: torch.distributed (gloo)"

    def start(self) -> None:
        """`init_process_group("gloo")` at the coordinator."""
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(
                "gloo", init_method=f"tcp://{self.cluster.coordinator}",
                rank=self.cluster.process_id,
                world_size=self.cluster.num_processes,
                timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT_S))

    def _reduce(self, grads: list, variables: list) -> list:
        import torch
        import torch.distributed as dist

        present = [g for g in grads if g is not None]
        # One all-reduce per step over a flat buffer, not one per tensor.
        flat = torch.cat([g.reshape(-1) for g in present])
        dist.all_reduce(flat)
        flat /= self.cluster.num_processes
        out, start = [], 0
        for g in grads:
            if g is None:
                out.append(None)
                continue
            out.append(flat[start:start + g.numel()].view_as(g))
            start += g.numel()
        return out

    def attach(self, model: keras.Model) -> None:
        """Average every step's gradients with `all_reduce`."""
        _average_gradients(model.optimizer, self._reduce)

    def barrier(self) -> None:
        """`torch.distributed.barrier`."""
        import torch.distributed as dist

        dist.barrier()


_ENGINES = {"jax": JaxEngine, "tensorflow": TensorFlowEngine,
            "torch": TorchEngine}


def engine_for(cluster: Cluster, model_parallel: int = 1,
               backend: str | None = None) -> Engine:
    """The engine of `backend` (default: Keras's) for `cluster`.

    One process without model parallelism gets the no-op `Engine`.

    Raises:
        DistributionError: `model_parallel > 1` off JAX.

    Example:
    >>> engine_for(ALONE).name
    'one process'
    """
    backend = backend or keras.backend.backend()
    if model_parallel > 1 and backend != "jax":
        raise DistributionError(
            f"distribution.model_parallel = {model_parallel} is Keras's "
            "ModelParallel, which Keras implements on JAX only: set "
            "model_parallel = 1, or run with KERAS_BACKEND=jax.")
    if model_parallel > 1 and cluster.num_processes > 1:
        # Kernels sharded within each process and replicated across them
        # are neither whole on one process nor the same everywhere, so the
        # chief could not save them alone.
        raise DistributionError(
            f"distribution.model_parallel = {model_parallel} shards a model "
            "over the devices of one process; with "
            f"{cluster.num_processes} processes, set model_parallel = 1 "
            "(data parallel), or train on one process with more devices.")
    if cluster.num_processes == 1 and model_parallel == 1:
        return Engine(cluster)
    return _ENGINES[backend](cluster, model_parallel)


def transformer_layout_map(mesh: keras.distribution.DeviceMesh
                           ) -> keras.distribution.LayoutMap:
    """Shard a transformer's large kernels over the mesh's `"model"` axis.

    Megatron-style: the query/key/value and first feed-forward kernels are
    split by heads or hidden units (columns), the attention output and
    second feed-forward kernels by rows, token embeddings by the embedding
    dimension; everything else is replicated. The names are those of
    keras-hub's transformer layers (kerakit's BERT, GPT, ViT, CLIP,
    ViLBERT and Whisper), of keras-hub's T5 layers (`*_projector`) and of
    kerakit's Swin blocks. The sharded sizes must divide by the mesh's
    model axis. The layout only places the variables: the computation, and
    so the result, is the same as on one device.

    Example:
        mesh = keras.distribution.DeviceMesh((1, 2), ("batch", "model"))
        layout = transformer_layout_map(mesh)
        layout[".*/(query|key|value)/kernel"]  # (None, "model", None)
    """
    columns, rows = (None, "model"), ("model", None)
    layout = keras.distribution.LayoutMap(mesh)
    layout[".*token_embedding/embeddings"] = columns
    # keras-hub's EinsumDense attention: (hidden, heads, head_size).
    layout[".*/(query|key|value)/kernel"] = (None, "model", None)
    layout[".*/(query|key|value)/bias"] = rows
    layout[".*/attention_output/kernel"] = ("model", None, None)
    layout[".*feedforward_intermediate_dense/kernel"] = columns
    layout[".*feedforward_intermediate_dense/bias"] = ("model",)
    layout[".*feedforward_output_dense/kernel"] = rows
    # T5: Dense projections, no biases.
    layout[".*(query|key|value|input|gate)_projector/kernel"] = columns
    layout[".*output_projector/kernel"] = rows
    # Swin: a fused query-key-value kernel and a two-layer MLP.
    layout[".*/attention_qkv/kernel"] = columns
    layout[".*/attention_projection/kernel"] = rows
    layout[".*/mlp/fc1/kernel"] = columns
    layout[".*/mlp/fc1/bias"] = ("model",)
    layout[".*/mlp/fc2/kernel"] = rows
    return layout


# ---------------------------------------------------------------- launcher
def free_port() -> int:
    """A TCP port that nothing listens on now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _core_shares(count: int) -> list[set[int]]:
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < count:
        return [set(cores)] * count
    per = len(cores) // count
    return [set(cores[i * per:(i + 1) * per]) for i in range(count)]


def launch(entry: str, spec: dict[str, Any], processes: int, *,
           backend: str | None = None, quiet: bool = False) -> None:
    """Run a job as `processes` local processes; wait for all of them.

    Each process calls `entry` (`"module:function"`, which reads `spec`
    from the `KERAKIT_WORKER_SPEC` variable and returns an exit status; its
    known errors are printed as one line after `ERROR_PREFIX`), knowing its
    place in the cluster (`Cluster.from_environment`), on an equal share of
    this process's cores (pinned; the backends' thread pools sized to it).
    The chief's output comes through; the others' is kept and shown if they
    fail.

    Raises:
        DistributionError: A process failed; the others were stopped. The
            message names it and ends with its last lines of output.
    """
    backend = backend or keras.backend.backend()
    module, function = entry.split(":")
    cluster_port = free_port()
    tf_ports = [free_port() for _ in range(processes)]
    shares = _core_shares(processes)
    package_root = str(Path(__file__).resolve().parents[2])
    with tempfile.TemporaryDirectory(prefix="kerakit-launch-") as logs:
        children = []
        try:
            for rank in range(processes):
                env = _child_environment(
                    Cluster(f"127.0.0.1:{cluster_port}", processes, rank),
                    spec, backend, len(shares[rank]), package_root,
                    tf_ports)
                log = open(Path(logs) / f"process-{rank}.log", "w+b")
                children.append((subprocess.Popen(
                    [sys.executable, "-c", f"from {module} import "
                     f"{function}; raise SystemExit({function}())"],
                    env=env, stdout=None if rank == 0 and not quiet else log,
                    stderr=log, stdin=subprocess.DEVNULL,
                    preexec_fn=_pin(shares[rank])), log))
            _wait(children)
        finally:
            _stop([p for p, _ in children])
            for _, log in children:
                log.close()


def _child_environment(cluster: Cluster, spec: dict[str, Any],
                       backend: str, threads: int, package_root: str,
                       tf_ports: list[int]) -> dict[str, str]:
    env = {**os.environ, **cluster.environment(),
           WORKER_SPEC: json.dumps(spec), "KERAS_BACKEND": backend,
           "OMP_NUM_THREADS": str(threads),
           "TF_NUM_INTRAOP_THREADS": str(threads),
           "TF_NUM_INTEROP_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(
               [package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    if backend == "tensorflow":
        env["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": [f"127.0.0.1:{p}" for p in tf_ports]},
            "task": {"type": "worker", "index": cluster.process_id}})
    return env


def _pin(cores: set[int]) -> Any:
    def pin() -> None:
        os.sched_setaffinity(0, cores)
    return pin


def _wait(children: list[tuple[subprocess.Popen, Any]]) -> None:
    while True:
        codes = [p.poll() for p, _ in children]
        failed = [i for i, code in enumerate(codes) if code not in (None, 0)]
        if failed:
            # A process killed by a signal is the cause; others that failed
            # in the same moment lost their peer.
            rank = min(failed, key=lambda i: (codes[i] > 0, i))
            _stop([p for p, _ in children])
            raise DistributionError(_failure_message(
                rank, codes[rank], children[rank][1]))
        if all(code == 0 for code in codes):
            return
        time.sleep(0.2)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.time() + STOP_GRACE_S
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.0, deadline - time.time()))
        if process.poll() is None:
            process.kill()
            process.wait()


def _failure_message(rank: int, code: int, log: Any) -> str:
    log.flush()
    log.seek(0)
    lines = log.read().decode(errors="replace").splitlines()
    errors = [line[len(ERROR_PREFIX):] for line in lines
              if line.startswith(ERROR_PREFIX)]
    how = (f"was killed by {signal.Signals(-code).name}" if code < 0
           else f"exited with status {code}")
    if errors:  # a known error: its message says what to fix
        return (f"process {rank} of the run {how}; the other processes were "
                f"stopped.\n{errors[-1]}")
    tail = "\n".join(line for line in lines[-15:] if line.strip())
    return (f"process {rank} of the run {how}; the other processes were "
            f"stopped. Run the same command again to continue from the last "
            f"finished epoch." + (f"\nIts last output:\n{tail}" if tail
                                  else ""))
