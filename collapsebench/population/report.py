"""The population comparison, rendered from stored results: self-consuming vs cross-model vs population.

For each member and mixture: the headline metric at generation 0 and G and its change (mean ± 95% CI
over seeds), the paired difference from the ``self`` mixture with the same real share (per seed:
change under the mixture − change under self), the verdict that difference supports, and the
population's homogenisation (``population-distance`` at G). Written as ``population-<track>.md``
(tabulate pipe) and ``population-<track>.png`` (headline vs generation per mixture with CI bands,
one panel per member, and homogenisation vs generation).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tabulate import tabulate

from collapsebench.errors import CollapseBenchError
from collapsebench.experiment.metrics import FAMILIES
from collapsebench.files import atomic_write_bytes
from collapsebench.population.homogenisation import PopulationDistance
from collapsebench.population.mixture import PREFIX, MixWeights
from collapsebench.publish.aggregate import METHOD, RunGroup, Stat, load_groups
from collapsebench.publish.plot import LOG_DECADES
from collapsebench.publish.tables import arrow, number
from collapsebench.publish.tables import verdict as leaderboard_verdict

DISTANCE = PopulationDistance.name
PAIRED = (
    "vs self = paired difference over the same seeds of the change (gen G − gen 0) under this mixture minus "
    "under `self` with the same real share; verdict: collapses *faster* / *slower* than self-training where "
    "the 95% CI excludes 0 (faster = the change goes further in the metric's bad direction), else *no detectable "
    "difference*; collapsed = chains ended by a degenerate fit (no value at G, so not in n); distance = mean "
    "pairwise distance between members' samples at gen G (population-distance, in the track's drift terms)"
)


@dataclass(frozen=True)
class Cell:
    """One member under one mixture: its run group, parsed from the mitigation it records."""

    member: str
    mixture: str
    weights: MixWeights
    group: RunGroup


def population_cells(results_dir: Path, track: str, population_id: str) -> list[Cell]:
    """The run groups of population ``population_id`` (members × mixtures) under ``results_dir``."""
    cells = []
    for group in load_groups(results_dir, track):
        name, _, param = group.mitigation.partition(":")
        mixture, _, member = param.rpartition(":")
        me, _, pid = member.partition("~")
        if name == PREFIX and pid == population_id:
            cells.append(Cell(me, mixture, MixWeights.parse(mixture), group))
    if not cells:
        raise CollapseBenchError(
            f"no runs of population {population_id} for track '{track}' under {results_dir}: "
            "run `collapsebench population` with the same config and --results-dir first."
        )
    return cells


def _by_seed(group: RunGroup, metric: str, generation: int) -> dict[int, float]:
    return dict(zip(group.seeds, group.values(metric, generation).tolist()))


def change_by_seed(group: RunGroup, metric: str) -> dict[int, float]:
    """value_G − value_0 per seed."""
    last, first = _by_seed(group, metric, group.generations), _by_seed(group, metric, 0)
    return {s: last[s] - first[s] for s in first}


def paired_difference(cell: Cell, baseline: Cell, metric: str) -> Stat:
    """Per seed present in both: change under ``cell`` − change under ``baseline``."""
    ours, theirs = change_by_seed(cell.group, metric), change_by_seed(baseline.group, metric)
    return Stat.of([ours[s] - theirs[s] for s in sorted(set(ours) & set(theirs))])


SAID = {"better": "slower", "worse": "faster", "no difference": "no detectable difference", "n/a": "—"}


def verdict(diff: Stat, higher_is_better: bool | None) -> str:
    """The leaderboard's verdict on a paired difference in collapse terms: better than self-training = slower."""
    return SAID[leaderboard_verdict(diff, higher_is_better)]


def _baseline(cell: Cell, cells: list[Cell]) -> Cell | None:
    """The ``self`` cell of the same member with the same real share."""
    for other in cells:
        w = other.weights
        if other.member == cell.member and w.others == 0 and not w.pooled and math.isclose(w.real, cell.weights.real):
            return other
    return None


def _comparison(cell: Cell, cells: list[Cell], metric: str) -> tuple[Stat, str]:
    """Paired difference from the ``self`` cell and its verdict; "(baseline)" for the self cell itself."""
    base = _baseline(cell, cells)
    if base is cell:
        return Stat.of([]), "(baseline)"
    if base is None:
        return Stat.of([]), "no self mixture with this real share"
    diff = paired_difference(cell, base, metric)
    return diff, verdict(diff, cell.group.higher_is_better(metric))


def _table(headers: list[str], rows: list[list[str]], numeric: set[str]) -> str:
    align = ["right" if h in numeric else "left" for h in headers]
    return tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True, colalign=align)


NUMERIC = {"gen 0", "±", "gen G", "change", "vs self", "distance G", "n", "collapsed", "G"}


def _lead(cells: list[Cell], headline: str | None) -> str:
    """The family or metric the report leads with; every member must have it."""
    name = headline or cells[0].group.headline
    missing = sorted({c.member for c in cells if c.group.resolve(name) is None})
    if missing:
        raise CollapseBenchError(
            f"population member(s) {', '.join(missing)} have no metric or family '{name}': "
            f"set `headline` to one of {', '.join(cells[0].group.names())}."
        )
    return name


def render_population(results_dir: Path, track: str, population_id: str, headline: str | None = None) -> str:
    """The Markdown report of one population (a pure function of the result files)."""
    cells = sorted(population_cells(results_dir, track, population_id), key=lambda c: (c.member, c.weights.real, c.mixture))
    lead = _lead(cells, headline)
    headers = ["member", "mixture", "metric", "↑/↓", "gen 0", "±", "gen G", "±", "change", "±",
               "vs self", "±", "verdict", "distance G", "±", "n", "collapsed", "G"]
    rows = []
    for cell in cells:
        group = cell.group
        s = group.summary(lead)
        diff, said = _comparison(cell, cells, s.metric)
        dist = group.stat(DISTANCE, group.generations) if DISTANCE in group.metrics else Stat.of([])
        rows.append([
            cell.member, f"`{cell.mixture}`", s.metric, arrow(s.higher_is_better),
            number(s.first.mean), number(s.first.ci), number(s.last.mean), number(s.last.ci),
            number(s.change.mean, True), number(s.change.ci), number(diff.mean, True), number(diff.ci), said,
            number(dist.mean), number(dist.ci), str(s.change.n), f"{len(group.collapsed)}/{len(group.runs)}",
            str(group.generations),
        ])
    family_headers = ["member", "mixture", "family", "metric", "↑/↓", "change", "±", "vs self", "±", "verdict", "n"]
    family_rows = []
    for cell in cells:
        if _baseline(cell, cells) is cell:
            continue
        for family in FAMILIES:
            metric = cell.group.resolve(family)
            if metric is None:
                continue
            change = cell.group.change(metric)
            diff, said = _comparison(cell, cells, metric)
            family_rows.append([
                cell.member, f"`{cell.mixture}`", family, metric, arrow(cell.group.higher_is_better(metric)),
                number(change.mean, True), number(change.ci), number(diff.mean, True), number(diff.ci), said, str(diff.n),
            ])
    members = sorted({c.member for c in cells})
    return "\n".join([
        f"# Population {population_id} on track `{track}`: self-consuming vs cross-model vs population",
        "",
        (f"Members: {', '.join(f'`{m}`' for m in members)} (the population's config: "
         f"`{track}/populations/{population_id}.json` beside the run folders)."),
        "",
        f"## Headline ({lead})",
        "",
        _table(headers, rows, NUMERIC),
        "",
        "## Every standard family against self-training",
        "",
        _table(family_headers, family_rows, NUMERIC),
        "",
        f"{METHOD}. {PAIRED}.",
        "",
    ])


def plot_population(results_dir: Path, track: str, population_id: str, out: Path, headline: str | None = None) -> Path:
    """PNG: headline metric vs generation per mixture (one panel per member) and homogenisation vs generation."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    cells = population_cells(results_dir, track, population_id)
    lead = _lead(cells, headline)
    members = sorted({c.member for c in cells})
    mixtures = sorted({c.mixture for c in cells}, key=lambda m: (MixWeights.parse(m).real, m))
    colour = {m: f"C{i % 10}" for i, m in enumerate(mixtures)}  # one colour per mixture in every panel
    fig = Figure(figsize=(4.5 * (len(members) + 1), 4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(members) + 1, squeeze=False)[0]
    for ax, member in zip(axes, members):
        for mixture in mixtures:
            for cell in (c for c in cells if c.member == member and c.mixture == mixture):
                metric = cell.group.resolve(lead) or lead
                _band(ax, cell.group.series(metric), mixture, colour[mixture])
                ax.set_ylabel(metric)
        ax.set_title(member)
    ax = axes[-1]
    for mixture in mixtures:
        groups = [c.group for c in cells if c.mixture == mixture and DISTANCE in c.group.metrics]
        if groups:
            _band(ax, _distance_series(groups), mixture, colour[mixture])
    for ax in axes:
        _log_if_wide(ax)
    ax = axes[-1]
    ax.set_title("homogenisation")
    ax.set_ylabel(f"{DISTANCE} (mean over members)")
    seeds = sorted({len(c.group.runs) for c in cells})
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"generation (95% CI, n = {seeds[0]} seeds)")
        ax.legend(fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    path = Path(out) / f"population-{track}.png"
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _distance_series(groups: list[RunGroup]) -> list[Stat]:
    """Per generation: per seed the mean over members, then the Stat over seeds."""
    seeds = sorted(set.intersection(*(set(g.seeds) for g in groups)))
    out = []
    for generation in range(max(g.generations for g in groups) + 1):
        per_member = [_by_seed(g, DISTANCE, generation) for g in groups]
        out.append(Stat.of([np.mean([m[s] for m in per_member]) for s in seeds]))
    return out


def _log_if_wide(ax) -> None:
    """A log y axis where the positive values span more than ``LOG_DECADES`` decades (as ``collapsebench plot``)."""
    values = np.concatenate([line.get_ydata() for line in ax.get_lines()] or [np.array([])])
    values = values[np.isfinite(values)]
    if len(values) and (values > 0).all() and np.log10(values.max() / values.min()) > LOG_DECADES:
        ax.set_yscale("log")


def _band(ax, series: list[Stat], label: str, colour: str) -> None:
    x = np.arange(len(series))
    mean = np.array([s.mean for s in series])
    ci = np.nan_to_num(np.array([s.ci for s in series]))
    ax.plot(x, mean, label=label, color=colour)
    ax.fill_between(x, mean - ci, mean + ci, alpha=0.15, color=colour)


def write_population_report(
    results_dir: Path, track: str, population_id: str, out: Path, headline: str | None = None
) -> list[Path]:
    """``<out>/population-<track>.md`` and ``.png``, led by ``headline`` (default: the track's); their paths."""
    md = Path(out) / f"population-{track}.md"
    atomic_write_bytes(md, render_population(results_dir, track, population_id, headline).encode())
    return [md, plot_population(results_dir, track, population_id, out, headline)]
