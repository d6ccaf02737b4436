"""``collapsebench new-plugin``: the scaffolded package installs, is found through its entry point,
and passes its own test as generated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from collapsebench import __version__
from collapsebench.plugin.scaffold import ScaffoldError, plugin_names, scaffold_plugin

CLI = "from collapsebench.cli import main; main()"


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_a_scaffolded_plugin_installs_and_passes_its_own_test(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLAPSEBENCH_")}
    made = _run([sys.executable, "-c", CLI, "new-plugin", "keep-best", "--dir", str(tmp_path / "src")], env, tmp_path)
    root = Path(made.stdout.strip())
    assert root == tmp_path / "src" / "collapsebench-keep-best"
    assert sorted(p.name for p in root.iterdir()) == [
        "README.md", "collapsebench_keep_best.py", "pyproject.toml", "test_collapsebench_keep_best.py",
    ]

    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
          "--no-cache-dir", "--target", str(site), str(root)], env, tmp_path)
    env.update(PYTHONPATH=str(site), COLLAPSEBENCH_LOAD_PLUGINS="keep_best")

    listing = json.loads(_run([sys.executable, "-c", CLI, "plugins"], env, tmp_path).stdout)
    assert listing[-1] == {"name": "keep_best", "version": "0.1.0", "hooks": ["register_mitigations"]}

    # importlib mode keeps the source folder off sys.path: the test imports the installed module.
    tested = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                   str(root / "test_collapsebench_keep_best.py")], env, tmp_path)
    assert "2 passed" in tested.stdout
    probe = _run([sys.executable, "-c", "import collapsebench_keep_best as m; print(m.__file__)"], env, tmp_path)
    assert Path(probe.stdout.strip()).parent == site


def test_the_entry_point_names_the_generated_module(tmp_path):
    root = scaffold_plugin("collapsebench-keep-best", tmp_path)  # the prefix is optional

    project = tomllib.loads((root / "pyproject.toml").read_text())

    assert project["project"]["name"] == "collapsebench-keep-best"
    assert project["project"]["entry-points"]["collapsebench"] == {"keep_best": "collapsebench_keep_best"}
    assert project["project"]["dependencies"] == [f"collapsebench>={__version__}"]
    assert "class KeepBest(Mitigation):" in (root / "collapsebench_keep_best.py").read_text()


def test_names_follow_from_the_mitigation_name():
    assert plugin_names("decay2") == {
        "name": "decay2", "dist": "collapsebench-decay2", "module": "collapsebench_decay2",
        "entry_point": "decay2", "class_name": "Decay2", "core_version": __version__,
    }


@pytest.mark.parametrize("bad", ["Keep", "keep_best", "2keep", "keep--best", "keep-", ""])
def test_a_bad_name_names_the_rule(bad, tmp_path):
    with pytest.raises(ScaffoldError, match="use lowercase letters, digits and single hyphens"):
        scaffold_plugin(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_left_alone(tmp_path):
    (tmp_path / "collapsebench-keep-best").mkdir()
    (tmp_path / "collapsebench-keep-best" / "mine.py").write_text("x = 1\n")

    with pytest.raises(ScaffoldError, match="already exists: pick another name, or remove the folder first"):
        scaffold_plugin("keep-best", tmp_path)
    assert [p.name for p in (tmp_path / "collapsebench-keep-best").iterdir()] == ["mine.py"]
