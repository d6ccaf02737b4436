"""Executors: the same sweep on local processes and on Ray gives the same bytes; resume is the manifest's.

The Ray tests run on one real local Ray instance (``ray_address``, session-wide) and use the
density track's vectorised ``gaussian`` model: an entry-point plugin, so Ray workers find it too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from collapsebench.cli import main
from collapsebench.errors import CollapseBenchError
from collapsebench.run.chain import run_dir
from collapsebench.run.executors import (
    LocalExecutor,
    RayExecutor,
    TaskSettings,
    _unshared,
    make_executor,
    ray_task_options,
)
from collapsebench.run.manifest import Manifest
from collapsebench.run.runner import plan, resolve_sweep, run_configs
from collapsebench.run.storage import find_runs

GRID = ["models={gaussian: {generations: 20, data: {n: 100}}}", "mitigations=[replace, accumulate]", "seeds=[0,1,2]"]


def grid(*overrides: str):
    return resolve_sweep(None, "density", "quick", [*GRID, *overrides]).runs()


def rows_by_run(results: Path) -> dict[Path, bytes]:
    return {run.relative_to(results): (run / "rows.jsonl").read_bytes() for run in find_runs(results)}


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, bytes]:
    """The grid, uninterrupted, on the local executor: what every other way of running it must equal."""
    results = tmp_path_factory.mktemp("local")
    run_configs(grid(), results, executor=LocalExecutor(1), show_progress=False)
    return rows_by_run(results)


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail instead of hanging forever, e.g. on a Ray task that waits for a GPU that is not there."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("the sweep did not finish within 120 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_ray_sweep_equals_local_bit_for_bit(ray_address, local_rows, tmp_path, deadline):
    manifest = run_configs(grid(), tmp_path, executor=RayExecutor(), show_progress=False)
    assert rows_by_run(tmp_path) == local_rows
    assert len(local_rows) == 6
    stored = json.loads(manifest.path.read_text())
    assert stored["executor"] == "ray" and stored["counts"] == {"finished": 6}


def test_resume_is_the_manifests_and_the_same_under_every_executor(ray_address, local_rows, tmp_path, deadline):
    # local: replace finishes, accumulate stops at generation 8; Ray picks up only what is left
    replace, accumulate = grid()
    run_configs([replace, accumulate.model_copy(update={"generations": 8})], tmp_path, executor=LocalExecutor(1),
                show_progress=False)
    left = Manifest(tmp_path, grid(), "ray")
    assert [(c.mitigation, c.seeds) for c in left.todo()] == [("accumulate", [0, 1, 2])]
    assert {c.rows for c in left.of(accumulate)} == {9}
    run_configs(grid(), tmp_path, executor=RayExecutor(), show_progress=False)
    assert rows_by_run(tmp_path) == local_rows


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_an_executor_reports_every_generation_and_every_task(executor, request, tmp_path, deadline):
    if executor == "ray":
        request.getfixturevalue("ray_address")
    tasks = plan(grid("generations=4"))
    events: list[int] = []
    with make_executor(executor, jobs=1) as backend:
        outcomes = list(backend.run(tasks, tmp_path, TaskSettings(), events.append))
    assert sorted(o.index for o in outcomes) == [0, 1] and all(o.error is None for o in outcomes)
    assert sorted(events) == [0] * 3 * 21 + [1] * 3 * 21  # 3 seeds × generations 0..20 per task


def test_a_gpu_track_falls_back_to_cpu_with_a_warning_where_ray_has_no_gpu(ray_address, tmp_path, monkeypatch,
                                                                             capsys, deadline):
    from collapsebench_density.track import DensityTrack

    monkeypatch.setattr(DensityTrack, "resources", {"cpus": 1, "gpu": True})
    run_configs(grid("generations=2", "seeds=[0]"), tmp_path, executor=RayExecutor(), show_progress=False)
    assert len(find_runs(tmp_path)) == 2
    warning = "collapsebench: track 'density' asks for a GPU per chain but the Ray cluster has none"
    assert capsys.readouterr().err.count(warning) == 1


def test_ray_options_follow_the_tracks_resources():
    assert ray_task_options("text", {"cpus": 2, "gpu": True}, cluster_gpus=4) == ({"num_cpus": 2, "num_gpus": 1}, None)
    assert ray_task_options("density", {"cpus": 1, "gpu": False}, cluster_gpus=4) == ({"num_cpus": 1, "num_gpus": 0}, None)
    options, warning = ray_task_options("text", {"cpus": 2, "gpu": True}, cluster_gpus=0)
    assert options == {"num_cpus": 2, "num_gpus": 0} and "its chains run on CPU" in warning


def test_a_results_folder_the_driver_cannot_see_is_named(tmp_path):
    config = grid()[0]
    error = _unshared(config, tmp_path, {0: 21})
    assert error is not None and str(run_dir(tmp_path, config, 0)) in error and "shares at the same path" in error
    assert "\n" not in error


def _main(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["collapsebench", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


def test_address_without_the_ray_executor_fails_in_one_line(tmp_path, monkeypatch, capsys):
    args = ["sweep", "--track", "density", "--preset", "quick", "--results-dir", str(tmp_path), "--address", "auto"]
    code, err = _main(args, monkeypatch, capsys)
    assert (code, err) == (2, "error: --address is for --executor ray; the local executor runs on this machine.\n")


def test_an_unreachable_cluster_fails_at_once_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from collapsebench.cli import main; main()", "sweep", "--track", "density",
         "--preset", "quick", "--executor", "ray", "--address", "127.0.0.1:1", "--results-dir", str(tmp_path)],
        env={**os.environ, "COLLAPSEBENCH_LOAD_PLUGINS": "density"}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: Could not connect to the Ray cluster at '127.0.0.1:1' ([Errno 111] Connection refused): start one "
        "with `ray start --head`, pass the address it prints (host:6379, or auto on a cluster node), or leave "
        "--address out to start Ray on this machine.\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_ray_executor_without_ray_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    with pytest.raises(CollapseBenchError, match=r"pip install 'collapsebench\[ray\]'"):
        run_configs(grid("generations=1"), tmp_path, executor=RayExecutor(), show_progress=False)
