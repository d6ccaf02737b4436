"""Text-track metrics on token blocks: perplexity, rare-token tails, n-gram diversity, drift.

Every token statistic compares the synthetic blocks with the real training pool they continue,
on equal footing: the first ``len(real.train)`` synthetic blocks (a ``filter`` chain draws more),
so real data scores neutral (retention 1, divergence 0, ratio 1). Real-data statistics are cached
for the chain in ``ctx.cache``. Perplexities of the synthetic blocks under model_0 (the paper's
Figure 1) are stored per block as ``gNNNNN_synthetic_ppl.npy`` and summarised by quantiles; a few
decoded continuations go to ``gNNNNN_examples.txt``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from collapsebench import Metric, MetricContext, atomic_write_bytes

RARE_MASS = 0.1
"""The rarest bucket: the least frequent real token types that together hold at most 10% of tokens."""
SMOOTHING = 0.5
"""Pseudo-count per type (or bigram seen on either side) so a vanished type gives a finite divergence."""
EXAMPLES = 5
SYNTHETIC_PPL = "synthetic_ppl"
"""Artifact name of the per-block perplexities (declared by the track for histogram plots)."""


def comparable(ctx: MetricContext) -> np.ndarray:
    """The synthetic blocks compared with the real pool: as many as it has."""
    return np.asarray(ctx.samples[: len(ctx.real.train)])


def _real(ctx: MetricContext, key: str, compute: Any) -> Any:
    full = f"text:{key}"
    if full not in ctx.cache:
        ctx.cache[full] = compute(np.asarray(ctx.real.train.data))
    return ctx.cache[full]


def unigram_counts(x: np.ndarray, vocab: int) -> np.ndarray:
    return np.bincount(x.ravel(), minlength=vocab).astype(np.float64)


def ngram_keys(x: np.ndarray, n: int) -> np.ndarray:
    """Each block's n-grams as int64 keys (N × L−n+1); ids are below 2^16 (the data source checks), so
    keys of n ≤ 3 never collide."""
    x = x.astype(np.int64)
    keys = np.zeros((x.shape[0], x.shape[1] - n + 1), dtype=np.int64)
    for k in range(n):
        keys = keys * (1 << 16) + x[:, k : x.shape[1] - n + 1 + k]
    return keys


def distinct(x: np.ndarray, n: int) -> float:
    """Distinct n-grams over all n-grams of the blocks (n-grams do not cross block borders)."""
    keys = ngram_keys(x, n)
    return len(np.unique(keys)) / keys.size


def repeated_ngram_rate(x: np.ndarray, n: int = 3) -> float:
    """Mean over blocks of the share of a block's n-grams that repeat one earlier in the same block."""
    keys = np.sort(ngram_keys(x, n), axis=1)
    repeats = (keys[:, 1:] == keys[:, :-1]).sum(axis=1)
    return float(np.mean(repeats / keys.shape[1]))


def self_overlap(x: np.ndarray, n: int = 3) -> float:
    """Mean over blocks of the share of a block's distinct n-grams found in another block too.

    A cheap stand-in for self-BLEU (O(N·L) instead of O(N²·L)): both rise as samples become copies
    of each other.
    """
    keys = ngram_keys(x, n)
    rows = np.repeat(np.arange(len(x)), keys.shape[1])
    pairs = np.unique(np.stack([keys.ravel(), rows]), axis=1)  # (key, row), each once
    _, inverse, df = np.unique(pairs[0], return_inverse=True, return_counts=True)
    shared = df[inverse] > 1
    per_row = np.bincount(pairs[1], weights=shared, minlength=len(x)) / np.bincount(pairs[1], minlength=len(x))
    return float(per_row.mean())


def rare_types(counts: np.ndarray) -> np.ndarray:
    """Boolean mask of the rarest bucket: types with count ≤ c, c the largest keeping ≤ RARE_MASS of tokens."""
    present = np.sort(counts[counts > 0])
    mass = np.cumsum(present) / present.sum()
    eligible = present[mass <= RARE_MASS]
    threshold = eligible[-1] if len(eligible) else present[0]
    return (counts > 0) & (counts <= threshold)


def kl(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    p = (p_counts + SMOOTHING) / (p_counts + SMOOTHING).sum()
    q = (q_counts + SMOOTHING) / (q_counts + SMOOTHING).sum()
    return float(np.sum(p * np.log(p / q)))


def bigram_js(a: np.ndarray, b: np.ndarray) -> float:
    """Jensen–Shannon divergence (nats) between the bigram distributions of two block sets."""
    ka, kb = ngram_keys(a, 2).ravel(), ngram_keys(b, 2).ravel()
    keys, inverse = np.unique(np.concatenate([ka, kb]), return_inverse=True)
    ca = np.bincount(inverse[: len(ka)], minlength=len(keys)) / len(ka)
    cb = np.bincount(inverse[len(ka) :], minlength=len(keys)) / len(kb)
    m = (ca + cb) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(ca > 0, ca * np.log(ca / m), 0.0).sum()
        right = np.where(cb > 0, cb * np.log(cb / m), 0.0).sum()
    return float((left + right) / 2)


def synthetic_perplexities(ctx: MetricContext) -> np.ndarray:
    """Per-block perplexity of the synthetic blocks under model_0, computed and stored once per generation."""
    key = f"text:synthetic_ppl:{ctx.generation}"
    if key not in ctx.cache:
        ppl = np.exp(-ctx.reference.log_likelihood(np.asarray(ctx.samples)))
        ctx.save_artifact(SYNTHETIC_PPL, ppl)
        _write_examples(ctx, ppl)
        for stale in [k for k in ctx.cache if k.startswith("text:synthetic_ppl:")]:
            del ctx.cache[stale]  # only this generation's perplexities are needed again
        ctx.cache[key] = ppl
    return ctx.cache[key]


def _write_examples(ctx: MetricContext, ppl: np.ndarray) -> None:
    tok = ctx.real.truth["tokenizer"]
    prompts = np.asarray(ctx.real.train.data)
    parts = [f"# generation {ctx.generation}, seed {ctx.seed}: the first {EXAMPLES} real blocks and model_{ctx.generation}'s continuations\n"]
    for i in range(min(EXAMPLES, len(ctx.samples))):
        parts.append(
            f"\n## block {i} (perplexity under model_0: {ppl[i]:.1f})\n"
            f"prompt: {tok.decode(prompts[i % len(prompts)])!r}\n"
            f"continuation: {tok.decode(ctx.samples[i])!r}\n"
        )
    atomic_write_bytes(ctx.artifact_dir / f"g{ctx.generation:05d}_examples.txt", "".join(parts).encode())


class TestPerplexity(Metric):
    name = "test-perplexity"
    family = "fidelity"
    higher_is_better = False
    description = "perplexity of model_g on the real held-out blocks (exp of mean token NLL)"

    def compute(self, ctx: MetricContext) -> float:
        return float(np.exp(-np.mean(ctx.model.log_likelihood(np.asarray(ctx.real.test.data)))))


class SyntheticPerplexityQuantile(Metric):
    """A quantile of the per-block perplexities of synthetic_{g+1} under model_0 (paper Figure 1)."""

    family = "raw"
    higher_is_better = False
    quantile: float

    def compute(self, ctx: MetricContext) -> float:
        return float(np.quantile(synthetic_perplexities(ctx), self.quantile))


class SyntheticPerplexityQ10(SyntheticPerplexityQuantile):
    name = "synthetic-ppl-q10"
    quantile = 0.1
    description = "10th percentile of the per-block perplexity of the samples under model_0"


class SyntheticPerplexityMedian(SyntheticPerplexityQuantile):
    name = "synthetic-ppl-median"
    quantile = 0.5
    description = "median per-block perplexity of the samples under model_0"


class SyntheticPerplexityQ90(SyntheticPerplexityQuantile):
    name = "synthetic-ppl-q90"
    quantile = 0.9
    description = "90th percentile of the per-block perplexity of the samples under model_0 (its tail)"


class RareTokenRetention(Metric):
    name = "rare-token-retention"
    family = "tails"
    higher_is_better = True
    description = "share of sample tokens from the real pool's rarest types (10% of its tokens) ÷ the real share (1 = kept)"

    def compute(self, ctx: MetricContext) -> float:
        vocab = int(ctx.real.truth["vocab_size"])
        counts = _real(ctx, "unigrams", lambda x: unigram_counts(x, vocab))
        rare = _real(ctx, "rare", lambda x: rare_types(counts))
        generated = unigram_counts(comparable(ctx), vocab)
        return float((generated[rare].sum() / generated.sum()) / (counts[rare].sum() / counts.sum()))


class VanishedTypes(Metric):
    name = "vanished-types"
    family = "raw"
    higher_is_better = False
    description = "token types of the real pool that never occur in as many sample tokens"

    def compute(self, ctx: MetricContext) -> float:
        vocab = int(ctx.real.truth["vocab_size"])
        counts = _real(ctx, "unigrams", lambda x: unigram_counts(x, vocab))
        generated = unigram_counts(comparable(ctx), vocab)
        return float(np.sum((counts > 0) & (generated == 0)))


class Distinct(Metric):
    family = "raw"
    higher_is_better = True
    n: int

    def compute(self, ctx: MetricContext) -> float:
        return distinct(comparable(ctx), self.n)


class Distinct1(Distinct):
    name = "distinct-1"
    n = 1
    description = "distinct tokens ÷ tokens in the samples"


class Distinct2(Distinct):
    name = "distinct-2"
    n = 2
    description = "distinct bigrams ÷ bigrams in the samples"


class Distinct3(Distinct):
    name = "distinct-3"
    n = 3
    description = "distinct trigrams ÷ trigrams in the samples"


class Distinct2Ratio(Metric):
    name = "distinct-2-ratio"
    family = "diversity"
    higher_is_better = True
    description = "distinct-2 of the samples ÷ distinct-2 of the real pool of the same size (1 = as diverse)"

    def compute(self, ctx: MetricContext) -> float:
        real = _real(ctx, "distinct2", lambda x: distinct(x, 2))
        return distinct(comparable(ctx), 2) / real


class RepeatedNgramRate(Metric):
    name = "repeated-3gram-rate"
    family = "raw"
    higher_is_better = False
    description = "share of a block's trigrams that repeat an earlier one in the same block, averaged"

    def compute(self, ctx: MetricContext) -> float:
        return repeated_ngram_rate(comparable(ctx))


class SelfOverlap(Metric):
    name = "self-overlap-3"
    family = "raw"
    higher_is_better = False
    description = "share of a block's distinct trigrams that occur in another sample block (self-BLEU-like)"

    def compute(self, ctx: MetricContext) -> float:
        return self_overlap(comparable(ctx))


class UnigramKL(Metric):
    name = "unigram-kl"
    family = "drift"
    higher_is_better = False
    description = "KL(real pool ‖ samples) of smoothed unigram distributions, nats (0 = same)"

    def compute(self, ctx: MetricContext) -> float:
        vocab = int(ctx.real.truth["vocab_size"])
        counts = _real(ctx, "unigrams", lambda x: unigram_counts(x, vocab))
        return kl(counts, unigram_counts(comparable(ctx), vocab))


class BigramJS(Metric):
    name = "bigram-js"
    family = "raw"
    higher_is_better = False
    description = "Jensen–Shannon divergence between real-pool and sample bigram distributions, nats"

    def compute(self, ctx: MetricContext) -> float:
        return bigram_js(np.asarray(ctx.real.train.data), comparable(ctx))


METRICS = (
    TestPerplexity,
    SyntheticPerplexityQ10,
    SyntheticPerplexityMedian,
    SyntheticPerplexityQ90,
    RareTokenRetention,
    VanishedTypes,
    Distinct1,
    Distinct2,
    Distinct3,
    Distinct2Ratio,
    RepeatedNgramRate,
    SelfOverlap,
    UnigramKL,
    BigramJS,
)
