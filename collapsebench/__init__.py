"""collapsebench: a harness for measuring model collapse under recursive training.

The names in ``__all__`` are the public API for plugin authors: import them from here
(``from collapsebench import Samples, Track``), never from the stage subpackages, whose module
paths may change. They are loaded on first use (PEP 562), so ``import collapsebench`` stays cheap
and the subpackages, which import ``hookimpl`` from here, never form an import cycle with it.
"""

from __future__ import annotations

import importlib
from typing import Any

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("collapsebench")
"""Marker for plugin hook implementations: ``@hookimpl def register_tracks(register): ...``."""

_PUBLIC: dict[str, str] = {
    # errors and files (the base)
    "CollapseBenchError": "collapsebench.errors",
    "ConfigError": "collapsebench.errors",
    "DataError": "collapsebench.errors",
    "DegenerateFit": "collapsebench.errors",
    "UnknownNameError": "collapsebench.errors",
    "atomic_write_bytes": "collapsebench.files",
    # what a chain is: the classes a plugin subclasses and the objects it handles
    "Samples": "collapsebench.experiment.samples",
    "Labelled": "collapsebench.experiment.samples",
    "UNLABELLED": "collapsebench.experiment.samples",
    "RealData": "collapsebench.experiment.data",
    "DataSource": "collapsebench.experiment.data",
    "fingerprint_arrays": "collapsebench.experiment.data",
    "Model": "collapsebench.experiment.models",
    "ModelFamily": "collapsebench.experiment.models",
    "Metric": "collapsebench.experiment.metrics",
    "MetricContext": "collapsebench.experiment.metrics",
    "FAMILIES": "collapsebench.experiment.metrics",
    "Mitigation": "collapsebench.experiment.mitigations",
    "Track": "collapsebench.experiment.tracks",
    "Options": "collapsebench.experiment.options",
    "RunConfig": "collapsebench.experiment.config",
    "torch_seed": "collapsebench.experiment.seeding",
    "shared_dataset": "collapsebench.experiment.paths",
    # what a plugin's tests use
    "registries": "collapsebench.plugin.registry",
    "run_chains": "collapsebench.run.chain",
    # what a track cites, and what an evaluate adapter runs
    "bibliography": "collapsebench.publish.citations",
    "harness_bibtex": "collapsebench.publish.citations",
    "SHUMAILOV_2024": "collapsebench.publish.citations",
    "GERSTGRASSER_2024": "collapsebench.publish.citations",
    "ALEMOHAMMAD_2024": "collapsebench.publish.citations",
    "MERITY_2016": "collapsebench.publish.citations",
    "ZHANG_2022": "collapsebench.publish.citations",
    "HO_2020": "collapsebench.publish.citations",
    "SONG_2021": "collapsebench.publish.citations",
    "ALPAYDIN_1998": "collapsebench.publish.citations",
    "KHOSLA_2011": "collapsebench.publish.citations",
    "UDACITY_PET_IMAGES": "collapsebench.publish.citations",
    "compute_on_samples": "collapsebench.publish.evaluate_adapters",
}
"""Public name → the module that defines it."""

__all__ = ["__version__", "hookimpl", *_PUBLIC]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access, then keep the name here."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'collapsebench' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
