"""Per-generation random streams derived from (seed, generation, stream).

Deriving each generation's randomness from its coordinates, instead of carrying one generator
along the chain, makes a resumed chain draw exactly what an uninterrupted one would.
"""

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    DATA = 0
    BUILD = 1
    FIT = 2
    SAMPLE = 3
    METRICS = 4


def rng_for(seed: int, generation: int, stream: Stream) -> np.random.Generator:
    """The generator for one purpose at one generation of the chain with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, generation + 1, int(stream)]))


def torch_seed(rng: np.random.Generator) -> int:
    """A seed for ``torch.Generator`` drawn from a numpy generator."""
    return int(rng.integers(0, 2**62))
