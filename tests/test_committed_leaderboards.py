"""Every committed leaderboard output matches the committed results it was rendered from, and every committed
run group entered the results tree through ``collapsebench submit`` (so it carries its submission record)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collapsebench.publish.leaderboard import check_leaderboards
from collapsebench.publish.revisions import revision_of
from collapsebench.publish.submit import read_submission
from collapsebench.run.storage import find_runs

LEADERBOARDS = Path(__file__).resolve().parents[1] / "leaderboards"
RESULTS = LEADERBOARDS / "results"
TRACKS = sorted(p.name for p in RESULTS.iterdir() if p.is_dir()) if RESULTS.is_dir() else []


def test_there_are_committed_results():
    assert "density" in TRACKS


def test_committed_tables_page_and_plots_match_committed_results():
    """Every track's tables, the summary, index.html and the plots it shows (`leaderboard --check`)."""
    assert all(find_runs(RESULTS, track) for track in TRACKS)
    assert check_leaderboards(RESULTS, LEADERBOARDS) == []


@pytest.mark.parametrize("track", TRACKS)
def test_committed_run_groups_were_submitted(track):
    for folder in sorted(p for p in (RESULTS / track).iterdir() if p.is_dir()):
        record = read_submission(folder)
        assert record is not None, f"{folder} has no submission.json: add results with `collapsebench submit`"
        assert folder.name.startswith(record["run_group"]) and record["track"] == track
        assert revision_of(folder.name, record["run_group"]) == record["revision"]
        assert sorted(int(p.name.removeprefix("seed-")) for p in folder.glob("seed-*")) == record["seeds"]
