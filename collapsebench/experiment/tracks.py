"""Tracks: a data source, model families, metrics and a headline, with presets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np


class Track:
    """A benchmark track. ``presets`` maps a name ("quick", "paper") to a sweep config dict.

    ``headline`` names the metric family the leaderboard leads with; ``families`` maps each
    standard family to the metric that represents it (models may override).
    ``resources`` is what one chain needs: {"cpus": int, "gpu": bool}.
    ``histograms`` names per-sample artifacts (``MetricContext.save_artifact``) that ``collapsebench
    plot`` draws as overlaid per-generation histograms, with an axis label for each.
    ``populations`` maps a name to a population config dict (``collapsebench population``), and
    ``pairwise_distance`` is the drift distance between two members' sample sets that measures a
    population's homogenisation (None: the energy distance between the sets).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    data_source: ClassVar[str | None] = None
    metrics: ClassVar[tuple[str, ...]] = ()
    families: ClassVar[dict[str, str]] = {}
    headline: ClassVar[str] = "fidelity"
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    resources: ClassVar[dict[str, Any]] = {"cpus": 1, "gpu": False}
    histograms: ClassVar[dict[str, str]] = {}
    citation: ClassVar[str] = ""
    populations: ClassVar[dict[str, dict[str, Any]]] = {}
    pairwise_distance: ClassVar[Callable[[np.ndarray, np.ndarray], float] | None] = None
