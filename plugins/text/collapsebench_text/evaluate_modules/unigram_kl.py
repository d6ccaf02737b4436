"""An ``evaluate`` module for the drift family: unigram KL and bigram JS between token blocks, as the text track computes them.

Load it offline with ``evaluate.load(collapsebench.publish.evaluate_adapters.module_path("unigram_kl"))``.
"""

import datasets
import evaluate
from collapsebench_text.metrics import BigramJS, UnigramKL

from collapsebench import SHUMAILOV_2024, bibliography, compute_on_samples, harness_bibtex

_INPUTS = """
Args:
    predictions: token-id blocks of a generation's samples (lists of ints of one length).
    references: as many real token-id blocks.
    vocab_size: the tokenizer's vocabulary size (default: the largest id seen + 1).
Returns:
    unigram-kl: KL(references ‖ predictions) of unigram distributions smoothed by 0.5 per type, in nats (0 = same);
    bigram-js: Jensen–Shannon divergence between the bigram distributions, in nats.
"""


class UnigramKLMetric(evaluate.Metric):
    """collapsebench's token drift metrics (``collapsebench_text.metrics``) behind the ``evaluate`` API."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Drift of generated token blocks from real text: unigram KL and bigram Jensen–Shannon divergence.",
            citation=bibliography(SHUMAILOV_2024, harness_bibtex()),
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("int64")), "references": datasets.Sequence(datasets.Value("int64"))}
            ),
        )

    def _compute(self, predictions: list[list[int]], references: list[list[int]], vocab_size: int | None = None) -> dict[str, float]:
        vocab = vocab_size or 1 + max(max(map(max, predictions)), max(map(max, references)))
        return compute_on_samples([UnigramKL, BigramJS], predictions, references, truth={"vocab_size": vocab})
