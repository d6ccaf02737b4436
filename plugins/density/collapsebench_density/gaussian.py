"""Gaussian chains: the case the paper solves in closed form (Shumailov et al. 2024, Theorem 3.1).

Fitting is vectorised over chains. Every reduction runs along the last, contiguous axis of a
per-chain block and every other operation is elementwise, so a chain's numbers are bit-identical
whether it is fitted alone or in a batch of any size.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

import numpy as np
from pydantic import Field
from scipy import linalg, stats

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

SINGULAR_CONDITION = 1e12
"""A fitted covariance whose condition number exceeds this counts as singular."""


class GaussianDataOptions(Options):
    dim: int = Field(1, ge=1, description="dimension d")
    n: int = Field(100, ge=2, description="M: real train samples, and samples drawn per generation")
    n_test: int = Field(1000, ge=1, description="held-out real samples")
    mean: float = Field(0.0, description="every coordinate of the true mean")
    std: float = Field(1.0, gt=0, description="true standard deviation (isotropic) or scale (random)")
    covariance: Literal["isotropic", "random"] = Field(
        "isotropic", description="std² I, or std² Q diag(λ) Qᵀ with λ log-uniform in [1/4, 4]"
    )
    covariance_seed: int = Field(0, description="seed of the random covariance (the same for every chain)")


def true_covariance(opts: GaussianDataOptions) -> np.ndarray:
    """The true covariance: fixed by the options, never by the chain's seed, so chains compare."""
    d = opts.dim
    if opts.covariance == "isotropic":
        return opts.std**2 * np.eye(d)
    rng = np.random.default_rng(opts.covariance_seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eig = np.exp(rng.uniform(np.log(0.25), np.log(4.0), d))
    cov = opts.std**2 * (q * eig) @ q.T
    return (cov + cov.T) / 2


class GaussianData(DataSource):
    """Samples from N(mean, cov); train and test are drawn from the chain's seed."""

    name = "gaussian"
    description = "d-dimensional Gaussian with known mean and covariance (truth: mean, cov)"
    Options = GaussianDataOptions

    def load(self, seed: int) -> RealData:
        opts: GaussianDataOptions = self.options  # type: ignore[assignment]
        mean = np.full(opts.dim, opts.mean)
        cov = true_covariance(opts)
        chol = np.linalg.cholesky(cov)

        def draw(n: int, rng: np.random.Generator) -> np.ndarray:
            return mean + rng.standard_normal((n, opts.dim)) @ chol.T

        train_ss, test_ss = np.random.SeedSequence(seed).spawn(2)
        train = draw(opts.n, np.random.default_rng(train_ss))
        test = draw(opts.n_test, np.random.default_rng(test_ss))
        return RealData(
            train=Samples.real(train),
            test=Samples.real(test),
            fingerprint=fingerprint_arrays(train, test),
            fresh=lambda n, rng: Samples.real(draw(n, rng)),
            truth={"mean": mean, "cov": cov},
            provenance={"source": self.name, "seed": seed, **opts.model_dump()},
        )


class GaussianModel(Model):
    """N(mean, cov) with a positive-definite ``cov``."""

    def __init__(self, mean: np.ndarray, cov: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.cov = np.asarray(cov, dtype=np.float64)
        self.chol = np.linalg.cholesky(self.cov)

    def sample(self, n: int, rng: np.random.Generator, policy: Options, real: RealData) -> np.ndarray:
        return sample_batch(self.mean[None], self.chol[None], [rng], n)[0]

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        return gaussian_log_density(x, self.mean, self.chol)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "cov": self.cov}


def gaussian_log_density(x: np.ndarray, mean: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """log N(x; mean, L Lᵀ) per row of ``x``."""
    y = linalg.solve_triangular(chol, (x - mean).T, lower=True)
    d = len(mean)
    log_det = 2 * np.log(np.diag(chol)).sum()
    return -0.5 * (d * np.log(2 * np.pi) + log_det + (y * y).sum(axis=0))


def fit_batch(x: np.ndarray, ddof: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (B, d) and covariance (B, d, d) of B same-shaped training sets ``x`` (B, n, d)."""
    xt = np.ascontiguousarray(x.transpose(0, 2, 1))  # (B, d, n): reduce along the contiguous axis
    n = xt.shape[-1]
    mean = xt.sum(axis=-1) / n
    centred = xt - mean[..., None]
    cov = (centred[:, :, None, :] * centred[:, None, :, :]).sum(axis=-1) / (n - ddof)
    return mean, cov


def check_fit(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> str | None:
    """Why a fitted (mean, cov) is unusable, or None when it is fine."""
    if len(x) and np.all(x == x[0]):
        return f"all {len(x)} training samples are identical"
    if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        return "non-finite mean or covariance"
    eig = np.linalg.eigvalsh(cov)
    if eig[0] <= eig[-1] / SINGULAR_CONDITION:
        return f"singular covariance (eigenvalues {eig[0]:.3g} .. {eig[-1]:.3g})"
    return None


def sample_batch(mean: np.ndarray, chol: np.ndarray, rngs: list[np.random.Generator], n: int) -> np.ndarray:
    """``n`` samples per chain, (B, n, d): mean + L z with one generator per chain."""
    d = mean.shape[-1]
    z = np.stack([rng.standard_normal((n, d)) for rng in rngs]).transpose(0, 2, 1)  # (B, d, n)
    x = mean[:, :, None] + chol[:, :, 0, None] * z[:, None, 0]
    for k in range(1, d):  # elementwise along the long sample axis: fast, and batch-invariant unlike a matmul
        x = x + chol[:, :, k, None] * z[:, None, k]
    return np.ascontiguousarray(x.transpose(0, 2, 1))


class GaussianOptions(Options):
    estimator: Literal["mle", "unbiased"] = Field(
        "mle", description="covariance normaliser: 'mle' divides by n (the paper's), 'unbiased' by n - 1"
    )


class GaussianFamily(ModelFamily):
    """Closed-form Gaussian fit; ``init`` is ignored (the estimate does not depend on it)."""

    name = "gaussian"
    track = "density"
    description = "multivariate Gaussian, MLE or unbiased covariance (the paper's Theorem 3.1)"
    Options = GaussianOptions
    data_source = "gaussian"
    metrics = ("heldout-nll", "tail-2sigma", "tail-3sigma", "trace-ratio", "w2", "mean-sq-error")
    families = {"fidelity": "heldout-nll", "tails": "tail-2sigma", "diversity": "trace-ratio", "drift": "w2"}

    @property
    def ddof(self) -> int:
        return 0 if self.options.estimator == "mle" else 1  # type: ignore[attr-defined]

    def fit(self, train: Samples, init: Model | None, rng: np.random.Generator) -> Model:
        result = self.fit_many([train], [init], [rng])[0]
        if isinstance(result, DegenerateFit):
            raise result
        return result

    def fit_many(
        self, trains: list[Samples], inits: list[Model | None], rngs: list[np.random.Generator]
    ) -> list[Model | DegenerateFit]:
        out: dict[int, Model | DegenerateFit] = {}
        for shape, index in _group_by_shape([t.data for t in trains]).items():
            if shape[0] <= self.ddof:
                out.update({i: DegenerateFit(f"{shape[0]} training samples are too few") for i in index})
                continue
            x = np.stack([np.asarray(trains[i].data, dtype=np.float64).reshape(shape) for i in index])
            with np.errstate(all="ignore"):
                means, covs = fit_batch(x, self.ddof)
            for j, i in enumerate(index):
                reason = check_fit(x[j], means[j], covs[j])
                out[i] = DegenerateFit(reason) if reason else GaussianModel(means[j], covs[j])
        return [out[i] for i in range(len(trains))]

    def sample_many(
        self,
        models: list[Model],
        n: int,
        rngs: list[np.random.Generator],
        policy: Options,
        reals: list[RealData],
    ) -> list[np.ndarray]:
        gaussians = [as_gaussian(m) for m in models]
        by_dim: dict[int, list[int]] = defaultdict(list)
        for i, m in enumerate(gaussians):
            by_dim[len(m.mean)].append(i)
        out: dict[int, np.ndarray] = {}
        for index in by_dim.values():
            mean = np.stack([gaussians[i].mean for i in index])
            chol = np.stack([gaussians[i].chol for i in index])
            x = sample_batch(mean, chol, [rngs[i] for i in index], n)
            out.update({i: x[j] for j, i in enumerate(index)})
        return [out[i] for i in range(len(models))]

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Model:
        return GaussianModel(state["mean"], state["cov"])


def as_gaussian(model: Model) -> GaussianModel:
    """``model`` as a GaussianModel, or a TypeError naming the mismatch."""
    if not isinstance(model, GaussianModel):
        raise TypeError(f"expected a GaussianModel, got {type(model).__name__}")
    return model


def _group_by_shape(arrays: list[np.ndarray]) -> dict[tuple[int, int], list[int]]:
    """Chain indices grouped by training-set shape (n, d), so each group stacks into one batch."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, a in enumerate(arrays):
        groups[(len(a), int(np.prod(a.shape[1:], dtype=np.int64)))].append(i)
    return groups


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    eig, vec = np.linalg.eigh(s)
    return (vec * np.sqrt(np.clip(eig, 0, None))) @ vec.T


def gaussian_w2(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray) -> float:
    """Closed-form 2-Wasserstein distance between two Gaussians (Dowson & Landau 1982)."""
    root2 = _psd_sqrt(cov2)
    cross = np.linalg.eigvalsh(root2 @ cov1 @ root2)
    w2_sq = np.sum((mean1 - mean2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * np.sqrt(np.clip(cross, 0, None)).sum()
    return float(np.sqrt(max(w2_sq, 0.0)))


class HeldoutNLL(Metric):
    """Shared by the Gaussian and mixture models: -mean log-likelihood of the held-out real data."""

    name = "heldout-nll"
    family = "fidelity"
    higher_is_better = False
    description = "negative log-likelihood of the held-out real data under model_g (nats per sample)"

    def compute(self, ctx: MetricContext) -> float:
        return float(-np.mean(ctx.model.log_likelihood(ctx.real.test.data)))


class TraceRatio(Metric):
    name = "trace-ratio"
    family = "diversity"
    higher_is_better = True
    description = "tr(fitted covariance) / tr(true covariance); 1.0 = spread kept"

    def compute(self, ctx: MetricContext) -> float:
        return float(np.trace(as_gaussian(ctx.model).cov) / np.trace(ctx.real.truth["cov"]))


class MeanSquaredError(Metric):
    name = "mean-sq-error"
    family = "raw"
    higher_is_better = False
    description = "squared distance between the fitted and the true mean"

    def compute(self, ctx: MetricContext) -> float:
        return float(np.sum((as_gaussian(ctx.model).mean - ctx.real.truth["mean"]) ** 2))


class GaussianW2(Metric):
    name = "w2"
    family = "drift"
    higher_is_better = False
    description = "closed-form 2-Wasserstein distance from model_g to the true Gaussian"

    def compute(self, ctx: MetricContext) -> float:
        model, truth = as_gaussian(ctx.model), ctx.real.truth
        return gaussian_w2(model.mean, model.cov, truth["mean"], truth["cov"])


class _TailMass(Metric):
    """Share of samples beyond Mahalanobis radius ``k`` of the true Gaussian, over the true share.

    The true share is the chi_d tail probability P(χ²_d > k²) (2(1 - Φ(k)) when d = 1).
    """

    k: float
    family = "tails"
    higher_is_better = True

    def compute(self, ctx: MetricContext) -> float:
        truth = ctx.real.truth
        x = ctx.samples.reshape(len(ctx.samples), -1)
        y = linalg.solve_triangular(np.linalg.cholesky(truth["cov"]), (x - truth["mean"]).T, lower=True)
        observed = np.mean((y * y).sum(axis=0) > self.k**2)
        return float(observed / stats.chi2.sf(self.k**2, x.shape[1]))


class TailMass2Sigma(_TailMass):
    name = "tail-2sigma"
    k = 2.0
    description = "samples beyond 2σ of the true distribution, relative to its true mass; 1.0 = kept"


class TailMass3Sigma(_TailMass):
    name = "tail-3sigma"
    k = 3.0
    description = "samples beyond 3σ of the true distribution, relative to its true mass; 1.0 = kept"


DATA_SOURCES = (GaussianData,)
MODELS = (GaussianFamily,)
METRICS = (HeldoutNLL, TraceRatio, MeanSquaredError, GaussianW2, TailMass2Sigma, TailMass3Sigma)
