"""The numbers of a leaderboard as format-free tables and records, computed once from stored results.

Markdown, LaTeX, CSV, JSON and the HTML page are all renderings of what this module builds, so a
number reads the same in every output. Tables keep mean and CI together (``PM``); each renderer
decides how to show them (two columns in Markdown, ``$\\pm$`` in LaTeX, raw numbers in CSV).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from collapsebench.experiment.metrics import FAMILIES
from collapsebench.publish.aggregate import (
    BASELINE,
    METHOD,
    Rank,
    RunGroup,
    Stat,
    Summary,
    baseline_of,
    paired_difference,
    ranks,
    sampling_label,
)
from collapsebench.publish.submit import read_submission
from collapsebench.run.storage import json_safe

MISSING = "—"
STAT_KEYS = ("gen0", "genG", "change", "ratio_to_gen0", f"vs_{BASELINE}")
"""The record fields that hold a statistic (mean, ci95, std, n) or null."""

RANK_NOTE = (
    "rank = 1 + the number of rows of the same model whose 95% CI at gen G lies wholly on the better side; "
    "rows whose CIs overlap are not told apart and can share a rank (marked =)."
)
VERSUS_NOTE = (
    f"vs {BASELINE} = paired difference mitigation − {BASELINE} at gen G over the seeds both ran "
    "(same seed: same real data and generation 0), with its 95% t CI; "
    f"shown for configs that differ from a {BASELINE} run only in the mitigation."
)


def number(value: float, signed: bool = False) -> str:
    """Four significant digits; "—" where there is no value (n = 0, or no CI for n < 2)."""
    if not math.isfinite(value):
        return MISSING
    value = value + 0.0  # -0.0 → 0.0, so a zero never prints as "-0"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


@dataclass(frozen=True)
class PM:
    """A mean with its 95% CI half-width (``signed``: a difference, printed with its sign)."""

    stat: Stat
    signed: bool = False

    @property
    def mean(self) -> str:
        return number(self.stat.mean, self.signed)

    @property
    def ci(self) -> str:
        return number(self.stat.ci)


Cell = str | PM
Kind = Literal["text", "number", "pm"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "text"


@dataclass(frozen=True)
class Table:
    """One table of a leaderboard: its columns, rows and the notes printed under it."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    notes: tuple[str, ...]


def arrow(higher_is_better: bool | None) -> str:
    return {True: "↑", False: "↓", None: "?"}[higher_is_better]


def collapsed_cell(group: RunGroup) -> str:
    at = [g for run in group.runs if (g := run.collapsed_at) is not None]
    if not at:
        return f"0/{len(group.runs)}"
    return f"{len(at)}/{len(group.runs)} (g {sum(at) / len(at):.3g})"


def with_sampling(groups: list[RunGroup]) -> bool:
    """Whether the sampling policy is a row label (shown when any group sets one)."""
    return any(group.sampling for group in groups)


def _label_columns(sampling: bool) -> list[Column]:
    return [Column("model"), Column("mitigation")] + ([Column("sampling")] if sampling else [])


def _label(group: RunGroup, sampling: bool) -> list[Cell]:
    cells: list[Cell] = [group.model, group.mitigation]
    if sampling:
        cells.append(sampling_label(group.sampling) or "default")
    return cells


def rank_map(groups: list[RunGroup], name: str) -> dict[str, Rank | None]:
    """run group → its rank on ``name`` at gen G among the groups of the same model (and metric)."""
    blocks: dict[tuple[str, str], list[RunGroup]] = {}
    for group in groups:
        metric = group.resolve(name)
        if metric is not None:
            blocks.setdefault((group.model, metric), []).append(group)
    out: dict[str, Rank | None] = {}
    for (_, metric), block in blocks.items():
        stats = [g.stat(metric, g.generations) for g in block]
        for group, rank in zip(block, ranks(stats, block[0].higher_is_better(metric))):
            out[group.run_group] = rank
    return out


def versus_baseline(group: RunGroup, groups: list[RunGroup], metric: str) -> Stat | None:
    """The paired difference to the comparable ``replace`` group; None where there is none."""
    base = baseline_of(group, groups)
    if base is None or base.resolve(metric) is None:
        return None
    return paired_difference(group, base, metric)


def _versus_cell(stat: Stat | None) -> PM | str:
    return MISSING if stat is None else PM(stat, signed=True)


def verdict(difference: Stat, higher_is_better: bool | None) -> str:
    """better / worse than the baseline where the 95% CI of the paired difference excludes 0."""
    if higher_is_better is None or difference.n < 2 or not math.isfinite(difference.ci):
        return "n/a"
    if abs(difference.mean) <= difference.ci:
        return "no difference"
    return "better" if (difference.mean > 0) == higher_is_better else "worse"


def headline_table(groups: list[RunGroup]) -> Table:
    """One row per config: the headline metric at gen 0 and G, change, vs replace, rank, seeds."""
    sampling = with_sampling(groups)
    columns = _label_columns(sampling) + [
        Column("metric"), Column("↑/↓"), Column("gen 0", "pm"), Column("gen G", "pm"), Column("change", "pm"),
        Column(f"vs {BASELINE}", "pm"), Column("rank", "number"), Column("n", "number"),
        Column("collapsed", "number"), Column("G", "number"), Column("config"),
    ]
    ranked = {headline: rank_map(groups, headline) for headline in {g.headline for g in groups}}
    rows = []
    for group in groups:
        s = group.summary(group.headline)
        rank = ranked[group.headline].get(group.run_group)
        rows.append(tuple(
            _label(group, sampling)
            + [s.metric, arrow(s.higher_is_better), PM(s.first), PM(s.last), PM(s.change, signed=True),
               _versus_cell(versus_baseline(group, groups, s.metric)), str(rank) if rank else MISSING,
               str(s.change.n), collapsed_cell(group), str(group.generations), f"`{group.config_hash}`"]
        ))
    notes = (
        METHOD + ". n = seeds with a value at both generation 0 and G; G = last generation; "
        "config = config hash (run folder `<model>__<mitigation>__<config>`, listed under Runs).",
        "collapsed = chains that hit a degenerate fit / all chains (mean generation of collapse); "
        "a collapsed chain has no value at G, so it is not in n.",
        VERSUS_NOTE,
        RANK_NOTE,
    )
    headlines = ", ".join(sorted({g.headline for g in groups}))
    return Table("headline", f"Headline: {headlines}", tuple(columns), tuple(rows), notes)


def family_summaries(group: RunGroup) -> list[Summary]:
    """The summaries of the standard families the group's track reports, in the standard order."""
    return [group.summary(family) for family in FAMILIES if group.resolve(family) is not None]


def families_table(groups: list[RunGroup]) -> Table:
    """One row per config × standard family: gen 0, gen G, change and the ratio to generation 0."""
    sampling = with_sampling(groups)
    columns = _label_columns(sampling) + [
        Column("family"), Column("metric"), Column("↑/↓"), Column("gen 0", "pm"), Column("gen G", "pm"),
        Column("change", "pm"), Column("gen G/gen 0", "pm"), Column("n", "number"), Column("G", "number"),
        Column("config"),
    ]
    rows = [
        tuple(
            _label(group, sampling)
            + [s.name, s.metric, arrow(s.higher_is_better), PM(s.first), PM(s.last), PM(s.change, signed=True),
               PM(s.relative), str(s.change.n), str(group.generations), f"`{group.config_hash}`"]
        )
        for group in groups
        for s in family_summaries(group)
    ]
    note = (
        METHOD + ". n = seeds with a value at both generation 0 and G; G = last generation; "
        "config = config hash (run folder `<model>__<mitigation>__<config>`, listed under Runs)."
    )
    return Table("families", "Metric families", tuple(columns), tuple(rows), (note,))


def versus_table(groups: list[RunGroup]) -> Table:
    """Each mitigation against ``replace`` over the same seeds, per standard family, with a verdict."""
    sampling = with_sampling(groups)
    columns = _label_columns(sampling) + [
        Column("family"), Column("metric"), Column("↑/↓"), Column("mitigation at G", "pm"),
        Column(f"{BASELINE} at G", "pm"), Column("difference", "pm"), Column("n", "number"), Column("verdict"),
    ]
    rows = []
    for group in groups:
        base = baseline_of(group, groups)
        if base is None:
            continue
        for s in family_summaries(group):
            difference = paired_difference(group, base, s.metric)
            rows.append(tuple(
                _label(group, sampling)
                + [s.name, s.metric, arrow(s.higher_is_better), PM(s.last),
                   PM(base.stat(s.metric, base.generations)), PM(difference, signed=True),
                   str(difference.n), verdict(difference, s.higher_is_better)]
            ))
    notes = (
        VERSUS_NOTE + " n = seeds in the pair; verdict = better or worse where the CI of the difference "
        "excludes 0 (in the metric's direction), else no difference.",
    )
    return Table("versus", f"Against {BASELINE} (paired over seeds)", tuple(columns), tuple(rows), notes)


def track_tables(groups: list[RunGroup]) -> list[Table]:
    """The tables of one track's leaderboard, in page order."""
    return [headline_table(groups), families_table(groups), versus_table(groups)]


def summary_table(by_track: dict[str, list[RunGroup]]) -> Table:
    """Across tracks: each config's headline relative to generation 0, against replace, and its rank."""
    sampling = any(with_sampling(groups) for groups in by_track.values())
    columns = [Column("track")] + _label_columns(sampling) + [
        Column("headline"), Column("metric"), Column("↑/↓"), Column("gen 0", "pm"), Column("gen G", "pm"),
        Column("gen G/gen 0", "pm"), Column(f"vs {BASELINE}", "pm"), Column("rank", "number"),
        Column("seeds", "number"), Column("G", "number"),
    ]
    rows = []
    for track, groups in sorted(by_track.items()):
        ranked = {headline: rank_map(groups, headline) for headline in {g.headline for g in groups}}
        for group in groups:
            s = group.summary(group.headline)
            rank = ranked[group.headline].get(group.run_group)
            rows.append(tuple(
                [track, *_label(group, sampling), group.headline, s.metric, arrow(s.higher_is_better),
                 PM(s.first), PM(s.last), PM(s.relative), _versus_cell(versus_baseline(group, groups, s.metric)),
                 str(rank) if rank else MISSING, str(len(group.runs)), str(group.generations)]
            ))
    notes = (
        METHOD + "; seeds = chains in the run group.",
        "gen G/gen 0 puts tracks side by side: 1 = no change since generation 0. " + VERSUS_NOTE,
        RANK_NOTE,
    )
    return Table("summary", "All tracks: headline metrics", tuple(columns), tuple(rows), notes)


def _rounded(value: float) -> float:
    """12 significant digits: every digit a reader can use, none that differ across BLAS or scipy builds."""
    return float(f"{value:.12g}")


def _stat_record(stat: Stat | None) -> dict[str, Any] | None:
    if stat is None:
        return None
    return json_safe({"mean": _rounded(stat.mean), "ci95": _rounded(stat.ci), "std": _rounded(stat.std), "n": stat.n})


def records(groups: list[RunGroup]) -> list[dict[str, Any]]:
    """Every number of a track's tables, unrounded, one record per config × (headline, families)."""
    names = sorted({g.headline for g in groups} | set(FAMILIES))
    ranked = {name: rank_map(groups, name) for name in names}
    out = []
    for group in groups:
        own = [group.headline] + [f for f in FAMILIES if f != group.headline and group.resolve(f) is not None]
        for name in own:
            s = group.summary(name)
            rank = ranked[name].get(group.run_group)
            out.append({
                "track": group.track, "model": group.model, "mitigation": group.mitigation,
                "sampling": dict(sorted(group.sampling.items())), "config_hash": group.config_hash,
                "run_group": group.run_group, "revision": group.revision, "name": name,
                "headline": name == group.headline, "metric": s.metric, "family": s.family,
                "higher_is_better": s.higher_is_better, "seeds": group.seeds, "generations": group.generations,
                "collapsed": len(group.collapsed),
                "gen0": _stat_record(s.first), "genG": _stat_record(s.last), "change": _stat_record(s.change),
                "ratio_to_gen0": _stat_record(s.relative),
                f"vs_{BASELINE}": _stat_record(versus_baseline(group, groups, s.metric)),
                "rank": rank.rank if rank else None, "rank_tied": rank.tied if rank else None,
            })
    return out


def run_lines(groups: list[RunGroup]) -> list[str]:
    """One line per run group: folder, generations, seeds, collapses, data, revision and submission."""
    lines = []
    for group in groups:
        sampling = f", sampling {sampling_label(group.sampling)}" if group.sampling else ""
        parts = [
            f"`{group.run_group}`: {group.model} / {group.mitigation}{sampling}, "
            f"generations 0–{group.generations}, seeds {', '.join(map(str, group.seeds))}"
        ]
        collapsed = group.collapsed
        if collapsed:
            at = ", ".join(f"seed {r.seed} at g {r.collapsed_at}" for r in collapsed)
            parts.append(f"; {len(collapsed)} of {len(group.runs)} chains collapsed ({at})")
        unfinished = group.unfinished
        if unfinished:
            at = ", ".join(f"seed {r.seed} after g {r.last_generation}" for r in unfinished)
            parts.append(f"; {len(unfinished)} unfinished ({at})")
        data = group.runs[0].spec.get("data") or {}
        if data.get("source"):
            parts.append(f"; data {data['source']} `{str(data.get('fingerprint', ''))[:12]}`")
        if group.revisions > 1 or group.revision > 1:
            parts.append(f"; revision {group.revision} (newest of {group.revisions} stored; earlier ones kept)")
        submission = read_submission(group.runs[0].path.parent) if group.runs[0].path else None
        if submission is not None:
            parts.append("; custom config" if submission["custom"] else f"; preset `{submission['preset']}`")
        lines.append("".join(parts))
    return lines
