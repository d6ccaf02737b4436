"""The digit judge and the two metrics that read generated samples through it.

The judge is an RBF support-vector classifier fitted once on the real train pool (never on
synthetic data): ~0.98 held-out accuracy in 20 ms, deterministic. Both metrics compare the
judge's class histogram of the samples with its histogram of the *real test split*, so the
judge's own errors appear on both sides and real data scores exactly neutral.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from collapsebench import Metric, MetricContext, RealData

JUDGE = "digits-classifier"
SMOOTHING = 0.5
"""Pseudo-count added to every class on both sides, so a vanished class gives a finite KL."""


def build_judge(real: RealData) -> Any:
    """An RBF SVC on the real train pool and its labels (``real.truth["train_labels"]``)."""
    from sklearn.svm import SVC

    return SVC().fit(real.train.data, real.truth["train_labels"])


def class_counts(ctx: MetricContext, x: np.ndarray) -> np.ndarray:
    """How many of ``x`` the judge assigns to each class."""
    judge = ctx.judge(JUDGE, build_judge)
    return np.bincount(judge.predict(x.reshape(len(x), -1)), minlength=ctx.real.truth["n_classes"])


def _real_counts(ctx: MetricContext) -> np.ndarray:
    if "digits:real_class_counts" not in ctx.cache:
        ctx.cache["digits:real_class_counts"] = class_counts(ctx, ctx.real.test.data)
    return ctx.cache["digits:real_class_counts"]


def _smoothed(counts: np.ndarray) -> np.ndarray:
    p = counts + SMOOTHING
    return p / p.sum()


class ClassKL(Metric):
    name = "class-kl"
    family = "drift"
    higher_is_better = False
    description = "KL(real test ‖ samples) between the judge's class histograms, in nats (0 = same)"

    def compute(self, ctx: MetricContext) -> float:
        p = _smoothed(_real_counts(ctx))
        q = _smoothed(class_counts(ctx, ctx.samples))
        return float(np.sum(p * np.log(p / q)))


class MinorityRetention(Metric):
    name = "minority-retention"
    family = "tails"
    higher_is_better = True
    description = "share of samples the judge puts in the rare classes ÷ the real test share (1 = kept)"

    def compute(self, ctx: MetricContext) -> float:
        rare = ctx.real.truth["minority_classes"]
        real = _real_counts(ctx)
        generated = class_counts(ctx, ctx.samples)
        return float((generated[rare].sum() / generated.sum()) / (real[rare].sum() / real.sum()))


METRICS = (ClassKL, MinorityRetention)
