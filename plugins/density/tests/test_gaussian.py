"""The Gaussian half of the density track, held to closed forms and to the paper's chain theory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import linalg, special, stats

from collapsebench.errors import DegenerateFit
from collapsebench.experiment.metrics import MetricContext
from collapsebench.experiment.options import Options
from collapsebench.experiment.samples import Samples
from collapsebench_density.gaussian import (
    GaussianData,
    GaussianDataOptions,
    GaussianFamily,
    GaussianModel,
    GaussianOptions,
    GaussianW2,
    HeldoutNLL,
    MeanSquaredError,
    TailMass2Sigma,
    TailMass3Sigma,
    TraceRatio,
    gaussian_w2,
)


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def context(model, real, samples, tmp_path: Path) -> MetricContext:
    return MetricContext(
        generation=0, seed=0, model=model, reference=model, samples=samples, train=real.train, real=real,
        rng=np.random.default_rng(0), artifact_dir=tmp_path,
    )


def mle() -> GaussianFamily:
    return GaussianFamily(GaussianOptions())


# --- closed forms against independent computations -------------------------------------------

def test_w2_matches_the_scipy_sqrtm_formula() -> None:
    rng = np.random.default_rng(1)
    for d in (2, 3, 5):
        m1, m2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = random_spd(rng, d), random_spd(rng, d)
        # a different route: tr((S1 S2)^{1/2}) through scipy's general (non-symmetric) sqrtm
        cross = np.real(np.trace(linalg.sqrtm(s1 @ s2)))
        expected = np.sqrt(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross)
        assert gaussian_w2(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-8)
        assert gaussian_w2(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-6)


def test_w2_in_one_dimension_matches_the_quantile_integral() -> None:
    m1, s1, m2, s2 = 0.3, 1.7, -0.4, 0.6
    u = (np.arange(200_000) + 0.5) / 200_000  # midpoint rule for ∫_0^1 (F1⁻¹(u) - F2⁻¹(u))² du
    integral = np.mean((stats.norm.ppf(u, m1, s1) - stats.norm.ppf(u, m2, s2)) ** 2)
    w2 = gaussian_w2(np.array([m1]), np.array([[s1**2]]), np.array([m2]), np.array([[s2**2]]))
    assert w2 == pytest.approx(np.hypot(m1 - m2, s1 - s2), rel=1e-12)
    assert w2**2 == pytest.approx(integral, rel=1e-3)


def test_log_likelihood_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    mean, cov = rng.standard_normal(3), random_spd(rng, 3)
    x = rng.standard_normal((50, 3))
    expected = stats.multivariate_normal(mean, cov).logpdf(x)
    np.testing.assert_allclose(GaussianModel(mean, cov).log_likelihood(x), expected, rtol=1e-10)


@pytest.mark.parametrize("estimator, ddof", [("mle", 0), ("unbiased", 1)])
def test_fit_is_the_sample_mean_and_covariance(estimator: str, ddof: int) -> None:
    x = np.random.default_rng(3).standard_normal((40, 3)) @ np.array([[2, 0, 0], [1, 1, 0], [0, 0.5, 3.0]])
    model = GaussianFamily(GaussianOptions(estimator=estimator)).fit(Samples.real(x), None, np.random.default_rng(0))
    np.testing.assert_allclose(model.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(model.cov, np.cov(x.T, ddof=ddof), rtol=1e-12)


# --- data source -----------------------------------------------------------------------------

def test_data_is_seeded_and_truth_is_shared_across_seeds() -> None:
    source = GaussianData(GaussianDataOptions(dim=3, n=20, n_test=30, covariance="random", std=2.0))
    a, b, c = source.load(0), source.load(0), source.load(1)
    assert a.train.data.shape == (20, 3) and a.test.data.shape == (30, 3)
    np.testing.assert_array_equal(a.train.data, b.train.data)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    np.testing.assert_array_equal(a.truth["cov"], c.truth["cov"])
    eig = np.linalg.eigvalsh(a.truth["cov"]) / 4.0
    assert eig.min() >= 0.25 - 1e-12 and eig.max() <= 4.0 + 1e-12
    fresh = a.fresh(5, np.random.default_rng(9))
    assert fresh.data.shape == (5, 3) and set(fresh.composition()) == {"real"}


# --- metrics ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [1, 3])
def test_metrics_at_the_truth(dim: int, tmp_path: Path) -> None:
    source = GaussianData(GaussianDataOptions(dim=dim, n=10, n_test=2000, covariance="random"))
    real = source.load(0)
    truth = GaussianModel(real.truth["mean"], real.truth["cov"])
    n = 400_000
    samples = truth.sample(n, np.random.default_rng(4), Options(), real)
    ctx = context(truth, real, samples, tmp_path)
    assert TraceRatio().compute(ctx) == pytest.approx(1.0)
    assert MeanSquaredError().compute(ctx) == 0.0
    assert GaussianW2().compute(ctx) == pytest.approx(0.0, abs=1e-6)
    expected_nll = -stats.multivariate_normal(real.truth["mean"], real.truth["cov"]).logpdf(real.test.data).mean()
    assert HeldoutNLL().compute(ctx) == pytest.approx(expected_nll)
    for metric, k in ((TailMass2Sigma(), 2.0), (TailMass3Sigma(), 3.0)):
        p = stats.chi2.sf(k**2, dim)
        assert metric.compute(ctx) == pytest.approx(1.0, abs=5 * np.sqrt((1 - p) / (p * n)))


def test_tail_mass_falls_when_the_variance_shrinks(tmp_path: Path) -> None:
    real = GaussianData(GaussianDataOptions(n=10, n_test=10)).load(0)
    narrow = GaussianModel(np.zeros(1), np.array([[0.5**2]]))
    n = 2_000_000
    ctx = context(narrow, real, narrow.sample(n, np.random.default_rng(5), Options(), real), tmp_path)
    p_narrow, p_true = 2 * stats.norm.sf(4), 2 * stats.norm.sf(2)  # beyond 2σ of N(0, 1) = beyond 4σ of N(0, 1/4)
    expected, se = p_narrow / p_true, np.sqrt(p_narrow / n) / p_true
    assert TailMass2Sigma().compute(ctx) == pytest.approx(expected, abs=4 * se)
    assert TraceRatio().compute(ctx) == pytest.approx(0.25)
    assert GaussianW2().compute(ctx) == pytest.approx(0.5)


# --- batching and degenerate fits ------------------------------------------------------------

def test_fit_and_sample_are_batch_invariant() -> None:
    data_rng = np.random.default_rng(6)
    trains = [Samples.real(data_rng.standard_normal((n, 3)) * [1, 2, 3] + 5) for n in (50, 50, 50, 50, 50, 51, 50)]
    family = mle()
    batch = family.fit_many(trains, [None] * len(trains), [np.random.default_rng(i) for i in range(len(trains))])
    for i, train in enumerate(trains):
        alone = family.fit(train, None, np.random.default_rng(i))
        for key, value in alone.state_dict().items():
            np.testing.assert_array_equal(batch[i].state_dict()[key], value)
    drawn = family.sample_many(batch, 64, [np.random.default_rng(10 + i) for i in range(len(batch))], Options(), [])
    for i, model in enumerate(batch):
        np.testing.assert_array_equal(drawn[i], model.sample(64, np.random.default_rng(10 + i), Options(), None))


@pytest.mark.parametrize(
    "data, estimator, reason",
    [
        (np.full((10, 2), 3.0), "mle", "identical"),
        (np.array([[0.0], [np.nan], [1.0]]), "mle", "non-finite"),
        (np.c_[np.arange(10.0), 2 * np.arange(10.0)], "mle", "singular"),
        (np.array([[1.0]]), "unbiased", "too few"),
    ],
)
def test_degenerate_fits_are_reported(data: np.ndarray, estimator: str, reason: str) -> None:
    family = GaussianFamily(GaussianOptions(estimator=estimator))
    with pytest.raises(DegenerateFit, match=reason):
        family.fit(Samples.real(data), None, np.random.default_rng(0))
    good = Samples.real(np.random.default_rng(1).standard_normal(data.shape if len(data) > 2 else (5, data.shape[1])))
    results = family.fit_many([Samples.real(data), good], [None, None], [np.random.default_rng(0)] * 2)
    assert isinstance(results[0], DegenerateFit) and reason in results[0].reason
    assert isinstance(results[1], GaussianModel)


# --- the paper's chain theory (Theorem 3.1), through the family API ----------------------------

def variance_ratios(estimator: str, m: int, fits: int, chains: int) -> np.ndarray:
    """σ̂²/σ² after fit 1..``fits`` of ``chains`` pure-replacement chains; fit 1 is on the real data."""
    family = GaussianFamily(GaussianOptions(estimator=estimator))
    source = GaussianData(GaussianDataOptions(n=m, n_test=1))
    trains = [source.load(seed).train for seed in range(chains)]
    rngs = [np.random.default_rng([seed, 7]) for seed in range(chains)]
    ratios = np.empty((fits, chains))
    for k in range(fits):
        models = family.fit_many(trains, [None] * chains, rngs)
        ratios[k] = [model.cov[0, 0] for model in models]
        trains = [Samples.synthetic(x, k, "gaussian") for x in family.sample_many(models, m, rngs, Options(), [])]
    return ratios


def test_mle_chain_follows_the_chi_square_product() -> None:
    m, chains = 100, 4000
    ratios = variance_ratios("mle", m, fits=30, chains=chains)
    for k in (1, 10, 30):  # after fit k the ratio is a product of k independent χ²_{M-1}/M factors
        r = ratios[k - 1]
        mean = ((m - 1) / m) ** k
        var = ((m * m - 1) / m**2) ** k - mean**2
        assert abs(r.mean() - mean) < 4 * np.sqrt(var / chains), k
        log_mean = k * (special.digamma((m - 1) / 2) + np.log(2 / m))
        log_var = k * special.polygamma(1, (m - 1) / 2)
        assert abs(np.log(r).mean() - log_mean) < 4 * np.sqrt(log_var / chains), k
        assert np.log(r).var() == pytest.approx(log_var, rel=5 * np.sqrt(2 / chains))
    assert ratios[-1].mean() < ratios[0].mean()


def test_unbiased_chain_keeps_the_mean_but_its_median_falls() -> None:
    m, chains, k = 20, 4000, 25
    r = variance_ratios("unbiased", m, fits=k, chains=chains)[-1]
    var = ((m + 1) / (m - 1)) ** k - 1  # E[(χ²_{M-1}/(M-1))²] = (M+1)/(M-1)
    assert abs(r.mean() - 1.0) < 4 * np.sqrt(var / chains)
    log_mean = k * (special.digamma((m - 1) / 2) + np.log(2 / (m - 1)))
    log_var = k * special.polygamma(1, (m - 1) / 2)
    assert log_mean < -0.5
    assert abs(np.log(r).mean() - log_mean) < 4 * np.sqrt(log_var / chains)
    assert np.median(r) < 0.75


# --- through the chain loop -------------------------------------------------------------------

def test_chain_loop_follows_the_theory_and_accumulate_keeps_the_variance(tmp_path: Path) -> None:
    from collapsebench.run.chain import run_chains
    from collapsebench.experiment.config import RunConfig

    m, generations, seeds = 20, 30, list(range(40))
    last = {}
    for mitigation in ("replace", "accumulate"):
        config = RunConfig(
            track="density", model="gaussian", mitigation=mitigation, generations=generations, seeds=seeds,
            data={"n": m, "n_test": 10},
        )
        rows = run_chains(config, tmp_path)
        assert all(r["status"] == "ok" for seed_rows in rows.values() for r in seed_rows)
        last[mitigation] = np.log([rows[s][-1]["metrics"]["trace-ratio"] for s in seeds])
    fits = generations + 1  # generation g is the (g + 1)-th fit
    log_mean = fits * (special.digamma((m - 1) / 2) + np.log(2 / m))
    log_se = np.sqrt(fits * special.polygamma(1, (m - 1) / 2) / len(seeds))
    assert abs(last["replace"].mean() - log_mean) < 4 * log_se
    assert last["accumulate"].mean() > -0.5 > log_mean
