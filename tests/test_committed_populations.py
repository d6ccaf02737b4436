"""The committed population reports match the committed population results, and those are the presets'."""

from __future__ import annotations

from pathlib import Path

import pytest

from collapsebench.population.report import render_population
from collapsebench.population.runner import resolve_population_config

ROOT = Path(__file__).resolve().parent.parent
LEADERBOARDS = ROOT / "leaderboards"
# committed results folder → (track, population preset that produced it)
COMMITTED = {"density-cross": ("density", "cross-quick"), "text-cross": ("text", "cross-tiny")}


@pytest.mark.parametrize("folder", sorted(COMMITTED))
def test_population_report_matches_its_results(folder):
    track, preset = COMMITTED[folder]
    population = resolve_population_config(None, track, preset, [])
    results = LEADERBOARDS / "populations" / folder
    assert (results / track / "populations" / f"{population.population_id()}.json").is_file(), (
        f"leaderboards/populations/{folder} was not produced by the '{preset}' preset as it is now; "
        f"rerun `collapsebench population --track {track} --preset {preset}` and commit its results"
    )
    rendered = render_population(results, track, population.population_id(), population.headline)
    committed = (LEADERBOARDS / f"population-{track}.md").read_text()
    assert rendered == committed, f"leaderboards/population-{track}.md is stale; re-render it from {results}"
