"""The mixing component: exact shares per source, largest-remainder rounding, provenance kept."""

from __future__ import annotations

import math

import numpy as np
import pytest

from collapsebench.errors import ConfigError
from collapsebench.experiment.samples import Samples
from collapsebench.population.mixture import (
    Mix,
    MixWeights,
    build_mixture,
    exact_counts,
    member_mitigation,
)

MEMBERS = ["a", "b", "c"]


@pytest.mark.parametrize(
    ("mixture", "members", "expected"),
    [
        ("self:0.1", ["a", "b"], {"real": 0.1, "a": 0.9, "b": 0.0}),
        ("cross:0.1", ["a", "b"], {"real": 0.1, "a": 0.0, "b": 0.9}),
        ("cross:0.2", MEMBERS, {"real": 0.2, "a": 0.0, "b": 0.4, "c": 0.4}),
        ("population:0.1", ["a", "b"], {"real": 0.1, "a": 0.45, "b": 0.45}),
        ("population:0.4", MEMBERS, {"real": 0.4, "a": 0.2, "b": 0.2, "c": 0.2}),
        ("population:0", MEMBERS, {"real": 0.0, "a": 1 / 3, "b": 1 / 3, "c": 1 / 3}),
        ("real=0.2,own=0.5,others=0.3", MEMBERS, {"real": 0.2, "a": 0.5, "b": 0.15, "c": 0.15}),
    ],
)
def test_named_and_explicit_shares(mixture, members, expected):
    shares = MixWeights.parse(mixture).shares("a", members)
    assert shares.keys() == expected.keys()
    assert all(math.isclose(shares[k], v, abs_tol=1e-12) for k, v in expected.items())
    assert math.isclose(sum(shares.values()), 1.0)


@pytest.mark.parametrize(
    ("shares", "n", "expected"),
    [
        ({"real": 0.1, "a": 0.45, "b": 0.45}, 64, {"real": 6, "a": 29, "b": 29}),  # quotas 6.4, 28.8, 28.8
        ({"real": 0.1, "a": 0.3, "b": 0.3, "c": 0.3}, 101, {"real": 10, "a": 31, "b": 30, "c": 30}),  # tie → first member
        ({"real": 0.2, "a": 0.8}, 64, {"real": 13, "a": 51}),  # = retain:0.2 (round(12.8) = 13)
        ({"real": 0.0, "a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, 100, {"real": 0, "a": 34, "b": 33, "c": 33}),
        ({"real": 1.0, "a": 0.0}, 7, {"real": 7, "a": 0}),
    ],
)
def test_exact_counts_by_largest_remainder(shares, n, expected):
    assert exact_counts(shares, n) == expected


@pytest.mark.parametrize("n", [1, 7, 64, 999, 1000])
@pytest.mark.parametrize("mixture", ["self:0.1", "cross:0.3", "population:0.1", "population:0.05", "real=0.15,own=0.35,others=0.5"])
def test_counts_sum_to_n_and_stay_within_one_of_their_quota(mixture, n):
    shares = MixWeights.parse(mixture).shares("b", MEMBERS)
    counts = exact_counts(shares, n)
    assert sum(counts.values()) == n
    quotas = {k: v * n for k, v in shares.items()}
    assert all(math.floor(quotas[k] + 1e-9) <= c <= math.ceil(quotas[k] - 1e-9) for k, c in counts.items())
    # Hamilton: every source rounded up has a remainder at least as large as every one rounded down.
    up = [quotas[k] % 1 for k, c in counts.items() if c > math.floor(quotas[k] + 1e-9)]
    down = [quotas[k] % 1 for k, c in counts.items() if c == math.floor(quotas[k] + 1e-9)]
    assert not up or not down or min(up) >= max(down) - 1e-9


def _synthetic(name: str, generation: int, n: int, offset: float) -> Samples:
    return Samples.synthetic(np.arange(n, dtype=float)[:, None] + offset, generation, name, labels=np.arange(n) % 3)


@pytest.mark.parametrize("mixture", ["self:0.1", "cross:0.25", "population:0.1", "population:0"])
def test_build_takes_exact_counts_without_replacement_and_keeps_provenance(mixture):
    n = 90
    real = Samples.real(np.arange(n, dtype=float)[:, None] + 10_000, labels=np.arange(n) % 3)
    latest = {name: _synthetic(name, 4, n, 1000.0 * (i + 1)) for i, name in enumerate(MEMBERS)}
    counts = exact_counts(MixWeights.parse(mixture).shares("a", MEMBERS), n)
    mixed = build_mixture({k: c for k, c in counts.items() if c}, real, latest, np.random.default_rng(0))

    assert len(mixed) == n
    expected = {"real" if k == "real" else f"gen4:{k}": c for k, c in counts.items() if c}
    assert mixed.composition() == expected
    assert len(np.unique(mixed.data[:, 0])) == n  # without replacement (sources hold disjoint values)
    for source, pool in [("real", real), *latest.items()]:
        mine = mixed.source == source
        rows = {float(v): i for i, v in enumerate(pool.data[:, 0])}
        index = [rows[float(v)] for v in mixed.data[mine, 0]]  # every row is one of that source's rows …
        assert (mixed.generation[mine] == pool.generation[index]).all()  # … with its generation …
        assert (mixed.labels[mine] == pool.labels[index]).all()  # … and its label


def test_same_rng_same_mixture_and_a_fresh_rng_another():
    real = Samples.real(np.arange(50, dtype=float)[:, None])
    latest = {"a": _synthetic("a", 0, 50, 100.0), "b": _synthetic("b", 0, 50, 200.0)}
    counts = exact_counts(MixWeights.parse("population:0.2").shares("a", ["a", "b"]), 50)
    one, two = (build_mixture(counts, real, latest, np.random.default_rng(7)) for _ in range(2))
    other = build_mixture(counts, real, latest, np.random.default_rng(8))
    assert np.array_equal(one.data, two.data) and not np.array_equal(one.data, other.data)


@pytest.mark.parametrize(
    ("mixture", "message"),
    [
        ("swap:0.1", "neither"),
        ("cross", "neither"),
        ("cross:1.5", r"share in \[0, 1\]"),
        ("cross:x", r"share in \[0, 1\]"),
        ("real=0.5,own=0.1", "sum to 0.6"),
        ("real=0.5,mine=0.5", "weights are real="),
        ("real=0.5,real=0.5", "each at most once"),
    ],
)
def test_bad_mixtures_are_one_line_errors(mixture, message):
    with pytest.raises(ConfigError, match=message) as info:
        MixWeights.parse(mixture)
    assert "\n" not in str(info.value)


def test_cross_needs_another_member():
    with pytest.raises(ConfigError, match="no other members"):
        MixWeights.parse("cross:0.1").shares("a", ["a"])


def test_member_mitigation_round_trips_through_mix():
    spec = member_mitigation("real=0.2,own=0.3,others=0.5", "gmm-k2", "ab12cd34")
    name, _, param = spec.partition(":")
    mix = Mix(param)
    assert name == "mix" and (mix.me, mix.population_id, mix.mixture) == ("gmm-k2", "ab12cd34", "real=0.2,own=0.3,others=0.5")
    assert mix.weights == MixWeights(0.2, 0.3, 0.5)
    with pytest.raises(ConfigError, match="collapsebench population"):
        mix.build(1, None, [], np.random.default_rng(0), None)
