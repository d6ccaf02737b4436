"""Leaderboards: the right numbers, deterministic rendering, and a check that catches stale tables."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from test_aggregate import REPLACE, TRACK, t_interval, write_group, write_run

from collapsebench.cli import main
from collapsebench.errors import CollapseBenchError
from collapsebench.publish.aggregate import METHOD, Rank, Stat, load_groups, ranks
from collapsebench.publish.leaderboard import (
    check_leaderboard,
    check_leaderboards,
    render_leaderboard,
    write_leaderboard,
    write_leaderboards,
)
from collapsebench.publish.revisions import revision_folder


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
    expected += [f"{change[0]:+.4g}", f"{change[1]:.4g}", "—", "—", "1=", "3", "0/3", "3", "`aaaaaaaaaa`"]
    assert cells == ["gauss", "replace", "w2", "↓", *expected]  # the baseline has no "vs replace"; CIs overlap
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
    assert cells[8:10] == [f"{REPLACE['w2'][0][3] - REPLACE['w2'][0][0]:+.4g}", "—"]
    assert cells[10:16] == ["+0", "—", "1=", "1", "1/2 (g 2)", "3"]  # vs replace: seed 0 alone, identical values
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
    problems = check_leaderboard(results, TRACK, out)
    assert [p.split(" ")[0] for p in problems] == [str(out / f"{TRACK}.{ext}") for ext in ("csv", "json", "md", "tex")]
    assert all("does not match" in p for p in problems)
    assert f"collapsebench leaderboard --track {TRACK} --results-dir {results} --out {out}" in problems[0]


def test_check_reports_missing_file(results: Path, tmp_path: Path) -> None:
    problems = check_leaderboard(results, TRACK, tmp_path / "nowhere")
    assert len(problems) == 4
    assert all("is missing" in p and "collapsebench leaderboard --track toy" in p for p in problems)


def test_empty_results_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(CollapseBenchError, match=r"run `collapsebench sweep --track toy"):
        render_leaderboard(tmp_path, TRACK)


# replace, and a mitigation with other numbers on the same seeds: values[metric][seed] per generation 0..3
RETAIN = {
    m: {s: [v[0], *(x * f for x in v[1:])] for s, v in per_seed.items()}
    for m, f, per_seed in ((m, {"w2": 0.3, "nll": 0.8}.get(m, 1.1), REPLACE[m]) for m in REPLACE)
}


def test_each_mitigation_against_replace_is_a_paired_difference_over_seeds(tmp_path: Path) -> None:
    write_group(tmp_path, REPLACE)
    write_group(tmp_path, RETAIN, mitigation="retain:0.1", config_hash="bbbbbbbbbb")
    text = render_leaderboard(tmp_path, TRACK)
    diff = t_interval([RETAIN["w2"][s][3] - REPLACE["w2"][s][3] for s in range(3)])
    headline = _row(text, "gauss", "retain:0.1", "w2")
    assert headline[10:12] == [f"{diff[0]:+.4g}", f"{diff[1]:.4g}"]
    against = text.split("## Against replace (paired over seeds)")[1]
    versus = _row(against, "gauss", "retain:0.1", "drift")
    assert versus[5:] == [f"{t_interval([RETAIN['w2'][s][3] for s in range(3)])[0]:.4g}",
                          f"{t_interval([RETAIN['w2'][s][3] for s in range(3)])[1]:.4g}",
                          f"{t_interval([REPLACE['w2'][s][3] for s in range(3)])[0]:.4g}",
                          f"{t_interval([REPLACE['w2'][s][3] for s in range(3)])[1]:.4g}",
                          f"{diff[0]:+.4g}", f"{diff[1]:.4g}", "3", "better"]  # w2 ↓, CI of the difference < 0
    spread = t_interval([RETAIN["spread"][s][3] - REPLACE["spread"][s][3] for s in range(3)])
    assert abs(spread[0]) > spread[1] and _row(against, "gauss", "retain:0.1", "diversity")[-1] == "better"
    assert _row(against, "gauss", "retain:0.1", "fidelity")[-1] == "better"  # nll ↓ by 20% from generation 1 on
    with pytest.raises(AssertionError):
        _row(against, "gauss", "replace")  # replace is not compared with itself


def test_a_group_that_differs_in_more_than_the_mitigation_is_not_compared(tmp_path: Path) -> None:
    write_group(tmp_path, REPLACE)
    write_group(tmp_path, RETAIN, mitigation="retain:0.1", config_hash="bbbbbbbbbb", sampling={"temperature": 0.5})
    text = render_leaderboard(tmp_path, TRACK)
    assert _row(text, "gauss", "retain:0.1", "temperature=0.5", "w2")[11:13] == ["—", "—"]


def test_ranks_share_a_place_where_the_intervals_overlap() -> None:
    a, b, c = Stat(1.0, 0.1, 5, 0.1), Stat(0.95, 0.1, 5, 0.1), Stat(0.5, 0.1, 5, 0.1)
    none, lonely = Stat(float("nan"), float("nan"), 0, float("nan")), Stat(0.1, float("nan"), 1, float("nan"))
    assert ranks([a, b, c, none], higher_is_better=True) == [Rank(1, True), Rank(1, True), Rank(3, False), None]
    assert ranks([a, b, c], higher_is_better=False) == [Rank(2, True), Rank(2, True), Rank(1, False)]
    assert ranks([a, c, lonely], higher_is_better=True) == [Rank(1, True), Rank(2, False), Rank(1, True)]
    assert ranks([a, b], higher_is_better=None) == [None, None]
    assert [str(r) for r in ranks([a, c], True)] == ["1", "2"]


def test_rank_column_orders_the_mitigations_of_a_model(tmp_path: Path) -> None:
    far = {**RETAIN, "w2": {s: [v[0], *(x * 0.01 for x in v[1:])] for s, v in REPLACE["w2"].items()}}
    write_group(tmp_path, REPLACE)
    write_group(tmp_path, RETAIN, mitigation="retain:0.1", config_hash="bbbbbbbbbb")  # w2 CI overlaps replace's
    write_group(tmp_path, far, mitigation="accumulate", config_hash="dddddddddd")  # wholly below both
    text = render_leaderboard(tmp_path, TRACK)
    assert _row(text, "gauss", "accumulate", "w2")[12] == "1"
    assert _row(text, "gauss", "retain:0.1", "w2")[12] == "2="
    assert _row(text, "gauss", "replace", "w2")[12] == "2="
    write_group(tmp_path, REPLACE, model="other", config_hash="cccccccccc")
    text = render_leaderboard(tmp_path, TRACK)
    assert _row(text, "other", "replace", "w2")[12] == "1"  # ranked only against its own model


def test_the_newest_revision_is_read_and_named(results: Path) -> None:
    old = results / TRACK / "gauss__replace__aaaaaaaaaa"
    new = results / TRACK / revision_folder("gauss__replace__aaaaaaaaaa", 2)
    shutil.copytree(old, new)
    rows_file = new / "seed-0" / "rows.jsonl"
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    rows[3]["metrics"]["w2"] = 9.0
    rows_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    group = next(g for g in load_groups(results, TRACK) if g.mitigation == "replace")
    assert (group.revision, group.revisions, group.values("w2", 3)[0]) == (2, 2, 9.0)
    assert group.runs[0].path == new / "seed-0"
    text = render_leaderboard(results, TRACK)
    assert "seeds 0, 1, 2; data toy1d `ffffffffffff`; revision 2 (newest of 2 stored" in text


def test_every_output_is_checked_for_drift(results: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "boards"
    written = write_leaderboards(results, out)
    names = sorted(str(p.relative_to(out)) for p in written)
    outputs = [f"{stem}.{ext}" for stem in (TRACK, "summary") for ext in ("csv", "json", "md", "tex")]
    assert names == sorted([*outputs, "index.html", *(f"plots/{TRACK}/gauss__{f}.png"
                                                      for f in ("fidelity", "tails", "diversity", "drift"))])
    assert check_leaderboards(results, out) == []
    for name in [*outputs, "index.html"]:
        path = out / name
        original = path.read_bytes()
        path.write_bytes(original.replace(b"gauss", b"gaus", 1))
        (problem,) = check_leaderboards(results, out)
        assert problem.startswith(f"{path} does not match the results in {results} (first difference at line ")
        path.write_bytes(original)
    (out / "plots" / TRACK / "gauss__tails.png").unlink()
    (problem,) = check_leaderboards(results, out)
    assert problem == (f"{out}/plots/{TRACK}/gauss__tails.png is missing: "
                       f"run `collapsebench leaderboard --results-dir {results} --out {out}` to draw it")
    monkeypatch.setattr(sys, "argv", ["collapsebench", "leaderboard", "--results-dir", str(results), "--out", str(out),
                                      "--check"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: 1 leaderboard output(s) do not match the results: ")
