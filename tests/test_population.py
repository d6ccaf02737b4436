"""Populations: lockstep order, self = retain:r, resume, shared data, homogenisation, report and command."""

from __future__ import annotations

import json
import os
from collections import defaultdict

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from collapsebench import hookimpl
from collapsebench.cli import cli
from collapsebench.errors import CollapseBenchError, ConfigError
from collapsebench.population.config import PopulationConfig, parse_population
from collapsebench.population.homogenisation import energy_distance
from collapsebench.population.report import (
    paired_difference,
    population_cells,
    render_population,
    verdict,
)
from collapsebench.population.runner import (
    record_population,
    resolve_population,
    run_population,
)
from collapsebench.publish.aggregate import Stat
from collapsebench.run.chain import run_chains, run_dir
from collapsebench.run.storage import RunStore
from collapsebench.testing import TinyGaussian, TinyNormal


def _population(tiny_track, **settings) -> PopulationConfig:
    members = {"a": {"model": tiny_track.model}, "b": {"model": tiny_track.model, "options": {"ddof": 1}}}
    return PopulationConfig(**{"track": tiny_track.track, "members": members, "generations": 4, "seeds": [0, 1], **settings})


@pytest.fixture
def spy(monkeypatch):
    """Every training set and every draw of the tiny family, keyed by (member ddof, generation of the draw)."""
    trains: dict[int, list] = defaultdict(list)
    draws: dict[int, list] = defaultdict(list)
    fit, sample = TinyGaussian.fit_many, TinyGaussian.sample_many

    def fit_many(self, train_sets, inits, rngs):
        trains[self.options.ddof].append(train_sets)
        return fit(self, train_sets, inits, rngs)

    def sample_many(self, models, n, rngs, policy, reals):
        out = sample(self, models, n, rngs, policy, reals)
        draws[self.options.ddof].append(out)
        return out

    monkeypatch.setattr(TinyGaussian, "fit_many", fit_many)
    monkeypatch.setattr(TinyGaussian, "sample_many", sample_many)
    return trains, draws


def test_cross_member_trains_on_the_other_members_previous_generation_only(tiny_track, results_dir, spy):
    trains, draws = spy
    population = _population(tiny_track)
    rows = run_population(population, "cross:0.25", results_dir)
    real = [TinyNormal(TinyNormal.Options()).load(seed).train.data[:, 0] for seed in population.seeds]
    for me, other, ddof_me, ddof_other in (("a", "b", 0, 1), ("b", "a", 1, 0)):
        for generation in range(1, population.generations + 1):
            for s, seed in enumerate(population.seeds):
                assert rows[me][seed][generation]["train"]["composition"] == {"real": 16, f"gen{generation - 1}:{other}": 48}
                train = trains[ddof_me][generation][s]
                synthetic = train.data[train.source == other, 0]
                assert set(synthetic) <= set(draws[ddof_other][generation - 1][s][:, 0])  # the other's gen g−1 draw
                assert set(train.data[train.source == "real", 0]) <= set(real[s])
                assert (train.generation[train.source == other] == generation - 1).all()


def test_population_distance_is_the_energy_distance_of_the_two_draws(tiny_track, results_dir, spy):
    _, draws = spy
    population = _population(tiny_track)
    rows = run_population(population, "population:0.1", results_dir)
    for generation in range(population.generations + 1):
        for s, seed in enumerate(population.seeds):
            a, b = draws[0][generation][s], draws[1][generation][s]
            expected = stats.energy_distance(a[:, 0], b[:, 0])  # scipy: 1-D, an independent formula (CDFs)
            for member in "ab":
                assert rows[member][seed][generation]["metrics"]["population-distance"] == pytest.approx(expected, rel=1e-9)


def test_energy_distance_is_zero_for_identical_sets_and_matches_a_direct_sum():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 3)), rng.normal(0.5, 1.0, size=(30, 3))
    assert energy_distance(x, x) == pytest.approx(0.0, abs=1e-7)
    d = lambda p, q: np.mean([np.linalg.norm(u - v) for u in p for v in q])
    assert energy_distance(x, y) == pytest.approx(np.sqrt(2 * d(x, y) - d(x, x) - d(y, y)), rel=1e-12)


def test_self_mixture_builds_a_retain_chains_training_sets(tiny_track, results_dir):
    """``self:r`` composes the training set exactly as retain:r does (member named like the model)."""
    population = PopulationConfig(
        track=tiny_track.track, members={tiny_track.model: {"model": tiny_track.model}, "other": {"model": tiny_track.model}},
        generations=5, seeds=[0, 3],
    )
    pop_rows = run_population(population, "self:0.2", results_dir / "pop")[tiny_track.model]
    chain_rows = run_chains(tiny_track.run_config(mitigation="retain:0.2", generations=5, seeds=[0, 3]), results_dir / "chain")
    for seed in (0, 3):
        assert [r["train"] for r in pop_rows[seed]] == [r["train"] for r in chain_rows[seed]]
        assert pop_rows[seed][2]["train"]["composition"] == {"real": 13, f"gen1:{tiny_track.model}": 51}


def test_generation_zero_is_the_same_under_every_mixture(tiny_track, results_dir):
    """A member's streams depend on its name only, so mixtures are paired from generation 0."""
    population = _population(tiny_track)
    first = {m: run_population(population, m, results_dir) for m in ("self:0.1", "cross:0.1")}
    for member in "ab":
        for seed in population.seeds:
            zero = [first[m][member][seed][0]["metrics"] for m in first]
            assert zero[0] == zero[1]
            assert first["self:0.1"][member][seed][3] != first["cross:0.1"][member][seed][3]


def test_members_draw_from_their_own_streams(tiny_track, results_dir):
    population = PopulationConfig(
        track=tiny_track.track, members={"x": {"model": tiny_track.model}, "y": {"model": tiny_track.model}}, generations=1
    )
    rows = run_population(population, "self:0", results_dir)
    assert rows["x"][0][0]["metrics"]["tiny-nll"] == rows["y"][0][0]["metrics"]["tiny-nll"]  # one fit of the same real data
    assert rows["x"][0][0]["metrics"]["tiny-std-ratio"] != rows["y"][0][0]["metrics"]["tiny-std-ratio"]  # different draws


def test_interrupted_population_resumes_to_identical_rows(tiny_track, tmp_path, monkeypatch):
    population = _population(tiny_track, generations=6, seeds=[0, 1, 2])
    whole = run_population(population, "population:0.1", tmp_path / "whole")

    # Killed in the middle of generation 4: member a has its row, member b (seed 1) not yet.
    append = RunStore.append_row

    def dying_append(self, row):
        if row["generation"] == 4 and "/mix-population-0.1-b~" in str(self.dir).replace("__", "/") and row["seed"] == 1:
            raise KeyboardInterrupt
        append(self, row)

    monkeypatch.setattr(RunStore, "append_row", dying_append)
    with pytest.raises(KeyboardInterrupt):
        run_population(population, "population:0.1", tmp_path / "parts")
    monkeypatch.setattr(RunStore, "append_row", append)
    parts = [run_population(population, "population:0.1", tmp_path / "parts") for _ in range(2)]
    assert [len(parts[0][m][1]) for m in "ab"] == [7, 7]
    assert parts[0] == whole and parts[1] == whole


def test_interrupted_before_a_generation_and_with_a_torn_row_resumes_too(tiny_track, tmp_path):
    population = _population(tiny_track, generations=5)
    whole = run_population(population, "cross:0.1", tmp_path / "whole")
    run_population(population.model_copy(update={"generations": 2}), "cross:0.1", tmp_path / "parts")
    config = resolve_population(population, "cross:0.1")[1].parts.config
    with open(run_dir(tmp_path / "parts", config, 0) / "rows.jsonl", "ab") as f:
        f.write(b'{"generation": 3, "metr')
    assert run_population(population, "cross:0.1", tmp_path / "parts") == whole


def test_members_reading_different_data_sources_are_refused(tiny_track, collapsebench_plugin):
    class OtherNormal(TinyNormal):
        name = "other-normal"

    class OtherGaussian(TinyGaussian):
        name = "other-gaussian"
        data_source = "other-normal"

    class Plugin:
        @hookimpl
        def register_models(self, register):
            register(OtherGaussian)

        @hookimpl
        def register_data_sources(self, register):
            register(OtherNormal)

    collapsebench_plugin(Plugin(), name="other")
    population = PopulationConfig(
        track=tiny_track.track, members={"a": {"model": tiny_track.model}, "o": {"model": "other-gaussian"}}
    )
    with pytest.raises(ConfigError, match="must share one data source, but a reads 'tiny-normal', o reads 'other-normal'") as info:
        resolve_population(population, "cross:0.1")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"members": {"a": {"model": "m"}}}, "members"),
        ({"members": {"a": {"model": "m"}, "real": {"model": "m"}}}, "not 'real'"),
        ({"members": {"a": {"model": "m"}, "b": {"model": "m", "data": {}}}}, "Unknown key 'members.b.data'"),
        ({"members": {"a": {"model": "m"}, "b": {"model": "m"}}, "mixtures": []}, "mixtures"),
    ],
)
def test_bad_population_configs_are_one_line_errors(data, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_population({"track": "tiny", **data}, "test")
    assert "\n" not in str(info.value)


def test_population_id_names_the_members_not_the_mixtures_or_seeds(tiny_track):
    population = _population(tiny_track)
    assert population.population_id() == population.model_copy(update={"seeds": [5], "mixtures": ["self:0"]}).population_id()
    other = population.model_copy(update={"members": {**population.members, "c": population.members["a"]}})
    assert population.population_id() != other.population_id()


def test_verdict_reads_the_ci_and_the_direction():
    faster_up = Stat.of([-1.0, -1.2, -0.9])
    assert verdict(faster_up, higher_is_better=True) == "faster"
    assert verdict(faster_up, higher_is_better=False) == "slower"
    assert verdict(Stat.of([-1.0, 1.1, 0.2]), True) == "no detectable difference"
    assert verdict(Stat.of([1.0]), True) == "—"


def test_report_pairs_seeds_against_self_and_matches_the_rows(tiny_track, results_dir):
    population = _population(tiny_track, seeds=[0, 1, 2])
    rows = {m: run_population(population, m, results_dir) for m in ("self:0.1", "cross:0.1", "population:0.1")}
    cells = {(c.member, c.mixture): c for c in population_cells(results_dir, tiny_track.track, population.population_id())}
    assert set(cells) == {(m, x) for m in "ab" for x in rows}
    metric, g = "tiny-nll", population.generations
    for member in "ab":
        change = {x: [rows[x][member][s][g]["metrics"][metric] - rows[x][member][s][0]["metrics"][metric] for s in (0, 1, 2)] for x in rows}
        expected = Stat.of(np.subtract(change["cross:0.1"], change["self:0.1"]))
        assert paired_difference(cells[member, "cross:0.1"], cells[member, "self:0.1"], metric) == expected
    text = render_population(results_dir, tiny_track.track, population.population_id())
    assert text.count("(baseline)") == 2 and "`cross:0.1`" in text and "population-distance" not in text.split("##")[0]
    assert render_population(results_dir, tiny_track.track, population.population_id()) == text  # pure
    assert "## Headline (tiny-w2)" in render_population(results_dir, tiny_track.track, population.population_id(), "tiny-w2")
    with pytest.raises(CollapseBenchError, match="have no metric or family 'nope': set `headline` to one of fidelity"):
        render_population(results_dir, tiny_track.track, population.population_id(), "nope")


def test_population_command_runs_every_mixture_and_writes_the_report(tiny_track, tmp_path):
    config = tmp_path / "pop.toml"
    config.write_text(
        f'track = "{tiny_track.track}"\ngenerations = 3\nseeds = [0, 1]\nmixtures = ["self:0.2", "cross:0.2"]\n'
        f'[members.a]\nmodel = "{tiny_track.model}"\n[members.b]\nmodel = "{tiny_track.model}"\noptions = {{ ddof = 1 }}\n'
    )
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["population", str(config), "--results-dir", str(tmp_path / "res"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = (out / f"population-{tiny_track.track}.md").read_text()
    assert report.count("| a ") >= 2 and (out / f"population-{tiny_track.track}.png").stat().st_size > 1000
    population = parse_population(json.loads(json.dumps({"track": tiny_track.track, "members": {
        "a": {"model": tiny_track.model}, "b": {"model": tiny_track.model, "options": {"ddof": 1}}}})), "test")
    saved = tmp_path / "res" / tiny_track.track / "populations" / f"{population.population_id()}.json"
    assert json.loads(saved.read_text())["members"]["b"]["options"] == {"ddof": 1}
    assert record_population(population, tmp_path / "res") == saved


def test_twins_trained_on_each_other_lose_variance_as_self_training_does(tiny_track, results_dir, monkeypatch):
    """Oracle (DESIGN.md): MLE variance under replacement drifts by log(χ²_{M−1}/M) per generation.

    Under ``cross:0`` twin fitters alternate (A_g ← B_{g−1} ← A_{g−2} …), a product of the same
    independent factors, so log(σ²_G/σ²_0) has mean G·(ψ((M−1)/2) + log(2/M)) exactly as under self.
    """
    from scipy.special import digamma, polygamma

    monkeypatch.setattr(os, "fsync", lambda fd: None)  # 2000 chain-generations; durability is tested elsewhere
    m, g, seeds = 64, 10, list(range(50))
    population = PopulationConfig(
        track=tiny_track.track, members={"a": {"model": tiny_track.model}, "b": {"model": tiny_track.model}},
        generations=g, seeds=seeds,
    )
    expected, var = g * (digamma((m - 1) / 2) + np.log(2 / m)), g * polygamma(1, (m - 1) / 2)
    for mixture in ("cross:0",):  # self:0 is a replace chain, held to this oracle in the chain tests
        run_population(population, mixture, results_dir)
        logs = []
        for member in resolve_population(population, mixture):
            for seed in seeds:
                store = RunStore(run_dir(results_dir, member.parts.config, seed))
                std = [float(np.load(store.model_path(k))["std"]) for k in (0, g)]
                logs.append(2 * np.log(std[1] / std[0]))
        assert abs(np.mean(logs) - expected) < 4 * np.sqrt(var / len(logs)), mixture
        assert abs(expected) > 5 * np.sqrt(var / len(logs))  # the test can tell drift from none
