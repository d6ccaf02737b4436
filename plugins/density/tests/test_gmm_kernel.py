"""The compiled GMM kernels against independent references: numpy's exp, scikit-learn's EM started
from the same parameters, and the sampling formula written out in numpy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from collapsebench.errors import DegenerateFit
from collapsebench.experiment.samples import Samples
from collapsebench_density import gmm_kernel
from collapsebench_density.gmm import GMMFamily, GMMModel, GMMOptions

AGREE = 1e-8
"""How close our fitted parameters and scikit-learn's must be from the same start."""


def test_exp_is_accurate_to_about_one_ulp() -> None:
    x = -np.r_[np.linspace(0, 708, 200_001), np.geomspace(1e-300, 1, 1001), [0.5 * np.log(2) + 1e-12]]
    rel = np.abs(gmm_kernel.exp_nonpositive(x) / np.exp(x) - 1)
    assert rel.max() <= 2 * np.finfo(np.float64).eps
    assert gmm_kernel.exp_nonpositive(np.array([0.0]))[0] == 1.0  # the peak component's term is exactly 1
    np.testing.assert_array_equal(gmm_kernel.exp_nonpositive(np.array([-709.0, -800.0, -np.inf])), 0.0)


def blob(seed: int) -> np.ndarray:
    """The paper notebook's data: one standard 2-D Gaussian (fitted with two components)."""
    return np.random.default_rng(seed).standard_normal((1000, 2))


def two_clusters(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(-2, 1, (600, 2)), rng.normal([2, 1], 0.5, (400, 2))]


def with_a_point_mass(seed: int) -> np.ndarray:
    """A component collapses onto 30 identical points: its covariance is reg_covar alone."""
    return np.r_[np.random.default_rng(seed).standard_normal((970, 2)), np.full((30, 2), 6.0)]


def three_in_3d(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, (300, 3)), rng.normal(3, 0.7, (300, 3)), rng.normal([-3, 2, 0], 0.5, (200, 3))]


def kmeans_start(x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weights, means and covariances EM starts from: the M-step of the k-means labels, with
    the k-means++ draws that GMMFamily.fit takes from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    feats, centre = gmm_kernel.features(x)
    sums = gmm_kernel.kmeans_sums(feats, x.shape[1], k, int(rng.integers(len(x))), rng.random(k - 1))
    weights, means, cov, regular = gmm_kernel.mixture(sums, centre, len(x), GMMOptions().reg_covar)
    assert regular
    return weights, means, cov


def sklearn_from(x: np.ndarray, start: tuple[np.ndarray, np.ndarray, np.ndarray], max_iter: int) -> GaussianMixture:
    weights, means, cov = start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(
            len(weights), tol=1e-5, max_iter=max_iter, weights_init=weights, means_init=means,
            precisions_init=np.linalg.inv(cov), random_state=0,
        ).fit(x)


def assert_same_mixture(ours: GMMModel, theirs: GaussianMixture) -> None:
    np.testing.assert_allclose(ours.weights, theirs.weights_, rtol=0, atol=AGREE)
    np.testing.assert_allclose(ours.means, theirs.means_, rtol=0, atol=AGREE)
    np.testing.assert_allclose(ours.covariances, theirs.covariances_, rtol=0, atol=AGREE)


@pytest.mark.parametrize(
    "data, k, max_iter",
    [(blob, 2, 2000), (two_clusters, 2, 2000), (with_a_point_mass, 2, 2000), (blob, 2, 3),
     (two_clusters, 3, 2000), (three_in_3d, 3, 2000), (two_clusters, 1, 2000)],
    ids=["paper-blob", "two-clusters", "point-mass", "max-iter-3", "k3-2d", "k3-3d", "k1"],
)
def test_em_from_kmeans_matches_scikit_learn_from_the_same_start(data, k: int, max_iter: int) -> None:
    """The same EM steps, stopping rule and estimator: scikit-learn, started where our k-means
    start is, ends where we end (the paper's case runs the fused 2x2 kernel, the others the general one)."""
    for seed in range(3):
        x = data(seed)
        theirs = sklearn_from(x, kmeans_start(x, k, seed), max_iter)
        ours = GMMFamily(GMMOptions(components=k, tol=1e-5, max_iter=max_iter)).fit(
            Samples.real(x), None, np.random.default_rng(seed)
        )
        assert_same_mixture(ours, theirs)


def test_em_takes_as_many_steps_as_scikit_learn() -> None:
    for seed in range(3):
        x = blob(seed)
        start = kmeans_start(x, 2, seed)
        feats, centre = gmm_kernel.features(x)
        sums = gmm_kernel.sums_of(*start, centre, len(x), GMMOptions().reg_covar)
        _, status, steps = gmm_kernel.em(feats, sums, 2, 1e-5, 2000, GMMOptions().reg_covar)
        assert (status, steps) == (gmm_kernel.CONVERGED, sklearn_from(x, start, 2000).n_iter_)


def test_warm_start_matches_scikit_learn_from_the_same_parameters() -> None:
    family = GMMFamily(GMMOptions(tol=1e-5, max_iter=2000))
    previous = family.fit(Samples.real(two_clusters(0)), None, np.random.default_rng(0))
    x = two_clusters(1)
    theirs = sklearn_from(x, (previous.weights, previous.means, previous.covariances), 2000)
    assert_same_mixture(family.fit(Samples.real(x), previous, np.random.default_rng(1)), theirs)


def test_a_singular_covariance_fails_here_as_in_scikit_learn() -> None:
    """Points on a line without regularisation: a covariance stops being positive definite."""
    t = np.linspace(-1, 1, 200)
    on_a_line = np.c_[t, 2 * t + 1]
    start = kmeans_start(on_a_line, 2, 0)
    with pytest.raises(DegenerateFit, match="not positive definite"):
        GMMFamily(GMMOptions(reg_covar=0.0)).fit(Samples.real(on_a_line), None, np.random.default_rng(0))
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        GaussianMixture(2, reg_covar=0.0, weights_init=start[0], means_init=start[1]).fit(on_a_line)


def test_an_ill_conditioned_fit_is_degenerate() -> None:
    """Positive definite throughout EM, yet a component's variances differ by > SINGULAR_CONDITION."""
    t = np.linspace(-1, 1, 200)
    near_a_line = np.c_[t, 2 * t + 1 + 1e-7 * np.random.default_rng(0).standard_normal(200)]
    with pytest.raises(DegenerateFit, match="singular or non-finite"):
        GMMFamily(GMMOptions(reg_covar=0.0)).fit(Samples.real(near_a_line), None, np.random.default_rng(0))


def test_draw_is_mean_plus_cholesky_times_normal_grouped_by_component() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 2, 2))
    model = GMMModel(np.array([0.2, 0.5, 0.3]), 3 * rng.standard_normal((3, 2)), a @ a.transpose(0, 2, 1) + np.eye(2))
    drawn = model.draw(5000, np.random.default_rng(4))
    replay = np.random.default_rng(4)
    counts = replay.multinomial(5000, model.weights)
    z = replay.standard_normal((5000, 2))
    label = np.repeat(np.arange(3), counts)
    expected = model.means[label] + np.einsum("nij,nj->ni", model.chol[label], z)
    np.testing.assert_allclose(drawn, expected, rtol=0, atol=1e-13)
