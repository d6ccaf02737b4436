"""Fixtures shared by the image-track test modules."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_judge_cache(tmp_path_factory) -> Path:
    """One judge disk cache for the modules that use the same data, so its judge is trained once."""
    return tmp_path_factory.mktemp("judge-cache")
