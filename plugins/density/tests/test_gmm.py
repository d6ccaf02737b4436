"""The Gaussian-mixture half of the density track: closed forms, EM against scikit-learn from
scratch, batch invariance, degenerate fits and the metrics (test_gmm_kernel.py holds the kernels
to scikit-learn from the same start)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.mixture import GaussianMixture

from collapsebench.errors import ConfigError, DegenerateFit
from collapsebench.experiment.metrics import MetricContext
from collapsebench.experiment.options import Options, parse_options
from collapsebench.experiment.samples import Samples
from collapsebench_density.gaussian import HeldoutNLL
from collapsebench_density.gmm import (
    ComponentStdRatio,
    GMMData,
    GMMDataOptions,
    GMMDistance,
    GMMFamily,
    GMMModel,
    GMMOptions,
    GMMTailMass,
    gmm_l2,
)

BLOB = {"weights": (1.0,), "means": ((0.0, 0.0),), "covariances": (((1.0, 0.0), (0.0, 1.0)),)}
"""The paper notebook's data: one standard 2-D Gaussian, fitted with two components."""


def random_mixture(rng: np.random.Generator, k: int = 2, d: int = 2) -> GMMModel:
    a = rng.standard_normal((k, d, d))
    covariances = a @ a.transpose(0, 2, 1) + 0.3 * np.eye(d)
    return GMMModel(rng.dirichlet(np.ones(k)), 2 * rng.standard_normal((k, d)), covariances)


def density(m: GMMModel, x: np.ndarray) -> np.ndarray:
    return sum(w * stats.multivariate_normal(mu, c).pdf(x) for w, mu, c in zip(m.weights, m.means, m.covariances))


def paper_family() -> GMMFamily:
    return GMMFamily(GMMOptions(tol=1e-5, max_iter=2000))


def trains_of(options: GMMDataOptions, seeds: range) -> list[Samples]:
    return [GMMData(options).load(s).train for s in seeds]


def context(model, reference, real, samples, tmp_path: Path) -> MetricContext:
    return MetricContext(
        generation=1, seed=0, model=model, reference=reference, samples=samples, train=real.train, real=real,
        rng=np.random.default_rng(0), artifact_dir=tmp_path,
    )


# --- closed forms --------------------------------------------------------------------------

def test_l2_distance_matches_numerical_integration() -> None:
    rng = np.random.default_rng(0)
    p, q = random_mixture(rng), random_mixture(rng)
    step = 0.025
    axis = np.arange(-14, 14, step) + step / 2
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    numeric = np.sum((density(p, grid) - density(q, grid)) ** 2) * step**2
    assert gmm_l2(p, q) == pytest.approx(numeric, rel=1e-4)
    assert gmm_l2(p, p) == pytest.approx(0.0, abs=1e-12)


def test_log_likelihood_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    m = random_mixture(rng, k=3)
    x = rng.standard_normal((100, 2)) * 3
    np.testing.assert_allclose(m.log_likelihood(x), np.log(density(m, x)), rtol=1e-10)


# --- EM against scikit-learn ---------------------------------------------------------------

@pytest.mark.parametrize("data, tolerance", [({}, 1e-3), (BLOB, 1e-2)], ids=["two-components", "paper-blob"])
def test_em_reaches_scikit_learns_likelihood(data: dict, tolerance: float) -> None:
    """Close to scikit-learn from scratch (one blob has many near-equal optima, so not equal), and
    a fixed point of scikit-learn's EM: started from our fit, it stays where it is."""
    family = paper_family()
    trains = trains_of(GMMDataOptions(**data), range(6))
    models = family.fit_many(trains, [None] * 6, [np.random.default_rng(s) for s in range(6)])
    for seed, (train, model) in enumerate(zip(trains, models)):
        ours = model.log_likelihood(train.data).mean()
        scratch = GaussianMixture(2, tol=1e-5, max_iter=2000, random_state=seed).fit(train.data)
        assert ours == pytest.approx(scratch.score(train.data), abs=tolerance)
        restarted = GaussianMixture(
            2, tol=1e-5, max_iter=2000, weights_init=model.weights, means_init=model.means,
            precisions_init=np.linalg.inv(model.covariances),
        ).fit(train.data)
        assert restarted.score(train.data) == pytest.approx(ours, abs=1e-4)
        np.testing.assert_allclose(restarted.means_, model.means, atol=0.05)


def test_warm_start_from_the_previous_model_reaches_the_same_optimum() -> None:
    family = paper_family()
    train = trains_of(GMMDataOptions(), range(1))[0]
    scratch = family.fit(train, None, np.random.default_rng(0))
    warm = family.fit(train, scratch, np.random.default_rng(1))
    assert warm.log_likelihood(train.data).mean() == pytest.approx(scratch.log_likelihood(train.data).mean(), abs=1e-5)


# --- batching ------------------------------------------------------------------------------

def test_fit_and_sample_are_batch_invariant() -> None:
    family = paper_family()
    # slow (one blob) and fast (two clusters) chains converge at different iterations
    trains = trains_of(GMMDataOptions(**BLOB), range(4)) + trains_of(GMMDataOptions(), range(4, 7))
    warm = family.fit(trains[0], None, np.random.default_rng(99))
    inits = [None, None, warm, None, None, warm, None]
    rngs = lambda: [np.random.default_rng([i, 3]) for i in range(len(trains))]  # noqa: E731
    batch = family.fit_many(trains, inits, rngs())
    for i, (train, init, rng) in enumerate(zip(trains, inits, rngs())):
        alone = family.fit(train, init, rng)
        for key, value in alone.state_dict().items():
            np.testing.assert_array_equal(batch[i].state_dict()[key], value, err_msg=f"chain {i} {key}")
    drawn = family.sample_many(batch, 500, [np.random.default_rng(i) for i in range(len(batch))], Options(), [])
    for i, model in enumerate(batch):
        np.testing.assert_array_equal(drawn[i], model.sample(500, np.random.default_rng(i), Options(), None))


# --- degenerate fits -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "data, reason",
    [
        (np.full((50, 2), 1.5), "identical"),
        (np.r_[np.zeros((1, 2)), np.full((1, 2), np.nan)], "non-finite"),
        (np.array([[0.0, 1.0]]), "components"),
    ],
)
def test_degenerate_data_is_reported_and_spares_the_batch(data: np.ndarray, reason: str) -> None:
    family = paper_family()
    good = trains_of(GMMDataOptions(), range(1))[0]
    with pytest.raises(DegenerateFit, match=reason):
        family.fit(Samples.real(data), None, np.random.default_rng(0))
    results = family.fit_many([Samples.real(data), good], [None, None], [np.random.default_rng(0)] * 2)
    assert isinstance(results[0], DegenerateFit)
    alone = family.fit(good, None, np.random.default_rng(0))
    np.testing.assert_array_equal(results[1].means, alone.means)


def test_singular_covariance_without_regularisation_is_degenerate() -> None:
    t = np.linspace(-1, 1, 200)
    on_a_line = np.c_[t, 2 * t + 1]
    family = GMMFamily(GMMOptions(reg_covar=0.0))
    with pytest.raises(DegenerateFit):
        family.fit(Samples.real(on_a_line), None, np.random.default_rng(0))
    regularised = GMMFamily(GMMOptions()).fit(Samples.real(on_a_line), None, np.random.default_rng(0))
    assert np.linalg.eigvalsh(regularised.covariances).min() >= 1e-6 * (1 - 1e-6)


def test_data_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="weights"):
        parse_options(GMMDataOptions, {"weights": [0.7, 0.7]}, "data")
    with pytest.raises(ConfigError, match="positive definite"):
        parse_options(GMMDataOptions, {"covariances": [[[1, 2], [2, 1]], [[1, 0], [0, 1]]]}, "data")
    with pytest.raises(ConfigError, match="means"):
        parse_options(GMMDataOptions, {"means": [[0, 0]]}, "data")


# --- metrics -------------------------------------------------------------------------------

def test_metrics_at_the_truth(tmp_path: Path) -> None:
    real = GMMData(GMMDataOptions(n_test=5000)).load(0)
    truth = GMMModel(real.truth["weights"], real.truth["means"], real.truth["covariances"])
    n = 400_000
    ctx = context(truth, truth, real, truth.sample(n, np.random.default_rng(2), Options(), real), tmp_path)
    assert ComponentStdRatio().compute(ctx) == pytest.approx(1.0)
    assert GMMDistance().compute(ctx) == pytest.approx(0.0, abs=1e-12)
    assert HeldoutNLL().compute(ctx) == pytest.approx(-np.log(density(truth, real.test.data)).mean())
    share = 0.05  # binomial noise of the samples' share and of the 5000 held-out points' quantile
    noise = np.sqrt(share / n) / share + np.sqrt(share / 5000) / share
    assert GMMTailMass().compute(ctx) == pytest.approx(1.0, abs=4 * noise)


def test_metrics_see_a_shrunken_mixture(tmp_path: Path) -> None:
    real = GMMData(GMMDataOptions()).load(0)
    truth = GMMModel(real.truth["weights"], real.truth["means"], real.truth["covariances"])
    shrunk = GMMModel(truth.weights, truth.means, truth.covariances * 0.25)
    ctx = context(shrunk, truth, real, shrunk.sample(100_000, np.random.default_rng(3), Options(), real), tmp_path)
    assert ComponentStdRatio().compute(ctx) == pytest.approx(0.5)
    assert GMMDistance().compute(ctx) == pytest.approx(gmm_l2(shrunk, truth)) and gmm_l2(shrunk, truth) > 0.01
    assert GMMTailMass().compute(ctx) < 0.05
