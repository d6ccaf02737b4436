"""Plugin discovery: entry points, failures reported by name, environment knobs, every hook.

Fake plugins are real distributions: a ``*.dist-info`` folder with ``entry_points.txt`` and a
module in a temporary folder on ``sys.path``, found by ``importlib.metadata`` like installed ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pluggy
import pytest

from collapsebench import hookimpl
from collapsebench.experiment.mitigations import Mitigation
from collapsebench.plugin import hookspecs
from collapsebench.plugin.catalog import describe_plugins
from collapsebench.plugin.loader import get_plugin_manager, reset_plugins
from collapsebench.plugin.registry import registries

EXAMPLE_PLUGIN = Path(__file__).parent / "example_plugin"

GOOD = """
from collapsebench import hookimpl
from collapsebench.experiment.mitigations import Replace

class GoodMitigation(Replace):
    name = "{ep}-mitigation"

@hookimpl
def register_mitigations(register):
    register(GoodMitigation)
"""


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """``install(ep_name, source=GOOD, version="1.0")`` makes an importable fake distribution.

    Only the fake plugins load (``COLLAPSEBENCH_LOAD_PLUGINS``) unless a test sets the knob itself.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    names: list[str] = []
    modules: list[str] = []

    def install(ep_name: str, source: str = GOOD, version: str = "1.0") -> str:
        module = f"cbtest_{ep_name.replace('-', '_')}"
        (site / f"{module}.py").write_text(source.replace("{ep}", ep_name))
        dist = site / f"{module}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: {version}\n")
        (dist / "entry_points.txt").write_text(f"[collapsebench]\n{ep_name} = {module}\n")
        names.append(ep_name)
        modules.append(module)
        monkeypatch.setenv("COLLAPSEBENCH_LOAD_PLUGINS", ",".join(names))
        reset_plugins()
        return module

    yield install
    reset_plugins()
    for module in modules:
        sys.modules.pop(module, None)


def _by_name(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["name"], []).append(row)
    return out


def test_a_plugin_that_fails_to_import_is_reported_by_name_and_the_others_load(fake_plugins, capsys):
    fake_plugins("good", version="2.5")
    fake_plugins("broken", source="raise RuntimeError('boom')")

    rows = _by_name(describe_plugins())

    assert rows["broken"] == [{"name": "broken", "error": "RuntimeError: boom", "stage": "import"}]
    assert rows["good"] == [{"name": "good", "version": "2.5", "hooks": ["register_mitigations"]}]
    assert "good-mitigation" in registries().mitigations and "retain" in registries().mitigations
    err = capsys.readouterr().err
    assert "plugin 'broken' failed on import (RuntimeError: boom)" in err
    assert "COLLAPSEBENCH_BLOCK_PLUGINS=broken" in err
    assert err.count("\n") == 1  # said once, on one line


def test_a_plugin_that_raises_while_registering_is_reported_and_the_others_register(fake_plugins, capsys):
    fake_plugins("good")
    fake_plugins(
        "raiser",
        source="from collapsebench import hookimpl\n"
        "@hookimpl\ndef register_mitigations(register):\n    raise ValueError('no luck')\n",
    )

    assert "good-mitigation" in registries().mitigations
    failures = [r for r in describe_plugins() if "error" in r]
    assert failures == [{"name": "raiser", "error": "ValueError: no luck", "stage": "register_mitigations"}]
    assert "plugin 'raiser' failed on register_mitigations (ValueError: no luck)" in capsys.readouterr().err


def test_load_plugins_allow_lists_entry_points_and_keeps_the_built_ins(fake_plugins, monkeypatch):
    good = fake_plugins("good")
    broken = fake_plugins("broken", source="raise RuntimeError('boom')")

    monkeypatch.setenv("COLLAPSEBENCH_LOAD_PLUGINS", "good")
    reset_plugins()
    assert [r["name"] for r in describe_plugins()] == ["collapsebench.mitigations", "good"]
    assert good in sys.modules and broken not in sys.modules  # never imported

    monkeypatch.setenv("COLLAPSEBENCH_LOAD_PLUGINS", "")
    reset_plugins()
    assert [r["name"] for r in describe_plugins()] == ["collapsebench.mitigations"]


def test_block_plugins_skips_entry_points(fake_plugins, monkeypatch, capsys):
    fake_plugins("good")
    broken = fake_plugins("broken", source="raise RuntimeError('boom')")
    monkeypatch.setenv("COLLAPSEBENCH_BLOCK_PLUGINS", "broken, other")
    reset_plugins()

    names = [r["name"] for r in describe_plugins()]

    assert names == ["collapsebench.mitigations", "good"]
    assert broken not in sys.modules
    assert capsys.readouterr().err == ""


def test_trace_plugins_logs_every_hook_call_to_stderr(fake_plugins, monkeypatch, capsys):
    fake_plugins("good")
    monkeypatch.setenv("COLLAPSEBENCH_TRACE_PLUGINS", "1")
    reset_plugins()

    registries()

    err = capsys.readouterr().err
    assert err.count("register_mitigations [hook]") == 2  # built-ins, then the fake plugin
    assert "finish register_mitigations" in err


def test_without_the_trace_knob_nothing_is_logged(fake_plugins, capsys):
    fake_plugins("good")
    registries()
    assert capsys.readouterr().err == ""


# One test per hook, named test_hook_<hook>: test_every_hook_has_a_test holds us to it.


def test_hook_register_tracks(tiny_track):
    regs = registries()
    assert regs.tracks.get(tiny_track.track).headline == "fidelity"
    assert regs.tracks.owner[tiny_track.track] == "collapsebench.testing.tiny"


def test_hook_register_models(tiny_track):
    assert registries().models_of(tiny_track.track) == [tiny_track.model]


def test_hook_register_data_sources(tiny_track):
    source_cls = registries().data_sources.get(tiny_track.data_source)
    real = source_cls(source_cls.Options()).load(seed=3)
    assert (len(real.train), len(real.test)) == (64, 256)


def test_hook_register_metrics(tiny_track):
    metrics = registries().metrics
    assert {metrics.get(name).family for name in tiny_track.metrics} == {"fidelity", "tails", "diversity", "drift"}


def test_hook_register_mitigations(collapsebench_plugin):
    class Oldest(Mitigation):
        name = "oldest"
        history_window = None

        def build(self, generation, real, history, rng, scorer):
            return history[0]

    class Plugin:
        @hookimpl
        def register_mitigations(self, register):
            register(Oldest)

    collapsebench_plugin(Plugin(), name="oldest-plugin")
    assert isinstance(registries().mitigation("oldest"), Oldest)
    assert registries().mitigations.owner["oldest"] == "oldest-plugin"


def test_hook_register_commands(collapsebench_plugin, monkeypatch, capsys):
    from collapsebench import cli as cli_module

    class Plugin:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="hello-plugin")
            @click.argument("who")
            def hello(who):
                click.echo(f"hello {who}")

    collapsebench_plugin(Plugin())
    monkeypatch.setitem(cli_module.cli.commands, "hello-plugin", None)  # removed again at teardown
    monkeypatch.setattr(sys, "argv", ["collapsebench", "hello-plugin", "world"])

    cli_module.main()

    assert capsys.readouterr().out == "hello world\n"


def test_every_hook_has_a_test():
    """datasette's meta-test: a new hook cannot land without a test that exercises it."""
    hooks = [name for name, fn in vars(hookspecs).items() if hasattr(fn, "collapsebench_spec")]
    assert "register_tracks" in hooks  # the scan sees the hookspecs at all
    missing = [h for h in hooks if not callable(globals().get(f"test_hook_{h}"))]
    assert missing == []


def test_a_misspelt_hook_fails_the_fixture(collapsebench_plugin):
    class Typo:
        @hookimpl
        def register_mitigation(self, register):  # singular: not a hook
            pass

    typo = Typo()
    with pytest.raises(pluggy.PluginValidationError, match="unknown hook.s. register_mitigation;"):
        collapsebench_plugin(typo)
    assert not get_plugin_manager().is_registered(typo)


@pytest.mark.parametrize(
    ("hook", "error"),
    [
        ("register_mitigation(register)", "unknown hook(s) register_mitigation; collapsebench hooks are"),
        ("register_mitigations(reg)", "Argument(s) {'reg'} are declared in the hookimpl"),
    ],
)
def test_an_entry_point_with_a_misspelt_hook_is_reported_and_the_others_load(fake_plugins, capsys, hook, error):
    fake_plugins("good")
    fake_plugins("typo", source=f"from collapsebench import hookimpl\n@hookimpl\ndef {hook}:\n    pass\n")

    [failure] = [r for r in describe_plugins() if "error" in r]

    assert (failure["name"], failure["stage"]) == ("typo", "validation")
    assert error in failure["error"]
    assert "good-mitigation" in registries().mitigations
    assert "typo" not in [name for name, _ in get_plugin_manager().list_name_plugin()]
    assert "plugin 'typo' failed on validation" in capsys.readouterr().err


def test_the_tiny_track_is_gone_in_the_next_test():
    """Runs after the tests above in file order: their fixtures must not leak plugins."""
    assert "tiny" not in registries().tracks
    assert "oldest" not in registries().mitigations
    assert all(not name.startswith("cbtest_") for name, _ in get_plugin_manager().list_name_plugin())


def test_an_installed_plugin_is_found_through_its_entry_point(tmp_path):
    """pip-install the example plugin into a folder and use it from fresh processes."""
    source = tmp_path / "src"
    shutil.copytree(EXAMPLE_PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--no-cache-dir", "--target", str(site), str(source)],
        check=True, capture_output=True, text=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLAPSEBENCH_")}
    env.update(PYTHONPATH=str(site), COLLAPSEBENCH_LOAD_PLUGINS="mix_previous")

    listing = json.loads(_collapsebench(["plugins"], env, tiny_track=False).stdout)
    assert [row["name"] for row in listing] == ["collapsebench.mitigations", "mix_previous"]
    assert listing[1] == {"name": "mix_previous", "version": "0.2.0", "hooks": ["register_mitigations"]}

    results = tmp_path / "results"
    _collapsebench(["run", "--track", "tiny", "--model", "tiny-gaussian", "--mitigation", "mix-previous",
                    "--seeds", "0", "--set", "generations=2", "--jobs", "1", "--results-dir", str(results)], env)
    [rows_file] = results.glob("tiny/tiny-gaussian__mix-previous__*/seed-0/rows.jsonl")
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert [r["generation"] for r in rows] == [0, 1, 2]
    assert rows[2]["train"]["composition"] == {"gen0:tiny-gaussian": 32, "gen1:tiny-gaussian": 32}


TINY_TRACK_FIRST = (
    "from collapsebench.plugin.loader import get_plugin_manager; from collapsebench.testing import TinyTrackPlugin; "
    "get_plugin_manager().register(TinyTrackPlugin(), name='collapsebench.testing.tiny'); "
)


def _collapsebench(args: list[str], env: dict[str, str], tiny_track: bool = True) -> subprocess.CompletedProcess[str]:
    """The ``collapsebench`` console script in a fresh process, with the tiny track registered first."""
    code = (TINY_TRACK_FIRST if tiny_track else "") + "from collapsebench.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result
