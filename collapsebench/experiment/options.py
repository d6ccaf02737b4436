"""Typed option schemas for plugin components; unknown keys are errors, with suggestions."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from collapsebench.errors import ConfigError


class Options(BaseModel):
    """Base class for a component's options (model, data source, sampling policy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_options(schema: type[Options], values: dict[str, Any], where: str) -> Options:
    """Validate ``values`` against ``schema``; a bad key or value becomes a one-line ConfigError."""
    try:
        return schema(**values)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, schema, where)) from None


def describe_validation_error(exc: ValidationError, schema: type[BaseModel], where: str) -> str:
    """One line for the first problem pydantic found, naming the fix."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    allowed = sorted(schema.model_fields)
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return f"Unknown key '{key}' in {where}.{hint} Allowed: {', '.join(allowed) or 'none'}."
    return f"Invalid value for '{key}' in {where}: {err['msg']} (got {err.get('input')!r})."
