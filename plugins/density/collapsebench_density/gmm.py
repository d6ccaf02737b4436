"""Gaussian mixtures: the paper's GMM experiment (2-D, N = 1000, 2 full-covariance components,
EM refit from a k-means start every generation, tol 1e-5 as in its notebook).

Each chain is fitted by compiled kernels (``gmm_kernel``): k-means start, EM as scikit-learn runs it
and sampling, one chain per call, so a chain's numbers do not depend on its batch and 10 chains
run over 20 times faster than refitting ``sklearn.mixture.GaussianMixture`` chain by chain
(benchmarks/test_gmm_speed.py).

Covariances get ``reg_covar`` (1e-6, scikit-learn's default, which the paper's notebook used) on
their diagonal, so EM never meets a singular one; with ``reg_covar = 0`` a singular covariance is
a DegenerateFit, as are non-finite data and all-identical training samples.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator
from scipy.special import logsumexp

from collapsebench import (
    DataSource,
    DegenerateFit,
    Metric,
    MetricContext,
    Model,
    ModelFamily,
    Options,
    RealData,
    Samples,
    fingerprint_arrays,
)
from collapsebench_density import gmm_kernel
from collapsebench_density.gaussian import gaussian_log_density


class GMMModel(Model):
    """A mixture sum_k w_k N(mean_k, cov_k) with positive-definite covariances."""

    def __init__(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.covariances = np.asarray(covariances, dtype=np.float64)
        self.chol = np.linalg.cholesky(self.covariances)

    def sample(self, n: int, rng: np.random.Generator, policy: Options, real: RealData) -> np.ndarray:
        return self.draw(n, rng)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` samples (n, d), grouped by component as scikit-learn's ``sample`` does; the sampling
        policy does not apply to a mixture."""
        counts = rng.multinomial(n, self.weights / self.weights.sum())
        return gmm_kernel.draw(counts, rng.standard_normal((n, self.means.shape[1])), self.means, self.chol)

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        per_component = [
            np.log(w) + gaussian_log_density(x, m, c) for w, m, c in zip(self.weights, self.means, self.chol)
        ]
        return logsumexp(np.stack(per_component), axis=0)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}


def as_mixture(model: Model) -> GMMModel:
    """``model`` as a GMMModel, or a TypeError naming the mismatch."""
    if not isinstance(model, GMMModel):
        raise TypeError(f"expected a GMMModel, got {type(model).__name__}")
    return model


class GMMDataOptions(Options):
    n: int = Field(1000, ge=2, description="N: real train samples, and samples drawn per generation")
    n_test: int = Field(1000, ge=1, description="held-out real samples")
    weights: tuple[float, ...] = (0.5, 0.5)
    means: tuple[tuple[float, ...], ...] = ((-2.0, 0.0), (2.0, 0.0))
    covariances: tuple[tuple[tuple[float, ...], ...], ...] = (
        ((1.0, 0.5), (0.5, 1.0)),
        ((1.0, -0.5), (-0.5, 1.0)),
    )

    @model_validator(mode="after")
    def _consistent(self) -> GMMDataOptions:
        w, m, c = np.array(self.weights), np.array(self.means), np.array(self.covariances)
        k = len(w)
        if m.ndim != 2 or m.shape[0] != k or c.shape != (k, m.shape[1], m.shape[1]):
            raise ValueError(f"need {k} means of one length d and {k} d×d covariances")
        if (w <= 0).any() or not np.isclose(w.sum(), 1.0):
            raise ValueError("weights must be positive and sum to 1")
        if not np.allclose(c, c.transpose(0, 2, 1)) or (np.linalg.eigvalsh(c) <= 0).any():
            raise ValueError("covariances must be symmetric positive definite")
        return self


class GMMData(DataSource):
    """Samples from a known Gaussian mixture; train and test are drawn from the chain's seed."""

    name = "gmm2d"
    description = "Gaussian mixture with known parameters, by default 2 components in 2-D (truth: the parameters)"
    Options = GMMDataOptions

    def load(self, seed: int) -> RealData:
        opts: GMMDataOptions = self.options  # type: ignore[assignment]
        truth = GMMModel(np.array(opts.weights), np.array(opts.means), np.array(opts.covariances))
        train_ss, test_ss = np.random.SeedSequence(seed).spawn(2)
        train = truth.draw(opts.n, np.random.default_rng(train_ss))
        test = truth.draw(opts.n_test, np.random.default_rng(test_ss))
        return RealData(
            train=Samples.real(train),
            test=Samples.real(test),
            fingerprint=fingerprint_arrays(train, test),
            fresh=lambda n, rng: Samples.real(truth.draw(n, rng)),
            truth=truth.state_dict(),
            provenance={"source": self.name, "seed": seed, **opts.model_dump()},
        )


class GMMOptions(Options):
    components: int = Field(2, ge=1, description="mixture components K")
    tol: float = Field(1e-5, gt=0, description="stop when the mean log-likelihood changes by less")
    max_iter: int = Field(100, ge=1, description="EM iterations at most (scikit-learn's default)")
    reg_covar: float = Field(1e-6, ge=0, description="added to covariance diagonals (scikit-learn's default)")


def fit_chain(
    x: np.ndarray, init: GMMModel | None, rng: np.random.Generator, opts: GMMOptions
) -> GMMModel | DegenerateFit:
    """Fit a mixture to finite, non-constant training samples ``x`` (n, d) with EM as scikit-learn
    runs it (E-step, M-step, stop once the mean log-likelihood changed by less than ``tol``),
    from ``init`` or, without one, from k-means labels (a k-means++ start drawn from ``rng``)."""
    n, d = x.shape
    feats, centre = gmm_kernel.features(np.ascontiguousarray(x, dtype=np.float64))
    if init is None:
        first = int(rng.integers(n))
        sums = gmm_kernel.kmeans_sums(feats, d, opts.components, first, rng.random(opts.components - 1))
    else:
        sums = gmm_kernel.sums_of(init.weights, init.means, init.covariances, centre, n, opts.reg_covar)
    sums, status, _ = gmm_kernel.em(feats, sums, d, opts.tol, opts.max_iter, opts.reg_covar)
    if status == gmm_kernel.DEGENERATE:
        return DegenerateFit("EM met a covariance that is not positive definite")
    # not converged in max_iter: the last estimate, as scikit-learn keeps it
    weights, means, cov, regular = gmm_kernel.mixture(sums, centre, n, opts.reg_covar)
    if not regular:
        return DegenerateFit("EM ended with a singular or non-finite covariance")
    return GMMModel(weights, means, cov)


def check_data(x: np.ndarray, k: int) -> str | None:
    """Why EM cannot run on ``x`` (n, d), or None."""
    if not np.isfinite(x).all():
        return "non-finite training samples"
    if len(x) < k:
        return f"{len(x)} training samples for {k} components"
    if np.all(x == x[0]):
        return f"all {len(x)} training samples are identical"
    return None


class GMMFamily(ModelFamily):
    """Full-covariance Gaussian mixture fitted by compiled EM; ``init`` (policy "previous") warm-starts it."""

    name = "gmm"
    track = "density"
    description = "Gaussian mixture, full covariances, EM from k-means (the paper's GMM experiment)"
    Options = GMMOptions
    data_source = "gmm2d"
    metrics = ("heldout-nll", "gmm-tail-mass", "component-std-ratio", "gmm-l2")
    families = {
        "fidelity": "heldout-nll",
        "tails": "gmm-tail-mass",
        "diversity": "component-std-ratio",
        "drift": "gmm-l2",
    }

    def fit(self, train: Samples, init: Model | None, rng: np.random.Generator) -> Model:
        result = self.fit_many([train], [init], [rng])[0]
        if isinstance(result, DegenerateFit):
            raise result
        return result

    def fit_many(
        self, trains: list[Samples], inits: list[Model | None], rngs: list[np.random.Generator]
    ) -> list[Model | DegenerateFit]:
        """All chains in one process, one compiled fit each (``vectorized`` for the executor)."""
        opts: GMMOptions = self.options  # type: ignore[assignment]
        out: list[Model | DegenerateFit] = []
        for train, init, rng in zip(trains, inits, rngs):
            x = np.asarray(train.data, dtype=np.float64)
            reason = check_data(x, opts.components)
            start = None if init is None else as_mixture(init)
            out.append(DegenerateFit(reason) if reason else fit_chain(x, start, rng, opts))
        return out

    def sample_many(
        self,
        models: list[Model],
        n: int,
        rngs: list[np.random.Generator],
        policy: Options,
        reals: list[RealData],
    ) -> list[np.ndarray]:
        """Each chain's draw; a mixture needs neither the sampling policy nor the real data."""
        return [as_mixture(m).draw(n, rng) for m, rng in zip(models, rngs)]

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Model:
        return GMMModel(state["weights"], state["means"], state["covariances"])


def gaussian_overlap(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray) -> float:
    """∫ N(x; mean1, cov1) N(x; mean2, cov2) dx = N(mean1; mean2, cov1 + cov2)."""
    return float(np.exp(gaussian_log_density(mean1[None], mean2, np.linalg.cholesky(cov1 + cov2))[0]))


def _cross(p: GMMModel, q: GMMModel) -> float:
    return sum(
        wi * wj * gaussian_overlap(mi, ci, mj, cj)
        for wi, mi, ci in zip(p.weights, p.means, p.covariances)
        for wj, mj, cj in zip(q.weights, q.means, q.covariances)
    )


def gmm_l2(p: GMMModel, q: GMMModel) -> float:
    """Closed-form ∫ (p - q)² dx between two Gaussian mixtures."""
    return max(_cross(p, p) + _cross(q, q) - 2 * _cross(p, q), 0.0)


def _truth(real: RealData) -> GMMModel:
    t = real.truth
    return GMMModel(t["weights"], t["means"], t["covariances"])


class GMMDistance(Metric):
    name = "gmm-l2"
    family = "drift"
    higher_is_better = False
    description = "closed-form ∫(p_g - p_0)² between model_g and the generation-0 mixture"

    def compute(self, ctx: MetricContext) -> float:
        return gmm_l2(as_mixture(ctx.model), as_mixture(ctx.reference))


class ComponentStdRatio(Metric):
    name = "component-std-ratio"
    family = "diversity"
    higher_is_better = True
    description = "weighted mean component std, sqrt(tr Σ_k / d), relative to the true mixture's; 1.0 = kept"

    def compute(self, ctx: MetricContext) -> float:
        return _mean_std(as_mixture(ctx.model)) / _mean_std(_truth(ctx.real))


def _mean_std(m: GMMModel) -> float:
    d = m.means.shape[1]
    return float(np.sum(m.weights * np.sqrt(np.trace(m.covariances, axis1=1, axis2=2) / d)))


class GMMTailMass(Metric):
    """Share of samples in the true density's lowest-density region, over the real data's share.

    The region is {x : p_true(x) < t}, with t the ``quantile`` of p_true over the held-out real data.
    """

    name = "gmm-tail-mass"
    family = "tails"
    higher_is_better = True
    quantile = 0.05
    description = "samples where the true density is below its 5% quantile on real data, relative to real; 1.0 = kept"

    def compute(self, ctx: MetricContext) -> float:
        key = f"{self.name}/threshold"
        truth = _truth(ctx.real)
        if key not in ctx.cache:
            real_logp = truth.log_likelihood(ctx.real.test.data)
            threshold = np.quantile(real_logp, self.quantile)
            ctx.cache[key] = (threshold, np.mean(real_logp < threshold))
        threshold, real_share = ctx.cache[key]
        if real_share == 0:  # too few held-out samples to have a low-density share
            return float("nan")
        return float(np.mean(truth.log_likelihood(ctx.samples) < threshold) / real_share)


DATA_SOURCES = (GMMData,)
MODELS = (GMMFamily,)
METRICS = (GMMDistance, ComponentStdRatio, GMMTailMass)
