"""Resolve a RunConfig into the objects a chain needs, validating every name and option up front."""

from __future__ import annotations

from dataclasses import dataclass

from collapsebench.errors import ConfigError, UnknownNameError
from collapsebench.experiment.config import RunConfig
from collapsebench.experiment.data import DataSource
from collapsebench.experiment.metrics import FAMILIES, Metric
from collapsebench.experiment.mitigations import Mitigation
from collapsebench.experiment.models import ModelFamily
from collapsebench.experiment.options import Options, parse_options
from collapsebench.experiment.tracks import Track
from collapsebench.plugin.registry import registries, unknown_message


@dataclass(frozen=True)
class Components:
    """Everything a chain of ``config`` uses; built once per process."""

    config: RunConfig
    track: type[Track]
    family: ModelFamily
    data_source: DataSource
    mitigation: Mitigation
    metrics: tuple[Metric, ...]
    families: dict[str, str]
    policy: Options

    @property
    def vectorized(self) -> bool:
        """Whether the family fits many chains at once (then all seeds run in one process)."""
        return type(self.family).fit_many is not ModelFamily.fit_many


def resolve(config: RunConfig) -> Components:
    regs = registries()
    track = regs.tracks.get(config.track)
    family_cls = regs.models.get(config.model)
    if family_cls.track != config.track:
        raise UnknownNameError(unknown_message("model", config.model, regs.models_of(config.track)))
    where = f"{config.model}"
    family = family_cls(parse_options(family_cls.Options, config.options, f"options of model '{where}'"))
    policy = parse_options(family_cls.SamplingPolicy, config.sampling, f"sampling policy of model '{where}'")
    family.check_policy(policy)
    source_name = family_cls.data_source or track.data_source
    if source_name is None:
        raise ConfigError(f"Neither model '{config.model}' nor track '{config.track}' names a data source.")
    source_cls = regs.data_sources.get(source_name)
    source = source_cls(parse_options(source_cls.Options, config.data, f"data options of '{source_name}'"))
    mitigation = regs.mitigation(config.mitigation)
    mitigation.check()
    metric_names = family_cls.metrics if family_cls.metrics is not None else track.metrics
    metrics = tuple(regs.metrics.get(name)() for name in metric_names)
    families = dict(family_cls.families if family_cls.families is not None else track.families)
    missing = [f for f in FAMILIES if families.get(f) not in metric_names]
    if missing:
        raise ConfigError(
            f"Model '{config.model}' does not map the standard families {missing} to one of its metrics; "
            "set `families` on its ModelFamily or Track."
        )
    return Components(config, track, family, source, mitigation, metrics, families, policy)
