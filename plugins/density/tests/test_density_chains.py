"""Evidence through the real chain loop: theory for the Gaussian, collapse vs mitigations for the GMM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from collapsebench.experiment.config import RunConfig
from collapsebench.run.chain import run_chains


@pytest.mark.slow
def test_many_seed_mle_variance_matches_theory_within_its_ci(tmp_path: Path) -> None:
    """E[σ̂²_g]/σ² = ((M−1)/M)^(g+1): generation g is the (g+1)-th MLE fit (DESIGN.md oracle)."""
    m, generations, seeds = 100, 10, list(range(400))
    config = RunConfig(track="density", model="gaussian", mitigation="replace", generations=generations,
                       seeds=seeds, data={"n": m, "n_test": 10})
    rows = run_chains(config, tmp_path)
    for g in (0, 4, 10):
        ratios = np.array([rows[s][g]["metrics"]["trace-ratio"] for s in seeds])
        low, high = stats.t.interval(0.99, len(seeds) - 1, loc=ratios.mean(), scale=stats.sem(ratios))
        assert low < ((m - 1) / m) ** (g + 1) < high, (g, low, high)
    assert np.mean([rows[s][10]["metrics"]["trace-ratio"] for s in seeds]) < 0.95


def _last(rows: dict[int, list[dict]], metric: str) -> np.ndarray:
    return np.array([seed_rows[-1]["metrics"][metric] for seed_rows in rows.values()])


def test_gmm_collapses_under_replace_but_not_with_real_data(tmp_path: Path) -> None:
    seeds = [0, 1, 2, 3, 4]
    rows = {
        mitigation: run_chains(
            RunConfig(track="density", model="gmm", mitigation=mitigation, generations=40, seeds=seeds),
            tmp_path,
        )
        for mitigation in ("replace", "retain:0.1", "accumulate")
    }
    l2 = {k: _last(v, "gmm-l2") for k, v in rows.items()}
    nll = {k: _last(v, "heldout-nll") - np.array([r[0]["metrics"]["heldout-nll"] for r in v.values()])
           for k, v in rows.items()}
    assert l2["replace"].mean() > 5 * max(l2["retain:0.1"].mean(), l2["accumulate"].mean())
    assert nll["replace"].mean() > 5 * max(abs(nll["retain:0.1"].mean()), abs(nll["accumulate"].mean()))
    spread = {k: np.abs(_last(v, "component-std-ratio") - 1).mean() for k, v in rows.items()}
    assert spread["replace"] > spread["accumulate"]
