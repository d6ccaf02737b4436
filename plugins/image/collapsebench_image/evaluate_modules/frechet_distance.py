"""An ``evaluate`` module for feature sets: Fréchet distance and k-NN precision/recall, as the image track computes them.

Load it offline with ``evaluate.load(collapsebench.publish.evaluate_adapters.module_path("frechet_distance"))``.
The features are yours (any embedding of samples and real data); the image track uses its breed judge's.
"""

import datasets
import evaluate
import numpy as np
from collapsebench_image.metrics import K_NEIGHBOURS, frechet_distance, knn_coverage

from collapsebench import SHUMAILOV_2024, bibliography, harness_bibtex

_INPUTS = """
Args:
    predictions: feature vectors of a generation's samples (one dimension d).
    references: as many feature vectors of real data.
    k: neighbours that set each point's ball for precision/recall (default 5).
Returns:
    frechet-distance: ‖μp − μr‖² + tr(Σp + Σr − 2(ΣpΣr)^½) between Gaussians fitted to the two sets (0 = same);
    knn-precision: share of predictions inside the references' k-NN balls (quality);
    knn-recall: share of references inside the predictions' k-NN balls (coverage, diversity).
"""


class FrechetDistance(evaluate.Metric):
    """collapsebench's feature-space metrics (``collapsebench_image.metrics``) behind the ``evaluate`` API."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Distance between generated and real feature sets: Fréchet distance and k-NN precision/recall.",
            citation=bibliography(SHUMAILOV_2024, harness_bibtex()),
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("float64")), "references": datasets.Sequence(datasets.Value("float64"))}
            ),
        )

    def _compute(self, predictions: list[list[float]], references: list[list[float]], k: int = K_NEIGHBOURS) -> dict[str, float]:
        samples, real = np.asarray(predictions, dtype=np.float64), np.asarray(references, dtype=np.float64)
        return {
            "frechet-distance": frechet_distance(samples, real),
            "knn-precision": knn_coverage(real, samples, k),
            "knn-recall": knn_coverage(samples, real, k),
        }
