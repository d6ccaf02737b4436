"""PNG plots of a metric against generation, one line per mitigation with a shaded 95% CI band.

This is the figure collapse papers show. A track may also declare per-sample artifacts
(``Track.histograms``, e.g. the perplexity of each generated sequence); those are drawn as
overlaid per-generation histograms, one panel per mitigation (the paper's Figure 1).
matplotlib is imported inside the functions: it costs import time that every other command would
otherwise pay.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from collapsebench.errors import UnknownNameError
from collapsebench.experiment.metrics import FAMILIES
from collapsebench.files import atomic_write_bytes
from collapsebench.plugin.registry import registries, unknown_message
from collapsebench.publish.aggregate import RunGroup, load_groups, sampling_label

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


def declared_histograms(track: str) -> dict[str, str]:
    """The per-sample artifacts a registered track declares (name → axis label); none if unregistered."""
    try:
        return dict(registries().tracks.get(track).histograms)
    except UnknownNameError:
        return {}


def plot_track(
    results_dir: Path,
    track: str,
    out_dir: Path,
    metrics: list[str] | None = None,
    histograms: dict[str, str] | None = None,
) -> list[Path]:
    """One PNG per model × metric (default: the four families, then every histogram) under ``out_dir``.

    A name may be a family (plotted as the metric each model's spec names for it), a raw metric, or
    a per-sample artifact of ``histograms`` (default: the track's declared ones), drawn as
    per-generation histograms. Returns the paths.
    """
    groups = load_groups(results_dir, track)
    histograms = declared_histograms(track) if histograms is None else histograms
    names = metrics or [*FAMILIES, *histograms]
    available = sorted({n for g in groups for n in g.names()} | set(histograms))
    for name in names:
        if name not in histograms and not any(g.resolve(name) for g in groups):
            raise UnknownNameError(unknown_message("metric", name, available))
    by_model: dict[str, list[RunGroup]] = {}
    for group in groups:
        by_model.setdefault(group.model, []).append(group)
    paths = []
    for model, model_groups in sorted(by_model.items()):
        for name in names:
            path = Path(out_dir) / f"{_safe(model)}__{_safe(name)}.png"
            if name in histograms:
                fig = _histogram_figure(Path(results_dir), model_groups, name, histograms[name])
                if fig is not None:
                    paths.append(_save(fig, path))
                continue
            having = [g for g in model_groups if g.resolve(name)]
            if having:
                paths.append(_save(_figure(having, name), path))
    return paths


def artifact_values(results_dir: Path, group: RunGroup, name: str) -> dict[int, np.ndarray]:
    """Generation → the artifact ``name`` of every seed of ``group``, pooled; generations without one are left out."""
    pooled: dict[int, list[np.ndarray]] = {}
    for run in group.runs:
        folder = (run.path or results_dir / group.track / group.run_group / f"seed-{run.seed}") / "artifacts"
        for path in sorted(folder.glob(f"g[0-9]*_{name}.npy")):
            generation = int(path.name[1 : path.name.index("_")])
            pooled.setdefault(generation, []).append(np.load(path, allow_pickle=False).ravel())
    return {g: np.concatenate(parts) for g, parts in sorted(pooled.items())}


def _histogram_figure(results_dir: Path, groups: list[RunGroup], name: str, label: str) -> Figure | None:
    """One panel per run group, each overlaying one step histogram per generation; None without data."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = [(g, artifact_values(results_dir, g, name)) for g in groups]
    data = [(g, v) for g, v in data if v]
    if not data:
        return None
    values = np.concatenate([a for _, v in data for a in v.values()])
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    low, high = float(values.min()), float(values.max())
    log = low > 0 and high / low > 10**1.5
    bins = np.geomspace(low, high, 41) if log else np.linspace(low, high if high > low else low + 1, 41)
    fig = Figure(figsize=(5 * len(data), 4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, len(data), sharey=True, squeeze=False)[0])
    last = max(max(v) for _, v in data)
    colors = _generation_colors(last)
    for ax, (group, by_generation), title in zip(axes, data, _line_labels([g for g, _ in data])):
        for generation, array in by_generation.items():
            ax.hist(array[np.isfinite(array)], bins=bins, density=True, histtype="step",
                    color=colors[generation], label=f"gen {generation}", linewidth=1.2)
        if log:
            ax.set_xscale("log")
        ax.set_title(f"{title}, {len(group.runs)} seeds", fontsize=10)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("density")
    axes[-1].legend(title="generation", fontsize=7)
    fig.suptitle(f"{groups[0].model}: {name}, samples of each generation pooled over seeds", fontsize=11)
    return fig


def _generation_colors(last: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(g / max(last, 1)) for g in range(last + 1)]

