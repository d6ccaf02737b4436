"""An ``evaluate`` module for the diversity family: distinct-n of token blocks, as the text track computes it.

Load it offline with ``evaluate.load(collapsebench.publish.evaluate_adapters.module_path("distinct_n"))``.
"""

import datasets
import evaluate
from collapsebench_text.metrics import Distinct1, Distinct2, Distinct2Ratio, Distinct3

from collapsebench import SHUMAILOV_2024, bibliography, compute_on_samples, harness_bibtex

_INPUTS = """
Args:
    predictions: token-id blocks of a generation's samples (lists of ints of one length).
    references: as many real token-id blocks.
Returns:
    distinct-1, distinct-2, distinct-3: distinct n-grams ÷ n-grams of the predictions (n-grams do not cross blocks);
    distinct-2-ratio: distinct-2 of the predictions ÷ distinct-2 of the references (1 = as diverse).
"""


class DistinctN(evaluate.Metric):
    """collapsebench's distinct-n metrics (``collapsebench_text.metrics``) behind the ``evaluate`` API."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Diversity of generated token blocks: distinct n-grams, absolute and relative to real text.",
            citation=bibliography(SHUMAILOV_2024, harness_bibtex()),
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("int64")), "references": datasets.Sequence(datasets.Value("int64"))}
            ),
        )

    def _compute(self, predictions: list[list[int]], references: list[list[int]]) -> dict[str, float]:
        return compute_on_samples([Distinct1, Distinct2, Distinct3, Distinct2Ratio], predictions, references, truth={})
