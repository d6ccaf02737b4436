"""Leaderboards rendered from stored results only, and a check that the committed ones still match.

One call renders every output of a results tree: per track ``<track>.md`` (tabulate ``pipe``),
``<track>.tex`` (booktabs), ``<track>.csv`` and ``<track>.json``; across tracks ``summary.*``;
the static page ``index.html``; and the plots under ``plots/<track>/``. Every text output is a pure
function of the result files (sorted, fixed number format, no timestamps, no absolute paths), so
``collapsebench leaderboard --check`` can fail CI when a committed output and its results disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tabulate import tabulate

from collapsebench.errors import CollapseBenchError
from collapsebench.files import atomic_write_bytes
from collapsebench.publish.aggregate import RunGroup, load_groups
from collapsebench.publish.export import csv_text, json_text, latex_document
from collapsebench.publish.html_page import PLOTS_DIR, expected_plots, render_page
from collapsebench.publish.tables import (
    MISSING,
    PM,
    Cell,
    Table,
    records,
    run_lines,
    summary_table,
    track_tables,
)
from collapsebench.run.storage import SPEC_FILE

SUMMARY = "summary"
PAGE = "index.html"


def _expand(cell: Cell, kind: str) -> list[str]:
    if kind != "pm":
        return [str(cell)]
    return [cell.mean, cell.ci] if isinstance(cell, PM) else [MISSING, MISSING]


def markdown_table(table: Table) -> str:
    """A tabulate ``pipe`` table: mean and ± in separate columns, numbers right-aligned."""
    headers: list[str] = []
    align: list[str] = []
    for column in table.columns:
        names = [column.name, "±"] if column.kind == "pm" else [column.name]
        headers += names
        align += ["left" if column.kind == "text" else "right"] * len(names)
    rows = [[text for cell, column in zip(row, table.columns) for text in _expand(cell, column.kind)]
            for row in table.rows]
    if not rows:
        return "(no rows)"
    return tabulate(rows, headers=headers, tablefmt="pipe", colalign=align, disable_numparse=True)


def markdown_section(table: Table, level: str = "##") -> list[str]:
    notes = [line for note in table.notes for line in (note, "")]
    return [f"{level} {table.title}", "", markdown_table(table), "", *notes]


def render_markdown(track: str, groups: list[RunGroup]) -> str:
    """The Markdown leaderboard of one track: headline, families and versus-replace tables, run list."""
    lines = [
        f"# collapsebench leaderboard: {track}",
        "",
        "Rendered from the stored results by `collapsebench leaderboard`; do not edit by hand.",
        "Generation 0 is trained on real data only; gen G is the last generation of the chain.",
        "",
    ]
    for table in track_tables(groups):
        lines += markdown_section(table)
    lines += ["## Runs", "", *[f"- {line}" for line in run_lines(groups)]]
    return "\n".join(lines) + "\n"


def render_leaderboard(results_dir: Path, track: str) -> str:
    """The Markdown leaderboard of ``track`` under ``results_dir``."""
    return render_markdown(track, load_groups(results_dir, track))


def render_summary(by_track: dict[str, list[RunGroup]]) -> str:
    table = summary_table(by_track)
    lines = ["# collapsebench leaderboard: all tracks", "",
             "Rendered from the stored results by `collapsebench leaderboard`; do not edit by hand.", "",
             *markdown_section(table)]
    return "\n".join(lines).rstrip("\n") + "\n"


def find_tracks(results_dir: Path) -> list[str]:
    """The tracks that have results under ``results_dir`` (folders holding a run_spec.json)."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and p.name != "sweeps"]
    return sorted(p.name for p in folders if any(p.glob(f"**/{SPEC_FILE}")))


def _tracks(results_dir: Path, tracks: Sequence[str] | None) -> list[str]:
    found = list(tracks) if tracks else find_tracks(results_dir)
    if not found:
        raise CollapseBenchError(
            f"no results under {results_dir}: run `collapsebench sweep --track <track> --results-dir {results_dir}` "
            "first, or pass the --results-dir that holds them."
        )
    return sorted(set(found))


def track_outputs(track: str, groups: list[RunGroup]) -> dict[str, str]:
    """The text outputs of one track, by file name."""
    tables = track_tables(groups)
    return {
        f"{track}.md": render_markdown(track, groups),
        f"{track}.tex": latex_document(f"collapsebench leaderboard: {track}", tables, label=track),
        f"{track}.csv": csv_text(records(groups)),
        f"{track}.json": json_text(track, records(groups)),
    }


def load_tracks(results_dir: Path, tracks: Sequence[str] | None = None) -> dict[str, list[RunGroup]]:
    """The run groups of every track (default: each one with results under ``results_dir``)."""
    return {track: load_groups(results_dir, track) for track in _tracks(results_dir, tracks)}


def render_outputs(
    results_dir: Path, out_dir: Path, tracks: Sequence[str] | None = None,
    by_track: dict[str, list[RunGroup]] | None = None,
) -> dict[str, str]:
    """Every text output (per track, summary, HTML page) by path relative to ``out_dir``."""
    by_track = load_tracks(results_dir, tracks) if by_track is None else by_track
    outputs: dict[str, str] = {}
    for track, groups in by_track.items():
        outputs.update(track_outputs(track, groups))
    summary = summary_table(by_track)
    headline_records = [r for groups in by_track.values() for r in records(groups) if r["headline"]]
    outputs[f"{SUMMARY}.md"] = render_summary(by_track)
    outputs[f"{SUMMARY}.tex"] = latex_document("collapsebench leaderboard: all tracks", [summary], label=SUMMARY)
    outputs[f"{SUMMARY}.csv"] = csv_text(headline_records)
    outputs[f"{SUMMARY}.json"] = json_text(SUMMARY, headline_records)
    outputs[PAGE] = render_page(Path(results_dir), Path(out_dir), by_track)
    return outputs


def write_leaderboards(
    results_dir: Path, out_dir: Path, tracks: Sequence[str] | None = None, plots: bool = True
) -> list[Path]:
    """Render every output into ``out_dir`` (atomically, file by file); returns the paths written."""
    from collapsebench.publish.plot import plot_track

    outputs = render_outputs(results_dir, out_dir, tracks)
    paths = []
    for name, text in sorted(outputs.items()):
        path = Path(out_dir) / name
        atomic_write_bytes(path, text.encode())
        paths.append(path)
    if plots:
        for track in _tracks(results_dir, tracks):
            paths += plot_track(results_dir, track, Path(out_dir) / PLOTS_DIR / track)
    return paths


def write_leaderboard(results_dir: Path, track: str, out_dir: Path) -> Path:
    """Write the per-track outputs of ``track`` only (``.md``, ``.tex``, ``.csv``, ``.json``); returns the ``.md``."""
    for name, text in track_outputs(track, load_groups(results_dir, track)).items():
        atomic_write_bytes(Path(out_dir) / name, text.encode())
    return Path(out_dir) / f"{track}.md"


def _fix(results_dir: Path, out_dir: Path) -> str:
    return f"run `collapsebench leaderboard --results-dir {results_dir} --out {out_dir}`"


def _compare(path: Path, expected: str, results_dir: Path, fix: str) -> list[str]:
    if not path.is_file():
        return [f"{path} is missing: {fix} to write it"]
    actual = path.read_text().splitlines()
    wanted = expected.splitlines()
    if actual == wanted:
        return []
    pairs = zip(actual, wanted)
    line = next((i for i, (a, b) in enumerate(pairs, start=1) if a != b), min(len(actual), len(wanted)) + 1)
    return [f"{path} does not match the results in {results_dir} (first difference at line {line}): {fix}"]


def check_leaderboard(results_dir: Path, track: str, out_dir: Path) -> list[str]:
    """Problems with the per-track outputs of ``track`` in ``out_dir``: missing, or stale."""
    fix = f"run `collapsebench leaderboard --track {track} --results-dir {results_dir} --out {out_dir}`"
    outputs = track_outputs(track, load_groups(results_dir, track))
    return [p for name, text in sorted(outputs.items()) for p in _compare(Path(out_dir) / name, text, results_dir, fix)]


def check_leaderboards(results_dir: Path, out_dir: Path, tracks: Sequence[str] | None = None) -> list[str]:
    """Every output that is missing or does not match the results, and every plot the page shows that is missing."""
    fix = _fix(results_dir, out_dir)
    by_track = load_tracks(results_dir, tracks)
    outputs = render_outputs(results_dir, out_dir, tracks, by_track)
    problems = [p for name, text in sorted(outputs.items())
                for p in _compare(Path(out_dir) / name, text, results_dir, fix)]
    for track, groups in by_track.items():
        for plot in expected_plots(Path(results_dir), track, groups):
            if not (Path(out_dir) / plot).is_file():
                problems.append(f"{Path(out_dir) / plot} is missing: {fix} to draw it")
    return problems
