"""The text track: the paper's language-model experiment (Shumailov et al. 2024, Sec. "LLMs").

OPT fine-tuned on wikitext2 in blocks of 64 tokens; each later generation trains on the previous
model's 64-token continuations of every real training block. The headline is fidelity: perplexity
of model_g on real held-out text.
"""

from __future__ import annotations

from typing import Any

from collapsebench import MERITY_2016, SHUMAILOV_2024, ZHANG_2022, Track, bibliography
from collapsebench_text.metrics import METRICS, SYNTHETIC_PPL
from collapsebench_text.population import CROSS_TINY, unigram_js

MITIGATIONS = ["replace", "retain:0.1", "accumulate"]

QUICK: dict[str, Any] = {
    "track": "text",
    "models": {"opt": {}},
    "init": "base",
    "generations": 5,
    "data": {"train_blocks": 512, "test_blocks": 256},
    "options": {"model": "opt-tiny", "epochs": 2},
    "sampling": {"decoding": "sample", "temperature": 0.8},
    "mitigations": MITIGATIONS,
    "seeds": [0, 1, 2],
}
"""opt-tiny pretrained on 512 real blocks of the shared offline copy. Decoding: sampling at temperature
0.8, a mode-seeking policy like the paper's beam search, which on a 64-wide model degenerates at once
into repeated tokens. (At temperature 1 a tiny model's smoothed distribution over-generates rare
tokens, so their retention rises over generations while perplexity still worsens.)"""

PAPER: dict[str, Any] = {
    "track": "text",
    "models": {"opt": {}},
    "init": "base",
    "generations": 9,
    "data": {"source": "hub", "tokenizer": "facebook/opt-125m"},
    "options": {"model": "facebook/opt-125m", "epochs": 5, "lr": 2e-5, "batch_size": 128, "eval_batch": 32},
    "sampling": {"decoding": "beam", "num_beams": 5},
    "mitigations": ["replace", "retain:0.1"],
    "seeds": [0, 1, 2, 3, 4],
}
"""The paper's setting: OPT-125m from the hub, wikitext-2-raw-v1, 5-way beam search, 5 epochs per
generation, 10 generations, with and without 10% of the original data (the paper trains the
latter for 10 epochs: set ``options.epochs=10`` for that run). Learning rate and batch size are
ordinary OPT fine-tuning values, not taken from the paper. Needs a GPU."""


class TextTrack(Track):
    """Recursive fine-tuning of a causal LM on its own continuations of wikitext2 blocks."""

    name = "text"
    description = "OPT fine-tuned recursively on its own wikitext2 continuations (64-token blocks)"
    data_source = "wikitext2"
    metrics = tuple(m.name for m in METRICS)
    families = {
        "fidelity": "test-perplexity",
        "tails": "rare-token-retention",
        "diversity": "distinct-2-ratio",
        "drift": "unigram-kl",
    }
    headline = "fidelity"
    resources = {"cpus": 1, "gpu": False}
    histograms = {SYNTHETIC_PPL: "perplexity of generated blocks under model_0"}
    presets = {"quick": QUICK, "paper": PAPER}
    populations = {"cross-tiny": CROSS_TINY}
    pairwise_distance = unigram_js
    citation = bibliography(SHUMAILOV_2024, MERITY_2016, ZHANG_2022)
