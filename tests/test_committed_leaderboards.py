"""Every committed leaderboard table matches the committed results it was rendered from."""

from __future__ import annotations

from pathlib import Path

import pytest

from collapsebench.leaderboard import check_leaderboard
from collapsebench.storage import find_runs

LEADERBOARDS = Path(__file__).resolve().parents[1] / "leaderboards"
TRACKS = sorted(p.name for p in (LEADERBOARDS / "results").iterdir()) if (LEADERBOARDS / "results").is_dir() else []


def test_there_are_committed_results():
    assert "density" in TRACKS


@pytest.mark.parametrize("track", TRACKS)
def test_committed_table_matches_committed_results(track):
    assert find_runs(LEADERBOARDS / "results", track)
    assert check_leaderboard(LEADERBOARDS / "results", track, LEADERBOARDS) == []
