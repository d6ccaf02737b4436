"""collapsebench: a harness for measuring model collapse under recursive training."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("collapsebench")
"""Marker for plugin hook implementations: ``@hookimpl def register_tracks(register): ...``."""

__all__ = ["__version__", "hookimpl"]
