"""Real data: a train pool and a held-out test split, with a stable fingerprint."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from collapsebench.experiment.options import Options
from collapsebench.experiment.samples import Samples


@dataclass(frozen=True)
class RealData:
    """What a chain knows of the real distribution.

    ``fresh(n, rng)`` draws real samples that are in neither split (for the ``fresh`` mitigation);
    ``truth`` holds the true distribution's parameters where they are known (e.g. a Gaussian's).
    ``provenance`` says where the data came from, for the run's records.
    """

    train: Samples
    test: Samples
    fingerprint: str
    fresh: Callable[[int, np.random.Generator], Samples] | None = None
    truth: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """A short, stable hash of array contents, shapes and dtypes."""
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()[:16]


class DataSource(ABC):
    """Supplies RealData. Generative sources may depend on the chain's seed; finite ones should not."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[Options]] = Options

    def __init__(self, options: Options) -> None:
        self.options = options

    @abstractmethod
    def load(self, seed: int) -> RealData:
        """The real data for the chain with ``seed``; raise DataError naming the fix when absent."""
