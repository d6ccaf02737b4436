"""Everything the loaded plugins registered, as data (``collapsebench list --json``) and as text,
and the plugins themselves (``collapsebench plugins``).

The catalog is what a user reads to write a config: which models a track has, which options they
take with which defaults, which mitigations need a parameter, and which way each metric points.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python
from tabulate import tabulate

from collapsebench import __version__
from collapsebench.plugin.loader import (
    get_plugin_manager,
    load_failures,
    plugin_versions,
)
from collapsebench.plugin.registry import Registries, registries

REQUIRED = "<required>"
"""Shown as the default of an option that has none."""


def catalog() -> dict[str, list[dict[str, Any]]]:
    """Tracks, models, data sources, mitigations and metrics of all loaded plugins, JSON-safe."""
    regs = registries()
    return {
        "tracks": [_track(name, cls, regs) for name, cls in regs.tracks.items()],
        "models": [_model(name, cls, regs) for name, cls in regs.models.items()],
        "data_sources": [
            {
                "name": name,
                "plugin": regs.data_sources.owner[name],
                "description": cls.description,
                "options": option_defaults(cls.Options),
            }
            for name, cls in regs.data_sources.items()
        ],
        "mitigations": [
            {
                "name": name,
                "plugin": regs.mitigations.owner[name],
                "description": cls.description,
                "parameter": "required" if cls.param_required else "none",
                "usage": f"{name}:<param>" if cls.param_required else name,
            }
            for name, cls in regs.mitigations.items()
        ],
        "metrics": [
            {
                "name": name,
                "plugin": regs.metrics.owner[name],
                "family": cls.family,
                "higher_is_better": cls.higher_is_better,
                "direction": "↑" if cls.higher_is_better else "↓",
                "description": cls.description,
            }
            for name, cls in regs.metrics.items()
        ],
    }


def _track(name: str, cls: Any, regs: Registries) -> dict[str, Any]:
    return {
        "name": name,
        "plugin": regs.tracks.owner[name],
        "description": cls.description,
        "headline": cls.headline,
        "data_source": cls.data_source,
        "models": regs.models_of(name),
        "metrics": list(cls.metrics),
        "families": dict(cls.families),
        "presets": sorted(cls.presets),
        "population_presets": sorted(cls.populations),
        "resources": to_jsonable_python(cls.resources, fallback=str),
    }


def _model(name: str, cls: Any, regs: Registries) -> dict[str, Any]:
    track = regs.tracks.get(cls.track) if cls.track in regs.tracks else None
    return {
        "name": name,
        "plugin": regs.models.owner[name],
        "track": cls.track,
        "description": cls.description,
        # A model without its own data source uses its track's (as ``components.resolve`` does).
        "data_source": cls.data_source or (track.data_source if track else None),
        "options": option_defaults(cls.Options),
        "sampling": option_defaults(cls.SamplingPolicy),
    }


def option_defaults(schema: type[BaseModel]) -> dict[str, Any]:
    """Each option field with its default (``REQUIRED`` when it has none), JSON-safe."""
    out: dict[str, Any] = {}
    for field_name, field in schema.model_fields.items():
        default = field.get_default(call_default_factory=True)
        out[field_name] = REQUIRED if default is PydanticUndefined else to_jsonable_python(default, fallback=str)
    return out


def render_catalog(entries: dict[str, list[dict[str, Any]]]) -> str:
    """The catalog as plain-text tables, one section per kind of component."""
    sections = [
        ("Tracks", ["name", "headline", "data source", "models", "presets", "population presets", "resources", "plugin",
                    "description"],
         [[t["name"], t["headline"], t["data_source"] or "", ", ".join(t["models"]), ", ".join(t["presets"]),
           ", ".join(t["population_presets"]), _pairs(t["resources"]), t["plugin"], t["description"]] for t in entries["tracks"]]),
        ("Models", ["name", "track", "data source", "options", "sampling", "plugin", "description"],
         [[m["name"], m["track"], m["data_source"] or "", _pairs(m["options"]), _pairs(m["sampling"]),
           m["plugin"], m["description"]] for m in entries["models"]]),
        ("Data sources", ["name", "options", "plugin", "description"],
         [[d["name"], _pairs(d["options"]), d["plugin"], d["description"]] for d in entries["data_sources"]]),
        ("Mitigations", ["usage", "plugin", "description"],
         [[m["usage"], m["plugin"], m["description"]] for m in entries["mitigations"]]),
        ("Metrics (↑ higher is better, ↓ lower is better)", ["name", "family", "", "plugin", "description"],
         [[m["name"], m["family"], m["direction"], m["plugin"], m["description"]] for m in entries["metrics"]]),
    ]
    blocks = []
    for title, headers, rows in sections:
        body = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True) if rows else "(none)"
        blocks.append(f"{title}\n{body}")
    return "\n\n".join(blocks)


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def describe_plugins() -> list[dict[str, Any]]:
    """Name, version and implemented hooks of each loaded plugin, and each failure."""
    pm = get_plugin_manager()
    registries()  # run the register hooks so their failures are listed too
    rows = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        rows.append(
            {
                "name": name,
                "version": plugin_versions.get(name, __version__),
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
            }
        )
    rows += [{"name": f.name, "error": f.error, "stage": f.stage} for f in load_failures]
    return rows
