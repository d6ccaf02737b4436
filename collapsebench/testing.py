"""pytest fixtures for collapsebench plugin authors, loaded through the ``pytest11`` entry point.

- ``collapsebench_plugin(plugin)`` registers a plugin object or module for one test;
- ``tiny_track`` registers a 1-D Gaussian track that runs a whole chain in milliseconds, so a
  mitigation or metric plugin can be tested end to end without the real tracks;
- ``results_dir`` is a fresh results folder.

The plugin manager and the registries are process-wide: every fixture here calls
``reset_plugins()`` at teardown, so the next test sees the entry-point plugins only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pytest

from collapsebench import hookimpl
from collapsebench.errors import DegenerateFit
from collapsebench.experiment.config import RunConfig
from collapsebench.experiment.data import DataSource, RealData, fingerprint_arrays
from collapsebench.experiment.metrics import Metric, MetricContext
from collapsebench.experiment.models import Model, ModelFamily
from collapsebench.experiment.options import Options
from collapsebench.experiment.samples import Samples
from collapsebench.experiment.tracks import Track
from collapsebench.plugin.loader import (
    get_plugin_manager,
    register_plugin,
    reset_plugins,
)
from collapsebench.plugin.registry import reset_registries

TINY_TRACK = "tiny"


class TinyNormalOptions(Options):
    n: int = 64
    n_test: int = 256
    mean: float = 0.0
    std: float = 1.0


class TinyNormal(DataSource):
    """Real data: ``n`` train and ``n_test`` test points from N(mean, std²), shape N×1."""

    name = "tiny-normal"
    description = "1-D normal data for plugin tests (collapsebench.testing)"
    Options = TinyNormalOptions

    def load(self, seed: int) -> RealData:
        o = self.options
        rng = np.random.default_rng(seed)
        train = rng.normal(o.mean, o.std, size=(o.n, 1))
        test = rng.normal(o.mean, o.std, size=(o.n_test, 1))

        def fresh(n: int, fresh_rng: np.random.Generator) -> Samples:
            return Samples.real(fresh_rng.normal(o.mean, o.std, size=(n, 1)))

        return RealData(
            train=Samples.real(train),
            test=Samples.real(test),
            fingerprint=fingerprint_arrays(train, test),
            fresh=fresh,
            truth={"mean": o.mean, "std": o.std},
            provenance={"source": self.name, "seed": seed},
        )


@dataclass(frozen=True)
class TinyGaussianModel(Model):
    """N(mean, std²) in one dimension."""

    mean: float
    std: float

    def sample(self, n: int, rng: np.random.Generator, policy: Options, real: RealData) -> np.ndarray:
        return rng.normal(self.mean, self.std * policy.temperature, size=(n, 1))  # type: ignore[attr-defined]

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        z = (x[:, 0] - self.mean) / self.std
        return -0.5 * z**2 - np.log(self.std) - 0.5 * np.log(2 * np.pi)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"mean": np.array(self.mean), "std": np.array(self.std)}


class TinyGaussianOptions(Options):
    ddof: int = 0


class TinySampling(Options):
    temperature: float = 1.0


class TinyGaussian(ModelFamily):
    """Maximum-likelihood (ddof=0) or unbiased (ddof=1) fit of a 1-D Gaussian."""

    name = "tiny-gaussian"
    track = TINY_TRACK
    description = "1-D Gaussian fitted by moments, for plugin tests (collapsebench.testing)"
    Options = TinyGaussianOptions
    SamplingPolicy = TinySampling

    def fit(self, train: Samples, init: Model | None, rng: np.random.Generator) -> Model:
        std = float(np.std(train.data[:, 0], ddof=self.options.ddof))  # type: ignore[attr-defined]
        if not std > 0:
            raise DegenerateFit(f"variance {std**2} of {len(train)} training points")
        return TinyGaussianModel(float(np.mean(train.data[:, 0])), std)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Model:
        return TinyGaussianModel(float(state["mean"]), float(state["std"]))


class TinyNLL(Metric):
    name = "tiny-nll"
    family = "fidelity"
    higher_is_better = False
    description = "mean negative log-likelihood of the real test data under model_g"

    def compute(self, ctx: MetricContext) -> float:
        return float(-np.mean(ctx.model.log_likelihood(ctx.real.test.data)))


class TinyTails(Metric):
    name = "tiny-tails"
    family = "tails"
    higher_is_better = True
    description = "share of samples beyond 2σ of the real test data, relative to the test data's"

    def compute(self, ctx: MetricContext) -> float:
        test = ctx.real.test.data[:, 0]
        mean, std = test.mean(), test.std()
        real_share = np.mean(np.abs(test - mean) > 2 * std)
        return float(np.mean(np.abs(ctx.samples[:, 0] - mean) > 2 * std) / real_share)


class TinyStdRatio(Metric):
    name = "tiny-std-ratio"
    family = "diversity"
    higher_is_better = True
    description = "standard deviation of the samples over that of the real test data"

    def compute(self, ctx: MetricContext) -> float:
        return float(np.std(ctx.samples[:, 0]) / np.std(ctx.real.test.data[:, 0]))


class TinyW2(Metric):
    name = "tiny-w2"
    family = "drift"
    higher_is_better = False
    description = "closed-form W2 between model_g and the true Gaussian"

    def compute(self, ctx: MetricContext) -> float:
        model, truth = ctx.model, ctx.real.truth
        return float(np.hypot(model.mean - truth["mean"], model.std - truth["std"]))  # type: ignore[attr-defined]


TINY_METRICS = (TinyNLL, TinyTails, TinyStdRatio, TinyW2)


class TinyTrack(Track):
    name = TINY_TRACK
    description = "1-D Gaussian chains in milliseconds, for plugin tests (collapsebench.testing)"
    data_source = TinyNormal.name
    metrics = tuple(m.name for m in TINY_METRICS)
    families = {m.family: m.name for m in TINY_METRICS}
    headline = "fidelity"
    presets = {"quick": {"models": {TinyGaussian.name: {}}, "seeds": [0, 1], "generations": 3}}


class TinyTrackPlugin:
    """The plugin that ``tiny_track`` registers."""

    @hookimpl
    def register_tracks(self, register: Callable[[type], None]) -> None:
        register(TinyTrack)

    @hookimpl
    def register_data_sources(self, register: Callable[[type], None]) -> None:
        register(TinyNormal)

    @hookimpl
    def register_models(self, register: Callable[[type], None]) -> None:
        register(TinyGaussian)

    @hookimpl
    def register_metrics(self, register: Callable[[type], None]) -> None:
        for metric in TINY_METRICS:
            register(metric)


@dataclass(frozen=True)
class TinyTrackNames:
    """What ``tiny_track`` registered: pass these to a RunConfig or the command line."""

    track: str
    model: str
    data_source: str
    metrics: tuple[str, ...]
    families: dict[str, str]

    def run_config(self, **settings: Any) -> RunConfig:
        """A ``RunConfig`` on the tiny track (``generations=3`` unless given)."""
        return RunConfig(**{"track": self.track, "model": self.model, "generations": 3, **settings})


class PluginRegistrar(Protocol):
    """The ``collapsebench_plugin`` fixture's value."""

    def __call__(self, plugin: object, name: str | None = None) -> str: ...


@pytest.fixture
def collapsebench_plugin() -> Iterator[PluginRegistrar]:
    """Register plugin objects or modules (with ``@hookimpl`` functions) for this test only.

    Returns the name the plugin is registered under; one that an entry point already loaded is
    left as it is. A misspelt hook raises ``pluggy.PluginValidationError``. The registries are
    rebuilt on next use, so they include the new components.
    """

    def register(plugin: object, name: str | None = None) -> str:
        pm = get_plugin_manager()
        if not pm.is_registered(plugin):
            register_plugin(pm, plugin, name)
        reset_registries()
        registered = pm.get_name(plugin)
        assert registered is not None
        return registered

    yield register
    reset_plugins()


@pytest.fixture
def tiny_track(collapsebench_plugin: PluginRegistrar) -> TinyTrackNames:
    """Register the tiny 1-D Gaussian track; a 3-generation chain on it takes milliseconds."""
    collapsebench_plugin(TinyTrackPlugin(), name="collapsebench.testing.tiny")
    return TinyTrackNames(
        track=TinyTrack.name,
        model=TinyGaussian.name,
        data_source=TinyNormal.name,
        metrics=TinyTrack.metrics,
        families=dict(TinyTrack.families),
    )


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """An empty results folder for this test (the ``--results-dir`` of a run)."""
    path = tmp_path / "results"
    path.mkdir()
    return path
