"""Population configuration: P members evolving together under each mixture (``collapsebench population``).

Members share the data and the chain settings of ``ChainSettings``; each may override its model,
options, sampling policy and init policy.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import Field, ValidationError, field_validator

from collapsebench.errors import ConfigError
from collapsebench.experiment.config import (
    ChainSettings,
    InitPolicy,
    RunConfig,
    StrictSettings,
)
from collapsebench.experiment.options import describe_validation_error

POPULATION_ID_EXCLUDES = {"mixtures", "seeds", "generations", "headline"}
"""What may change without making a population another experiment (its results are resumed or extended)."""


class PopulationMember(StrictSettings):
    """One member of a population: its model family and what it overrides (never the shared data)."""

    model: str
    init: InitPolicy | None = None
    options: dict[str, Any] = {}
    sampling: dict[str, Any] = {}


class PopulationConfig(ChainSettings):
    """P members evolving together under each mixture, for each seed (``collapsebench population``).

    Each mixture (``self:<r>``, ``cross:<r>``, ``population:<r>`` or explicit weights, see
    ``collapsebench.population.mixture``) is one population run; every member of it is stored as an ordinary
    run whose mitigation names the mixture, the member and the population id.
    """

    track: str
    members: dict[str, PopulationMember] = Field(min_length=2)
    mixtures: list[str] = Field(["self:0.1", "cross:0.1", "population:0.1"], min_length=1)
    seeds: list[int] = [0]
    headline: str | None = Field(None, description="family or metric the report leads with (default: the track's)")

    @field_validator("members")
    @classmethod
    def _member_names(cls, members: dict[str, PopulationMember]) -> dict[str, PopulationMember]:
        for name in members:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or name == "real":
                raise ValueError(f"member name '{name}' must be letters, digits, '.', '_' or '-' (and not 'real')")
        return members

    def member_config(self, name: str, mitigation: str) -> RunConfig:
        """Member ``name`` as a run config whose mitigation is ``mitigation``."""
        member = self.members[name]
        base = self.model_dump(exclude={"members", "mixtures", "headline"})
        settings = {**base, "init": member.init or self.init}
        settings["options"] = {**self.options, **member.options}
        settings["sampling"] = {**self.sampling, **member.sampling}
        return RunConfig(model=member.model, mitigation=mitigation, **settings)

    def population_id(self) -> str:
        """A short hash of the members (names, models, options, shared settings); not of mixtures or seeds."""
        blob = json.dumps(self.model_dump(exclude=POPULATION_ID_EXCLUDES), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:8]


def parse_population(data: dict[str, Any], where: str) -> PopulationConfig:
    """A population from raw settings; a bad key or value becomes a one-line ConfigError naming it."""
    try:
        return PopulationConfig(**data)
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        schema = PopulationMember if len(loc) > 2 and loc[0] == "members" else PopulationConfig
        raise ConfigError(describe_validation_error(exc, schema, where)) from None
