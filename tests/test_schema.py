"""Stored results are validated against the documented JSON Schemas before a leaderboard reads them."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collapsebench.cli import main
from collapsebench.publish.aggregate import load_groups
from collapsebench.publish.schema import validate_run, validator
from collapsebench.run.chain import run_chains
from collapsebench.run.storage import ResultsError, find_runs, read_rows, read_spec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def stored(tiny_track, results_dir: Path) -> Path:
    """One finished tiny chain, generations 0..3."""
    run_chains(tiny_track.run_config(generations=3), results_dir)
    return find_runs(results_dir)[0]


def test_the_schemas_are_valid_and_what_a_chain_writes_follows_them(stored: Path, tiny_track, results_dir: Path):
    for name in ("run_spec", "row"):
        validator(name)  # check_schema() against the 2020-12 meta-schema
    validate_run(stored, read_spec(stored), read_rows(stored))
    [group] = load_groups(results_dir, "tiny")
    assert group.seeds == [0]


def _edit_row(number: int, change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        lines = (run / "rows.jsonl").read_text().splitlines()
        row = json.loads(lines[number - 1])
        change(row)
        lines[number - 1] = json.dumps(row)
        (run / "rows.jsonl").write_text("\n".join(lines) + "\n")

    return edit


def _edit_spec(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        spec = json.loads((run / "run_spec.json").read_text())
        change(spec)
        (run / "run_spec.json").write_text(json.dumps(spec))

    return edit


def _duplicate_last(run: Path) -> None:
    lines = (run / "rows.jsonl").read_text().splitlines()
    (run / "rows.jsonl").write_text("\n".join([*lines, lines[-1]]) + "\n")


TAMPERED = {
    "a metric that is a string": (
        _edit_row(2, lambda r: r["metrics"].update({"tiny-nll": "1.5"})),
        "rows.jsonl line 2: metrics/tiny-nll: '1.5' is not of type 'number', 'null'"),
    "a row without its training set": (
        _edit_row(1, lambda r: r.pop("train")), "rows.jsonl line 1: top level: 'train' is a required property"),
    "a row with an unknown key": (
        _edit_row(3, lambda r: r.update({"payload": "gASV"})),
        "rows.jsonl line 3: top level: Additional properties are not allowed ('payload' was unexpected)"),
    "a collapsed row that still has numbers": (
        _edit_row(2, lambda r: r.update({"status": "collapsed", "reason": "singular"})),
        "rows.jsonl line 2: metrics/tiny-", "is not of type 'null'"),
    "a duplicated generation": (
        _duplicate_last, "rows.jsonl line 5: generation 3 where 4 was expected (a gap or a duplicate)"),
    "a config hash that is not one": (
        _edit_spec(lambda s: s.update({"config_hash": "../../etc"})), "run_spec.json: config_hash: '../../etc' does not match"),
    "a metric without a direction": (
        _edit_spec(lambda s: s["metrics"]["tiny-w2"].update({"higher_is_better": "no"})),
        "run_spec.json: metrics/tiny-w2/higher_is_better: 'no' is not of type 'boolean'"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_malformed_result_file_is_named_before_it_reaches_a_leaderboard(case, stored: Path, results_dir: Path,
                                                                          monkeypatch, capsys):
    tamper, *problem = TAMPERED[case]
    tamper(stored)
    with pytest.raises(ResultsError) as info:
        load_groups(results_dir, "tiny")
    message = str(info.value)
    assert message.startswith(f"{stored}/") and all(part in message for part in problem) and "\n" not in message
    assert message.endswith("it does not follow docs/results-format.md: move the run folder away and rerun it.")

    monkeypatch.setattr(sys, "argv", ["collapsebench", "leaderboard", "--track", "tiny", "--results-dir",
                                      str(results_dir), "--out", str(results_dir.parent / "lb")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not (results_dir.parent / "lb").exists()


BANNED = re.compile(r"\bimport pickle\b|\bpickle\.loads?\(|allow_pickle\s*=\s*True|\bjoblib\.load\(|\bdill\b"
                    r"|torch\.load\((?![^)]*weights_only\s*=\s*True)")


def test_no_code_that_reads_results_or_checkpoints_unpickles():
    """Result, state and data files may come from anywhere: npz without pickle, safetensors, weights_only."""
    sources = [*ROOT.joinpath("collapsebench").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py")]
    offending = [f"{p.relative_to(ROOT)}:{n}" for p in sources
                 for n, line in enumerate(p.read_text().splitlines(), 1) if BANNED.search(line)]
    assert offending == []
