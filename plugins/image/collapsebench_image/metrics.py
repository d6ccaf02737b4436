"""Image-track metrics, all read through the breed judge (a CNN trained once on real images).

The judge's predictions label generated images by breed, or "unrecognised" (blends of breeds,
which a diffusion model makes and which would otherwise be filed under some breed); shares are
of all samples, so unrecognised ones count against every breed. Its penultimate layer is the feature
space for the Fréchet distance and the k-NN precision/recall. Breed histograms of samples are
compared with the judge's histogram of the *real test split*, so the judge's own errors appear on
both sides and real data scores neutral. The judge is cached per process (``ctx.judge``) and on
disk by data fingerprint (safetensors), so a sweep's processes train it once.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy import linalg

from collapsebench import Metric, MetricContext, RealData, atomic_write_bytes

JUDGE = "breed-judge"
JUDGE_EPOCHS = 60
JUDGE_SEED = 0
JUDGE_VERSION = 2
"""Bump when the judge's architecture or training changes, so stale disk caches are not read."""
CACHE_ENV = "COLLAPSEBENCH_CACHE_DIR"
SMOOTHING = 0.5
"""Pseudo-count added to every breed on both sides, so a vanished breed gives a finite KL."""
K_NEIGHBOURS = 5
GRID_SIDE = 8


def cache_dir() -> Path:
    """``COLLAPSEBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/collapsebench``, else ``~/.cache/collapsebench``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "collapsebench"


def build_judge(real: RealData) -> Any:
    """Load the judge for this data fingerprint from the disk cache, or train and store it."""
    from collapsebench_image import judge_net

    key = hashlib.sha256(f"{real.fingerprint}:{JUDGE_VERSION}:{JUDGE_EPOCHS}:{JUDGE_SEED}".encode()).hexdigest()[:16]
    path = cache_dir() / "judges" / f"image-{key}.safetensors"
    if path.exists():
        return judge_net.load_judge(path)
    judge = judge_net.train_judge(
        real.train.data, real.truth["train_labels"], real.test.data, real.truth["test_labels"],
        len(real.truth["breeds"]), JUDGE_EPOCHS, JUDGE_SEED,
    )
    judge_net.save_judge(judge, path)
    return judge


def _judge(ctx: MetricContext) -> Any:
    return ctx.judge(JUDGE, build_judge)


def _samples(ctx: MetricContext) -> tuple[np.ndarray, np.ndarray]:
    """(features, predicted breeds) of this generation's samples, computed once per generation."""
    key = ("image:samples", ctx.generation)
    if ctx.cache.get("image:samples_key") != key:
        judge = _judge(ctx)
        ctx.cache["image:samples_key"] = key
        ctx.cache["image:samples"] = (judge.features(ctx.samples), judge.predict(ctx.samples))
    return ctx.cache["image:samples"]


def _real(ctx: MetricContext) -> tuple[np.ndarray, np.ndarray]:
    """(features, predicted breeds) of the real test split, for the whole chain."""
    if "image:real" not in ctx.cache:
        judge = _judge(ctx)
        ctx.cache["image:real"] = (judge.features(ctx.real.test.data), judge.predict(ctx.real.test.data))
    return ctx.cache["image:real"]


def _histogram(labels: np.ndarray, ctx: MetricContext) -> np.ndarray:
    """Counts per breed, then the "unrecognised" count last."""
    return np.bincount(labels, minlength=len(ctx.real.truth["breeds"]) + 1)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + tr(Σa + Σb − 2(ΣaΣb)^½) between Gaussians fitted to two feature sets."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(root):
        root = root.real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))


def knn_coverage(reference: np.ndarray, query: np.ndarray, k: int = K_NEIGHBOURS) -> float:
    """Share of ``query`` points inside some reference point's k-NN ball (Kynkäänniemi et al. 2019)."""
    from scipy.spatial.distance import cdist

    within = cdist(reference, reference)
    radii = np.sort(within, axis=1)[:, k]  # column 0 is the point itself
    return float(np.mean((cdist(query, reference) <= radii[None, :]).any(axis=1)))


class FrechetDistance(Metric):
    name = "breed-fd"
    family = "fidelity"
    higher_is_better = False
    description = "Fréchet distance between samples and real test images in the breed judge's features"

    def compute(self, ctx: MetricContext) -> float:
        return frechet_distance(_samples(ctx)[0], _real(ctx)[0])


class RareBreedRetention(Metric):
    name = "rare-breed-retention"
    family = "tails"
    higher_is_better = True
    description = "share of samples judged a rare breed ÷ the real test share (1 = kept, 0 = vanished)"

    def compute(self, ctx: MetricContext) -> float:
        rare = ctx.real.truth["rare_breeds"]
        generated, real = _histogram(_samples(ctx)[1], ctx), _histogram(_real(ctx)[1], ctx)
        return float((generated[rare].sum() / generated.sum()) / (real[rare].sum() / real.sum()))


class RareBreedShare(Metric):
    name = "rare-breed-share"
    higher_is_better = True
    description = "share of samples the judge assigns to the rare breed(s)"

    def compute(self, ctx: MetricContext) -> float:
        generated = _histogram(_samples(ctx)[1], ctx)
        return float(generated[ctx.real.truth["rare_breeds"]].sum() / generated.sum())


class VanishedBreeds(Metric):
    name = "vanished-breeds"
    higher_is_better = False
    description = "breeds the judge finds in the real test split but in none of the samples"

    def compute(self, ctx: MetricContext) -> float:
        generated, real = _histogram(_samples(ctx)[1], ctx)[:-1], _histogram(_real(ctx)[1], ctx)[:-1]
        return float(np.sum((real > 0) & (generated == 0)))


class UnrecognisedShare(Metric):
    name = "unrecognised-share"
    higher_is_better = False
    description = "share of samples the judge recognises as no breed (blends), minus the real test share"

    def compute(self, ctx: MetricContext) -> float:
        generated, real = _histogram(_samples(ctx)[1], ctx), _histogram(_real(ctx)[1], ctx)
        return float(generated[-1] / generated.sum() - real[-1] / real.sum())


class BreedKL(Metric):
    name = "breed-kl"
    family = "drift"
    higher_is_better = False
    description = "KL(real test ‖ samples) between the judge's breed histograms (incl. unrecognised), nats"

    def compute(self, ctx: MetricContext) -> float:
        p = _histogram(_real(ctx)[1], ctx) + SMOOTHING
        q = _histogram(_samples(ctx)[1], ctx) + SMOOTHING
        p, q = p / p.sum(), q / q.sum()
        return float(np.sum(p * np.log(p / q)))


class Precision(Metric):
    name = "knn-precision"
    higher_is_better = True
    description = "share of samples inside the real test images' k=5 NN manifold (judge features): quality"

    def compute(self, ctx: MetricContext) -> float:
        return knn_coverage(_real(ctx)[0], _samples(ctx)[0])


class Recall(Metric):
    name = "knn-recall"
    family = "diversity"
    higher_is_better = True
    description = "share of real test images inside the samples' k=5 NN manifold (judge features): coverage"

    def compute(self, ctx: MetricContext) -> float:
        return knn_coverage(_samples(ctx)[0], _real(ctx)[0])


class JudgeAccuracy(Metric):
    name = "judge-accuracy"
    higher_is_better = True
    description = "the breed judge's accuracy on the real held-out test images (trust in the other metrics)"

    def compute(self, ctx: MetricContext) -> float:
        return float(_judge(ctx).test_accuracy)


class ClassConsistency(Metric):
    name = "class-consistency"
    higher_is_better = True
    description = "share of a conditional model's samples the judge assigns to the breed they were drawn for"

    def compute(self, ctx: MetricContext) -> float:
        if ctx.sample_labels is None:
            return float("nan")
        return float(np.mean(_samples(ctx)[1] == ctx.sample_labels))


class SamplingBias(Metric):
    name = "sampling-bias"
    higher_is_better = True
    description = "λ = 1/(1+w) of the samples' classifier-free guidance w (1: unguided; Alemohammad et al. 2024)"

    def compute(self, ctx: MetricContext) -> float:
        return float(getattr(ctx.policy, "sampling_bias", float("nan")))


class SampleGrid(Metric):
    name = "sample-grid"
    higher_is_better = True
    description = "writes artifacts/gNNNNN_grid.png (8×8 samples, ordered by judged breed); the value is how many it shows"

    def compute(self, ctx: MetricContext) -> float:
        shown = ctx.samples[: GRID_SIDE * GRID_SIDE]
        order = np.argsort(_samples(ctx)[1][: len(shown)], kind="stable")
        png = grid_png(shown[order])
        atomic_write_bytes(ctx.artifact_dir / f"g{ctx.generation:05d}_grid.png", png)
        return float(len(shown))


def grid_png(images: np.ndarray, side: int = GRID_SIDE) -> bytes:
    """Up to side² images N×C×H×W in [0, 1] as a PNG grid, enlarged to ~512 px with nearest pixels."""
    from PIL import Image

    n, c, h, w = images.shape
    canvas = np.ones((side * h, side * w, 3), dtype=np.float32)
    for i, image in enumerate(images[: side * side]):
        r, col = divmod(i, side)
        canvas[r * h : (r + 1) * h, col * w : (col + 1) * w] = np.broadcast_to(image.transpose(1, 2, 0), (h, w, 3))
    scale = max(1, 512 // (side * max(h, w)))
    im = Image.fromarray(np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8))
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    im.save(buffer, format="PNG")
    return buffer.getvalue()


METRICS = (FrechetDistance, RareBreedRetention, RareBreedShare, VanishedBreeds, UnrecognisedShare, BreedKL, Precision, Recall,
           JudgeAccuracy, ClassConsistency, SamplingBias, SampleGrid)
