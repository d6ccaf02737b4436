"""LaTeX, CSV and JSON leaderboards and the cross-track summary: the same numbers as an independent t interval."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from test_aggregate import REPLACE, TRACK, t_interval, write_group

from collapsebench.publish.aggregate import METHOD, load_groups
from collapsebench.publish.export import latex_text
from collapsebench.publish.leaderboard import render_outputs
from collapsebench.publish.tables import headline_table

RETAIN = {m: {s: [v[0], *(x * 0.5 for x in v[1:])] for s, v in per_seed.items()} for m, per_seed in REPLACE.items()}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """Two tracks: ``toy`` (replace and retain:0.1) and a copy of it named ``toy2``."""
    root = tmp_path / "results"
    write_group(root, REPLACE)
    write_group(root, RETAIN, mitigation="retain:0.1", config_hash="bbbbbbbbbb")
    shutil.copytree(root / TRACK, root / "toy2")
    for spec_path in (root / "toy2").rglob("run_spec.json"):
        spec = json.loads(spec_path.read_text())
        spec["track"] = spec["config"]["track"] = "toy2"
        spec_path.write_text(json.dumps(spec))
    return root


@pytest.fixture
def outputs(results: Path, tmp_path: Path) -> dict[str, str]:
    return render_outputs(results, tmp_path / "boards")


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_holds_the_unrounded_numbers(outputs: dict[str, str]) -> None:
    rows = _csv(outputs[f"{TRACK}.csv"])
    assert len(rows) == 2 * 4  # two configs × (headline drift + fidelity, tails, diversity)
    drift = next(r for r in rows if r["mitigation"] == "replace" and r["name"] == "drift")
    mean, half = t_interval([REPLACE["w2"][s][3] for s in range(3)])
    assert (float(drift["genG_mean"]), float(drift["genG_ci95"]), drift["genG_n"]) == (
        pytest.approx(mean, rel=1e-11), pytest.approx(half, rel=1e-11), "3")
    assert drift["headline"] == "True" and drift["metric"] == "w2" and drift["higher_is_better"] == "False"
    assert drift["vs_replace_mean"] == "" and drift["seeds"] == "0;1;2"  # no baseline for the baseline itself
    retain = next(r for r in rows if r["mitigation"] == "retain:0.1" and r["name"] == "drift")
    diff = t_interval([RETAIN["w2"][s][3] - REPLACE["w2"][s][3] for s in range(3)])
    assert float(retain["vs_replace_mean"]) == pytest.approx(diff[0], rel=1e-11)
    assert float(retain["vs_replace_ci95"]) == pytest.approx(diff[1], rel=1e-11)
    assert (retain["rank"], retain["rank_tied"], drift["rank"], drift["rank_tied"]) == ("1", "True", "1", "True")


def test_json_states_the_method_and_matches_the_csv(outputs: dict[str, str]) -> None:
    document = json.loads(outputs[f"{TRACK}.json"])
    assert document["method"] == METHOD and document["leaderboard"] == TRACK
    rows = _csv(outputs[f"{TRACK}.csv"])
    assert len(document["records"]) == len(rows)
    for record, row in zip(document["records"], rows):
        assert record["change"]["mean"] == float(row["change_mean"])
        assert record["sampling"] == {} and record["revision"] == 1


def test_latex_is_booktabs_with_pm_and_one_cell_per_column(outputs: dict[str, str], results: Path) -> None:
    tex = outputs[f"{TRACK}.tex"]
    assert tex.count(r"\begin{table}") == 3 and tex.count(r"\toprule") == 3 and tex.count(r"\bottomrule") == 3
    mean, half = t_interval([REPLACE["w2"][s][0] for s in range(3)])
    assert f"{mean:.4g} $\\pm$ {half:.4g}" in tex
    assert r"$\pm$ = 95\% CI, Student $t$ over $n$ seeds" in tex and "₀" not in tex and "±" not in tex
    columns = len(headline_table(load_groups(results, TRACK)).columns)
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    assert len(body) == 2 and all(len(re.split(r"(?<!\\)&", line)) == columns for line in body)
    assert r"\texttt{aaaaaaaaaa}" in tex and r"$\downarrow$" in tex


def test_latex_text_escapes_specials_and_writes_symbols_as_math() -> None:
    assert latex_text("a_b & 50% #1 {x} $ ↑ −1 — `c_d`") == (
        r"a\_b \& 50\% \#1 \{x\} \$ $\uparrow$ $-$1 -- \texttt{c\_d}")


def test_summary_spans_tracks_with_one_headline_row_per_config(outputs: dict[str, str]) -> None:
    rows = _csv(outputs["summary.csv"])
    assert [(r["track"], r["mitigation"]) for r in rows] == [
        ("toy", "replace"), ("toy", "retain:0.1"), ("toy2", "replace"), ("toy2", "retain:0.1")]
    assert all(r["headline"] == "True" and r["name"] == "drift" for r in rows)
    ratio = t_interval([REPLACE["w2"][s][3] / REPLACE["w2"][s][0] for s in range(3)])
    assert float(rows[0]["ratio_to_gen0_mean"]) == pytest.approx(ratio[0], rel=1e-11)
    markdown = outputs["summary.md"]
    assert markdown.count("| toy ") == 2 and markdown.count("| toy2 ") == 2
    assert f"| {ratio[0]:.4g} |" in re.sub(r" +", " ", markdown)
    assert METHOD in markdown and outputs["summary.tex"].count(r"\toprule") == 1
    assert json.loads(outputs["summary.json"])["records"][0]["track"] == "toy"
