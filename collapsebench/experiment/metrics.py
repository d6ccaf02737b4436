"""Metrics: one number per generation, with a direction and a family."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from collapsebench.experiment.data import RealData
from collapsebench.experiment.models import Model
from collapsebench.experiment.options import Options
from collapsebench.experiment.samples import Samples

FAMILIES = ("fidelity", "tails", "diversity", "drift")
"""The standard families every track reports (DESIGN.md)."""

_JUDGES: dict[tuple[str, str], Any] = {}


@dataclass
class MetricContext:
    """What a metric may look at for generation ``generation`` of one chain.

    ``model`` is model_g, ``samples`` is synthetic_{g+1} (drawn from model_g), ``reference`` is
    model_0. ``policy`` is the sampling policy that drew ``samples``; ``sample_labels`` are the classes a conditional model drew ``samples`` for (else None).
    ``cache`` lives as long as the chain (for real-data statistics).
    """

    generation: int
    seed: int
    model: Model
    reference: Model
    samples: np.ndarray
    train: Samples
    real: RealData
    rng: np.random.Generator
    artifact_dir: Path
    cache: dict[str, Any] = field(default_factory=dict)
    sample_labels: np.ndarray | None = None
    policy: Options | None = None

    def judge(self, name: str, build: Callable[[RealData], Any]) -> Any:
        """A fixed model trained once on the real data (never on synthetic), shared per process."""
        key = (name, self.real.fingerprint)
        if key not in _JUDGES:
            _JUDGES[key] = build(self.real)
        return _JUDGES[key]

    def save_artifact(self, name: str, array: np.ndarray) -> Path:
        """Store a per-sample array beside the results (e.g. per-sequence perplexities)."""
        self.artifact_dir.mkdir(parents=True, exist_ok=True)
        path = self.artifact_dir / f"g{self.generation:05d}_{name}.npy"
        np.save(path, array, allow_pickle=False)
        return path


class Metric(ABC):
    """A per-generation number. ``family`` is one of FAMILIES or "raw"."""

    name: ClassVar[str]
    family: ClassVar[str] = "raw"
    higher_is_better: ClassVar[bool]
    description: ClassVar[str] = ""

    @abstractmethod
    def compute(self, ctx: MetricContext) -> float:
        """The value at ``ctx.generation``; NaN where it is undefined."""
