"""Result files on disk: one folder per run, rows appended atomically, checkpoints for resume.

Layout: ``<results>/<track>/<model>__<mitigation>__<hash>/seed-<s>/`` holding ``run_spec.json``
(provenance), ``rows.jsonl`` (one JSON line per finished generation), ``state/`` (model and
synthetic-set checkpoints for resume) and ``artifacts/`` (per-sample arrays metrics store).
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from collapsebench.errors import CollapseBenchError
from collapsebench.files import atomic_write_json, failures_name

SCHEMA_VERSION = 1
SPEC_FILE = "run_spec.json"
ROWS_FILE = "rows.jsonl"


class ResultsError(CollapseBenchError):
    """A results folder is corrupt, locked, or written by an incompatible schema."""


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def json_safe(value: Any) -> Any:
    """NaN and infinities become None (JSON has no NaN); numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def encode_row(row: dict[str, Any]) -> bytes:
    return (json.dumps(json_safe(row), sort_keys=True, allow_nan=False) + "\n").encode()


def read_rows(run_dir: Path) -> list[dict[str, Any]]:
    """Finished rows of a run. A torn last line (killed mid-write) is not a row; others must parse."""
    path = Path(run_dir) / ROWS_FILE
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    complete, tail = lines[:-1], lines[-1]  # tail is b"" when the file ends in a newline
    rows = []
    for number, line in enumerate(complete, start=1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            raise ResultsError(
                f"{path} line {number} is not valid JSON; the file is corrupt: "
                "move the run folder away and rerun to recompute it."
            ) from None
    del tail  # bytes after the last newline never completed: ignored, and cut off by the writer
    return rows


def read_spec(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / SPEC_FILE
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{run_dir} has no {SPEC_FILE}: it is not a collapsebench run folder.") from None
    except json.JSONDecodeError:
        raise ResultsError(f"{path} is not valid JSON: move the run folder away and rerun it.") from None
    version = spec.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{run_dir} was written with result schema {version}, this collapsebench reads schema "
            f"{SCHEMA_VERSION}: rerun into a new --results-dir or use the matching collapsebench version."
        )
    return spec


def find_runs(results_dir: Path, track: str | None = None) -> list[Path]:
    """Every run folder (one with a run_spec.json) under ``results_dir``[/track], sorted."""
    root = Path(results_dir) / track if track else Path(results_dir)
    return sorted(p.parent for p in root.glob(f"**/{SPEC_FILE}") if "state" not in p.parts)


class RunStore:
    """Reads and writes one run folder; the writer holds an exclusive lock on it."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = Path(run_dir)
        self.state_dir = self.dir / "state"
        self.artifact_dir = self.dir / "artifacts"

    @contextmanager
    def locked(self, wait: float = 0.0) -> Iterator[RunStore]:
        """Hold the run's lock, so two processes never write the same generation.

        A second writer waits up to ``wait`` seconds for the first to finish (then resumes after
        its rows), and is refused with a message naming the holder when the time is up.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a+") as handle:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        holder = handle.read().strip() or "unknown"
                        raise ResultsError(
                            f"{self.dir} is being written by another collapsebench process ({holder}); "
                            "wait for it to finish (a rerun then resumes where it stopped), "
                            "or pass --lock-wait SECONDS to wait for it."
                        ) from None
                    time.sleep(0.1)
            try:
                handle.truncate(0)
                handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
                handle.flush()
                self._recover()
                yield self
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _recover(self) -> None:
        """Undo what a killed writer left: temporary files and a torn last row."""
        for tmp in self.dir.glob("**/.*.tmp"):
            tmp.unlink(missing_ok=True)
        path = self.dir / ROWS_FILE
        if path.exists():
            raw = path.read_bytes()
            end = raw.rfind(b"\n") + 1
            if end != len(raw):
                with open(path, "r+b") as f:
                    f.truncate(end)

    def rows(self) -> list[dict[str, Any]]:
        return read_rows(self.dir)

    def append_row(self, row: dict[str, Any]) -> None:
        """One write of one line in append mode, fsynced: a row is on disk whole or not at all.

        A short write (the disk filled up mid-line) is cut off again and raised as ENOSPC, so the
        next row never lands after a torn one.
        """
        data = encode_row(row)
        path = self.dir / ROWS_FILE
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            with failures_name(path):
                if os.write(fd, data) != len(data):
                    os.ftruncate(fd, size)
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(fd)
        finally:
            os.close(fd)

    def spec(self) -> dict[str, Any] | None:
        return read_spec(self.dir) if (self.dir / SPEC_FILE).exists() else None

    def write_spec(self, spec: dict[str, Any]) -> None:
        atomic_write_json(self.dir / SPEC_FILE, spec)

    def model_path(self, generation: int) -> Path:
        return self.state_dir / f"model_{generation:05d}.npz"

    def synthetic_path(self, generation: int) -> Path:
        return self.state_dir / f"synthetic_{generation:05d}.npz"

    def prune(self, keep_models: set[int], keep_synthetic: set[int]) -> None:
        """Delete checkpoints that resume no longer needs."""
        if not self.state_dir.exists():
            return
        for path in self.state_dir.glob("*.npz"):
            kind, _, number = path.stem.partition("_")
            keep = keep_models if kind == "model" else keep_synthetic
            if int(number) not in keep:
                path.unlink(missing_ok=True)
