"""Text metrics on hand-made blocks: real data scores neutral, copies score collapsed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collapsebench.experiment.data import RealData
from collapsebench.experiment.metrics import MetricContext
from collapsebench.experiment.samples import Samples
from collapsebench_text import metrics as m


class _Tokenizer:
    def decode(self, ids) -> str:
        return " ".join(f"t{int(i)}" for i in ids)


class _Unigram:
    """model_0 stand-in: scores a block by the mean of its ids (so perplexities are known)."""

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        return -np.log1p(x.mean(axis=1))


def _real(vocab: int = 50, n: int = 200, length: int = 16) -> RealData:
    rng = np.random.default_rng(0)
    p = 1 / np.arange(1, vocab + 1)  # Zipf: a long tail of rare ids
    blocks = rng.choice(vocab, size=(n, length), p=p / p.sum()).astype(np.int32)
    return RealData(train=Samples.real(blocks), test=Samples.real(blocks[:20]), fingerprint="x",
                    truth={"vocab_size": vocab, "tokenizer": _Tokenizer()})


def _ctx(real: RealData, samples: np.ndarray, tmp_path: Path, generation: int = 0) -> MetricContext:
    model = _Unigram()
    return MetricContext(generation=generation, seed=0, model=model, reference=model, samples=samples,  # type: ignore[arg-type]
                         train=real.train, real=real, rng=np.random.default_rng(0), artifact_dir=tmp_path)


def test_real_pool_scores_neutral(tmp_path):
    real = _real()
    ctx = _ctx(real, real.train.data, tmp_path)
    assert m.RareTokenRetention().compute(ctx) == pytest.approx(1.0)
    assert m.VanishedTypes().compute(ctx) == 0
    assert m.Distinct2Ratio().compute(ctx) == pytest.approx(1.0)
    assert m.UnigramKL().compute(ctx) == pytest.approx(0.0, abs=1e-12)
    assert m.BigramJS().compute(ctx) == pytest.approx(0.0, abs=1e-12)


def test_copies_of_one_common_block_score_collapsed(tmp_path):
    real = _real()
    common = np.zeros((200, 16), dtype=np.int32)
    common[:, 1::2] = 1  # "0 1 0 1 …": the two most frequent ids, repeated
    ctx = _ctx(real, common, tmp_path)
    assert m.RareTokenRetention().compute(ctx) == 0.0
    assert m.VanishedTypes().compute(ctx) == len(np.unique(real.train.data)) - 2
    assert m.Distinct1().compute(ctx) == pytest.approx(2 / common.size)
    assert m.Distinct2Ratio().compute(ctx) < 0.01
    assert m.RepeatedNgramRate().compute(ctx) == pytest.approx(12 / 14)  # 14 trigrams, 2 distinct
    assert m.SelfOverlap().compute(ctx) == 1.0
    assert m.UnigramKL().compute(ctx) > 1.0 and m.BigramJS().compute(ctx) > 0.5


def test_rare_bucket_holds_at_most_its_mass():
    counts = np.array([0, 1, 1, 2, 5, 10, 100, 1000], dtype=float)
    rare = m.rare_types(counts)
    assert rare.tolist() == [False, True, True, True, True, True, False, False]  # 19 of 1119 tokens; with 100: 11%
    assert counts[rare].sum() / counts.sum() <= m.RARE_MASS


def test_self_overlap_and_repeats_on_distinct_blocks():
    blocks = np.arange(40, dtype=np.int32).reshape(4, 10)
    assert m.self_overlap(blocks) == 0.0 and m.repeated_ngram_rate(blocks) == 0.0
    assert m.distinct(blocks, 3) == 1.0


def test_synthetic_perplexities_are_stored_once_with_examples(tmp_path):
    real = _real()
    samples = real.train.data[::-1].copy()
    ctx = _ctx(real, samples, tmp_path, generation=3)
    q10, median, q90 = (q().compute(ctx) for q in (m.SyntheticPerplexityQ10, m.SyntheticPerplexityMedian, m.SyntheticPerplexityQ90))
    stored = np.load(tmp_path / "g00003_synthetic_ppl.npy")
    np.testing.assert_allclose(stored, 1 + samples.mean(axis=1))
    assert q10 <= median <= q90 and median == pytest.approx(np.median(stored))
    text = (tmp_path / "g00003_examples.txt").read_text()
    assert text.count("continuation: ") == m.EXAMPLES and _Tokenizer().decode(samples[0]) in text
