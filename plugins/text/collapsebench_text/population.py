"""The text track's population settings: its homogenisation distance and ``collapsebench population`` preset."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon


def unigram_js(a: np.ndarray, b: np.ndarray) -> float:
    """Jensen–Shannon divergence (nats) between the unigram distributions of two sets of token blocks."""
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    size = int(max(a.max(initial=0), b.max(initial=0))) + 1
    p, q = np.bincount(a, minlength=size), np.bincount(b, minlength=size)
    return float(jensenshannon(p, q) ** 2)


CROSS_TINY: dict[str, Any] = {
    "members": {
        "opt-tiny": {"model": "opt"},
        "opt-tinier": {"model": "opt", "options": {"hidden": 32, "layers": 1, "heads": 2, "ffn": 128}},
    },
    "init": "base",
    "generations": 4,
    "data": {"train_blocks": 256, "test_blocks": 128},
    "options": {"model": "opt-tiny", "epochs": 2},
    "sampling": {"decoding": "sample", "temperature": 0.8},
    "mixtures": ["self:0.1", "cross:0.1", "population:0.1"],
    "seeds": [0, 1, 2],
}
"""Two opt-tiny sizes (64 wide × 2 layers, and 32 wide × 1 layer), each pretrained on the real pool as
its own base, fine-tuned from that base every generation (the paper's protocol) on 10% real blocks and
90% continuations: its own (self), the other model's (cross), or half and half (population)."""
