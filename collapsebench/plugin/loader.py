"""Plugin discovery through the ``collapsebench`` entry-point group.

Environment knobs:
- ``COLLAPSEBENCH_LOAD_PLUGINS=a,b`` loads only these entry points ("" loads none);
- ``COLLAPSEBENCH_BLOCK_PLUGINS=a,b`` skips these;
- ``COLLAPSEBENCH_TRACE_PLUGINS=1`` logs every hook call to stderr.
A plugin that fails to import is recorded by name (``load_failures``) and the others load.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from collapsebench.plugin import hookspecs

ENTRY_POINT_GROUP = "collapsebench"
DEFAULT_PLUGINS = {"collapsebench.mitigations": "collapsebench.experiment.mitigations"}
"""Built-in plugins: the name users see (``collapsebench plugins``, ``list``'s plugin column) → module."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or whose hook raised."""

    name: str
    stage: str
    error: str

    def message(self) -> str:
        return (
            f"collapsebench: plugin '{self.name}' failed on {self.stage} ({self.error}); the others are loaded. "
            f"Fix or uninstall it, or skip it with COLLAPSEBENCH_BLOCK_PLUGINS={self.name}."
        )


_pm: pluggy.PluginManager | None = None
load_failures: list[PluginFailure] = []
plugin_versions: dict[str, str] = {}


def _names_from_env(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def report_failure(failure: PluginFailure) -> None:
    """Remember a failure and say it once on stderr."""
    if failure not in load_failures:
        load_failures.append(failure)
        print(failure.message(), file=sys.stderr)


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allow = _names_from_env("COLLAPSEBENCH_LOAD_PLUGINS")
    block = _names_from_env("COLLAPSEBENCH_BLOCK_PLUGINS") or set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if (allow is not None and ep.name not in allow) or ep.name in block:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the others down
            report_failure(PluginFailure(ep.name, "import", f"{type(exc).__name__}: {exc}"))
            continue
        try:
            register_plugin(pm, module, ep.name)
        except pluggy.PluginValidationError as exc:  # a misspelt hook or argument: say so, load the rest
            report_failure(PluginFailure(ep.name, "validation", " ".join(str(exc).split())))
            continue
        plugin_versions[ep.name] = ep.dist.version if ep.dist else "unknown"


def register_plugin(pm: pluggy.PluginManager, plugin: object, name: str | None = None) -> None:
    """Register ``plugin``, refusing hooks that match no hookspec (a misspelt hook is never called).

    Raises ``pluggy.PluginValidationError`` and leaves nothing registered when a hook's name or
    arguments are wrong (tox's ``check_pending``, per plugin so one bad plugin spares the rest).
    """
    try:
        pm.register(plugin, name=name)
        unknown = sorted(h.name for h in pm.get_hookcallers(plugin) or [] if not h.has_spec())
        if unknown:
            known = sorted(n for n in vars(hookspecs) if n.startswith("register_"))
            raise pluggy.PluginValidationError(
                plugin, f"unknown hook(s) {', '.join(unknown)}; collapsebench hooks are {', '.join(known)}"
            )
    except pluggy.PluginValidationError:
        if pm.is_registered(plugin):
            pm.unregister(plugin)
        raise


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading built-ins and entry points on first use."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("collapsebench")
        pm.add_hookspecs(hookspecs)
        for name, module in DEFAULT_PLUGINS.items():
            pm.register(importlib.import_module(module), name=name)
        _load_entry_points(pm)
        if os.environ.get("COLLAPSEBENCH_TRACE_PLUGINS"):
            pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
            pm.enable_tracing()
        _pm = pm
    return _pm


def reset_plugins() -> None:
    """Forget loaded plugins (tests, after changing the environment knobs); the registries follow.

    ``registries()`` belongs to one plugin manager, so the next call collects from the new one.
    """
    global _pm
    _pm = None
    load_failures.clear()
    plugin_versions.clear()


def call_hook_per_plugin(hook_name: str, make_kwargs: Callable[[str], dict[str, Any]]) -> None:
    """Call a hook plugin by plugin, so one that raises is reported and the rest still register.

    ``make_kwargs(plugin_name)`` builds the hook's arguments for that plugin.
    """
    pm = get_plugin_manager()
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        others = [p for p in pm.get_plugins() if p is not impl.plugin]
        try:
            pm.subset_hook_caller(hook_name, remove_plugins=others)(**make_kwargs(impl.plugin_name))
        except Exception as exc:
            report_failure(PluginFailure(impl.plugin_name, hook_name, f"{type(exc).__name__}: {exc}"))
