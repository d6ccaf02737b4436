"""Fixtures shared by the test modules: one local Ray instance for the whole session."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """Start Ray on this machine once (2 CPUs); the address lets CLI subprocesses join it."""
    ray = pytest.importorskip("ray")
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # silences the token warning, here and in subprocesses
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
    if previous is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = previous
