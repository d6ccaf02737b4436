"""PNG plots of a metric against generation, one line per mitigation with a shaded 95% CI band.

This is the figure collapse papers show. matplotlib is imported inside the functions: it costs
import time that every other command would otherwise pay.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from collapsebench.aggregate import RunGroup, load_groups, sampling_label
from collapsebench.errors import UnknownNameError
from collapsebench.metrics import FAMILIES
from collapsebench.registry import unknown_message
from collapsebench.storage import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LOG_DECADES = 3.0
"""Use a log y axis when positive values span more than this many decades."""


def _line_labels(groups: list[RunGroup]) -> list[str]:
    """Mitigation (and sampling policy); the config hash where two lines would share a label; collapses."""
    labels = [" ".join(filter(None, [g.mitigation, sampling_label(g.sampling)])) for g in groups]
    counts = Counter(labels)
    labels = [f"{label} [{g.config_hash}]" if counts[label] > 1 else label for label, g in zip(labels, groups)]
    return [
        f"{label} ({len(g.collapsed)}/{len(g.runs)} collapsed)" if g.collapsed else label
        for label, g in zip(labels, groups)
    ]


def _seed_count(groups: list[RunGroup]) -> str:
    counts = sorted({len(g.runs) for g in groups})
    return f"n = {counts[0]}" if len(counts) == 1 else f"n = {counts[0]}–{counts[-1]}"


def _figure(groups: list[RunGroup], name: str) -> Figure:
    """The figure for one model (its groups) and one family or metric name."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    metric = groups[0].resolve(name) or name
    lines = []
    for group in groups:
        series = group.series(group.resolve(name) or metric)
        mean = np.array([s.mean for s in series])
        lines.append((mean, np.nan_to_num(np.array([s.ci for s in series]), nan=0.0)))
    means = np.concatenate([mean for mean, _ in lines])
    means = means[np.isfinite(means)]
    log = bool(means.size) and means.min() > 0 and math.log10(means.max() / means.min()) > LOG_DECADES
    floor = means.min() / 10 if log else -math.inf  # on a log axis a band that reaches 0 runs off the bottom
    for (mean, ci), label in zip(lines, _line_labels(groups)):
        x = np.arange(len(mean))
        (line,) = ax.plot(x, mean, label=label, linewidth=1.5)
        ax.fill_between(x, np.maximum(mean - ci, floor), mean + ci, color=line.get_color(), alpha=0.2, linewidth=0)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
    arrow = {True: "↑ higher is better", False: "↓ lower is better", None: ""}[groups[0].higher_is_better(metric)]
    family = groups[0].family_of(metric)
    ax.set_title(f"{groups[0].model}: {metric} ({family}) {arrow}, {_seed_count(groups)} seeds", fontsize=11)
    ax.set_xlabel("generation")
    ax.set_ylabel(metric)
    ax.legend(title="mitigation", fontsize=8)
    ax.grid(alpha=0.3)
    note = "band = 95% CI, Student t over seeds" + ("; cut at the bottom where it reaches 0" if log else "")
    fig.text(0.01, 0.005, note, fontsize=7, color="0.4")
    return fig


def _save(fig: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def plot_track(results_dir: Path, track: str, out_dir: Path, metrics: list[str] | None = None) -> list[Path]:
    """One PNG per model × metric (default: the four families) under ``out_dir``; returns the paths.

    A name may be a family (plotted as the metric each model's spec names for it) or a raw metric.
    """
    groups = load_groups(results_dir, track)
    names = metrics or list(FAMILIES)
    available = sorted({n for g in groups for n in g.names()})
    for name in names:
        if not any(g.resolve(name) for g in groups):
            raise UnknownNameError(unknown_message("metric", name, available))
    by_model: dict[str, list[RunGroup]] = {}
    for group in groups:
        by_model.setdefault(group.model, []).append(group)
    paths = []
    for model, model_groups in sorted(by_model.items()):
        for name in names:
            having = [g for g in model_groups if g.resolve(name)]
            if having:
                paths.append(_save(_figure(having, name), Path(out_dir) / f"{_safe(model)}__{_safe(name)}.png"))
    return paths

