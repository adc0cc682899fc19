"""Shared pytest set-up: the backend comes from KERAS_BACKEND per process."""

from __future__ import annotations

import gc
import os

import keras
import pytest

import kerakit  # noqa: F401  (imported before the freeze below)

# Every test started with `clear_session()`, whose full garbage collection
# walked the ~0.3-0.5 million objects of the imported frameworks each time:
# 0.3-0.5 s per test on a quiet machine, a third of the suite's time under
# CI load. Now each test clears Keras's state without that collection (the
# interpreter's own generational collector still frees old models), and the
# framework modules, which live as long as the process, are moved out of
# the collector's sight once, so that its full passes stay cheap too.
gc.collect()
gc.freeze()


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


# Skipping the full collection per test let garbage (models in reference
# cycles, their compiled functions) pile up: with the multimodal and RL tests
# the six CI workers grew to 22 of 24 GiB and the machine thrashed (kswapd,
# processes waiting on disk; measured). A worker now collects in full when it
# holds more than this much memory, which costs one collection every few
# dozen tests instead of one per test.
_COLLECT_ABOVE_BYTES = 2 * 1024**3
_collect_above = _COLLECT_ABOVE_BYTES


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux: no bound
        return 0


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    global _collect_above
    if _resident_bytes() > _collect_above:
        keras.backend.clear_session(free_memory=True)
        if keras.backend.backend() == "jax":
            import jax

            jax.clear_caches()
        # Memory that is still held (module fixtures, the allocator keeping
        # freed pages) must not make every later test collect: the next
        # collection waits for another GiB of growth.
        _collect_above = max(_COLLECT_ABOVE_BYTES,
                             _resident_bytes() + 1024**3)


@pytest.fixture
def backend() -> str:
    return keras.backend.backend()


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (RL tests: tiny networks, one step at a
    time). On a shared 2-core CPU a second thread made each call ~10-20x
    slower (measured); other backends are left alone."""
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
