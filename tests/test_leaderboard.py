"""Leaderboards: the right numbers, deterministic rendering, and a check that catches stale tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_aggregate import REPLACE, TRACK, t_interval, write_group, write_run

from collapsebench.aggregate import METHOD
from collapsebench.errors import CollapseBenchError
from collapsebench.leaderboard import check_leaderboard, render_leaderboard, write_leaderboard


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    write_group(root, REPLACE)
    retain = {"mitigation": "retain:0.1", "config_hash": "bbbbbbbbbb"}
    write_run(root, seed=0, values={m: v[0] for m, v in REPLACE.items()}, **retain)
    write_run(root, seed=1, values={m: v[1] for m, v in REPLACE.items()}, collapsed_at=2, **retain)
    return root


def _row(markdown: str, *starts: str) -> list[str]:
    """Cells of the first table row whose leading cells are ``starts``."""
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("|") and cells[: len(starts)] == list(starts):
            return cells
    raise AssertionError(f"no row {starts}")


def test_headline_row_has_mean_ci_change_and_n(results: Path) -> None:
    text = render_leaderboard(results, TRACK)
    cells = _row(text, "gauss", "replace", "w2")
    first = t_interval([REPLACE["w2"][s][0] for s in range(3)])
    last = t_interval([REPLACE["w2"][s][3] for s in range(3)])
    change = t_interval([REPLACE["w2"][s][3] - REPLACE["w2"][s][0] for s in range(3)])
    expected = [f"{first[0]:.4g}", f"{first[1]:.4g}", f"{last[0]:.4g}", f"{last[1]:.4g}"]
    expected += [f"{change[0]:+.4g}", f"{change[1]:.4g}", "3", "0/3", "3", "`aaaaaaaaaa`"]
    assert cells == ["gauss", "replace", "w2", "↓", *expected]
    assert METHOD in text and "## Headline: drift" in text


def test_families_table_and_ratio_to_generation_zero(results: Path) -> None:
    text = render_leaderboard(results, TRACK)
    cells = _row(text, "gauss", "replace", "diversity")
    ratio = t_interval([REPLACE["spread"][s][3] / REPLACE["spread"][s][0] for s in range(3)])
    assert cells[2:5] == ["diversity", "spread", "↑"]
    assert cells[11:14] == [f"{ratio[0]:.4g}", f"{ratio[1]:.4g}", "3"]
    assert [_row(text, "gauss", "replace", f)[3] for f in ("fidelity", "tails", "drift")] == ["nll", "tail", "w2"]


def test_collapsed_chains_reported(results: Path) -> None:
    text = render_leaderboard(results, TRACK)
    cells = _row(text, "gauss", "retain:0.1", "w2")
    assert cells[8:13] == [f"{REPLACE['w2'][0][3] - REPLACE['w2'][0][0]:+.4g}", "—", "1", "1/2 (g 2)", "3"]
    assert "1 of 2 chains collapsed (seed 1 at g 2)" in text


def test_pipe_format_with_right_aligned_numbers(results: Path) -> None:
    separator = next(line for line in render_leaderboard(results, TRACK).splitlines() if line.startswith("|:"))
    aligns = [cell.strip() for cell in separator.strip("|").split("|")]
    assert aligns[:4] == [":" + "-" * (len(a) - 1) for a in aligns[:4]]  # model, mitigation, metric, ↑/↓
    assert all(a.endswith(":") and not a.startswith(":") for a in aligns[4:-1])


def test_sampling_policy_in_row_label_when_any(tmp_path: Path) -> None:
    write_group(tmp_path, REPLACE)
    write_group(tmp_path, REPLACE, config_hash="eeeeeeeeee", sampling={"temperature": 0.7, "top_p": 0.9})
    text = render_leaderboard(tmp_path, TRACK)
    assert _row(text, "gauss", "replace", "temperature=0.7, top_p=0.9", "w2")[-1] == "`eeeeeeeeee`"
    assert _row(text, "gauss", "replace", "default", "w2")[-1] == "`aaaaaaaaaa`"


def test_rendering_is_deterministic(results: Path, tmp_path: Path) -> None:
    text = render_leaderboard(results, TRACK)
    assert render_leaderboard(results, TRACK) == text
    assert "2026" not in text and str(tmp_path) not in text  # no timestamps, no paths of this machine


def test_check_passes_on_fresh_render_and_fails_when_a_result_changes(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "boards"
    path = write_leaderboard(results, TRACK, out)
    assert path == out / f"{TRACK}.md" and path.read_text() == render_leaderboard(results, TRACK)
    assert check_leaderboard(results, TRACK, out) == []
    rows_file = results / TRACK / "gauss__replace__aaaaaaaaaa" / "seed-1" / "rows.jsonl"
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    rows[3]["metrics"]["w2"] = 3.5
    rows_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (problem,) = check_leaderboard(results, TRACK, out)
    assert "does not match" in problem
    assert f"collapsebench leaderboard --track {TRACK} --results-dir {results} --out {out}" in problem


def test_check_reports_missing_file(results: Path, tmp_path: Path) -> None:
    (problem,) = check_leaderboard(results, TRACK, tmp_path / "nowhere")
    assert "is missing" in problem and "collapsebench leaderboard --track toy" in problem


def test_empty_results_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(CollapseBenchError, match=r"run `collapsebench sweep --track toy"):
        render_leaderboard(tmp_path, TRACK)
