"""Typed registries of everything plugins contribute, with did-you-mean errors."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import pluggy

from collapsebench.errors import CollapseBenchError, UnknownNameError
from collapsebench.experiment.data import DataSource
from collapsebench.experiment.metrics import FAMILIES, Metric
from collapsebench.experiment.mitigations import Mitigation
from collapsebench.experiment.models import ModelFamily
from collapsebench.experiment.tracks import Track
from collapsebench.plugin.loader import call_hook_per_plugin, get_plugin_manager

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Name → class for one kind of component; remembers which plugin registered each name."""

    def __init__(self, kind: str, base: type) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, T] = {}
        self.owner: dict[str, str] = {}

    def add(self, cls: T, plugin: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"register_{self.kind}s expects {self.base.__name__} subclasses, got {cls!r}")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls.__name__} needs a non-empty class attribute 'name'")
        if name in self._entries and self._entries[name] is not cls:
            raise CollapseBenchError(
                f"{self.kind} '{name}' is registered twice, by '{self.owner[name]}' and '{plugin}'; "
                "uninstall one of them or block it with COLLAPSEBENCH_BLOCK_PLUGINS."
            )
        self._entries[name] = cls
        self.owner[name] = plugin

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise UnknownNameError(unknown_message(self.kind, name, self.names()))
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._entries.items())

    def __contains__(self, name: str) -> bool:
        return name in self._entries


def unknown_message(kind: str, name: str, available: list[str], shown: str | None = None) -> str:
    close = difflib.get_close_matches(name, available, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"Unknown {kind} '{shown or name}'.{hint} Available: {', '.join(available) or 'none'}."


@dataclass
class Registries:
    tracks: Registry[type[Track]] = field(default_factory=lambda: Registry("track", Track))
    models: Registry[type[ModelFamily]] = field(default_factory=lambda: Registry("model", ModelFamily))
    data_sources: Registry[type[DataSource]] = field(default_factory=lambda: Registry("data source", DataSource))
    mitigations: Registry[type[Mitigation]] = field(default_factory=lambda: Registry("mitigation", Mitigation))
    metrics: Registry[type[Metric]] = field(default_factory=lambda: Registry("metric", Metric))

    def mitigation(self, spec: str) -> Mitigation:
        """Instantiate ``name`` or ``name:param``."""
        name, _, param = spec.partition(":")
        if name not in self.mitigations:
            raise UnknownNameError(unknown_message("mitigation", name, self.mitigations.names(), spec))
        return self.mitigations.get(name)(param or None)

    def models_of(self, track: str) -> list[str]:
        return [n for n, cls in self.models.items() if cls.track == track]

    def check(self) -> None:
        """Cross-references between components must resolve (tox's ``check_pending`` idea)."""
        for name, cls in self.metrics.items():
            if cls.family not in (*FAMILIES, "raw"):
                raise CollapseBenchError(f"metric '{name}' has family '{cls.family}'; use one of {FAMILIES} or 'raw'.")
            if not isinstance(getattr(cls, "higher_is_better", None), bool):
                raise CollapseBenchError(f"metric '{name}' must set higher_is_better = True or False.")


_registries: tuple[pluggy.PluginManager, Registries] | None = None


def registries() -> Registries:
    """All components from all loaded plugins, collected once per plugin manager.

    Keyed on the manager, so ``reset_plugins()`` (a new manager) also means new registries.
    """
    global _registries
    pm = get_plugin_manager()
    if _registries is None or _registries[0] is not pm:
        regs = Registries()
        for hook, registry in (
            ("register_tracks", regs.tracks),
            ("register_models", regs.models),
            ("register_data_sources", regs.data_sources),
            ("register_mitigations", regs.mitigations),
            ("register_metrics", regs.metrics),
        ):
            call_hook_per_plugin(hook, lambda plugin, reg=registry: {"register": lambda cls: reg.add(cls, plugin)})
        regs.check()
        _registries = (pm, regs)
    return _registries[1]


def reset_registries() -> None:
    """Collect again on next use (after a plugin was registered by hand)."""
    global _registries
    _registries = None
