"""The chain loop: determinism, resume, collapse handling, provenance, locking."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from collapsebench.errors import DegenerateFit
from collapsebench.run.chain import run_chains, run_dir
from collapsebench.run.storage import ResultsError, RunStore, read_rows
from collapsebench.testing import TinyGaussian

MITIGATIONS = ["replace", "retain:0.2", "accumulate", "accumulate-subsample", "fresh:0.5", "filter:0.5"]


@pytest.mark.parametrize("mitigation", MITIGATIONS)
def test_resumed_chain_equals_uninterrupted(tiny_track, tmp_path, mitigation):
    config = tiny_track.run_config(mitigation=mitigation, generations=8, seeds=[0, 1, 2])
    whole = run_chains(config, tmp_path / "whole")
    # Stop the seeds at different generations, leave a torn half-written row, then finish.
    run_chains(config.model_copy(update={"generations": 2}), tmp_path / "parts")
    run_chains(config.model_copy(update={"generations": 5, "seeds": [2]}), tmp_path / "parts")
    with open(run_dir(tmp_path / "parts", config, 1) / "rows.jsonl", "ab") as f:
        f.write(b'{"generation": 3, "metr')
    resumed = run_chains(config, tmp_path / "parts")
    assert resumed == whole
    assert [r["generation"] for r in resumed[1]] == list(range(9))


def test_rerun_recomputes_nothing(tiny_track, results_dir, monkeypatch):
    config = tiny_track.run_config(generations=4)
    first = run_chains(config, results_dir)
    rows_file = run_dir(results_dir, config, 0) / "rows.jsonl"
    before = rows_file.read_bytes()
    monkeypatch.setattr(TinyGaussian, "fit", lambda *a: pytest.fail("a finished generation was refitted"))
    assert run_chains(config, results_dir) == first
    assert rows_file.read_bytes() == before


def test_seed_is_the_only_source_of_randomness(tiny_track, tmp_path):
    config = tiny_track.run_config(generations=5, seeds=[0, 1, 2])
    batched = run_chains(config, tmp_path / "a")
    alone = run_chains(config.model_copy(update={"seeds": [1]}), tmp_path / "b")
    assert alone[1] == batched[1]
    assert batched[0] != batched[1]


def test_training_set_composition_is_recorded(tiny_track, results_dir):
    rows = run_chains(tiny_track.run_config(mitigation="retain:0.25", generations=3), results_dir)[0]
    assert rows[0]["train"]["composition"] == {"real": 64}
    assert rows[3]["train"]["composition"] == {"real": 16, "gen2:tiny-gaussian": 48}


def test_families_mirror_their_metrics(tiny_track, results_dir):
    row = run_chains(tiny_track.run_config(generations=1), results_dir)[0][1]
    for family, metric in tiny_track.families.items():
        assert row["families"][family] == row["metrics"][metric]


def _collapse_at(generation: int):
    original = TinyGaussian.fit

    def fit(self, train, init, rng):
        if train.generation.max() == generation - 1 and generation > 0:
            raise DegenerateFit("forced degenerate fit")
        return original(self, train, init, rng)

    return fit


@pytest.mark.parametrize("policy, expected_rows", [("stop", 3), ("continue", 6)])
def test_degenerate_fit_is_a_finding(tiny_track, results_dir, monkeypatch, policy, expected_rows):
    monkeypatch.setattr(TinyGaussian, "fit", _collapse_at(2))
    config = tiny_track.run_config(generations=5, on_collapse=policy)
    rows = run_chains(config, results_dir)[0]
    assert len(rows) == expected_rows
    assert rows[2]["status"] == "collapsed" and rows[2]["reason"] == "forced degenerate fit"
    assert all(v is None for v in rows[2]["metrics"].values())
    assert run_chains(config, results_dir)[0] == rows  # a stopped chain stays stopped


def test_spec_records_provenance(tiny_track, results_dir):
    config = tiny_track.run_config(mitigation="accumulate", generations=1, seeds=[7])
    run_chains(config, results_dir)
    spec = json.loads((run_dir(results_dir, config, 7) / "run_spec.json").read_text())
    assert spec["config"]["seeds"] == [7] and spec["seed"] == 7
    assert spec["config"]["mitigation"] == "accumulate"
    assert spec["config_hash"] == config.config_hash()
    assert len(spec["data"]["fingerprint"]) == 16
    assert {"python", "collapsebench", "numpy", "plugins"} <= set(spec["versions"])
    assert "git_commit" in spec and spec["hardware"]["cpus"] >= 1
    assert spec["metrics"]["tiny-nll"] == {
        "family": "fidelity", "higher_is_better": False, "description": spec["metrics"]["tiny-nll"]["description"]
    }


def test_changed_data_is_refused_on_resume(tiny_track, results_dir):
    config = tiny_track.run_config(generations=2)
    run_chains(config, results_dir)
    spec_path = run_dir(results_dir, config, 0) / "run_spec.json"
    spec = json.loads(spec_path.read_text())
    spec["data"]["fingerprint"] = "0" * 16
    spec_path.write_text(json.dumps(spec))
    with pytest.raises(ResultsError, match="real data .* changed"):
        run_chains(config.model_copy(update={"generations": 3}), results_dir)
    assert len(read_rows(spec_path.parent)) == 3  # nothing lost


def test_second_writer_is_refused(tiny_track, results_dir):
    config = tiny_track.run_config(generations=1)
    with RunStore(run_dir(results_dir, config, 0)).locked():
        with pytest.raises(ResultsError, match="another collapsebench process"):
            run_chains(config, results_dir)


def test_checkpoints_keep_only_what_resume_needs(tiny_track, results_dir):
    config = tiny_track.run_config(generations=6)
    run_chains(config, results_dir)
    state = sorted(p.name for p in (run_dir(results_dir, config, 0) / "state").iterdir())
    assert state == ["model_00000.npz", "model_00006.npz", "synthetic_00007.npz"]


_KILLABLE_CHAIN = """
import sys, time
from collapsebench.plugin.loader import get_plugin_manager
from collapsebench.testing import TinyGaussian, TinyTrackPlugin
from collapsebench.experiment.config import RunConfig
from collapsebench.run.chain import run_chains
fit = TinyGaussian.fit
def slow_fit(self, *args):
    time.sleep(0.01)
    return fit(self, *args)
TinyGaussian.fit = slow_fit
get_plugin_manager().register(TinyTrackPlugin(), name="tiny")
config = RunConfig(track="tiny", model="tiny-gaussian", mitigation=sys.argv[2], generations=40, seeds=[0, 1, 2])
run_chains(config, sys.argv[1])
"""


@pytest.mark.parametrize("mitigation", ["replace", "accumulate"])
def test_sigkill_at_random_points_loses_nothing(tiny_track, tmp_path, mitigation):
    script = tmp_path / "chain.py"
    script.write_text(_KILLABLE_CHAIN)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, str(script), str(tmp_path / "whole"), mitigation], check=True, env=env)
    pick = random.Random(1234)
    kills = 0
    for _ in range(6):
        child = subprocess.Popen([sys.executable, str(script), str(tmp_path / "killed"), mitigation], env=env)
        time.sleep(pick.uniform(0.6, 1.6))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait()
    subprocess.run([sys.executable, str(script), str(tmp_path / "killed"), mitigation], check=True, env=env)
    assert kills >= 1
    for whole in sorted((tmp_path / "whole").glob("*/*/seed-*")):
        killed = tmp_path / "killed" / whole.relative_to(tmp_path / "whole")
        assert (killed / "rows.jsonl").read_bytes() == (whole / "rows.jsonl").read_bytes()
        assert not list(killed.glob("**/*.tmp"))
    assert np.array_equal(
        np.load(killed / "state" / "model_00040.npz")["mean"], np.load(whole / "state" / "model_00040.npz")["mean"]
    )
