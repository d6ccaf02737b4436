"""An ``evaluate`` module for the tails family: rare-token retention of token blocks, as the text track computes it.

Load it offline with ``evaluate.load(collapsebench.publish.evaluate_adapters.module_path("rare_token_retention"))``.
"""

import datasets
import evaluate
from collapsebench_text.metrics import RareTokenRetention, VanishedTypes

from collapsebench import SHUMAILOV_2024, bibliography, compute_on_samples, harness_bibtex

_INPUTS = """
Args:
    predictions: token-id blocks of a generation's samples (lists of ints of one length).
    references: as many real token-id blocks.
    vocab_size: the tokenizer's vocabulary size (default: the largest id seen + 1).
Returns:
    rare-token-retention: share of prediction tokens from the references' rarest types (those holding 10% of
        their tokens) ÷ the references' share (1 = kept, 0 = the tail is gone);
    vanished-types: token types of the references that never occur in the predictions.
"""


class RareTokenRetentionMetric(evaluate.Metric):
    """collapsebench's tails metrics for text (``collapsebench_text.metrics``) behind the ``evaluate`` API."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="How much of real text's rare-token tail survives in generated token blocks.",
            citation=bibliography(SHUMAILOV_2024, harness_bibtex()),
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("int64")), "references": datasets.Sequence(datasets.Value("int64"))}
            ),
        )

    def _compute(self, predictions: list[list[int]], references: list[list[int]], vocab_size: int | None = None) -> dict[str, float]:
        vocab = vocab_size or 1 + max(max(map(max, predictions)), max(map(max, references)))
        return compute_on_samples([RareTokenRetention, VanishedTypes], predictions, references, truth={"vocab_size": vocab})
