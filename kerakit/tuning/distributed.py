"""Distributed tuning: a KerasTuner chief and workers as processes.

`run_distributed(directory, workers)` starts, on this machine, one chief
(`KERASTUNER_TUNER_ID=chief`, which serves the oracle over gRPC) and
`workers` tuners (`tuner0`, `tuner1`, ...) that ask it for trials and train
them. All share `KERASTUNER_ORACLE_IP=127.0.0.1` and a free
`KERASTUNER_ORACLE_PORT`. A worker that dies (killed, out of memory) is
started again under the same id: the oracle hands it back its unfinished
trial, so the search still completes. The same environment variables run
a search across hosts (see the README's "Tuning" section). Each process
runs `python -m kerakit.tuning DIR` (`kerakit/tuning/__main__.py`, which
imports the search; this module does not, so the two have no import cycle).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WORKERS_FILE = "workers.json"
MAX_RESTARTS = 3


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now.

    Example:
    >>> 1024 <= free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_oracle(oracle: Any, poll_s: float = 0.2) -> None:
    """Serve `oracle` to the workers until the search is over.

    Like KerasTuner's own chief loop, but it polls every `poll_s` seconds
    instead of 20, and stops the gRPC server cleanly.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    address = (f"{os.environ['KERASTUNER_ORACLE_IP']}:"
               f"{os.environ['KERASTUNER_ORACLE_PORT']}")
    server.add_insecure_port(address)
    server.start()
    try:
        while not (servicer.stop_triggered
                   and oracle_chief.exit_chief(oracle)):
            time.sleep(poll_s)
    finally:
        oracle.save()
        server.stop(grace=1)


def _start(directory: Path, tuner_id: str, port: int, log: Any) -> Any:
    import keras

    env = {**os.environ, "KERASTUNER_TUNER_ID": tuner_id,
           "KERASTUNER_ORACLE_IP": "127.0.0.1",
           "KERASTUNER_ORACLE_PORT": str(port),
           "KERAS_BACKEND": keras.backend.backend()}
    return subprocess.Popen(
        [sys.executable, "-m", "kerakit.tuning", str(directory)],
        env=env, stdout=log, stderr=subprocess.STDOUT)


def _write_pids(directory: Path, procs: dict[str, Any]) -> None:
    pids = {k: p.pid for k, p in procs.items()}
    tmp = directory / (WORKERS_FILE + ".tmp")
    tmp.write_text(json.dumps(pids))
    tmp.replace(directory / WORKERS_FILE)


def run_distributed(directory: str | os.PathLike, workers: int,
                    verbose: bool = True, timeout_s: float | None = None
                    ) -> None:
    """Run the search in `directory` with a chief and `workers` workers.

    `directory/space.json` (written by `kerakit.tune`) describes the search.
    Process ids are kept in `directory/workers.json`, logs in
    `directory/logs/`. A worker that exits abnormally is restarted under
    the same id, at most `MAX_RESTARTS` times.

    Raises:
        RuntimeError: When the chief fails or a worker keeps failing; the
            message names the log file to read.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1. Received: workers={workers}")
    directory = Path(directory)
    logs = directory / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    files = {}

    def start(tuner_id: str) -> Any:
        files[tuner_id] = open(logs / f"{tuner_id}.log", "a")
        return _start(directory, tuner_id, port, files[tuner_id])

    procs = {"chief": start("chief")}
    for i in range(workers):
        procs[f"tuner{i}"] = start(f"tuner{i}")
    _write_pids(directory, procs)
    if verbose:
        print(f"distributed search: chief + {workers} workers on "
              f"127.0.0.1:{port}; logs in {logs}", flush=True)
    restarts = dict.fromkeys(procs, 0)
    offsets: dict[str, int] = {}
    finished: set[str] = set()
    deadline = time.time() + timeout_s if timeout_s else None
    try:
        while len(finished) < len(procs):
            time.sleep(0.2)
            if verbose:
                _echo_progress(logs, offsets)
            if deadline and time.time() > deadline:
                raise RuntimeError(f"distributed search timed out after "
                                   f"{timeout_s} s; see {logs}.")
            for tuner_id, proc in list(procs.items()):
                code = proc.poll()
                if tuner_id in finished or code is None:
                    continue
                files[tuner_id].close()
                if code == 0:
                    finished.add(tuner_id)
                    continue
                log = logs / f"{tuner_id}.log"
                if tuner_id == "chief" or restarts[tuner_id] >= MAX_RESTARTS:
                    raise RuntimeError(
                        f"{tuner_id} exited with code {code}; see {log}.")
                restarts[tuner_id] += 1
                if verbose:
                    print(f"{tuner_id} exited with code {code}; restarting "
                          "it (its trial is handed back to it)", flush=True)
                procs[tuner_id] = start(tuner_id)
                _write_pids(directory, procs)
            if finished >= set(procs) - {"chief"} and "chief" not in finished:
                # All workers are done; the chief exits on its own shortly.
                if procs["chief"].poll() is None:
                    try:
                        procs["chief"].wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        procs["chief"].terminate()
                        procs["chief"].wait()
                        finished.add("chief")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
        for f in files.values():
            f.close()
        if verbose:
            _echo_progress(logs, offsets)


def _echo_progress(logs: Path, offsets: dict[str, int]) -> None:
    """Print the workers' new per-trial lines, prefixed with their id."""
    for path in sorted(logs.glob("tuner*.log")):
        with open(path, "rb") as f:
            f.seek(offsets.get(path.name, 0))
            data = f.read()
        end = data.rfind(b"\n") + 1
        offsets[path.name] = offsets.get(path.name, 0) + end
        for line in data[:end].decode(errors="replace").splitlines():
            if line.startswith("trial "):
                print(f"[{path.stem}] {line}", flush=True)


def exit_with_parent(poll_s: float = 1.0) -> None:
    """Exit this process when the launching process dies (even kill -9).

    A watcher thread polls the parent id every `poll_s` seconds, so a
    worker never outlives a killed `kerakit tune`.

    Example:
        exit_with_parent()  # first thing in a chief or worker process
    """
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
