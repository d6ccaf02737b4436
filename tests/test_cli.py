"""The command line: ``plugins``, ``list`` and how errors reach the user (run/sweep: test_runner)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from collapsebench import __version__, hookimpl
from collapsebench.cli import main
from collapsebench.experiment.metrics import Metric
from collapsebench.plugin.loader import reset_plugins


def _main(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``collapsebench ARGS`` in this process, through ``main()`` as the console script does."""
    monkeypatch.setattr(sys, "argv", ["collapsebench", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def builtins_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No entry-point plugins, so stderr holds only what the test causes."""
    monkeypatch.setenv("COLLAPSEBENCH_LOAD_PLUGINS", "")
    reset_plugins()
    yield
    reset_plugins()


def test_plugins_lists_the_builtins_and_the_density_track_as_json(monkeypatch, capsys):
    code, out, _ = _main(["plugins"], monkeypatch, capsys)

    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["collapsebench.mitigations"] == {
        "name": "collapsebench.mitigations", "version": __version__, "hooks": ["register_mitigations"],
    }
    density = rows["density"]
    assert "error" not in density, density.get("error")
    assert density["version"] == "0.1.0"
    assert {"register_tracks", "register_models", "register_data_sources", "register_metrics"} <= set(density["hooks"])


def test_plugins_shows_a_broken_plugin_with_its_error(builtins_only, collapsebench_plugin, monkeypatch, capsys):
    class Broken:
        @hookimpl
        def register_metrics(self, register):
            raise RuntimeError("metric table missing")

    collapsebench_plugin(Broken(), name="broken-metrics")
    code, out, err = _main(["plugins"], monkeypatch, capsys)

    assert code == 0
    failure = {"name": "broken-metrics", "stage": "register_metrics", "error": "RuntimeError: metric table missing"}
    assert failure in json.loads(out)
    assert err.startswith("collapsebench: plugin 'broken-metrics' failed on register_metrics")
    assert err.count("\n") == 1


def test_list_shows_every_kind_of_component_with_metric_directions(tiny_track, monkeypatch, capsys):
    code, out, _ = _main(["list"], monkeypatch, capsys)

    assert code == 0
    sections = {block.splitlines()[0]: block for block in out.split("\n\n")}
    assert set(sections) >= {"Tracks", "Models", "Data sources", "Mitigations",
                             "Metrics (↑ higher is better, ↓ lower is better)"}
    assert "retain:<param>" in sections["Mitigations"] and "accumulate-subsample" in sections["Mitigations"]
    metric_lines = sections["Metrics (↑ higher is better, ↓ lower is better)"].splitlines()
    assert any(line.split()[:3] == ["tiny-nll", "fidelity", "↓"] for line in metric_lines)
    assert any(line.split()[:3] == ["tiny-tails", "tails", "↑"] for line in metric_lines)
    model_line = next(line for line in sections["Models"].splitlines() if line.startswith("tiny-gaussian"))
    assert "tiny-normal" in model_line and "ddof=0" in model_line and "temperature=1.0" in model_line
    track_line = next(line for line in sections["Tracks"].splitlines() if line.startswith("tiny "))
    assert "fidelity" in track_line and "quick" in track_line and "cpus=1" in track_line


def test_list_json_is_the_catalog(tiny_track, monkeypatch, capsys):
    code, out, _ = _main(["list", "--json"], monkeypatch, capsys)

    assert code == 0
    entries = json.loads(out)
    [track] = [t for t in entries["tracks"] if t["name"] == "tiny"]
    assert track["models"] == ["tiny-gaussian"] and track["presets"] == ["quick"]
    assert track["plugin"] == "collapsebench.testing.tiny"
    [density] = [t for t in entries["tracks"] if t["name"] == "density"]
    assert density["population_presets"] == ["cross-quick", "twins-quick"]
    [model] = [m for m in entries["models"] if m["name"] == "tiny-gaussian"]
    assert model["data_source"] == "tiny-normal"  # inherited from the track
    assert model["options"] == {"ddof": 0} and model["sampling"] == {"temperature": 1.0}
    [source] = [d for d in entries["data_sources"] if d["name"] == "tiny-normal"]
    assert source["options"] == {"n": 64, "n_test": 256, "mean": 0.0, "std": 1.0}
    metrics = {m["name"]: m for m in entries["metrics"]}
    assert (metrics["tiny-w2"]["family"], metrics["tiny-w2"]["direction"]) == ("drift", "↓")
    mitigations = {m["name"]: m for m in entries["mitigations"]}
    assert (mitigations["retain"]["parameter"], mitigations["replace"]["parameter"]) == ("required", "none")


def test_list_marks_options_without_a_default_as_required(collapsebench_plugin, monkeypatch, capsys):
    from collapsebench.experiment.data import DataSource
    from collapsebench.experiment.options import Options

    class NeedsPath(Options):
        path: str
        limit: int | None = None

    class Files(DataSource):
        name = "files"
        Options = NeedsPath

        def load(self, seed):
            raise NotImplementedError

    class Plugin:
        @hookimpl
        def register_data_sources(self, register):
            register(Files)

    collapsebench_plugin(Plugin())
    _, out, _ = _main(["list", "--json"], monkeypatch, capsys)
    [files] = [d for d in json.loads(out)["data_sources"] if d["name"] == "files"]
    assert files["options"] == {"path": "<required>", "limit": None}


def test_a_collapsebench_error_is_one_line_on_stderr_and_exit_code_2(
    builtins_only, collapsebench_plugin, monkeypatch, capsys
):
    class Sideways(Metric):
        name = "sideways"
        family = "vibes"
        higher_is_better = True

        def compute(self, ctx):
            return 0.0

    class Plugin:
        @hookimpl
        def register_metrics(self, register):
            register(Sideways)

    collapsebench_plugin(Plugin())
    code, out, err = _main(["list"], monkeypatch, capsys)

    assert code == 2
    assert out == ""
    assert err == (
        "error: metric 'sideways' has family 'vibes'; use one of "
        "('fidelity', 'tails', 'diversity', 'drift') or 'raw'.\n"
    )


def test_an_unknown_mitigation_on_the_command_line_suggests_the_right_one(
    builtins_only, tiny_track, results_dir, monkeypatch, capsys
):
    args = ["run", "--track", "tiny", "--model", "tiny-gaussian", "--mitigation", "retian:0.1",
            "--results-dir", str(results_dir)]
    code, _, err = _main(args, monkeypatch, capsys)

    assert code == 2
    assert err.startswith("error: Unknown mitigation 'retian:0.1'. Did you mean 'retain'? Available: ")
    assert err.count("\n") == 1
    assert list(results_dir.iterdir()) == []  # refused before anything was written


def test_a_usage_error_is_clicks_message_and_exit_code_2(builtins_only, monkeypatch, capsys):
    code, _, err = _main(["list", "--jsn"], monkeypatch, capsys)
    assert code == 2
    assert "Error: No such option" in err and "--json" in err


def test_the_console_script_exits_2_with_one_line_in_a_fresh_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLAPSEBENCH_")}
    env["COLLAPSEBENCH_LOAD_PLUGINS"] = ""  # the built-in mitigations only: fast and independent of tracks
    result = subprocess.run(
        [sys.executable, "-c", "from collapsebench.cli import main; main()",
         "run", "--track", "densty", "--model", "gaussian", "--results-dir", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "error: Unknown track 'densty'. Available: none.\n"
