"""Markdown leaderboards rendered from stored results only, and a check that a committed one matches.

The rendering is a pure function of the result files (sorted, fixed number format, no timestamps),
so ``collapsebench leaderboard --check`` can fail CI when a table and its results disagree.
"""

from __future__ import annotations

import math
from pathlib import Path

from tabulate import tabulate

from collapsebench.aggregate import METHOD, RunGroup, Stat, Summary, load_groups, sampling_label
from collapsebench.metrics import FAMILIES
from collapsebench.storage import atomic_write_bytes

MISSING = "—"
NUMERIC_COLUMNS = {"gen 0", "±", "gen G", "change", "gen G/gen 0", "n", "collapsed", "G"}


def _number(value: float, signed: bool = False) -> str:
    """Four significant digits; "—" where there is no value (n = 0, or no CI for n < 2)."""
    if not math.isfinite(value):
        return MISSING
    value = value + 0.0  # -0.0 → 0.0, so a zero never prints as "-0"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _stat(stat: Stat, signed: bool = False) -> list[str]:
    return [_number(stat.mean, signed), _number(stat.ci)]


def _arrow(higher_is_better: bool | None) -> str:
    return {True: "↑", False: "↓", None: "?"}[higher_is_better]


def _collapsed(group: RunGroup) -> str:
    at = [g for run in group.runs if (g := run.collapsed_at) is not None]
    if not at:
        return f"0/{len(group.runs)}"
    return f"{len(at)}/{len(group.runs)} (g {sum(at) / len(at):.3g})"


def _label(group: RunGroup, with_sampling: bool) -> list[str]:
    cells = [group.model, group.mitigation]
    if with_sampling:
        cells.append(sampling_label(group.sampling) or "default")
    return cells


def _table(headers: list[str], rows: list[list[str]]) -> str:
    align = ["right" if header in NUMERIC_COLUMNS else "left" for header in headers]
    return tabulate(rows, headers=headers, tablefmt="pipe", colalign=align, disable_numparse=True)


def _headline_table(groups: list[RunGroup], with_sampling: bool) -> str:
    label = ["model", "mitigation"] + (["sampling"] if with_sampling else [])
    headers = label + ["metric", "↑/↓", "gen 0", "±", "gen G", "±", "change", "±"]
    headers += ["n", "collapsed", "G", "config"]
    rows = []
    for group in groups:
        s = group.summary(group.headline)
        rows.append(
            _label(group, with_sampling)
            + [s.metric, _arrow(s.higher_is_better)]
            + _stat(s.first)
            + _stat(s.last)
            + _stat(s.change, signed=True)
            + [str(s.change.n), _collapsed(group), str(group.generations), f"`{group.config_hash}`"]
        )
    return _table(headers, rows)


def _family_rows(group: RunGroup, with_sampling: bool) -> list[list[str]]:
    rows = []
    for family in FAMILIES:
        if group.resolve(family) is None:
            continue
        s: Summary = group.summary(family)
        rows.append(
            _label(group, with_sampling)
            + [family, s.metric, _arrow(s.higher_is_better)]
            + _stat(s.first)
            + _stat(s.last)
            + _stat(s.change, signed=True)
            + _stat(s.relative)
            + [str(s.change.n), str(group.generations), f"`{group.config_hash}`"]
        )
    return rows


def _families_table(groups: list[RunGroup], with_sampling: bool) -> str:
    label = ["model", "mitigation"] + (["sampling"] if with_sampling else [])
    headers = label + ["family", "metric", "↑/↓", "gen 0", "±", "gen G", "±", "change", "±", "gen G/gen 0", "±"]
    headers += ["n", "G", "config"]
    rows = [row for group in groups for row in _family_rows(group, with_sampling)]
    return _table(headers, rows)


NOTES = (
    f"{METHOD}. n = seeds with a value at both generation 0 and G; G = last generation; "
    "config = config hash (run folder `<model>__<mitigation>__<config>`, listed under Runs)."
)


def _runs_section(groups: list[RunGroup]) -> list[str]:
    lines = ["## Runs", ""]
    for group in groups:
        sampling = f", sampling {sampling_label(group.sampling)}" if group.sampling else ""
        parts = [
            f"- `{group.run_group}`: {group.model} / {group.mitigation}{sampling}, "
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
        lines.append("".join(parts))
    return lines


def render_leaderboard(results_dir: Path, track: str) -> str:
    """The Markdown leaderboard of ``track``: headline table, families table, run list."""
    groups = load_groups(results_dir, track)
    with_sampling = any(group.sampling for group in groups)
    headlines = sorted({group.headline for group in groups})
    lines = [
        f"# collapsebench leaderboard: {track}",
        "",
        f"Rendered from the stored results by `collapsebench leaderboard --track {track}`; do not edit by hand.",
        "Generation 0 is trained on real data only; gen G is the last generation of the chain.",
        "",
        f"## Headline: {', '.join(headlines)}",
        "",
        _headline_table(groups, with_sampling),
        "",
        NOTES + " collapsed = chains that hit a degenerate fit / all chains (mean generation of collapse); "
        "a collapsed chain has no value at G, so it is not in n.",
        "",
        "## Metric families",
        "",
        _families_table(groups, with_sampling),
        "",
        NOTES,
        "",
        *_runs_section(groups),
    ]
    return "\n".join(lines) + "\n"


def write_leaderboard(results_dir: Path, track: str, out_dir: Path) -> Path:
    """Render and write ``<out_dir>/<track>.md`` atomically; returns its path."""
    path = Path(out_dir) / f"{track}.md"
    atomic_write_bytes(path, render_leaderboard(results_dir, track).encode())
    return path


def check_leaderboard(results_dir: Path, track: str, out_dir: Path) -> list[str]:
    """Problems with ``<out_dir>/<track>.md``: missing, or not what the results render to now."""
    path = Path(out_dir) / f"{track}.md"
    fix = f"run `collapsebench leaderboard --track {track} --results-dir {results_dir} --out {out_dir}`"
    if not path.is_file():
        return [f"{path} is missing: {fix} to write it"]
    expected = render_leaderboard(results_dir, track).splitlines()
    actual = path.read_text().splitlines()
    if actual == expected:
        return []
    pairs = zip(actual, expected)
    line = next((i for i, (a, b) in enumerate(pairs, start=1) if a != b), min(len(actual), len(expected)) + 1)
    return [f"{path} does not match the results in {results_dir} (first difference at line {line}): {fix}"]
