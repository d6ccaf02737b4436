"""Numbers the READMEs and docs quote about committed results are the committed results.

Results belong in the leaderboards (rendered from ``leaderboards/results/``, checked for drift);
a page that quotes them says where each number comes from, in an HTML comment that a rendered
page does not show, and this test recomputes it from the committed rows:

- a table: ``<!-- results-table`` … ``-->`` right above it, YAML with the ``track``, ``rows`` (first
  cell → a selector) and ``columns`` (one selector, or null, per column after the first); a
  selector names ``run`` (the run group), ``metric`` and ``generation``, and keys at the top apply
  to every cell. A cell is ``mean`` or ``mean ± ci`` (95% t CI over the seeds, as the leaderboards
  compute it), or a percentage.
- a number in prose: ``<!-- result: {track: …, run: …, metric: …, generation: …} -->`` right after it.

A quoted number matches when it is the recomputed one rounded to the digits it shows. Anything
else that reads like a result — a value ± its CI outside a code block — fails the test, so a page
either has its numbers checked or links to the leaderboard instead.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from collapsebench.publish.aggregate import RunGroup, Stat, load_groups

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "leaderboards" / "results"
PAGES = sorted([ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("plugins/*/README.md")])

FENCE = re.compile(r"^ *```.*?^ *```[ \t]*$", re.M | re.S)
TABLE_TAG = re.compile(r"<!-- results-table\n(?P<spec>.*?)-->\n(?P<table>(?:\|[^\n]*\n)+)", re.S)
INLINE_TAG = re.compile(r"(?P<number>-?\d+(?:\.\d+)?%?)<!-- result: (?P<spec>\{.*?\}) -->")
NUMBER = re.compile(r"^(?P<mean>-?\d+(?:\.\d+)?)(?P<percent>%)?(?: ± (?P<ci>\d+(?:\.\d+)?))?$")
RESULT_LIKE = re.compile(r"\d ± \d")
OWN_RUNS = {"docs/writing-a-plugin.md": "quotes the tutorial's own run, which tests/test_docs.py repeats"}
"""Pages whose numbers come from a run they make themselves, not from the committed results."""


@cache
def _groups(track: str) -> dict[str, RunGroup]:
    """The newest revision of each committed run group of ``track``, by its name."""
    return {group.run_group: group for group in load_groups(RESULTS, track)}


def _stat(selector: dict[str, Any], where: str) -> Stat:
    missing = {"track", "run", "metric", "generation"} - set(selector)
    assert not missing, f"{where}: the selector {selector} does not say {sorted(missing)}"
    groups = _groups(selector["track"])
    assert selector["run"] in groups, f"{where}: no committed run group '{selector['run']}' in {selector['track']}"
    return groups[selector["run"]].stat(selector["metric"], int(selector["generation"]))


def _matches(quoted: str, value: float, percent: bool) -> bool:
    """Whether ``quoted`` is ``value`` rounded to the digits it shows."""
    digits = len(quoted.partition(".")[2])
    scaled = 100 * value if percent else value
    return abs(float(quoted) - scaled) <= 0.5 * 10.0**-digits * (1 + 1e-9)


def _check(cell: str, selector: dict[str, Any], where: str) -> list[str]:
    m = NUMBER.match(cell)
    assert m, f"{where}: '{cell}' is not a number, 'mean ± ci' or a percentage"
    stat = _stat(selector, where)
    problems = []
    if not _matches(m["mean"], stat.mean, bool(m["percent"])):
        problems.append(f"{where}: quoted {cell}, the committed mean is {stat.mean:.6g}")
    if m["ci"] is not None and not _matches(m["ci"], stat.ci, bool(m["percent"])):
        problems.append(f"{where}: quoted {cell}, the committed 95% CI is ±{stat.ci:.6g}")
    return problems


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table_problems(page: Path, spec: dict[str, Any], table: str) -> list[str]:
    lines = table.splitlines()
    header, body = _cells(lines[0]), [_cells(line) for line in lines[2:]]
    columns = spec.get("columns", [])
    assert len(columns) == len(header) - 1, f"{page.name}: the tag of table '{lines[0]}' needs one selector per column"
    defaults = {k: v for k, v in spec.items() if k not in ("rows", "columns")}
    problems = []
    for row in body:
        assert row[0] in spec["rows"], f"{page.name}: row '{row[0]}' of table '{lines[0]}' has no selector"
        for label, cell, column in zip(header[1:], row[1:], columns):
            if column is not None:
                selector = {**defaults, **spec["rows"][row[0]], **column}
                problems += _check(cell, selector, f"{page.relative_to(ROOT)} [{row[0]} / {label}]")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_quoted_results_match_the_committed_results(page):
    text = FENCE.sub("", page.read_text())
    problems = []
    for m in TABLE_TAG.finditer(text):
        problems += _table_problems(page, yaml.safe_load(m["spec"]), m["table"])
    for m in INLINE_TAG.finditer(text):
        problems += _check(m["number"], yaml.safe_load(m["spec"]), f"{page.relative_to(ROOT)} [{m['number']}]")
    assert problems == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_quoted_result_is_tagged(page):
    if str(page.relative_to(ROOT)) in OWN_RUNS:
        pytest.skip(OWN_RUNS[str(page.relative_to(ROOT))])
    text = TABLE_TAG.sub("", FENCE.sub("", page.read_text()))
    untagged = [line.strip() for line in text.splitlines() if RESULT_LIKE.search(line)]
    assert untagged == [], "tag these (see this test's docstring) or link to the leaderboard instead"


def test_a_wrong_quote_is_caught():
    selector = {"track": "text", "run": "opt__replace__e4a7a26a61", "metric": "test-perplexity", "generation": 5}
    stat = _stat(selector, "here")
    assert _check(f"{stat.mean:.0f}", selector, "here") == []
    assert _check(f"{stat.mean + 1:.0f}", selector, "here") != []
    assert _check(f"{stat.mean:.1f} ± {stat.ci + 0.2:.1f}", selector, "here") != []
