"""``collapsebench new-plugin NAME``: a plugin package that installs and passes its own test as generated.

The files come from ``collapsebench/plugin/scaffold_templates/*.tmpl`` (``string.Template``): a
pyproject with the ``collapsebench`` entry point, a one-module mitigation plugin, a test that uses
the ``collapsebench.testing`` fixtures, and a README.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from string import Template

from collapsebench import __version__
from collapsebench.errors import CollapseBenchError

NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


class ScaffoldError(CollapseBenchError):
    """The plugin name is unusable or its folder exists."""


def plugin_names(name: str) -> dict[str, str]:
    """Every name the templates need, from the mitigation name (``keep-best``)."""
    if name.startswith("collapsebench-"):
        name = name.removeprefix("collapsebench-")
    if not NAME.fullmatch(name):
        raise ScaffoldError(
            f"Plugin name '{name}' is not usable: use lowercase letters, digits and single hyphens, "
            "starting with a letter (e.g. 'keep-best')."
        )
    snake = name.replace("-", "_")
    return {
        "name": name,
        "dist": f"collapsebench-{name}",
        "module": f"collapsebench_{snake}",
        "entry_point": snake,
        "class_name": "".join(part.capitalize() for part in name.split("-")),
        "core_version": __version__,
    }


def scaffold_plugin(name: str, parent: Path) -> Path:
    """Write the plugin package into ``parent/collapsebench-<name>/`` and return that folder."""
    names = plugin_names(name)
    root = parent / names["dist"]
    if root.exists():
        raise ScaffoldError(f"{root} already exists: pick another name, or remove the folder first.")
    templates = files("collapsebench.plugin") / "scaffold_templates"
    targets = {
        "pyproject.toml.tmpl": "pyproject.toml",
        "module.py.tmpl": f"{names['module']}.py",
        "test_module.py.tmpl": f"test_{names['module']}.py",
        "README.md.tmpl": "README.md",
    }
    root.mkdir(parents=True)
    for template, target in targets.items():
        text = Template((templates / template).read_text(encoding="utf-8")).substitute(names)
        (root / target).write_text(text, encoding="utf-8")
    return root
