"""Mitigations build each generation's training set from real data and the synthetic history.

They only select and concatenate Samples, so one implementation serves every modality. A
mitigation is named ``name`` or ``name:param`` (``retain:0.1``); the registry parses the param.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from collapsebench import hookimpl
from collapsebench.errors import ConfigError
from collapsebench.experiment.data import RealData
from collapsebench.experiment.samples import Samples

Scorer = Callable[[np.ndarray], np.ndarray]
"""Per-sample score, higher is better (the generation-0 model's log-likelihood)."""


class Mitigation(ABC):
    """Builds ``train_set_g`` for g >= 1 (generation 0 always trains on ``real.train``).

    ``history_window`` is how many of the latest synthetic sets ``build`` reads (None: all), so
    the chain keeps no more than that on disk. ``n`` is the size of the real train pool.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    param_required: ClassVar[bool] = False
    history_window: ClassVar[int | None] = 1

    def __init__(self, param: str | None = None) -> None:
        if param is not None and not self.param_required:
            raise ConfigError(f"Mitigation '{self.name}' takes no parameter; write '{self.name}'.")
        if param is None and self.param_required:
            raise ConfigError(f"Mitigation '{self.name}' needs a fraction: write e.g. '{self.name}:0.1'.")
        self.param = param

    @property
    def spec(self) -> str:
        return self.name if self.param is None else f"{self.name}:{self.param}"

    def fraction(self) -> float:
        """The parameter as a fraction in (0, 1]."""
        try:
            value = float(self.param)  # type: ignore[arg-type]
        except ValueError:
            value = math.nan
        if not 0 < value <= 1:
            raise ConfigError(
                f"Mitigation '{self.spec}': the parameter must be a fraction in (0, 1], e.g. '{self.name}:0.1'."
            )
        return value

    def check(self) -> None:
        """Validate the parameter before any chain starts; override for non-fraction parameters."""
        if self.param_required:
            self.fraction()

    def samples_needed(self, n: int) -> int:
        """How many synthetic samples the chain draws per generation."""
        return n

    @abstractmethod
    def build(
        self, generation: int, real: RealData, history: list[Samples], rng: np.random.Generator, scorer: Scorer
    ) -> Samples:
        """The training set for ``generation`` >= 1; ``history[-1]`` is the newest synthetic set."""


class Replace(Mitigation):
    name = "replace"
    description = "train only on the previous generation's samples (the paper's default)"

    def build(self, generation, real, history, rng, scorer):
        return history[-1]


class Retain(Mitigation):
    name = "retain"
    description = "keep a random fraction p of the original real data, the rest synthetic (paper: 0.1)"
    param_required = True

    def build(self, generation, real, history, rng, scorer):
        n = len(real.train)
        n_real = round(self.fraction() * n)
        return Samples.concat(
            [real.train.subsample(n_real, rng), history[-1].subsample(n - n_real, rng)]
        )


class Accumulate(Mitigation):
    name = "accumulate"
    description = "train on all real data plus every synthetic set so far (Gerstgrasser et al.)"
    history_window = None

    def build(self, generation, real, history, rng, scorer):
        return Samples.concat([real.train, *history])


class AccumulateSubsample(Mitigation):
    name = "accumulate-subsample"
    description = "a fixed-size random subset of the accumulated real + synthetic pool"
    history_window = None

    def build(self, generation, real, history, rng, scorer):
        return Samples.concat([real.train, *history]).subsample(len(real.train), rng)


class Fresh(Mitigation):
    name = "fresh"
    description = "a fraction p of fresh real samples (never seen before) each generation"
    param_required = True

    def build(self, generation, real, history, rng, scorer):
        if real.fresh is None:
            raise ConfigError(
                "Mitigation 'fresh' needs a data source that can draw new real samples; "
                "this one cannot: use 'retain' instead."
            )
        n = len(real.train)
        n_fresh = round(self.fraction() * n)
        return Samples.concat([real.fresh(n_fresh, rng), history[-1].subsample(n - n_fresh, rng)])


class Filter(Mitigation):
    name = "filter"
    description = "draw n/q samples, keep the n best scored by the generation-0 model"
    param_required = True

    def check(self) -> None:
        """Validate the parameter before any chain starts; override for non-fraction parameters."""
        if self.param_required:
            self.fraction()

    def samples_needed(self, n: int) -> int:
        return math.ceil(n / self.fraction())

    def build(self, generation, real, history, rng, scorer):
        latest = history[-1]
        n = len(real.train)
        scores = np.asarray(scorer(latest.data), dtype=np.float64)
        scores = np.where(np.isnan(scores), -np.inf, scores)
        best = np.argsort(-scores, kind="stable")[:n]
        return latest.take(np.sort(best))


BUILTIN_MITIGATIONS = (Replace, Retain, Accumulate, AccumulateSubsample, Fresh, Filter)


@hookimpl
def register_mitigations(register):
    for cls in BUILTIN_MITIGATIONS:
        register(cls)
