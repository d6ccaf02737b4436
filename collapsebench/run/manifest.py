"""The run manifest of a sweep: every chain it holds and how far each got, kept by the driver.

Resume lives here, not in an executor, so it behaves the same under every backend: before a sweep
starts, each chain's state is read from its own ``rows.jsonl`` (the rows stay the source of truth;
the manifest is derived from them and can be deleted at any time), finished chains get no task at
all, and unfinished ones resume at their first generation without a row. The manifest is written
atomically to ``<results>/sweeps/<sweep-id>.json`` at the start, after each task and at the end,
so a person (or a script on a login node) can see which chains are finished, running or failed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from collapsebench.experiment.config import RunConfig
from collapsebench.files import atomic_write_json
from collapsebench.run.chain import is_finished, run_dir
from collapsebench.run.provenance import utc_now
from collapsebench.run.storage import ResultsError, read_rows, read_spec

MANIFEST_DIR = "sweeps"
MANIFEST_VERSION = 1

State = Literal["pending", "partial", "finished", "failed"]


@dataclass
class ChainEntry:
    """One chain (one seed of one config) and what its rows say about it."""

    config: RunConfig
    seed: int
    path: Path
    rows: int = 0
    state: State = "pending"
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.config.model} · {self.config.mitigation} · seed {self.seed}"

    def scan(self) -> None:
        """Re-read the chain's folder: rows finished so far, and whether anything is left to run."""
        self.error = None
        try:
            if (self.path / "run_spec.json").exists():
                read_spec(self.path)  # refuses a folder written by another result schema
            rows = read_rows(self.path)
        except ResultsError as exc:
            self.state, self.error = "failed", str(exc)
            return
        self.rows = len(rows)
        if is_finished(rows, self.config):
            self.state = "finished"
        else:
            self.state = "partial" if rows else "pending"


class Manifest:
    """The chains of a sweep under one results folder, with their states."""

    def __init__(self, results_dir: Path, configs: list[RunConfig], executor: str) -> None:
        self.results_dir = Path(results_dir)
        self.executor = executor
        self.chains = [
            ChainEntry(config.model_copy(update={"seeds": [seed]}), seed, run_dir(results_dir, config, seed))
            for config in configs
            for seed in config.seeds
        ]
        names = sorted(str(c.path.relative_to(self.results_dir)) for c in self.chains)
        self.sweep_id = hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]
        self.path = self.results_dir / MANIFEST_DIR / f"{self.sweep_id}.json"
        for chain in self.chains:
            chain.scan()

    def todo(self) -> list[RunConfig]:
        """Each config with only its seeds that still have generations to run (failed ones excluded)."""
        seeds: dict[str, list[int]] = {}
        configs: dict[str, RunConfig] = {}
        for chain in self.chains:
            if chain.state in ("pending", "partial"):
                key = chain.config.run_group()
                configs.setdefault(key, chain.config)
                seeds.setdefault(key, []).append(chain.seed)
        return [configs[key].model_copy(update={"seeds": seeds[key]}) for key in configs]

    def of(self, config: RunConfig) -> list[ChainEntry]:
        """The entries of ``config``'s seeds."""
        group = config.run_group()
        return [c for c in self.chains if c.config.run_group() == group and c.seed in config.seeds]

    def finish_task(self, config: RunConfig, error: str | None) -> None:
        """Rescan a task's chains after it ended; those it left unfinished carry its error."""
        for chain in self.of(config):
            chain.scan()
            if error is not None and chain.state != "finished":
                chain.state, chain.error = "failed", error

    def failed(self) -> list[ChainEntry]:
        return [c for c in self.chains if c.state == "failed"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for chain in self.chains:
            out[chain.state] = out.get(chain.state, 0) + 1
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "sweep_id": self.sweep_id,
            "executor": self.executor,
            "updated_at": utc_now(),
            "counts": self.counts(),
            "chains": [
                {
                    "run": str(c.path.relative_to(self.results_dir)),
                    "seed": c.seed,
                    "generations": c.config.generations,
                    "rows": c.rows,
                    "state": c.state,
                    "error": c.error,
                }
                for c in self.chains
            ],
        }

    def write(self) -> None:
        atomic_write_json(self.path, self.to_json())
