"""Compiled (numba) kernels for one chain's Gaussian-mixture fit: k-means start, EM, sampling.

Each call works on one chain, so a chain's numbers never depend on which other chains run with
it, and a chain that converges early does not wait for the others. Loops over the points are
innermost and branch-free so that LLVM vectorises them. Reductions over the points are compiled
with ``fastmath={"reassoc", "contract"}`` (and nothing else: NaN and infinity keep their meaning),
so their partial sums and fused multiply-adds follow the machine's vector units: the same bits on
one machine, last-ulp differences between machines, as with numpy's BLAS. ``error_model="numpy"``
drops numba's zero-division checks, which would stop vectorisation.

``exp`` is computed here rather than by libm because a libm call cannot be vectorised (llvmlite's
LLVM has no vector math library); it is accurate to about 1 ulp (tests check it). Compiled code
is cached on disk (``cache=True``): only the first use on a machine pays the compile.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from collapsebench_density.gaussian import SINGULAR_CONDITION

KMEANS_MAX_ITER = 300
KMEANS_TOL = 1e-4
"""scikit-learn KMeans' defaults (its GaussianMixture's initialiser): Lloyd iterations at most, and
the stopping centre shift relative to the data's mean variance."""

EMPTY = 10 * np.finfo(np.float64).eps
"""Added to every component's count, as scikit-learn does, so that an empty component gets ~0 weight."""

CONVERGED, NOT_CONVERGED, DEGENERATE = 0, 1, 2
"""How EM ended: the mean log-likelihood changed by less than tol, max_iter ran out, or a
covariance was not positive definite (or the likelihood not finite)."""

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (fdlibm's): k * _LN2_HI is exact for the |k| <= 1022 here
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN = -708.0  # exp below this is subnormal or 0, taken as 0
_POW2 = np.ldexp(1.0, -np.arange(1023))  # 2^-j for j = 0..1022, exact normal doubles

_JIT = {"cache": True, "error_model": "numpy"}
_REDUCE = {**_JIT, "fastmath": {"reassoc", "contract"}}


@numba.njit(**_JIT)
def _exp_nonpositive(x: float) -> float:
    """exp(x) for x <= 0: x = k ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to r^13
    (truncation < 1e-17 relative), times 2^k from a table. Its own function without ``reassoc``,
    so the callers' flags cannot regroup the range reduction; LLVM inlines it."""
    y = max(x, _EXP_MIN)
    k = math.floor(y * _LOG2E + 0.5)
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _POW2[min(max(np.intp(-k), 0), 1022)] if x >= _EXP_MIN else 0.0  # clamped: a NaN reads in bounds


@numba.njit(**_JIT)
def exp_nonpositive(x: np.ndarray) -> np.ndarray:
    """The kernel's exp over an array of values <= 0 (for tests)."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = _exp_nonpositive(x[i])
    return out


@numba.njit(**_REDUCE)
def _dot(a: np.ndarray, b: np.ndarray) -> float:
    s = 0.0
    for i in range(a.size):
        s += a[i] * b[i]
    return s


@numba.njit(**_REDUCE)
def _sum_log(t: np.ndarray, n_comp: int) -> float:
    """sum_i log t_i for t_i in [1, K]: one log per product of as many factors as stay below 2^1000."""
    block = max(1, min(512, int(1000 / math.log2(n_comp)))) if n_comp > 1 else t.size
    total = 0.0
    for b0 in range(0, t.size, block):
        prod = 1.0
        for i in range(b0, min(b0 + block, t.size)):
            prod *= t[i]
        total += math.log(prod)
    return total


@numba.njit(inline="always", **_JIT)
def _pair(i: int, j: int, d: int) -> int:
    """Feature index of x_i x_j for i <= j (upper-triangle order, after 1 and x)."""
    return 1 + d + i * d - i * (i - 1) // 2 + (j - i)


@numba.njit(**_JIT)
def features(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features (F, n) of the points ``x`` (n, d) centred on their mean, and that mean (d,).

    A component's responsibility-weighted feature sums are its count, sum and second moment: all
    EM needs. Centring keeps the covariance E[xxᵀ] - mmᵀ accurate.
    """
    n, d = x.shape
    feats = np.empty((1 + d + d * (d + 1) // 2, n))
    centre = np.empty(d)
    feats[0] = 1.0
    for j in range(d):
        feats[1 + j] = x[:, j]
        centre[j] = _dot(feats[1 + j], feats[0]) / n
        feats[1 + j] -= centre[j]
    for i in range(d):
        for j in range(i, d):
            feats[_pair(i, j, d)] = feats[1 + i] * feats[1 + j]
    return feats, centre


@numba.njit(**_JIT)
def _log_joint_coefficients(
    sums: np.ndarray, d: int, n: int, reg_covar: float, coef: np.ndarray
) -> bool:
    """Coefficients ``coef`` (K, F) of log w_k + log N(x; m_k, Σ_k) in the features, from M-step sums.

    Σ_k (regularised) = LLᵀ; with P = Σ⁻¹ = L⁻ᵀL⁻¹, log N = -½xᵀPx + (Pm)ᵀx - ½mᵀPm - ½log det(2πΣ).
    False when a Σ is not positive definite or not finite: EM stops the chain as degenerate.
    """
    chol = np.zeros((d, d))
    inv = np.zeros((d, d))
    mean = np.empty(d)
    for k in range(sums.shape[0]):
        s = sums[k]
        count = s[0] + EMPTY
        for j in range(d):
            mean[j] = s[1 + j] / count
        log_det = 0.0
        for j in range(d):  # Cholesky, column by column
            for i in range(j, d):
                v = (s[_pair(j, i, d)] / count + (reg_covar if i == j else 0.0)) - mean[i] * mean[j]
                for m in range(j):
                    v -= chol[i, m] * chol[j, m]
                if i == j:
                    if not v > 0:
                        return False
                    chol[j, j] = math.sqrt(v)
                    log_det += 2.0 * math.log(chol[j, j])
                else:
                    chol[i, j] = v / chol[j, j]
        for j in range(d):  # L⁻¹, lower triangular
            inv[j, j] = 1.0 / chol[j, j]
            for i in range(j + 1, d):
                v = 0.0
                for m in range(j, i):
                    v -= chol[i, m] * inv[m, j]
                inv[i, j] = v / chol[i, i]
        quad = 0.0
        for i in range(d):
            pm = 0.0
            for j in range(d):
                p = 0.0
                for m in range(max(i, j), d):
                    p += inv[m, i] * inv[m, j]
                pm += p * mean[j]
                if i == j:
                    coef[k, _pair(i, i, d)] = -0.5 * p
                elif i < j:
                    coef[k, _pair(i, j, d)] = -p
            coef[k, 1 + i] = pm
            quad += mean[i] * pm
        coef[k, 0] = math.log(count / n) - 0.5 * (d * math.log(2 * math.pi) + log_det) - 0.5 * quad
    return np.isfinite(coef).all()


@numba.njit(**_REDUCE)
def _em_step(
    feats: np.ndarray, coef: np.ndarray, sums: np.ndarray, resp: np.ndarray, peak: np.ndarray, total: np.ndarray
) -> float:
    """E-step then M-step for any K and d, pass by pass: ``sums`` (K, F) from the coefficients;
    returns the E-step's mean log-likelihood."""
    n_comp, n = resp.shape
    for k in range(n_comp):
        row = resp[k]
        row[:] = coef[k, 0]
        for f in range(1, feats.shape[0]):
            c, feat = coef[k, f], feats[f]
            for i in range(n):
                row[i] += c * feat[i]
    peak[:] = resp[0]
    for k in range(1, n_comp):
        row = resp[k]
        for i in range(n):
            peak[i] = max(peak[i], row[i])
    total[:] = 0.0
    for k in range(n_comp):
        row = resp[k]
        for i in range(n):
            row[i] = _exp_nonpositive(row[i] - peak[i])
        for i in range(n):
            total[i] += row[i]
    for k in range(n_comp):
        row = resp[k]
        for i in range(n):
            row[i] /= total[i]
        for f in range(feats.shape[0]):
            sums[k, f] = _dot(row, feats[f])
    return (peak.sum() + _sum_log(total, n_comp)) / n


@numba.njit(**_REDUCE)
def _em_step_2x2(feats: np.ndarray, coef: np.ndarray, sums: np.ndarray) -> float:
    """``_em_step`` for the paper's case, 2 components in 2-D: one pass over the points, one exp
    per point, and the log-likelihood as one log per product of 512 factors in [1, 2]."""
    n = feats.shape[1]
    f1, f2, f3, f4, f5 = feats[1], feats[2], feats[3], feats[4], feats[5]
    a0, a1, a2, a3, a4, a5 = coef[0]
    b0, b1, b2, b3, b4, b5 = coef[1]
    s0 = s1 = s2 = s3 = s4 = s5 = t0 = t1 = t2 = t3 = t4 = t5 = peaks = logs = 0.0
    for start in range(0, n, 512):
        prod = 1.0
        for i in range(start, min(start + 512, n)):
            x, y, xx, xy, yy = f1[i], f2[i], f3[i], f4[i], f5[i]
            l0 = a0 + a1 * x + a2 * y + a3 * xx + a4 * xy + a5 * yy
            l1 = b0 + b1 * x + b2 * y + b3 * xx + b4 * xy + b5 * yy
            first = l0 >= l1
            peak = max(l0, l1)
            other = _exp_nonpositive(min(l0, l1) - peak)  # the peak's own term is exp(0) = 1
            tot = 1.0 + other
            big, small = 1.0 / tot, other / tot
            r0 = big if first else small
            r1 = small if first else big
            s0 += r0
            s1 += r0 * x
            s2 += r0 * y
            s3 += r0 * xx
            s4 += r0 * xy
            s5 += r0 * yy
            t0 += r1
            t1 += r1 * x
            t2 += r1 * y
            t3 += r1 * xx
            t4 += r1 * xy
            t5 += r1 * yy
            peaks += peak
            prod *= tot
        logs += math.log(prod)
    sums[0, 0], sums[0, 1], sums[0, 2], sums[0, 3], sums[0, 4], sums[0, 5] = s0, s1, s2, s3, s4, s5
    sums[1, 0], sums[1, 1], sums[1, 2], sums[1, 3], sums[1, 4], sums[1, 5] = t0, t1, t2, t3, t4, t5
    return (peaks + logs) / n


@numba.njit(**_JIT)
def _kmeans_plusplus(points: np.ndarray, n_comp: int, first: int, uniforms: np.ndarray) -> np.ndarray:
    """k-means++ centres (K, d): point ``first``, then each next with probability ∝ squared distance
    to the nearest chosen one, picked by the uniform draws ``uniforms`` (K - 1)."""
    d, n = points.shape
    centres = np.empty((n_comp, d))
    closest, dist = np.empty(n), np.empty(n)
    for c in range(n_comp):
        if c == 0:
            pick = first
        else:
            cum = np.cumsum(closest)
            pick = min(np.searchsorted(cum, uniforms[c - 1] * cum[-1], side="right"), n - 1)
        centres[c] = points[:, pick]
        dist[:] = 0.0
        for j in range(d):
            x, at = points[j], centres[c, j]
            for i in range(n):
                dist[i] += (x[i] - at) ** 2
        if c == 0:
            closest[:] = dist
        else:
            for i in range(n):
                closest[i] = min(closest[i], dist[i])
    return centres


@numba.njit(**_REDUCE)
def _nearest(points: np.ndarray, centres: np.ndarray, label: np.ndarray, best: np.ndarray, score: np.ndarray) -> None:
    """``label`` (n,) of each point's nearest centre by |c|² - 2c·x (ties go to the lower index)."""
    d, n = points.shape
    for k in range(centres.shape[0]):
        norm = 0.0
        for j in range(d):
            norm += centres[k, j] ** 2
        score[:] = norm
        for j in range(d):
            x, weight = points[j], -2.0 * centres[k, j]
            for i in range(n):
                score[i] += weight * x[i]
        if k == 0:
            best[:] = score
            label[:] = 0
        else:
            for i in range(n):
                closer = score[i] < best[i]
                label[i] = k if closer else label[i]
                best[i] = score[i] if closer else best[i]


@numba.njit(**_REDUCE)
def _one_hot(label: np.ndarray, k: int, hot: np.ndarray) -> float:
    """``hot`` (n,) set to 1.0 where ``label`` is k, else 0.0; returns the count."""
    for i in range(label.size):
        hot[i] = 1.0 if label[i] == k else 0.0
    return hot.sum()


@numba.njit(**_REDUCE)
def kmeans_sums(feats: np.ndarray, d: int, n_comp: int, first: int, uniforms: np.ndarray) -> np.ndarray:
    """M-step sums (K, F) of the k-means labels: Lloyd from a k-means++ start, stopped once the
    centres move less than KMEANS_TOL times the data's mean variance (as scikit-learn's KMeans);
    the labels are those of the final centres."""
    n = feats.shape[1]
    points = feats[1 : 1 + d]
    centres = _kmeans_plusplus(points, n_comp, first, uniforms)
    tol = 0.0  # KMEANS_TOL times the mean over coordinates of the variance over points
    for j in range(d):
        x = points[j]
        mean = x.sum() / n
        for i in range(n):
            tol += (x[i] - mean) ** 2
    tol *= KMEANS_TOL / (d * n)
    label, best, score, hot = np.empty(n, np.intp), np.empty(n), np.empty(n), np.empty(n)
    for _ in range(KMEANS_MAX_ITER):
        _nearest(points, centres, label, best, score)
        shift = 0.0
        for k in range(n_comp):
            count = _one_hot(label, k, hot)
            if count > 0:
                for j in range(d):
                    moved = _dot(hot, points[j]) / count
                    shift += (moved - centres[k, j]) ** 2
                    centres[k, j] = moved
        if shift <= tol:
            break
    _nearest(points, centres, label, best, score)
    sums = np.empty((n_comp, feats.shape[0]))
    for k in range(n_comp):
        _one_hot(label, k, hot)
        for f in range(feats.shape[0]):
            sums[k, f] = _dot(hot, feats[f])
    return sums


@numba.njit(**_JIT)
def em(
    feats: np.ndarray, sums: np.ndarray, d: int, tol: float, max_iter: int, reg_covar: float
) -> tuple[np.ndarray, int, int]:
    """EM as scikit-learn runs it, from M-step ``sums`` (K, F): E-step, M-step, until the mean
    log-likelihood of an E-step changed by less than ``tol``. Returns the final sums, how EM
    ended (CONVERGED, NOT_CONVERGED or DEGENERATE) and the steps it took."""
    n = feats.shape[1]
    n_comp = sums.shape[0]
    sums = sums.copy()
    coef = np.empty_like(sums)
    resp, peak, total = np.empty((n_comp, n)), np.empty(n), np.empty(n)
    paper_case = n_comp == 2 and d == 2
    previous = -np.inf
    for step in range(max_iter):
        if not _log_joint_coefficients(sums, d, n, reg_covar, coef):
            return sums, DEGENERATE, step + 1
        if paper_case:
            bound = _em_step_2x2(feats, coef, sums)
        else:
            bound = _em_step(feats, coef, sums, resp, peak, total)
        if not math.isfinite(bound):
            return sums, DEGENERATE, step + 1
        if abs(bound - previous) < tol:
            return sums, CONVERGED, step + 1
        previous = bound
    return sums, NOT_CONVERGED, max_iter


@numba.njit(**_JIT)
def mixture(
    sums: np.ndarray, centre: np.ndarray, n: int, reg_covar: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Weights (K,), means (K, d) and covariances (K, d, d) whose M-step sums over n points centred
    on ``centre`` are ``sums`` (K, F), and whether every covariance is finite and its condition
    number below SINGULAR_CONDITION."""
    n_comp, d = sums.shape[0], centre.size
    weights, means, cov = np.empty(n_comp), np.empty((n_comp, d)), np.empty((n_comp, d, d))
    for k in range(n_comp):
        s = sums[k]
        count = s[0] + EMPTY
        weights[k] = count / n
        for j in range(d):
            means[k, j] = s[1 + j] / count
        for i in range(d):
            for j in range(i, d):
                v = (s[_pair(i, j, d)] / count + (reg_covar if i == j else 0.0)) - means[k, i] * means[k, j]
                cov[k, i, j] = cov[k, j, i] = v
        means[k] += centre
    if not np.isfinite(cov).all():
        return weights, means, cov, False
    for k in range(n_comp):
        eig = np.linalg.eigvalsh(cov[k])
        if not eig[0] > eig[-1] / SINGULAR_CONDITION:
            return weights, means, cov, False
    return weights, means, cov, True


@numba.njit(**_JIT)
def sums_of(
    weights: np.ndarray, means: np.ndarray, cov: np.ndarray, centre: np.ndarray, n: int, reg_covar: float
) -> np.ndarray:
    """The M-step sums (K, F) from which ``mixture`` returns this mixture: a warm start."""
    n_comp, d = means.shape
    sums = np.empty((n_comp, 1 + d + d * (d + 1) // 2))
    for k in range(n_comp):
        count = weights[k] * n
        sums[k, 0] = count
        m = means[k] - centre
        for j in range(d):
            sums[k, 1 + j] = count * m[j]
        for i in range(d):
            for j in range(i, d):
                second = (cov[k, i, j] - (reg_covar if i == j else 0.0)) + m[i] * m[j]
                sums[k, _pair(i, j, d)] = count * second
    return sums


@numba.njit(**_JIT)
def draw(counts: np.ndarray, z: np.ndarray, means: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """Points (n, d) from standard normal ``z`` (n, d): the first counts[0] from component 0 as
    mean + L z, the next counts[1] from component 1, and so on (scikit-learn's ``sample`` order)."""
    n, d = z.shape
    x = np.empty((n, d))
    i = 0
    for c in range(counts.size):
        for _ in range(counts[c]):
            for a in range(d):
                v = means[c, a] + chol[c, a, 0] * z[i, 0]
                for j in range(1, d):
                    v = v + chol[c, a, j] * z[i, j]
                x[i, a] = v
            i += 1
    return x
