"""Gaussian mixtures: the paper's GMM experiment (2-D, N = 1000, 2 full-covariance components,
EM refit from a k-means start every generation, tol 1e-5 as in its notebook).

EM runs over many chains at once in numpy. Each chain's block is its own matrix in a stacked
BLAS call, its own row in reductions along the last (contiguous) axis, or its own elements in
elementwise operations; converged chains leave the batch. So a chain's numbers are bit-identical
whether it is fitted alone or in a batch of any size, and 10 chains run an order of magnitude
faster than refitting ``sklearn.mixture.GaussianMixture`` chain by chain (benchmarks/test_gmm_speed.py).

Covariances get ``reg_covar`` (1e-6, scikit-learn's default, which the paper's notebook used) on
their diagonal, so EM never meets a singular one; with ``reg_covar = 0`` a singular covariance is
a DegenerateFit, as are non-finite data and all-identical training samples.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from pydantic import Field, model_validator
from scipy.special import logsumexp

from collapsebench.data import DataSource, RealData, fingerprint_arrays
from collapsebench.errors import DegenerateFit
from collapsebench.metrics import Metric, MetricContext
from collapsebench.models import Model, ModelFamily
from collapsebench.options import Options
from collapsebench.samples import Samples
from collapsebench_density.gaussian import SINGULAR_CONDITION, gaussian_log_density

KMEANS_MAX_ITER = 300
KMEANS_TOL = 1e-4
"""scikit-learn KMeans' defaults (its GaussianMixture's initialiser): Lloyd iterations at most, and
the stopping centre shift relative to the data's mean variance."""


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
        """``n`` samples (n, d); the sampling policy does not apply to a mixture."""
        return sample_batch(self.weights[None], self.means[None], self.chol[None], [rng], n)[0]

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


def sample_batch(
    weights: np.ndarray, means: np.ndarray, chol: np.ndarray, rngs: list[np.random.Generator], n: int
) -> np.ndarray:
    """``n`` samples per chain (B, n, d), grouped by component as scikit-learn's ``sample`` does."""
    k, d = means.shape[1:]
    labels, noise = [], []
    for w, rng in zip(weights, rngs):
        labels.append(np.repeat(np.arange(k), rng.multinomial(n, w / w.sum())))
        noise.append(rng.standard_normal((n, d)))
    label, z = np.stack(labels)[:, None, :], np.stack(noise).transpose(0, 2, 1)  # (B, 1, n), (B, d, n)
    x = np.zeros(z.shape)
    for c in range(k):  # elementwise along the long sample axis: fast, and batch-invariant unlike a matmul
        xc = means[:, c, :, None] + chol[:, c, :, 0, None] * z[:, None, 0]
        for j in range(1, d):
            xc = xc + chol[:, c, :, j, None] * z[:, None, j]
        x = np.where(label == c, xc, x)
    return np.ascontiguousarray(x.transpose(0, 2, 1))


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


class _Features:
    """Per-sample features z_i z_j (i <= j) of z = [1, x] for centred data x, and how EM reads them.

    A component's responsibility-weighted feature sums s (one matmul per chain) hold its count,
    sum and second moment, i.e. its augmented moment matrix A = [[1, mᵀ], [m, Σ + m mᵀ]]. With
    P = Σ⁻¹, A⁻¹ = [[1 + mᵀPm, -(Pm)ᵀ], [-Pm, P]] and det A = det Σ, so one batched inverse gives
    every coefficient of log N(x; m, Σ) in these features: -½ zᵀ A⁻¹ z + ½ - ½ (d log 2π + log det Σ).
    """

    def __init__(self, xt: np.ndarray, reg_covar: float) -> None:
        b, d, n = xt.shape
        self.d, self.n = d, n
        self.pair_i, self.pair_j = np.triu_indices(d + 1)
        z = [np.ones((b, n)), *(xt[:, j] for j in range(d))]
        self.feats = np.stack([z[i] * z[j] for i, j in zip(self.pair_i, self.pair_j)], axis=1)  # (B, F, n)
        self.index = np.zeros((d + 1, d + 1), dtype=np.intp)  # feature index of z_i z_j
        self.index[self.pair_i, self.pair_j] = self.index[self.pair_j, self.pair_i] = np.arange(len(self.pair_i))
        self.scale = np.where(self.pair_i == self.pair_j, -0.5, -1.0)  # z_i z_j appears twice in zᵀ A⁻¹ z
        self.reg = np.diag([0.0] + [reg_covar] * d)
        self.log_2pi = d * np.log(2 * np.pi)

    def take(self, keep: np.ndarray) -> None:
        self.feats = self.feats[keep]

    def sums(self, resp: np.ndarray) -> np.ndarray:
        """The M-step: feature sums (B, K, F) per component, one BLAS call per chain."""
        return resp @ self.feats.transpose(0, 2, 1)

    def moments(self, sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Component counts (B, K) and augmented moment matrices A (B, K, d+1, d+1), Σ regularised."""
        count = sums[..., 0] + 10 * np.finfo(np.float64).eps  # as scikit-learn: an empty component gets ~0
        return count, sums[..., self.index] / count[..., None, None] + self.reg

    def log_joint_coefficients(self, sums: np.ndarray) -> np.ndarray:
        """Coefficients (B, K, F) of log w_k + log N(x; m_k, Σ_k) in the features.

        A Σ whose determinant is not positive makes its chain's coefficients NaN, so its
        log-likelihood turns non-finite and EM stops it as degenerate.
        """
        if self.d == 2:
            return self._log_joint_coefficients_2d(sums)
        count, aug = self.moments(sums)
        sign, log_det = np.linalg.slogdet(aug)
        try:
            inverse = np.linalg.inv(aug)
        except np.linalg.LinAlgError:  # an exactly singular one: only its chain turns NaN (sign 0 below)
            inverse = np.linalg.inv(np.where(sign[..., None, None] > 0, aug, np.eye(self.d + 1)))
        coef = inverse[..., self.pair_i, self.pair_j] * self.scale
        log_norm = np.where(sign > 0, self.log_2pi + log_det, np.nan)
        coef[..., 0] += 0.5 + np.log(count / self.n) - 0.5 * log_norm
        return coef

    def _log_joint_coefficients_2d(self, sums: np.ndarray) -> np.ndarray:
        """log_joint_coefficients for d = 2 in closed form: Σ = [[a, b], [b, c]], P = [[c, -b], [-b, a]] / det Σ.

        Features 1, x, y, xx, xy, yy. EM's batch soon shrinks to a chain or two, where scalar
        arithmetic per component beats two dozen numpy calls on (B, K) arrays (in a batch of ten it
        is about even); each chain gets the same operations whatever its batch, so batch-invariant.
        """
        eps, reg, n, half_log_2pi = 10 * np.finfo(np.float64).eps, float(self.reg[1, 1]), self.n, 0.5 * self.log_2pi
        log, nan = math.log, math.nan
        out: list[float] = []
        add = out.extend
        nan_row = [nan] * 6
        for s0, s1, s2, s3, s4, s5 in sums.reshape(-1, 6).tolist():
            count = s0 + eps  # as scikit-learn: an empty component gets ~0
            mx, my = s1 / count, s2 / count
            a = (s3 / count + reg) - mx * mx
            b = s4 / count - mx * my
            c = (s5 / count + reg) - my * my
            det = a * c - b * b
            if not (det > 0 and count > 0):  # not positive definite (or NaN): the chain stops as degenerate
                add(nan_row)
                continue
            pxx, neg_pxy, pyy = c / det, b / det, a / det
            u, v = pxx * mx - neg_pxy * my, pyy * my - neg_pxy * mx  # P m
            w = log(count / n) - 0.5 * log(det)
            add((w - 0.5 * (mx * u + my * v) - half_log_2pi, u, v, -0.5 * pxx, neg_pxy, -0.5 * pyy))
        return np.array(out).reshape(sums.shape)

    def mixtures(self, sums: np.ndarray, centre: np.ndarray) -> list[GMMModel | DegenerateFit]:
        """The fitted mixtures from final sums (B, K, F), shifted back by each chain's data ``centre``."""
        count, aug = self.moments(sums)
        means = aug[..., 0, 1:]
        cov = aug[..., 1:, 1:] - means[..., :, None] * means[..., None, :]
        finite = np.isfinite(cov).all(axis=(1, 2, 3))
        eig = np.linalg.eigvalsh(np.where(finite[:, None, None, None], cov, np.eye(self.d)))
        regular = finite & (eig[..., 0] > eig[..., -1] / SINGULAR_CONDITION).all(axis=-1)
        return [
            GMMModel(count[i] / self.n, means[i] + centre[i], cov[i]) if regular[i]
            else DegenerateFit("EM ended with a singular or non-finite covariance")
            for i in range(len(sums))
        ]

    def sums_of(self, model: GMMModel, centre: np.ndarray) -> np.ndarray:
        """The sums (K, F) that ``model`` would have as an M-step result on this data (a warm start)."""
        count = model.weights * self.n
        means = model.means - centre
        second = model.covariances - self.reg[1:, 1:] + means[:, :, None] * means[:, None, :]
        aug = np.ones((len(count), self.d + 1, self.d + 1))
        aug[:, 0, 1:] = aug[:, 1:, 0] = means
        aug[:, 1:, 1:] = second
        return count[:, None] * aug[:, self.pair_i, self.pair_j]


def _kmeans_labels(lin: np.ndarray, rngs: list[np.random.Generator], k: int) -> np.ndarray:
    """Lloyd's k-means from a k-means++ start per chain, stopped as scikit-learn's KMeans stops.

    ``lin`` (B, 1 + d, n) holds a row of ones over the points, so one matmul gives every
    centre's count and sum. A chain stops once its centres move less than KMEANS_TOL times its
    mean variance (repeated labels move them by 0); its labels are those of its final centres.
    """
    b, _, n = lin.shape
    centres = _kmeans_plusplus(lin[:, 1:], rngs, k)
    tol = KMEANS_TOL * lin[:, 1:].var(axis=-1).mean(axis=-1)
    final = np.empty((b, n), dtype=np.intp)
    active, points = np.arange(b), lin
    hot = np.empty((b, k, n))
    for step in range(KMEANS_MAX_ITER):
        stats = _assign(points, centres, hot[: len(active)]) @ points.transpose(0, 2, 1)  # (B, k, 1 + d)
        counts = stats[..., :1]
        moved = np.where(counts > 0, stats[..., 1:] / counts, centres)
        done = ((moved - centres) ** 2).sum(axis=(1, 2)) <= tol
        centres = moved
        if step == KMEANS_MAX_ITER - 1:
            done[:] = True
        if done.any():
            final[active[done]] = _nearest(points[done], centres[done])
            keep = ~done
            active, points, centres, tol = active[keep], points[keep], centres[keep], tol[keep]
            if not len(active):
                break
    return final


def _kmeans_plusplus(xt: np.ndarray, rngs: list[np.random.Generator], k: int) -> np.ndarray:
    """k-means++ centres (B, k, d): the first uniformly, each next with probability ∝ squared distance."""
    b, d, n = xt.shape
    chain = np.arange(b)
    centres = np.empty((b, k, d))
    centres[:, 0] = xt[chain, :, [rng.integers(n) for rng in rngs]]
    closest = ((xt - centres[:, 0, :, None]) ** 2).sum(axis=1)
    for c in range(1, k):
        cum = np.cumsum(closest, axis=-1)
        picks = [np.searchsorted(cum[i], rng.random() * cum[i, -1], side="right") for i, rng in enumerate(rngs)]
        centres[:, c] = xt[chain, :, np.minimum(picks, n - 1)]
        closest = np.minimum(closest, ((xt - centres[:, c, :, None]) ** 2).sum(axis=1))
    return centres


def _nearest(lin: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index (B, n) of the nearest centre (B, k, d) to each point of ``lin``; ties go to the lower index."""
    score = _scores(lin, centres)
    if score.shape[1] == 2:
        return (score[:, 1] < score[:, 0]).astype(np.intp)
    best, label = score[:, 0], np.zeros(score.shape[::2], dtype=np.intp)
    for c in range(1, score.shape[1]):
        closer = score[:, c] < best
        label[closer] = c
        if c + 1 < score.shape[1]:
            best = np.where(closer, score[:, c], best)
    return label


def _scores(lin: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """|c|² - 2 c·x (B, k, n): |x - c|² less |x|², which is the same for every centre."""
    return np.concatenate([(centres * centres).sum(axis=-1)[..., None], -2 * centres], axis=-1) @ lin


def _assign(lin: np.ndarray, centres: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out`` (B, k, n) set to the one-hot of ``_nearest(lin, centres)``."""
    if centres.shape[1] != 2:
        out[:] = _one_hot(_nearest(lin, centres), centres.shape[1])
        return out
    score = _scores(lin, centres)
    np.less(score[:, 1], score[:, 0], out=out[:, 1])  # as _nearest: ties go to centre 0
    np.logical_not(out[:, 1], out=out[:, 0])
    return out


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return (labels[:, None, :] == np.arange(k)[None, :, None]).astype(np.float64)


def em_batch(
    x: np.ndarray, inits: list[GMMModel | None], rngs: list[np.random.Generator], opts: GMMOptions
) -> list[GMMModel | DegenerateFit]:
    """Fit one mixture per chain to same-shaped, finite, non-constant training sets ``x`` (B, n, d).

    EM as scikit-learn runs it: E-step, M-step, and a chain stops once the mean log-likelihood of
    its E-step changed by less than ``tol``; a chain without an ``init`` starts from k-means labels.
    """
    b, n, d = x.shape
    xt = np.ascontiguousarray(x.transpose(0, 2, 1))
    centre = xt.sum(axis=-1) / n  # centring keeps the moments' E[xxᵀ] - mmᵀ accurate
    xt -= centre[..., None]
    feats = _Features(xt, opts.reg_covar)
    resp = np.zeros((b, opts.components, n))
    scratch = [i for i, init in enumerate(inits) if init is None]
    if scratch:
        labels = _kmeans_labels(feats.feats[scratch, : 1 + d], [rngs[i] for i in scratch], opts.components)
        resp[scratch] = _one_hot(labels, opts.components)
    sums = feats.sums(resp)
    for i, init in enumerate(inits):
        if init is not None:
            sums[i] = feats.sums_of(init, centre[i])

    final = np.empty_like(sums)  # each chain's sums when it stopped
    failed: set[int] = set()
    active = np.arange(b)
    bound = [-math.inf] * b  # per active chain; the few scalars are cheaper in Python than in numpy
    k_comp, tol = opts.components, opts.tol
    buffer = np.empty((b, k_comp, n))
    for _ in range(opts.max_iter):
        sums, new_bound = _em_step(feats, sums, buffer[: len(active)])
        stops = [not abs(new - old) >= tol for new, old in zip(new_bound, bound)]  # converged, or non-finite
        bound = new_bound
        if any(stops):
            stop = np.array(stops)
            final[active[stop]] = sums[stop]
            failed.update(int(active[i]) for i, s in enumerate(stops) if s and not math.isfinite(new_bound[i]))
            keep = ~stop
            active, sums = active[keep], sums[keep]
            bound = [v for v, s in zip(bound, stops) if not s]
            feats.take(keep)
            if not len(active):
                break
    final[active] = sums  # not converged in max_iter: keep the last estimate, as scikit-learn does
    fitted = feats.mixtures(final, centre)
    for i in failed:
        fitted[i] = DegenerateFit("EM met a covariance with a non-positive determinant")
    return fitted


def _em_step(feats: _Features, sums: np.ndarray, buffer: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """One E-step and M-step for any K: the new sums and each chain's mean log-likelihood."""
    k_comp, n = sums.shape[1], feats.n
    # (B, K, n): log w_k + log N(x; m_k, Σ_k)
    joint = np.matmul(feats.log_joint_coefficients(sums), feats.feats, out=buffer)
    peak = joint[:, 0]
    for k in range(1, k_comp):
        peak = np.maximum(peak, joint[:, k])
    joint -= peak[:, None]
    np.exp(joint, out=joint)
    total = joint[:, 0] + joint[:, 1] if k_comp > 1 else joint[:, 0].copy()
    for k in range(2, k_comp):
        total += joint[:, k]
    joint /= total[:, None]
    np.log(total, out=total)
    total += peak
    new_bound = (total.sum(axis=-1) / n).tolist()
    return feats.sums(joint), new_bound


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
    """Full-covariance Gaussian mixture fitted by batched EM; ``init`` (policy "previous") warm-starts it."""

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
        opts: GMMOptions = self.options  # type: ignore[assignment]
        out: dict[int, Model | DegenerateFit] = {}
        groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i, train in enumerate(trains):
            x = np.asarray(train.data, dtype=np.float64)
            reason = check_data(x, opts.components)
            if reason:
                out[i] = DegenerateFit(reason)
            else:
                groups[x.shape].append(i)
        for index in groups.values():
            x = np.stack([np.asarray(trains[i].data, dtype=np.float64) for i in index])
            starts = [None if (init := inits[i]) is None else as_mixture(init) for i in index]
            with np.errstate(all="ignore"):  # a degenerate chain turns non-finite; em_batch drops it
                fitted = em_batch(x, starts, [rngs[i] for i in index], opts)
            out.update(zip(index, fitted))
        return [out[i] for i in range(len(trains))]

    def sample_many(
        self,
        models: list[Model],
        n: int,
        rngs: list[np.random.Generator],
        policy: Options,
        reals: list[RealData],
    ) -> list[np.ndarray]:
        mixtures = [as_mixture(m) for m in models]
        groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i, m in enumerate(mixtures):
            groups[m.means.shape].append(i)
        out: dict[int, np.ndarray] = {}
        for index in groups.values():
            stacked = [np.stack([getattr(mixtures[i], a) for i in index]) for a in ("weights", "means", "chol")]
            x = sample_batch(*stacked, [rngs[i] for i in index], n)
            out.update({i: x[j] for j, i in enumerate(index)})
        return [out[i] for i in range(len(models))]

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
