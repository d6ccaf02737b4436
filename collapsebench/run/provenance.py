"""What a run records about where its numbers came from: versions, git commit, hardware."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from collapsebench import __version__

_PACKAGES = ("numpy", "scipy", "pluggy", "pydantic", "torch", "scikit-learn", "transformers", "diffusers")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "collapsebench": __version__}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    from collapsebench.plugin.loader import get_plugin_manager, plugin_versions

    get_plugin_manager()
    out["plugins"] = dict(sorted(plugin_versions.items()))  # type: ignore[assignment]
    return out


def git_commit() -> str | None:
    """The commit of the collapsebench checkout, with ``-dirty`` when it has uncommitted changes."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def hardware() -> dict[str, Any]:
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "system": platform.system(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or None,
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        info["cuda"] = bool(torch.cuda.is_available())
        info["torch_threads"] = torch.get_num_threads()
    return info


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
