"""Where shared real data sets live: ``COLLAPSEBENCH_SHARED_DATA``, else ``../shared/data`` beside the checkout.

The data sets there are read in place, never copied into the project.
"""

from __future__ import annotations

import os
from pathlib import Path

from collapsebench.errors import DataError

ENV_VAR = "COLLAPSEBENCH_SHARED_DATA"


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when neither the variable nor the sibling folder exists."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    sibling = Path(__file__).resolve().parents[3] / "shared" / "data"
    return sibling if sibling.is_dir() else None


def shared_dataset(name: str) -> Path:
    """The folder of one shared data set; a DataError naming the fix when it is absent."""
    root = shared_data_dir()
    path = root / name if root else None
    if path is None or not path.is_dir():
        raise DataError(
            f"Shared data set '{name}' not found{f' in {root}' if root else ''}: set {ENV_VAR} to the folder "
            f"that holds '{name}/', or pass the data set's own path in the config's data options."
        )
    return path
