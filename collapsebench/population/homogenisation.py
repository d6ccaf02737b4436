"""Homogenisation of a population: how far apart its members' sample distributions are.

Each member's row reports the mean distance from its synthetic set to every other member's set of
the same generation, in the track's own drift terms (``Track.pairwise_distance``); the generic
default for array samples is the energy distance between the two sample sets.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial.distance import cdist

from collapsebench.experiment.metrics import Metric, MetricContext

PairwiseDistance = Callable[[np.ndarray, np.ndarray], float]
"""Distance between two sample sets (leading sample dimension); 0 for identical sets."""

PEERS = "population:peers"
"""``MetricContext.cache`` key: the other members' samples of this generation, by member name."""

MAX_POINTS = 2000
"""Energy distance uses at most this many samples per set (the first ones): O(n²) memory and time."""


def energy_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Energy distance sqrt(2 E|X−Y| − E|X−X'| − E|Y−Y'|) between two sample sets (flattened per sample).

    The V-statistic form: 0 for identical sets, and in 1-D it equals ``scipy.stats.energy_distance``.
    """
    x = np.asarray(a, dtype=np.float64).reshape(len(a), -1)[:MAX_POINTS]
    y = np.asarray(b, dtype=np.float64).reshape(len(b), -1)[:MAX_POINTS]
    value = 2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean()
    return float(np.sqrt(max(value, 0.0)))


class PopulationDistance(Metric):
    """Mean pairwise distance from this member's samples to the other members' of the same generation."""

    name = "population-distance"
    family = "raw"
    higher_is_better = True
    description = "mean distance from this member's samples to the other members' (same generation); falling = homogenising"

    def __init__(self, distance: PairwiseDistance | None = None) -> None:
        self.distance = distance or energy_distance

    def compute(self, ctx: MetricContext) -> float:
        peers: dict[str, np.ndarray] = ctx.cache.get(PEERS) or {}
        if not peers:
            return float("nan")
        return float(np.mean([self.distance(ctx.samples, other) for other in peers.values()]))
