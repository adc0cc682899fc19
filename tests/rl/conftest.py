"""RL tests run tiny networks: one torch thread (`one_torch_thread`)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _tiny_networks(one_torch_thread):
    yield
