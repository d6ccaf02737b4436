"""Hugging Face ``evaluate`` adapters for the standard metric families: finding them, and running harness metrics for them.

An adapter is a local ``evaluate`` module (one ``evaluate.Metric`` subclass) that the plugin owning
the metric ships as ``<its package>/evaluate_modules/<name>.py``; ``module_path(name)`` finds it
among the loaded plugins, for ``evaluate.load(module_path("distinct_n"))``. With
``HF_EVALUATE_OFFLINE=1`` and ``HF_HUB_OFFLINE=1`` nothing reaches for the network. The adapters
are thin: each delegates to the very metric classes or functions a chain runs (through
``compute_on_samples``), so an adapter and a leaderboard row agree to the last bit. ``evaluate`` is
imported only inside those files (install ``collapsebench[hf]``); the harness itself never imports it.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from collapsebench.errors import CollapseBenchError, UnknownNameError
from collapsebench.experiment.data import RealData, fingerprint_arrays
from collapsebench.experiment.metrics import Metric, MetricContext
from collapsebench.experiment.samples import Samples
from collapsebench.plugin.loader import get_plugin_manager

ADAPTER_FOLDER = "evaluate_modules"
"""The folder of a plugin's top-level package that holds its adapters."""


def module_paths() -> dict[str, str]:
    """Every adapter file of the loaded plugins, by module name (the file's name without ``.py``)."""
    found: dict[str, tuple[str, str]] = {}
    for plugin_name, plugin in get_plugin_manager().list_name_plugin():
        package = sys.modules.get(getattr(plugin, "__name__", type(plugin).__module__).partition(".")[0])
        folders = [Path(root) / ADAPTER_FOLDER for root in getattr(package, "__path__", ())]
        for path in sorted(p for folder in folders for p in folder.glob("[!_]*.py")):
            if path.stem in found and found[path.stem][1] != str(path):
                raise CollapseBenchError(
                    f"evaluate adapter '{path.stem}' is shipped twice, by '{found[path.stem][0]}' and '{plugin_name}'; "
                    "uninstall one of them or block it with COLLAPSEBENCH_BLOCK_PLUGINS."
                )
            found[path.stem] = (plugin_name, str(path))
    return {name: path for name, (_, path) in sorted(found.items())}


def module_path(name: str) -> str:
    """The file to pass to ``evaluate.load``; an UnknownNameError naming the adapters for a bad name."""
    paths = module_paths()
    if name not in paths:
        raise UnknownNameError(f"No evaluate adapter '{name}'; the adapters are {', '.join(paths) or 'none (install a track plugin)'}.")
    return paths[name]


def compute_on_samples(
    metrics: Sequence[type[Metric]], predictions: Any, references: Any, truth: dict[str, Any]
) -> dict[str, float]:
    """Run harness metrics that read only the samples and the real data.

    The predictions stand for a generation's samples, the references for the real data (both the
    train pool and the held-out split); ``truth`` is what the track's data source would supply
    (e.g. ``vocab_size``). There is no model: a metric that needs one is not for this adapter.
    """
    samples = np.asarray(predictions)
    real = np.asarray(references)
    data = RealData(
        train=Samples.real(real), test=Samples.real(real), fingerprint=fingerprint_arrays(real), truth=truth
    )
    with tempfile.TemporaryDirectory(prefix="collapsebench-hf-") as artifacts:
        ctx = MetricContext(
            generation=0, seed=0, model=None, reference=None, samples=samples,  # type: ignore[arg-type]
            train=data.train, real=data, rng=np.random.default_rng(0), artifact_dir=Path(artifacts),
        )
        return {metric.name: float(metric().compute(ctx)) for metric in metrics}
