"""Models and model families: what a track fits, samples from and scores."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from collapsebench.errors import DegenerateFit
from collapsebench.experiment.data import RealData
from collapsebench.experiment.options import Options
from collapsebench.experiment.samples import Labelled, Samples


class Model(ABC):
    """A fitted generative model: sample, score, and serialise to plain arrays."""

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator, policy: Options, real: RealData) -> np.ndarray | Labelled:
        """``n`` samples with a leading sample dimension; ``real`` supplies prompts where needed.

        A class-conditional model returns ``Labelled(data, labels)`` so the labels train its successor.
        """

    @abstractmethod
    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """Per-sample log-likelihood (or a bound / score where exact likelihood is unavailable)."""

    @abstractmethod
    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild the model, as named arrays (saved without pickle)."""


class ModelFamily(ABC):
    """Fits models of one kind. Override ``fit_many``/``sample_many`` to vectorise over chains.

    ``data_source``, ``metrics`` and ``families`` say what the family is evaluated on; they default
    to the track's when left None.
    """

    name: ClassVar[str]
    track: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[Options]] = Options
    SamplingPolicy: ClassVar[type[Options]] = Options
    data_source: ClassVar[str | None] = None
    metrics: ClassVar[tuple[str, ...] | None] = None
    families: ClassVar[dict[str, str] | None] = None

    def __init__(self, options: Options) -> None:
        self.options = options

    @abstractmethod
    def fit(self, train: Samples, init: Model | None, rng: np.random.Generator) -> Model:
        """Fit on ``train`` (from ``init`` when given); raise DegenerateFit when it cannot."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, np.ndarray]) -> Model:
        """Rebuild a model from ``Model.state_dict()``."""

    def check_policy(self, policy: Options) -> None:
        """Raise ConfigError when ``policy`` cannot work with these options, before any training is spent."""

    def base(self, real: RealData) -> Model | None:
        """The pretrained base for the ``base`` init policy; None means fit from scratch."""
        return None

    def fit_many(
        self, trains: list[Samples], inits: list[Model | None], rngs: list[np.random.Generator]
    ) -> list[Model | DegenerateFit]:
        """Fit one model per chain; a chain whose fit fails gets its DegenerateFit back."""
        out: list[Model | DegenerateFit] = []
        for train, init, rng in zip(trains, inits, rngs):
            try:
                out.append(self.fit(train, init, rng))
            except DegenerateFit as exc:
                out.append(exc)
        return out

    def sample_many(
        self,
        models: list[Model],
        n: int,
        rngs: list[np.random.Generator],
        policy: Options,
        reals: list[RealData],
    ) -> list[np.ndarray | Labelled]:
        """Sample ``n`` from each chain's model."""
        return [m.sample(n, rng, policy, real) for m, rng, real in zip(models, rngs, reals)]
