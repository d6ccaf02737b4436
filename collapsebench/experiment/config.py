"""Run and sweep configuration: declarative files (TOML or YAML), presets, CLI overrides.

A sweep is a grid: models × mitigations × seeds. Settings given at the top of a sweep apply to
every model; a ``[models.<name>]`` table overrides them for that model. Unknown keys are errors.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from collapsebench.errors import ConfigError
from collapsebench.experiment.options import describe_validation_error

InitPolicy = Literal["scratch", "base", "previous"]
CollapsePolicy = Literal["stop", "continue"]


class StrictSettings(BaseModel):
    """Settings that refuse unknown keys (a typo is an error, not a default) and never change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ChainSettings(StrictSettings):
    """How each chain runs; ``data``, ``options`` and ``sampling`` are validated by the components."""

    generations: int = Field(10, ge=0, description="last generation index G: generations 0..G are run")
    init: InitPolicy = "scratch"
    on_collapse: CollapsePolicy = "stop"
    data: dict[str, Any] = {}
    options: dict[str, Any] = {}
    sampling: dict[str, Any] = {}


class ModelOverrides(StrictSettings):
    """Per-model overrides inside a sweep; unset fields inherit the sweep's, tables are merged."""

    generations: int | None = Field(None, ge=0)
    init: InitPolicy | None = None
    on_collapse: CollapsePolicy | None = None
    data: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    sampling: dict[str, Any] | None = None


class RunConfig(ChainSettings):
    """One model under one mitigation, for one or more seeds (one chain per seed)."""

    track: str
    model: str
    mitigation: str = "replace"
    seeds: list[int] = [0]

    def identity(self) -> dict[str, Any]:
        """What makes two chains comparable: everything but the seeds and the chain length."""
        return self.model_dump(exclude={"seeds", "generations"})

    def config_hash(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    def run_group(self) -> str:
        """The folder under ``<results>/<track>/`` that holds this config's seeds."""
        mitigation = self.mitigation.replace(":", "-")
        return f"{self.model}__{mitigation}__{self.config_hash()}"


class SweepConfig(ChainSettings):
    """A grid of runs over models × mitigations × seeds."""

    track: str
    models: dict[str, ModelOverrides]
    mitigations: list[str] = ["replace"]
    seeds: list[int] = [0]

    def runs(self) -> list[RunConfig]:
        base = self.model_dump(exclude={"models", "mitigations", "seeds", "track"})
        out = []
        for model, overrides in self.models.items():
            settings = dict(base)
            for key, value in overrides.model_dump(exclude_none=True).items():
                settings[key] = {**base[key], **value} if isinstance(value, dict) else value
            for mitigation in self.mitigations:
                out.append(
                    RunConfig(track=self.track, model=model, mitigation=mitigation, seeds=self.seeds, **settings)
                )
        return out


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a .toml, .yaml or .yml file into a dict, with a one-line error when it is malformed."""
    if not path.is_file():
        raise ConfigError(f"Config file '{path}' does not exist; give the path of a .toml or .yaml file.")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"Config file '{path}' must end in .toml, .yaml or .yml.")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"Config file '{path}' is malformed: {first}. Fix its syntax.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Config file '{path}' must hold a table of settings, not {type(data).__name__}.")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides; values are parsed as YAML (``seeds=[0,1]``, ``n=5``)."""
    data = json.loads(json.dumps(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"Override '{item}' must look like key=value, e.g. generations=20.")
        value = yaml.safe_load(raw) if raw else ""
        target = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = target.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override '{item}': '{part}' is not a table.")
            target = node
        target[leaf] = value
    return data


def parse_sweep(data: dict[str, Any], where: str) -> SweepConfig:
    try:
        return SweepConfig(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, _schema_for(exc, SweepConfig), where)) from None


def parse_run(data: dict[str, Any], where: str) -> RunConfig:
    try:
        return RunConfig(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, RunConfig, where)) from None


def _schema_for(exc: ValidationError, top: type[BaseModel]) -> type[BaseModel]:
    loc = exc.errors()[0]["loc"]
    return ModelOverrides if len(loc) > 2 and loc[0] == "models" else top
