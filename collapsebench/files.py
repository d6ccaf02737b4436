"""Atomic file writes: a file is on disk whole or not at all, and a failed write names its file.

Every stage writes files this way (samples, run folders, leaderboards, plugins' caches), so it lives
in the base with the errors and imports nothing else of collapsebench.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with failures_name(path), os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        with failures_name(path):
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def failures_name(path: Path) -> Iterator[None]:
    """A failed write (a full disk) names the file it was writing, so the user's message can."""
    try:
        yield
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def atomic_write_json(path: Path, obj: Any) -> None:
    """Sorted, indented JSON, atomically; NaN is refused (JSON has none)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode())


def atomic_write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Named arrays as .npz, atomically (read back with ``allow_pickle=False``)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())
