"""``collapsebench submit``: valid results enter the published tree, invalid ones are rejected with the reason,
and a published number is never overwritten (a changed one becomes a new revision)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collapsebench.cli import main
from collapsebench.publish.aggregate import load_groups
from collapsebench.publish.leaderboard import render_leaderboard
from collapsebench.publish.schema import schema_problem
from collapsebench.publish.submit import (
    SUBMISSION_FILE,
    SubmissionError,
    read_submission,
    submit,
)
from collapsebench.run.chain import run_chains
from collapsebench.run.runner import resolve_sweep
from collapsebench.run.storage import find_runs, read_rows


@pytest.fixture
def source(tiny_track, tmp_path: Path) -> Path:
    """The tiny track's quick preset (replace, seeds 0 and 1, generations 0..3), as a sweep writes it."""
    root = tmp_path / "submitted"
    for config in resolve_sweep(None, tiny_track.track, "quick", []).runs():
        run_chains(config, root)
    return root


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the SHA-256 of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _edit_rows(run: Path, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    rows = change(read_rows(run))
    (run / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _edit_spec(run: Path, change: Callable[[dict[str, Any]], None]) -> None:
    spec = json.loads((run / "run_spec.json").read_text())
    change(spec)
    (run / "run_spec.json").write_text(json.dumps(spec))


def test_a_preset_run_is_copied_with_its_record_and_without_checkpoints(source: Path, tmp_path: Path) -> None:
    into = tmp_path / "published"
    (outcome,) = submit(source, into)
    assert (outcome.action, outcome.revision, outcome.preset, outcome.seeds) == ("added", 1, "quick", (0, 1))
    assert str(outcome).startswith(f"added tiny/{outcome.run_group} (preset quick, 2 seeds)")
    group_dir = into / "tiny" / outcome.run_group
    for run in find_runs(source):
        copied = group_dir / run.name
        assert (copied / "rows.jsonl").read_bytes() == (run / "rows.jsonl").read_bytes()
        assert (copied / "run_spec.json").read_bytes() == (run / "run_spec.json").read_bytes()
        assert (run / "state").is_dir() and not (copied / "state").exists()
    record = json.loads((group_dir / SUBMISSION_FILE).read_text())
    assert schema_problem("submission", record) is None
    assert {k: record[k] for k in ("revision", "preset", "custom", "seeds", "supersedes")} == {
        "revision": 1, "preset": "quick", "custom": False, "seeds": [0, 1], "supersedes": None}
    assert f"- `{outcome.run_group}`: tiny-gaussian / replace" in render_leaderboard(into, "tiny")
    assert "; preset `quick`" in render_leaderboard(into, "tiny")


def test_the_same_numbers_again_change_nothing(source: Path, tmp_path: Path) -> None:
    into = tmp_path / "published"
    submit(source, into)
    before = _tree(into)
    _edit_spec(next(iter(find_runs(source))), lambda s: s.update({"created_at": "2030-01-01T00:00:00Z"}))
    (outcome,) = submit(source, into)  # rerun elsewhere: other provenance, same numbers
    assert (outcome.action, outcome.revision) == ("unchanged", 1)
    assert _tree(into) == before


def test_changed_numbers_become_a_new_revision_and_the_old_one_stays(source: Path, tmp_path: Path) -> None:
    into = tmp_path / "published"
    (first,) = submit(source, into)
    before = _tree(into)
    run = find_runs(source)[0]
    metric = next(iter(read_rows(run)[-1]["metrics"]))

    def bump(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[-1]["metrics"][metric] += 1.0
        return rows

    _edit_rows(run, bump)
    (second,) = submit(source, into)
    assert (second.action, second.revision) == ("revised", 2)
    assert {k: v for k, v in _tree(into).items() if k in before} == before  # revision 1 untouched
    rev2 = into / "tiny" / f"{first.run_group}.rev2"
    assert (rev2 / run.name / "rows.jsonl").read_bytes() == (run / "rows.jsonl").read_bytes()
    assert read_submission(rev2)["supersedes"] == 1  # type: ignore[index]
    (group,) = load_groups(into, "tiny")
    assert (group.revision, group.revisions) == (2, 2)
    assert group.values(metric, group.generations)[0] == pytest.approx(read_rows(run)[-1]["metrics"][metric])
    assert "revision 2 (newest of 2 stored; earlier ones kept)" in render_leaderboard(into, "tiny")
    _edit_rows(run, bump)
    assert submit(source, into)[0].revision == 3


def test_a_config_outside_the_presets_needs_custom(tiny_track, tmp_path: Path) -> None:
    source, into = tmp_path / "submitted", tmp_path / "published"
    run_chains(tiny_track.run_config(mitigation="accumulate", seeds=[0]), source)
    with pytest.raises(SubmissionError, match=r"its config matches no preset of the track: .*pass --custom"):
        submit(source, into)
    assert not into.exists()
    (outcome,) = submit(source, into, custom=True)
    assert outcome.preset is None and str(outcome).endswith("(custom config, 1 seed)")
    assert read_submission(into / "tiny" / outcome.run_group)["custom"] is True  # type: ignore[index]
    assert "; custom config" in render_leaderboard(into, "tiny")


def _truncate(run: Path) -> None:
    _edit_rows(run, lambda rows: rows[:2])


def _forge_hash(run: Path) -> None:
    _edit_spec(run, lambda s: s["config"].update({"on_collapse": "continue"}))


BROKEN: dict[str, tuple[Callable[[Path], None], str]] = {
    "an unfinished chain": (_truncate, "the chain is unfinished (last generation 1 of 3): rerun the same command"),
    "no git commit": (lambda run: _edit_spec(run, lambda s: s.update({"git_commit": None})),
                      "git_commit is null: run it from a git checkout of collapsebench"),
    "no plugin versions": (lambda run: _edit_spec(run, lambda s: s["versions"].pop("plugins")),
                           "versions/plugins is missing"),
    "no hardware": (lambda run: _edit_spec(run, lambda s: s.update({"hardware": {}})), "hardware lacks machine, cpus"),
    "a config that does not hash to its hash": (_forge_hash, "is not the hash of its config"),
    "a row that breaks the schema": (
        lambda run: _edit_rows(run, lambda rows: [*rows[:-1], {**rows[-1], "metrics": {"tiny-nll": "1.0"}}]),
        "rows.jsonl line 4: metrics/tiny-nll: '1.0' is not of type 'number', 'null'"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_an_invalid_submission_is_rejected_with_the_reason_and_nothing_is_copied(case: str, source: Path,
                                                                                 tmp_path: Path) -> None:
    into = tmp_path / "published"
    submit(source, into)
    before = _tree(into)
    bad, reason = BROKEN[case]
    run = find_runs(source)[0]
    bad(run)
    with pytest.raises(SubmissionError) as info:
        submit(source, into, custom=True)
    message = str(info.value)
    assert message.startswith("submission rejected, nothing was copied: ") and "\n" not in message
    assert str(run) in message and reason in message
    assert _tree(into) == before


def test_a_folder_without_runs_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="holds no run folders"):
        submit(tmp_path, tmp_path / "published")


def test_submit_command(source: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    into = tmp_path / "published"
    monkeypatch.setattr(sys, "argv", ["collapsebench", "submit", str(source), "--into", str(into)])
    main()
    out = capsys.readouterr().out
    assert out.startswith("added tiny/") and f"collapsebench leaderboard --results-dir {into}" in out
    shutil.rmtree(next(iter(find_runs(source))) / "state")  # checkpoints are not results: not needed
    _truncate(find_runs(source)[1])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: submission rejected, nothing was copied: ")
