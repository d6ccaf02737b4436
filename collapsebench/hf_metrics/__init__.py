"""Hugging Face ``evaluate`` adapters for the standard metric families.

Each other ``*.py`` file here is a local ``evaluate`` module (one ``evaluate.Metric`` subclass),
loaded with ``evaluate.load(module_path("distinct_n"))``; set ``HF_EVALUATE_OFFLINE=1`` and
``HF_HUB_OFFLINE=1`` and nothing reaches for the network. The adapters are thin: each delegates to
the very metric classes or functions a chain runs, so an adapter and a leaderboard row agree to
the last bit. ``evaluate`` is imported only inside those files (install ``collapsebench[hf]``);
the harness itself never imports it.

The text adapters need the text track plugin (``collapsebench-text``), the feature-space one the
image plugin, the Gaussian tails one the density plugin.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from collapsebench.data import RealData, fingerprint_arrays
from collapsebench.errors import UnknownNameError
from collapsebench.metrics import Metric, MetricContext
from collapsebench.samples import Samples

HERE = Path(__file__).resolve().parent

MODULES = {
    "distinct_n": "diversity: distinct-1/2/3 of token blocks, and distinct-2 relative to the references'",
    "unigram_kl": "drift: KL(references ‖ predictions) of smoothed unigram distributions, and bigram JS",
    "rare_token_retention": "tails: share of the references' rarest token types in the predictions, relative",
    "gaussian_tails": "tails: mass beyond 2σ/3σ of a Gaussian (given, or fitted to the references), relative",
    "frechet_distance": "drift/fidelity: Fréchet distance and k-NN precision/recall between feature sets",
}
"""The adapters: module name → what it computes."""


def module_path(name: str) -> str:
    """The file to pass to ``evaluate.load``; an UnknownNameError naming the adapters for a bad name."""
    if name not in MODULES:
        raise UnknownNameError(f"No evaluate adapter '{name}'; the adapters are {', '.join(MODULES)}.")
    return str(HERE / f"{name}.py")


def module_paths() -> dict[str, str]:
    """Every adapter's file, by module name."""
    return {name: module_path(name) for name in MODULES}


def compute_on_samples(
    metrics: Sequence[type[Metric]], predictions: Any, references: Any, truth: dict[str, Any]
) -> dict[str, float]:
    """Run harness metrics that read only the samples and the real data.

    The predictions stand for a generation's samples, the references for the real data (both the
    train pool and the held-out split); ``truth`` is what the track's data source would supply
    (e.g. ``vocab_size``). There is no model: a metric that needs one is not for this adapter.
    """
    samples = np.asarray(predictions)
    real = np.asarray(references)
    data = RealData(
        train=Samples.real(real), test=Samples.real(real), fingerprint=fingerprint_arrays(real), truth=truth
    )
    with tempfile.TemporaryDirectory(prefix="collapsebench-hf-") as artifacts:
        ctx = MetricContext(
            generation=0, seed=0, model=None, reference=None, samples=samples,  # type: ignore[arg-type]
            train=data.train, real=data, rng=np.random.default_rng(0), artifact_dir=Path(artifacts),
        )
        return {metric.name: float(metric().compute(ctx)) for metric in metrics}
