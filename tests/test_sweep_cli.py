"""The sweep command end to end in fresh processes: parallel workers, progress, identical numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from collapsebench.publish.leaderboard import check_leaderboard
from collapsebench.run.storage import find_runs, read_rows

SWEEP = """
track = "density"
mitigations = ["replace", "accumulate"]
seeds = [0, 1]

[models.gaussian]
generations = 6
data = { n = 20 }

[models.vae]
generations = 1
options = { epochs = 2 }
data = { train_size = 200 }
"""


def collapsebench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from collapsebench.cli import main; main()", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )


def test_parallel_sweep_equals_serial_sweep(tmp_path):
    (tmp_path / "sweep.toml").write_text(SWEEP)
    serial = collapsebench("sweep", "sweep.toml", "--jobs", "1", "--results-dir", "serial", cwd=tmp_path)
    assert serial.returncode == 0, serial.stderr
    parallel = collapsebench("sweep", "sweep.toml", "--jobs", "2", "--results-dir", "parallel", cwd=tmp_path)
    assert parallel.returncode == 0, parallel.stderr
    assert "gaussian · replace" in parallel.stdout  # the progress display names each task
    runs = find_runs(tmp_path / "serial", "density")
    assert len(runs) == 2 * 2 * 2
    for run in runs:
        twin = tmp_path / "parallel" / run.relative_to(tmp_path / "serial")
        assert read_rows(twin) == read_rows(run)
    lb = collapsebench("leaderboard", "--track", "density", "--results-dir", "parallel", "--out", "lb", "--no-plots", cwd=tmp_path)
    assert lb.returncode == 0, lb.stderr
    assert check_leaderboard(tmp_path / "serial", "density", tmp_path / "lb") == []


def test_bad_sweep_key_is_one_line_and_runs_nothing(tmp_path):
    (tmp_path / "sweep.toml").write_text(SWEEP.replace("seeds =", "seed ="))
    result = collapsebench("sweep", "sweep.toml", "--results-dir", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: Unknown key 'seed' in sweep.toml. Did you mean 'seeds'? Allowed: data, generations, init, "
        "mitigations, models, on_collapse, options, sampling, seeds, track."
    )
    assert not (tmp_path / "out").exists()
