"""An ``evaluate`` module for the tails family on points: mass beyond 2σ and 3σ, as the density track computes it.

Load it offline with ``evaluate.load(collapsebench.publish.evaluate_adapters.module_path("gaussian_tails"))``.
"""

import datasets
import evaluate
import numpy as np
from collapsebench_density.gaussian import TailMass2Sigma, TailMass3Sigma

from collapsebench import SHUMAILOV_2024, bibliography, compute_on_samples, harness_bibtex

_INPUTS = """
Args:
    predictions: a generation's samples, points of one dimension d.
    references: as many real points.
    mean, cov: the true Gaussian (d and d×d); default: the mean and MLE covariance of the references.
Returns:
    tail-2sigma, tail-3sigma: share of predictions beyond Mahalanobis radius 2 (3) of that Gaussian ÷ the
        Gaussian's own mass there, P(χ²_d > k²) (1 = tails kept, 0 = gone).
"""


class GaussianTails(evaluate.Metric):
    """collapsebench's tail-mass metrics (``collapsebench_density.gaussian``) behind the ``evaluate`` API."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="How much of a Gaussian's 2σ and 3σ tails survives in generated points.",
            citation=bibliography(SHUMAILOV_2024, harness_bibtex()),
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("float64")), "references": datasets.Sequence(datasets.Value("float64"))}
            ),
        )

    def _compute(
        self,
        predictions: list[list[float]],
        references: list[list[float]],
        mean: list[float] | None = None,
        cov: list[list[float]] | None = None,
    ) -> dict[str, float]:
        real = np.asarray(references, dtype=np.float64)
        truth = {
            "mean": real.mean(axis=0) if mean is None else np.asarray(mean, dtype=np.float64),
            "cov": np.atleast_2d(np.cov(real, rowvar=False, ddof=0)) if cov is None else np.atleast_2d(cov),
        }
        return compute_on_samples([TailMass2Sigma, TailMass3Sigma], predictions, references, truth=truth)
