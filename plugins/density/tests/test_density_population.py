"""Density populations: the presets resolve, families must share data, a short cross run is well formed."""

from __future__ import annotations

import pytest

from collapsebench.errors import ConfigError
from collapsebench.experiment.samples import Samples
from collapsebench.population.config import parse_population
from collapsebench.population.homogenisation import energy_distance
from collapsebench.population.runner import resolve_population, resolve_population_config, run_population
from collapsebench.run.runner import preset
from collapsebench.run.storage import RunStore


@pytest.mark.parametrize("name", ["cross-quick", "twins-quick"])
def test_population_presets_resolve_with_five_seeds_or_more(name):
    population = resolve_population_config(None, "density", name, [])
    assert len(population.seeds) >= 5 and len(population.members) == 2
    assert {m.split(":")[0] for m in population.mixtures} == {"self", "cross", "population"}
    assert len({m.split(":")[1] for m in population.mixtures}) == 2  # each share has all three settings


def test_members_on_different_data_are_refused():
    population = parse_population({"track": "density", "members": {"g": {"model": "gmm"}, "v": {"model": "vae"}}}, "test")
    with pytest.raises(ConfigError, match="g reads 'gmm2d', v reads 'digits'"):
        resolve_population(population, "cross:0.1")


def test_short_cross_run_of_a_mixture_and_a_single_gaussian(tmp_path):
    data = preset("density", "cross-quick", populations=True)
    population = parse_population({**data, "generations": 2, "seeds": [0, 1]}, "test")
    rows = run_population(population, "cross:0", tmp_path)
    members = resolve_population(population, "cross:0")
    for member, other in (("gmm-k2", "gmm-k1"), ("gmm-k1", "gmm-k2")):
        for seed in (0, 1):
            assert [r["status"] for r in rows[member][seed]] == ["ok"] * 3
            assert rows[member][seed][2]["train"]["composition"] == {f"gen1:{other}": 100}
    # The last generation's draws are kept for resume: the stored distance is their energy distance.
    store = {m.name: RunStore(tmp_path / "density" / m.parts.config.run_group() / "seed-1") for m in members}
    draws = {name: Samples.load(s.synthetic_path(3)) for name, s in store.items()}
    assert rows["gmm-k2"][1][2]["metrics"]["population-distance"] == pytest.approx(
        energy_distance(draws["gmm-k2"].data, draws["gmm-k1"].data), rel=1e-9
    )
    assert draws["gmm-k1"].composition() == {"gen2:gmm-k1": 100}
