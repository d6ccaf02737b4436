"""Samples: an array with a leading sample dimension, each sample tagged with its provenance.

Mitigations only ever select and concatenate Samples, so they work for every modality. Optional
class labels travel with the samples (conditional models train on them and sample with them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from collapsebench.files import atomic_write_npz

REAL = "real"
REAL_GENERATION = -1
UNLABELLED = -1


class Labelled(NamedTuple):
    """What a conditional model's ``sample`` returns: the samples and the class each was drawn for."""

    data: np.ndarray
    labels: np.ndarray


def split_labels(drawn: np.ndarray | Labelled) -> tuple[np.ndarray, np.ndarray | None]:
    """``(data, labels)`` of a model's draw; labels are None for unconditional models."""
    if isinstance(drawn, Labelled):
        return drawn.data, drawn.labels
    return drawn, None


@dataclass(frozen=True)
class Samples:
    """``data[i]`` came from ``source[i]`` ("real" or a model name) at ``generation[i]`` (-1 = real).

    ``labels[i]`` is its class where the data source or a conditional model knows it
    (``UNLABELLED`` where a labelled set was mixed with an unlabelled one); None when nothing is labelled.
    """

    data: np.ndarray
    generation: np.ndarray
    source: np.ndarray
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.data)
        if self.generation.shape != (n,) or self.source.shape != (n,):
            raise ValueError(
                f"provenance arrays must have shape ({n},), got "
                f"{self.generation.shape} and {self.source.shape}"
            )
        if self.labels is not None and self.labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {self.labels.shape}")

    @classmethod
    def real(cls, data: np.ndarray, labels: np.ndarray | None = None) -> Samples:
        n = len(data)
        return cls(data, np.full(n, REAL_GENERATION, dtype=np.int64), np.full(n, REAL), _as_labels(labels))

    @classmethod
    def synthetic(cls, data: np.ndarray, generation: int, model: str, labels: np.ndarray | None = None) -> Samples:
        n = len(data)
        return cls(data, np.full(n, generation, dtype=np.int64), np.full(n, model), _as_labels(labels))

    @classmethod
    def concat(cls, parts: list[Samples]) -> Samples:
        parts = [p for p in parts if len(p)] or parts[:1]
        labelled = any(p.labels is not None for p in parts)
        return cls(
            np.concatenate([p.data for p in parts]),
            np.concatenate([p.generation for p in parts]),
            np.concatenate([p.source for p in parts]).astype(str),
            np.concatenate([p.labels_or_unlabelled() for p in parts]) if labelled else None,
        )

    def __len__(self) -> int:
        return len(self.data)

    def labels_or_unlabelled(self) -> np.ndarray:
        """The labels, or ``UNLABELLED`` for every sample when there are none."""
        return self.labels if self.labels is not None else np.full(len(self), UNLABELLED, dtype=np.int64)

    def take(self, index: np.ndarray) -> Samples:
        labels = None if self.labels is None else self.labels[index]
        return Samples(self.data[index], self.generation[index], self.source[index], labels)

    def subsample(self, n: int, rng: np.random.Generator) -> Samples:
        """A uniformly random subset of size ``n`` (without replacement), in random order."""
        if n > len(self):
            raise ValueError(f"cannot take {n} samples from {len(self)}")
        return self.take(rng.permutation(len(self))[:n])

    def composition(self) -> dict[str, int]:
        """How many samples come from each origin: ``{"real": 100, "gen3:gmm": 900}``.

        Grouped by generation first (integers sort fast); sources are compared only within a group,
        because accumulated pools hold many samples and each generation records this.
        """
        counts: dict[str, int] = {}
        generations, sizes = np.unique(self.generation, return_counts=True)
        order = np.argsort(self.generation, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        for k, (generation, size) in enumerate(zip(generations.tolist(), sizes.tolist())):
            sources = self.source[order[offsets[k] : offsets[k + 1]]]
            if generation == REAL_GENERATION:
                names, numbers = [REAL], [size]
            elif (sources == sources[0]).all():
                names, numbers = [f"gen{generation}:{sources[0]}"], [size]
            else:
                unique, tally = np.unique(sources, return_counts=True)
                names, numbers = [f"gen{generation}:{s}" for s in unique], tally.tolist()
            counts.update(zip(names, (int(n) for n in numbers)))
        return dict(sorted(counts.items()))

    def save(self, path: Path) -> None:
        """Write atomically as .npz (no pickle)."""
        arrays = {"data": self.data, "generation": self.generation, "source": self.source.astype(str)}
        if self.labels is not None:
            arrays["labels"] = self.labels
        atomic_write_npz(path, arrays)

    @classmethod
    def load(cls, path: Path) -> Samples:
        with np.load(path, allow_pickle=False) as f:
            return cls(f["data"], f["generation"], f["source"], f["labels"] if "labels" in f.files else None)


def _as_labels(labels: np.ndarray | None) -> np.ndarray | None:
    return None if labels is None else np.asarray(labels, dtype=np.int64)
