"""The static HTML leaderboard page: every track's tables, its plots and its artifact images.

One self-contained file (inline CSS, no script, no server): open ``leaderboards/index.html`` from
disk. Plots are the PNGs ``collapsebench leaderboard`` draws under ``plots/<track>/``; artifact
images (e.g. the image track's sample grids ``artifacts/gNNNNN_grid.png``) are linked in place
from the results tree, relative to the page, so nothing is copied.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from collapsebench.experiment.metrics import FAMILIES
from collapsebench.publish.aggregate import METHOD, RunGroup, sampling_label
from collapsebench.publish.plot import _safe, declared_histograms
from collapsebench.publish.tables import (
    MISSING,
    PM,
    Cell,
    Column,
    Table,
    run_lines,
    summary_table,
    track_tables,
)

PLOTS_DIR = "plots"
ARTIFACT_IMAGE = re.compile(r"g([0-9]+)_(.+)\.png")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 110rem; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 0.3rem; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2rem 0.5rem; white-space: nowrap; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
p.note { font-size: 0.8rem; color: #555; max-width: 80rem; }
.plots { display: flex; flex-wrap: wrap; gap: 0.5rem; }
.plots img { width: 32rem; max-width: 100%; border: 1px solid #eee; }
.artifacts figure { display: inline-block; margin: 0 0.3rem 0.3rem 0; text-align: center; font-size: 0.75rem; }
.artifacts img { width: 10rem; image-rendering: pixelated; border: 1px solid #eee; }
nav a { margin-right: 1rem; }
""".strip()


def _code(text: str) -> str:
    """Escape for HTML and turn `code` spans into <code>."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def _num(column: Column) -> str:
    return "" if column.kind == "text" else ' class="num"'


def _cell(cell: Cell, column: Column) -> str:
    cls = _num(column)
    if isinstance(cell, PM):
        text = cell.mean if cell.ci == MISSING else f"{cell.mean} ± {cell.ci}"
    else:
        text = str(cell)
    return f"<td{cls}>{_code(text)}</td>"


def html_table(table: Table, track: str) -> list[str]:
    """A table with its title and notes; ``data-track`` and ``data-table`` name it for readers and tests."""
    head = "".join(f"<th{_num(c)}>{html.escape(c.name)}</th>" for c in table.columns)
    lines = [f"<h3>{html.escape(table.title)}</h3>",
             f'<table class="leaderboard" data-track="{html.escape(track)}" data-table="{table.key}">',
             f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    lines += ["<tr>" + "".join(_cell(cell, col) for cell, col in zip(row, table.columns)) + "</tr>"
              for row in table.rows]
    lines += ["</tbody>", "</table>", *[f'<p class="note">{_code(note)}</p>' for note in table.notes]]
    return lines


def expected_plots(results_dir: Path, track: str, groups: list[RunGroup]) -> list[str]:
    """The plots ``collapsebench plot`` draws for the track by default, as paths relative to the page."""
    histograms = declared_histograms(track)
    names = []
    for model in sorted({g.model for g in groups}):
        mine = [g for g in groups if g.model == model]
        for name in [*FAMILIES, *histograms]:
            if name in histograms:
                drawn = any(any((run.path / "artifacts").glob(f"g[0-9]*_{name}.npy")) for g in mine for run in g.runs
                            if run.path is not None)
            else:
                drawn = any(g.resolve(name) for g in mine)
            if drawn:
                names.append(f"{PLOTS_DIR}/{track}/{_safe(model)}__{_safe(name)}.png")
    return names


def artifact_images(group: RunGroup) -> dict[str, list[tuple[int, Path]]]:
    """Artifact name → (generation, PNG) of the group's first seed, in generation order."""
    run = group.runs[0]
    if run.path is None or not (run.path / "artifacts").is_dir():
        return {}
    found: dict[str, list[tuple[int, Path]]] = {}
    for path in sorted((run.path / "artifacts").glob("g[0-9]*_*.png")):
        match = ARTIFACT_IMAGE.fullmatch(path.name)
        if match:
            found.setdefault(match.group(2), []).append((int(match.group(1)), path))
    return found


def _relative(path: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(path.resolve(), page_dir.resolve())).as_posix()


def _track_section(track: str, groups: list[RunGroup], results_dir: Path, page_dir: Path) -> list[str]:
    lines = [f'<section id="track-{html.escape(track)}">', f"<h2>Track: {html.escape(track)}</h2>"]
    for table in track_tables(groups):
        lines += html_table(table, track)
    plots = expected_plots(results_dir, track, groups)
    if plots:
        lines += ["<h3>Plots</h3>", '<p class="note">Mean over seeds per generation, band = 95% CI (Student t); '
                  "histograms pool the per-sample values of every seed.</p>", '<div class="plots">']
        lines += [f'<a href="{html.escape(p)}"><img src="{html.escape(p)}" alt="{html.escape(p)}"></a>' for p in plots]
        lines.append("</div>")
    for group in groups:
        for name, images in sorted(artifact_images(group).items()):
            label = " ".join(filter(None, [group.model, group.mitigation, sampling_label(group.sampling)]))
            lines += [f"<h4>{html.escape(name)}: {html.escape(label)}, seed {group.runs[0].seed}</h4>",
                      '<div class="artifacts">']
            for generation, path in images:
                src = html.escape(_relative(path, page_dir))
                alt = f"{html.escape(name)} generation {generation}"
                lines.append(f'<figure><a href="{src}"><img src="{src}" alt="{alt}"></a>'
                             f"<figcaption>gen {generation}</figcaption></figure>")
            lines.append("</div>")
    lines += ["<h3>Runs</h3>", "<ul>", *[f"<li>{_code(line)}</li>" for line in run_lines(groups)], "</ul>"]
    lines.append("</section>")
    return lines


def _population_section(page_dir: Path) -> list[str]:
    """Links to the population reports (``collapsebench population``) that sit beside the page, with their plots."""
    reports = sorted(page_dir.glob("population-*.md"))
    if not reports:
        return []
    lines = ['<section id="populations">', "<h2>Populations: models trained on other models' outputs</h2>",
             '<p class="note">Self-consuming vs cross-model vs population training at the same real-data share; '
             "each report compares every mixture with self-training, seed by seed.</p>", '<div class="plots">']
    for report in reports:
        name = html.escape(report.name)
        plot = report.with_suffix(".png")
        lines.append(f'<p><a href="{name}">{name}</a></p>')
        if plot.is_file():
            src = html.escape(plot.name)
            lines.append(f'<a href="{src}"><img src="{src}" alt="{src}"></a>')
    lines += ["</div>", "</section>"]
    return lines


def render_page(results_dir: Path, page_dir: Path, by_track: dict[str, list[RunGroup]]) -> str:
    """The whole page: navigation, the cross-track summary, then one section per track."""
    nav = " ".join(f'<a href="#track-{html.escape(t)}">{html.escape(t)}</a>' for t in sorted(by_track))
    if any(page_dir.glob("population-*.md")):
        nav += ' <a href="#populations">populations</a>'
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>collapsebench leaderboard</title>",
        f"<style>\n{STYLE}\n</style>",
        "</head>",
        "<body>",
        "<h1>collapsebench leaderboard</h1>",
        '<p class="note">Model collapse under recursive training (Shumailov et al., Nature 2024), and the mitigations '
        "that keep it from happening. Rendered from the stored results by <code>collapsebench leaderboard</code>; "
        f"do not edit by hand. {html.escape(METHOD)}.</p>",
        f"<nav>{nav}</nav>",
        '<section id="summary">',
        *html_table(summary_table(by_track), "all"),
        "</section>",
    ]
    for track, groups in sorted(by_track.items()):
        lines += _track_section(track, groups, results_dir, page_dir)
    lines += _population_section(page_dir)
    lines += ["</body>", "</html>"]
    return "\n".join(lines) + "\n"
