"""Aggregation over seeds, checked against scipy's t interval on fabricated results with known numbers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from collapsebench.errors import CollapseBenchError
from collapsebench.publish.aggregate import Stat, load_groups
from collapsebench.run.storage import ResultsError, RunStore

TRACK = "toy"
METRICS = {
    "nll": {"family": "fidelity", "higher_is_better": False, "description": "held-out NLL"},
    "tail": {"family": "tails", "higher_is_better": True, "description": "mass beyond 2σ"},
    "spread": {"family": "diversity", "higher_is_better": True, "description": "sample std"},
    "w2": {"family": "drift", "higher_is_better": False, "description": "W2 to real"},
    "raw_count": {"family": "raw", "higher_is_better": True, "description": "a raw metric"},
}
FAMILY_METRIC = {"fidelity": "nll", "tails": "tail", "diversity": "spread", "drift": "w2"}

# values[metric][seed] = one value per generation 0..3
REPLACE = {
    "nll": {0: [1.0, 1.2, 1.5, 2.0], 1: [1.1, 1.3, 1.4, 2.4], 2: [0.9, 1.0, 1.6, 1.9]},
    "tail": {0: [1.0, 0.8, 0.5, 0.3], 1: [0.9, 0.7, 0.6, 0.2], 2: [1.1, 0.9, 0.4, 0.25]},
    "spread": {0: [2.0, 1.8, 1.5, 1.0], 1: [2.2, 1.9, 1.4, 1.2], 2: [1.8, 1.7, 1.6, 0.9]},
    "w2": {0: [0.01, 0.1, 0.5, 2.0], 1: [0.02, 0.2, 0.4, 3.0], 2: [0.03, 0.15, 0.6, 1.5]},
    "raw_count": {0: [5, 4, 3, 2], 1: [5, 4, 3, 2], 2: [5, 4, 3, 2]},
}


def write_run(
    root: Path,
    *,
    model: str = "gauss",
    mitigation: str = "replace",
    seed: int = 0,
    values: dict[str, list[float | None]],
    config_hash: str = "aaaaaaaaaa",
    generations: int = 3,
    collapsed_at: int | None = None,
    sampling: dict[str, Any] | None = None,
) -> Path:
    """One fabricated seed folder in the stored-results layout, with the given metric values."""
    run_group = f"{model}__{mitigation.replace(':', '-')}__{config_hash}"
    store = RunStore(root / TRACK / run_group / f"seed-{seed}")
    config = {
        "track": TRACK, "model": model, "mitigation": mitigation, "seeds": [seed], "generations": generations,
        "init": "scratch", "on_collapse": "stop", "data": {}, "options": {}, "sampling": sampling or {},
    }
    store.write_spec({
        "schema_version": 1, "track": TRACK, "model": model, "mitigation": mitigation, "seed": seed,
        "run_group": run_group, "config_hash": config_hash, "config": config, "headline": "drift",
        "families": FAMILY_METRIC, "metrics": METRICS,
        "data": {"source": "toy1d", "fingerprint": "f" * 64, "provenance": {}},
        "versions": {"python": "3.11", "collapsebench": "0.1.0"}, "git_commit": None,
        "hardware": {}, "created_at": "2026-01-01T00:00:00Z",
    })
    last = collapsed_at if collapsed_at is not None else generations
    for g in range(last + 1):
        collapsed = g == collapsed_at
        metrics = {name: None if collapsed else series[g] for name, series in values.items()}
        store.append_row({
            "schema_version": 1, "generation": g, "seed": seed,
            "status": "collapsed" if collapsed else "ok", "reason": "singular covariance" if collapsed else None,
            "metrics": metrics, "families": {f: metrics.get(m) for f, m in FAMILY_METRIC.items()},
            "train": {"size": 10, "composition": {"real": 10}},
        })
    return store.dir


def write_group(root: Path, table: dict[str, dict[int, list[float | None]]], **kwargs: Any) -> None:
    """All seeds of ``table`` (metric → seed → values per generation) as one run group."""
    for seed in table["nll"]:
        write_run(root, seed=seed, values={m: per_seed[seed] for m, per_seed in table.items()}, **kwargs)


def t_interval(values: list[float]) -> tuple[float, float]:
    """Mean and CI half-width by scipy's own t interval: the independent oracle."""
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    return float(np.mean(values)), float((high - low) / 2)


def test_stat_matches_scipy_t_interval() -> None:
    values = [1.0, 2.0, 4.0, 7.0]
    stat = Stat.of(values)
    mean, half = t_interval(values)
    assert stat.n == 4
    assert stat.mean == pytest.approx(mean)
    assert stat.std == pytest.approx(np.std(values, ddof=1))
    assert stat.ci == pytest.approx(half)
    # by hand: t_{0.975,3} = 3.182446305...
    assert stat.ci == pytest.approx(3.182446305284263 * np.std(values, ddof=1) / 2)


def test_stat_skips_non_finite_and_has_no_ci_below_two() -> None:
    assert Stat.of([1.0, math.nan, 3.0, math.inf]) == Stat.of([1.0, 3.0])
    one = Stat.of([2.5, math.nan])
    assert (one.mean, one.n) == (2.5, 1) and math.isnan(one.std) and math.isnan(one.ci)
    none = Stat.of([])
    assert none.n == 0 and math.isnan(none.mean)


def test_per_generation_mean_and_ci(tmp_path: Path) -> None:
    write_group(tmp_path, REPLACE)
    (group,) = load_groups(tmp_path, TRACK)
    assert group.seeds == [0, 1, 2] and group.generations == 3 and group.config_hash == "aaaaaaaaaa"
    for g in range(4):
        mean, half = t_interval([REPLACE["w2"][s][g] for s in range(3)])
        stat = group.stat("w2", g)
        assert (stat.mean, stat.ci, stat.n) == (pytest.approx(mean), pytest.approx(half), 3)
    assert [s.mean for s in group.series("nll")] == pytest.approx([1.0, 1.1667, 1.5, 2.1], abs=1e-4)


def test_change_is_paired_over_seeds(tmp_path: Path) -> None:
    write_group(tmp_path, REPLACE)
    (group,) = load_groups(tmp_path, TRACK)
    diffs = [REPLACE["nll"][s][3] - REPLACE["nll"][s][0] for s in range(3)]
    mean, half = t_interval(diffs)
    change = group.change("nll")
    assert (change.mean, change.ci, change.n) == (pytest.approx(mean), pytest.approx(half), 3)
    # pairing matters: the seeds' offsets cancel, so the paired CI is narrower than the unpaired one
    unpaired = math.hypot(group.stat("nll", 0).ci, group.stat("nll", 3).ci)
    assert change.ci < unpaired


def test_relative_to_generation_zero_is_ratio_per_seed(tmp_path: Path) -> None:
    write_group(tmp_path, REPLACE)
    (group,) = load_groups(tmp_path, TRACK)
    ratios = [REPLACE["spread"][s][2] / REPLACE["spread"][s][0] for s in range(3)]
    mean, half = t_interval(ratios)
    rel = group.relative("spread", 2)
    assert (rel.mean, rel.ci) == (pytest.approx(mean), pytest.approx(half))
    summary = group.summary("diversity")
    assert summary.metric == "spread" and summary.higher_is_better is True
    last_ratios = [REPLACE["spread"][s][3] / REPLACE["spread"][s][0] for s in range(3)]
    assert summary.relative.mean == pytest.approx(np.mean(last_ratios))


def test_zero_at_generation_zero_gives_no_ratio(tmp_path: Path) -> None:
    table = {m: {s: list(v) for s, v in per_seed.items()} for m, per_seed in REPLACE.items()}
    table["w2"][1][0] = 0.0
    write_group(tmp_path, table)
    (group,) = load_groups(tmp_path, TRACK)
    assert group.relative("w2").n == 2


def test_collapsed_chain_is_counted_and_left_out_of_last_generation(tmp_path: Path) -> None:
    write_run(tmp_path, seed=0, values={m: v[0] for m, v in REPLACE.items()})
    write_run(tmp_path, seed=1, values={m: v[1] for m, v in REPLACE.items()})
    write_run(tmp_path, seed=2, values={m: v[2] for m, v in REPLACE.items()}, collapsed_at=2)
    (group,) = load_groups(tmp_path, TRACK)
    assert [r.seed for r in group.collapsed] == [2] and group.collapsed[0].collapsed_at == 2
    assert group.unfinished == []
    assert group.stat("nll", 0).n == 3 and group.stat("nll", 2).n == 2 and group.stat("nll", 3).n == 2
    diffs = [REPLACE["nll"][s][3] - REPLACE["nll"][s][0] for s in range(2)]
    assert group.change("nll").mean == pytest.approx(np.mean(diffs))


def test_groups_sorted_and_seeds_must_share_config_hash(tmp_path: Path) -> None:
    write_group(tmp_path, REPLACE, mitigation="retain:0.1", config_hash="bbbbbbbbbb")
    write_group(tmp_path, REPLACE, mitigation="accumulate", config_hash="cccccccccc")
    assert [g.mitigation for g in load_groups(tmp_path, TRACK)] == ["accumulate", "retain:0.1"]
    odd = RunStore(write_run(tmp_path, seed=7, values={m: v[0] for m, v in REPLACE.items()}, config_hash="d" * 10))
    spec = odd.spec()
    assert spec is not None
    odd.write_spec({**spec, "run_group": "gauss__accumulate__cccccccccc"})  # claims a group it does not match
    with pytest.raises(ResultsError, match="different config hashes"):
        load_groups(tmp_path, TRACK)


def test_no_results_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(CollapseBenchError, match=r"no results for track 'toy' .*collapsebench sweep --track toy"):
        load_groups(tmp_path, TRACK)


def test_values_equal_up_to_rounding_have_no_spread():
    """Paired differences that are equal in every seed but for the last bit get a CI of exactly 0, not 5e-17."""
    from collapsebench.publish.aggregate import Stat

    values = [0.2 - 1 / 15, 2 / 15, 0.6 - 7 / 15]
    assert len(set(values)) > 1
    assert Stat.of(values).ci == 0.0 and Stat.of(values).std == 0.0
    assert Stat.of([1.0, 1.0 + 1e-9, 1.0]).ci > 0
