"""Built-in mitigations: exact shares of real and synthetic rows, provenance, parameters, determinism.

Every row's value says where it came from: train pool 0…999, test split -1…-1000, fresh real data
≥ 10⁶, synthetic set g 10⁵·(g+1) + i. So a test can check the provenance tags against the data.
"""

from __future__ import annotations

import numpy as np
import pytest

from collapsebench.errors import ConfigError
from collapsebench.experiment.data import RealData
from collapsebench.experiment.mitigations import BUILTIN_MITIGATIONS, Mitigation
from collapsebench.experiment.samples import REAL, Samples
from collapsebench.plugin.registry import registries

N = 1000
MODEL = "m"
FRESH_START = 1_000_000


def _fresh(n: int, rng: np.random.Generator) -> Samples:
    return Samples.real(FRESH_START + rng.permutation(10 * n)[:n, None].astype(float))


def _real(fresh: bool = True) -> RealData:
    return RealData(
        train=Samples.real(np.arange(N, dtype=float)[:, None]),
        test=Samples.real(-1.0 - np.arange(N, dtype=float)[:, None]),
        fingerprint="test",
        fresh=_fresh if fresh else None,
    )


def _history(generations: int, size: int = N) -> list[Samples]:
    return [
        Samples.synthetic(100_000.0 * (g + 1) + np.arange(size, dtype=float)[:, None], g, MODEL)
        for g in range(generations)
    ]


def _build(spec: str, history: list[Samples], seed: int = 0, real: RealData | None = None) -> Samples:
    mitigation = registries().mitigation(spec)
    return mitigation.build(len(history), real or _real(), history, np.random.default_rng(seed), _score)


def _score(data: np.ndarray) -> np.ndarray:
    return data[:, 0] % 100_000  # higher index within a synthetic set scores higher


def _values(samples: Samples, origin: str) -> np.ndarray:
    """The data of the rows whose provenance is ``origin`` ("real" or "gen<g>:<model>")."""
    if origin == REAL:
        mask = samples.generation == -1
    else:
        g = int(origin[3:].split(":")[0])
        mask = (samples.generation == g) & (samples.source == MODEL)
    return samples.data[mask, 0]


def _assert_tags_match_data(samples: Samples) -> None:
    for g in set(samples.generation.tolist()) - {-1}:
        values = _values(samples, f"gen{g}:{MODEL}")
        assert np.all((values >= 100_000 * (g + 1)) & (values < 100_000 * (g + 2)))
    real = _values(samples, REAL)
    assert np.all((real >= 0) & ((real < N) | (real >= FRESH_START)))  # never the test split


def test_replace_trains_on_the_newest_synthetic_set_only():
    history = _history(3)
    train = _build("replace", history)
    assert train.composition() == {f"gen2:{MODEL}": N}
    np.testing.assert_array_equal(train.data, history[-1].data)


def test_retain_keeps_exactly_p_of_the_real_train_pool():
    train = _build("retain:0.1", _history(3))

    assert len(train) == N
    assert train.composition() == {REAL: 100, f"gen2:{MODEL}": 900}
    real = _values(train, REAL)
    assert len(np.unique(real)) == 100 and np.all((real >= 0) & (real < N))  # from real.train, no repeats
    assert len(np.unique(_values(train, f"gen2:{MODEL}"))) == 900
    _assert_tags_match_data(train)


def test_accumulate_trains_on_everything_so_far():
    train = _build("accumulate", _history(3))
    assert len(train) == 4 * N
    assert train.composition() == {REAL: N, f"gen0:{MODEL}": N, f"gen1:{MODEL}": N, f"gen2:{MODEL}": N}
    _assert_tags_match_data(train)


def test_accumulate_subsample_draws_a_fixed_size_from_the_whole_pool():
    train = _build("accumulate-subsample", _history(3))

    assert len(train) == N
    assert len(np.unique(train.data[:, 0])) == N  # without replacement
    counts = train.composition()
    assert set(counts) == {REAL, f"gen0:{MODEL}", f"gen1:{MODEL}", f"gen2:{MODEL}"}
    assert all(150 < c < 350 for c in counts.values())  # about N/4 each: the pool is drawn uniformly
    _assert_tags_match_data(train)


def test_fresh_draws_new_real_data_and_never_the_train_pool():
    train = _build("fresh:0.2", _history(2))

    assert train.composition() == {REAL: 200, f"gen1:{MODEL}": 800}
    assert np.all(_values(train, REAL) >= FRESH_START)
    _assert_tags_match_data(train)


def test_fresh_without_a_source_of_new_data_names_the_alternative():
    with pytest.raises(ConfigError, match=r"needs a data source that can draw new real samples.*use 'retain'"):
        _build("fresh:0.2", _history(1), real=_real(fresh=False))


def test_filter_keeps_exactly_the_n_best_scored_of_n_over_q():
    mitigation = registries().mitigation("filter:0.5")
    assert mitigation.samples_needed(N) == 2 * N
    assert registries().mitigation("filter:0.3").samples_needed(N) == 3334  # ceil(1000 / 0.3)
    history = _history(2, size=2 * N)

    train = _build("filter:0.5", history)

    assert train.composition() == {f"gen1:{MODEL}": N}
    np.testing.assert_array_equal(train.data[:, 0], 200_000 + np.arange(N, 2 * N))  # the top half, in order


def test_filter_ranks_unscorable_samples_last():
    history = _history(1, size=2 * N)
    mitigation = registries().mitigation("filter:0.5")

    def scorer(data: np.ndarray) -> np.ndarray:
        scores = _score(data).astype(float)
        scores[-5:] = np.nan  # the five best would otherwise be kept
        return scores

    train = mitigation.build(1, _real(), history, np.random.default_rng(0), scorer)
    np.testing.assert_array_equal(train.data[:, 0], 100_000 + np.arange(N - 5, 2 * N - 5))


@pytest.mark.parametrize("cls", BUILTIN_MITIGATIONS, ids=lambda c: c.name)
def test_no_mitigation_puts_test_data_in_the_training_set(cls: type[Mitigation]):
    spec = f"{cls.name}:0.5" if cls.param_required else cls.name
    history = _history(3, size=registries().mitigation(spec).samples_needed(N))
    _assert_tags_match_data(_build(spec, history))


@pytest.mark.parametrize("cls", BUILTIN_MITIGATIONS, ids=lambda c: c.name)
def test_the_history_window_is_all_a_mitigation_reads(cls: type[Mitigation]):
    """The chain keeps only ``history_window`` synthetic sets: building from those must be the same."""
    spec = f"{cls.name}:0.5" if cls.param_required else cls.name
    history = _history(4, size=registries().mitigation(spec).samples_needed(N))
    window = cls.history_window
    kept = history if window is None else history[-window:]
    full = _build(spec, history, seed=7)
    trimmed = registries().mitigation(spec).build(4, _real(), kept, np.random.default_rng(7), _score)
    np.testing.assert_array_equal(full.data, trimmed.data)


@pytest.mark.parametrize("spec", ["retain:0.1", "accumulate-subsample", "fresh:0.3"])
def test_the_same_rng_builds_the_same_training_set(spec: str):
    history = _history(3)
    first, again, other = _build(spec, history, seed=5), _build(spec, history, seed=5), _build(spec, history, seed=6)
    np.testing.assert_array_equal(first.data, again.data)
    np.testing.assert_array_equal(first.generation, again.generation)
    assert not np.array_equal(first.data, other.data)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("retain", r"^Mitigation 'retain' needs a fraction: write e\.g\. 'retain:0\.1'\.$"),
        ("filter", r"^Mitigation 'filter' needs a fraction: write e\.g\. 'filter:0\.1'\.$"),
        ("replace:0.3", r"^Mitigation 'replace' takes no parameter; write 'replace'\.$"),
        ("accumulate:2", r"^Mitigation 'accumulate' takes no parameter; write 'accumulate'\.$"),
    ],
)
def test_a_missing_or_unexpected_parameter_is_a_config_error(spec: str, message: str):
    with pytest.raises(ConfigError, match=message):
        registries().mitigation(spec)


@pytest.mark.parametrize("spec", ["retain:1.5", "retain:0", "retain:-0.1", "retain:abc", "fresh:nan", "filter:0"])
def test_a_parameter_outside_0_1_is_refused_before_any_chain_starts(tiny_track, spec: str):
    from collapsebench.plugin.components import resolve

    name = spec.split(":")[0]
    pattern = rf"^Mitigation '{spec}': the parameter must be a fraction in \(0, 1\], e\.g\. '{name}:0\.1'\.$"
    with pytest.raises(ConfigError, match=pattern):
        resolve(tiny_track.run_config(mitigation=spec))
    with pytest.raises(ConfigError, match=pattern):
        registries().mitigation(spec).fraction()

