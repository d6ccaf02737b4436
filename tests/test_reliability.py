"""A harness that loses nothing: killed sweeps, two writers, bad input, a full disk, a long soak.

Chain-level kills are in test_chain.py; here whole sweeps are killed through the command line on
both executors. Messages of bad names and keys are pinned in test_runner/test_config/test_cli;
here every bad input is also checked for its exit code and for leaving finished results intact.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from collapsebench import hookimpl
from collapsebench.cli import main
from collapsebench.experiment.data import DataSource, RealData, fingerprint_arrays
from collapsebench.experiment.options import Options
from collapsebench.experiment.samples import Samples
from collapsebench.plugin.loader import reset_plugins
from collapsebench.publish.schema import validate_run
from collapsebench.run.executors import LocalExecutor
from collapsebench.run.manifest import MANIFEST_DIR
from collapsebench.run.runner import resolve_sweep, run_configs
from collapsebench.run.storage import find_runs, read_rows, read_spec
from collapsebench.testing import TinyGaussian, TinyGaussianModel

CLI = [sys.executable, "-c", "from collapsebench.cli import main; main()"]
ENV = {**os.environ, "COLLAPSEBENCH_LOAD_PLUGINS": "density", "PYTHONHASHSEED": "0"}

KILLS = {"local": 4, "ray": 3}
"""SIGKILLs per executor: each restart of a Ray driver costs seconds (a new job, new workers)."""

KILL_SWEEP = """
track = "density"
mitigations = ["replace", "accumulate"]
seeds = [0, 1, 2]

[models.gaussian]
generations = 30
data = { n = 100 }
"""


def rows_on_disk(results: Path) -> int:
    return sum(len(read_rows(run)) for run in find_runs(results)) if results.exists() else 0


def snapshot(results: Path) -> dict[str, bytes]:
    """Every result file's bytes (the manifest and lock files are bookkeeping, not results)."""
    return {
        str(p.relative_to(results)): p.read_bytes()
        for p in sorted(results.rglob("*"))
        if p.is_file() and p.name != ".lock" and MANIFEST_DIR not in p.relative_to(results).parts
    }


@pytest.fixture(scope="module")
def kill_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sweep file, and its uninterrupted results (local executor, in this process)."""
    root = tmp_path_factory.mktemp("kill")
    (root / "sweep.toml").write_text(KILL_SWEEP)
    run_configs(resolve_sweep(root / "sweep.toml", None, None, []).runs(), root / "whole",
                executor=LocalExecutor(1), show_progress=False)
    return root / "sweep.toml", root / "whole"


def assert_same_results(whole: Path, killed: Path) -> None:
    """Rows byte-identical, nothing torn or temporary left, checkpoints loadable without pickle."""
    runs = find_runs(whole)
    assert [r.relative_to(killed) for r in find_runs(killed)] == [r.relative_to(whole) for r in runs]
    for run in runs:
        twin = killed / run.relative_to(whole)
        assert (twin / "rows.jsonl").read_bytes() == (run / "rows.jsonl").read_bytes()
        validate_run(twin, read_spec(twin), read_rows(twin))
        states = sorted(p.name for p in (run / "state").iterdir())
        assert sorted(p.name for p in (twin / "state").iterdir()) == states
        for name in states:
            with np.load(run / "state" / name, allow_pickle=False) as a, np.load(twin / "state" / name, allow_pickle=False) as b:
                assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)
    assert not list(killed.rglob("*.tmp"))
    [manifest] = (killed / MANIFEST_DIR).glob("*.json")
    assert json.loads(manifest.read_text())["counts"] == {"finished": len(runs)}


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_sigkill_a_sweep_at_random_points_then_rerun_loses_nothing(executor, request, kill_sweep, tmp_path):
    sweep, whole = kill_sweep
    killed = tmp_path / "killed"
    options = ["--jobs", "2"]
    if executor == "ray":
        options = ["--executor", "ray", "--address", request.getfixturevalue("ray_address")]
    command = [*CLI, "sweep", str(sweep), "--results-dir", str(killed), *options]
    total = rows_on_disk(whole)
    pick = random.Random(f"sigkill-{executor}")
    kills = 0
    for _ in range(8):
        start = rows_on_disk(killed)
        target = start + pick.randint(3, 24)  # kill once this many more rows are on disk
        child = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while child.poll() is None and rows_on_disk(killed) < target:
            time.sleep(0.005)
        if child.poll() is not None:
            break
        child.send_signal(signal.SIGKILL)
        child.wait()
        kills += 1
        if kills == KILLS[executor] or rows_on_disk(killed) > total - 30:
            break
    rerun = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert kills >= 3
    assert_same_results(whole, killed)
    print(f"{executor}: {kills} SIGKILLs, then all {total} rows identical to the uninterrupted sweep")


_HELD_TINY_CLI = """
import os, sys, time
from collapsebench.plugin.loader import get_plugin_manager
from collapsebench.testing import TinyGaussian, TinyTrackPlugin
fit = TinyGaussian.fit
def held_fit(self, train, *args):
    while train.generation.max() >= 1 and os.path.exists(os.environ["HOLD"]):
        time.sleep(0.01)  # the writer sits at generation 2 with the run locked until the test lets go
    return fit(self, train, *args)
TinyGaussian.fit = held_fit
get_plugin_manager().register(TinyTrackPlugin(), name="tiny")
from collapsebench.cli import main
main()
"""


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="watches the waiter's open files in /proc")
def test_two_processes_never_write_the_same_generation(tiny_track, tmp_path):
    """The loser exits at once naming the holder (default), or waits with --lock-wait, then resumes."""
    script = tmp_path / "held_cli.py"
    script.write_text(_HELD_TINY_CLI)
    hold = tmp_path / "hold"
    hold.touch()
    results = tmp_path / "results"
    args = [sys.executable, str(script), "run", "--track", "tiny", "--model", "tiny-gaussian", "--seeds", "0",
            "--set", "generations=20", "--jobs", "1", "--results-dir", str(results)]
    env = {**ENV, "COLLAPSEBENCH_LOAD_PLUGINS": "", "HOLD": str(hold)}
    first = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while rows_on_disk(results) < 2:
        assert first.poll() is None, first.stderr.read()
        time.sleep(0.01)
    loser = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert loser.returncode == 2
    [line] = loser.stderr.strip().splitlines()
    assert line.startswith("error: 1 of 1 runs failed; first: tiny-gaussian · replace · seed 0: ")
    assert f"is being written by another collapsebench process (pid {first.pid} on " in line
    assert "or pass --lock-wait SECONDS to wait for it" in line
    assert rows_on_disk(results) == 2  # the loser wrote nothing
    waiter = subprocess.Popen([*args, "--lock-wait", "120"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    lock = next(results.rglob(".lock")).resolve()
    while not _has_open(waiter.pid, lock):  # the waiter is now waiting for the lock
        assert waiter.poll() is None, waiter.stderr.read()
        time.sleep(0.01)
    hold.unlink()  # the first writer goes on; the waiter takes the lock when it is done
    assert first.wait(timeout=120) == 0, first.stderr.read()
    assert waiter.wait(timeout=120) == 0, waiter.stderr.read()
    reference = run_configs([tiny_track.run_config(generations=20)], tmp_path / "reference",
                            executor=LocalExecutor(1), show_progress=False)
    [run] = find_runs(results)
    assert [r["generation"] for r in read_rows(run)] == list(range(21))
    assert (run / "rows.jsonl").read_bytes() == (reference.chains[0].path / "rows.jsonl").read_bytes()


def _has_open(pid: int, path: Path) -> bool:
    try:
        return any(Path(os.readlink(fd)) == path for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


# --- bad input: one line naming the fix, exit code ≠ 0, finished results untouched ---------------


class FileOptions(Options):
    folder: str


class FileNormal(DataSource):
    """Real data from ``<folder>/train.npy`` and ``test.npy``, read without pickle."""

    name = "tiny-files"
    Options = FileOptions

    def load(self, seed: int) -> RealData:
        folder = Path(self.options.folder)  # type: ignore[attr-defined]
        train = np.load(folder / "train.npy", allow_pickle=False)
        test = np.load(folder / "test.npy", allow_pickle=False)
        return RealData(Samples.real(train), Samples.real(test), fingerprint_arrays(train, test),
                        truth={"mean": 0.0, "std": 1.0})


class FileGaussian(TinyGaussian):
    name = "file-gaussian"
    data_source = FileNormal.name


class FilePlugin:
    @hookimpl
    def register_data_sources(self, register):
        register(FileNormal)

    @hookimpl
    def register_models(self, register):
        register(FileGaussian)


class RaisingPlugin:
    @hookimpl
    def register_models(self, register):
        raise RuntimeError("model table missing")


def _data_folder(tmp: Path, damage: Callable[[Path], None] | None) -> Path:
    folder = tmp / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    np.save(folder / "train.npy", rng.normal(size=(64, 1)))
    np.save(folder / "test.npy", rng.normal(size=(256, 1)))
    if damage:
        damage(folder)
    return folder


def _pickled(folder: Path) -> None:
    np.save(folder / "train.npy", np.array([{"not": "numbers"}], dtype=object), allow_pickle=True)


def _truncated(folder: Path) -> None:
    raw = (folder / "test.npy").read_bytes()
    (folder / "test.npy").write_bytes(raw[: len(raw) // 2])


def _old_schema(results: Path) -> None:
    """A finished accumulate run rewritten as if by a collapsebench of result schema 0."""
    [run] = [r for r in find_runs(results) if "accumulate" in r.parent.name]
    spec = json.loads((run / "run_spec.json").read_text())
    (run / "run_spec.json").write_text(json.dumps({**spec, "schema_version": 0}))


SWEEP_FILE = "track: tiny\nmodels: {tiny-gaussian: {}}\nmitigations: [replace, accumulate]\ngenerations: 3\n"
RUN = ["run", "--track", "tiny", "--model"]
BAD_INPUTS = {
    "unknown config key": (
        ["sweep", "{tmp}/sweep.yaml"], SWEEP_FILE.replace("generations:", "generation:"), None,
        "error: Unknown key 'generation' in {tmp}/sweep.yaml. Did you mean 'generations'?"),
    "malformed config file": (
        ["sweep", "{tmp}/sweep.yaml"], "track: tiny\nmodels: [unclosed\n", None,
        "error: Config file '{tmp}/sweep.yaml' is malformed: "),
    "unknown track": (
        ["run", "--track", "tinny", "--model", "tiny-gaussian"], None, None,
        "error: Unknown track 'tinny'. Did you mean 'tiny'?"),
    "unknown model": (
        [*RUN, "tiny-gausian"], None, None, "error: Unknown model 'tiny-gausian'. Did you mean 'tiny-gaussian'?"),
    "unknown mitigation": (
        [*RUN, "tiny-gaussian", "--mitigation", "acumulate"], None, None,
        "error: Unknown mitigation 'acumulate'. Did you mean 'accumulate'?"),
    "unknown metric": (
        ["plot", "--track", "tiny", "--out", "{tmp}/plots", "--metric", "tiny-nl"], None, None,
        "error: Unknown metric 'tiny-nl'. Did you mean 'tiny-nll'?"),
    "missing data folder": (
        [*RUN, "file-gaussian", "--set", "data.folder={tmp}/nowhere"], None, None,
        "error: 1 of 1 runs failed; first: file-gaussian · replace · seed 0: data source 'tiny-files' could not "
        "read its data (FileNotFoundError: [Errno 2] No such file or directory: '{tmp}/nowhere/train.npy'); "
        "check the paths in the config's data options, or download the data set again."),
    "unreadable data file (pickled)": (
        [*RUN, "file-gaussian", "--set", "data.folder={tmp}/data"], None, _pickled,
        "error: 1 of 1 runs failed; first: file-gaussian · replace · seed 0: data source 'tiny-files' could not "
        "read its data (ValueError: Object arrays cannot be loaded when allow_pickle=False); "),
    "truncated data file": (
        [*RUN, "file-gaussian", "--set", "data.folder={tmp}/data"], None, _truncated,
        "error: 1 of 1 runs failed; first: file-gaussian · replace · seed 0: data source 'tiny-files' could not "
        "read its data (ValueError: "),
    "results of an incompatible schema": (
        ["sweep", "{tmp}/sweep.yaml"], SWEEP_FILE, "old-schema",
        "error: 1 of 2 runs failed; first: tiny-gaussian · accumulate · seed 0: {results}/tiny/"),
    "plugin that raises on registration": (
        [*RUN, "raising-model"], None, "raising-plugin",
        "error: Unknown model 'raising-model'."),
}


@pytest.fixture
def no_entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the built-ins and the plugins a test registers, so stderr holds only what the test causes."""
    monkeypatch.setenv("COLLAPSEBENCH_LOAD_PLUGINS", "")
    reset_plugins()
    yield
    reset_plugins()


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_naming_the_fix_and_loses_nothing(case, no_entry_points, tiny_track, collapsebench_plugin,
                                                               tmp_path, monkeypatch, capsys):
    args, config_text, setup, expected = BAD_INPUTS[case]
    collapsebench_plugin(FilePlugin(), name="tiny-files")
    results = tmp_path / "results"
    done = ["sweep", "--track", "tiny", "--preset", "quick", "--set", "mitigations=[replace, accumulate]",
            "--set", "seeds=[0]", "--jobs", "1", "--results-dir", str(results)]
    assert _run_main(done, monkeypatch, capsys)[0] == 0
    if config_text:
        (tmp_path / "sweep.yaml").write_text(config_text)
    if setup == "old-schema":
        _old_schema(results)
    elif setup == "raising-plugin":
        collapsebench_plugin(RaisingPlugin(), name="raising")
    else:
        _data_folder(tmp_path, setup)
    before = snapshot(results)

    jobs = ["--jobs", "1"] if args[0] in ("run", "sweep") else []
    filled = [a.format(tmp=tmp_path) for a in args] + [*jobs, "--results-dir", str(results)]
    code, err = _run_main(filled, monkeypatch, capsys)

    *warnings, line = err.strip().splitlines()
    assert code == 2
    assert line.startswith(expected.format(tmp=tmp_path, results=results)), line
    assert snapshot(results) == before
    if setup == "raising-plugin":
        assert warnings == ["collapsebench: plugin 'raising' failed on register_models (RuntimeError: model table "
                            "missing); the others are loaded. Fix or uninstall it, or skip it with "
                            "COLLAPSEBENCH_BLOCK_PLUGINS=raising."]
    else:
        assert warnings == []
    if setup == "old-schema":
        assert "was written with result schema 0, this collapsebench reads schema 1: rerun into a new " \
               "--results-dir or use the matching collapsebench version." in line


def _run_main(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["collapsebench", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


@pytest.mark.parametrize("policy, rows", [("continue", 6), ("stop", 3)])
def test_a_loss_that_turns_nan_is_a_collapsed_generation(policy, rows, no_entry_points, tiny_track, results_dir, monkeypatch, capsys):
    fit = TinyGaussian.fit

    def nan_at_two(self, train, init, rng):
        model = fit(self, train, init, rng)
        return TinyGaussianModel(float("nan"), model.std) if train.generation.max() == 1 else model

    monkeypatch.setattr(TinyGaussian, "fit", nan_at_two)
    code, err = _run_main([*RUN, "tiny-gaussian", "--set", "generations=5", "--set", f"on_collapse={policy}", "--jobs", "1",
                           "--results-dir", str(results_dir)], monkeypatch, capsys)
    assert (code, err) == (0, "")
    [run] = find_runs(results_dir)
    stored = read_rows(run)
    assert len(stored) == rows
    assert stored[2]["status"] == "collapsed" and stored[2]["reason"] == "model produced non-finite samples"


@pytest.mark.parametrize("call", ["write", "replace"])
def test_a_full_disk_is_one_line_and_keeps_every_finished_row(call, no_entry_points, tiny_track, tmp_path, monkeypatch, capsys):
    """ENOSPC on the 5th row append (os.write) or the 9th atomic rename (os.replace), simulated."""
    args = [*RUN, "tiny-gaussian", "--seeds", "0,1", "--set", "generations=6", "--jobs", "1",
            "--results-dir", str(tmp_path / "r")]
    whole = run_configs([tiny_track.run_config(generations=6, seeds=[0, 1])], tmp_path / "whole",
                        executor=LocalExecutor(1), show_progress=False)
    original = getattr(os, call)
    calls = {"n": 0}

    def full(*a, **k):
        calls["n"] += 1
        if calls["n"] >= (5 if call == "write" else 9):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(*a, **k)

    monkeypatch.setattr(os, call, full)
    code, err = _run_main(args, monkeypatch, capsys)
    monkeypatch.setattr(os, call, original)

    assert code == 1
    [line] = err.splitlines()
    assert line.startswith(f"error: no space left on the device ({tmp_path}/r/tiny/tiny-gaussian__replace__")
    assert ("/seed-0/rows.jsonl): " if call == "write" else "/seed-0/state/synthetic_00004.npz): ") in line
    assert line.endswith("free some space or pass a --results-dir on a disk with room, then rerun the same "
                         "command: finished generations are kept and it resumes after them.")
    runs = find_runs(tmp_path / "r")
    kept = [(run / "rows.jsonl").read_bytes() for run in runs]
    wanted = [(c.path / "rows.jsonl").read_bytes() for c in whole.chains]
    assert [len(k.splitlines()) for k in kept] == ([4] if call == "write" else [3])
    assert all(w.startswith(k) for k, w in zip(kept, wanted))  # whole rows only, each the right one
    assert _run_main(args, monkeypatch, capsys)[0] == 0  # space freed: the rerun resumes
    assert [(run / "rows.jsonl").read_bytes() for run in find_runs(tmp_path / "r")] == wanted


# --- soak ----------------------------------------------------------------------------------------


def _tree_rss(root: int) -> dict[int, int]:
    """Resident memory (bytes) of ``root`` and its descendants, by pid."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid and p not in tree]
        tree.update(children)
        frontier += children
    rss = {}
    for pid in tree:
        try:
            rss[pid] = int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError):
            continue
    return rss


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads memory from /proc")
def test_soak_a_long_quick_preset_sweep_keeps_every_row_and_flat_memory(tmp_path):
    """The quick preset's Gaussian cell (3 mitigations × 5 seeds × 201 generations) on 2 processes."""
    budget = 240.0
    command = [*CLI, "sweep", "--track", "density", "--preset", "quick", "--set",
               "models={gaussian: {generations: 200, data: {n: 100}}}", "--jobs", "2", "--results-dir", str(tmp_path)]
    start = time.monotonic()
    child = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    series: dict[int, list[tuple[float, int]]] = {}
    peak = 0
    while child.poll() is None:
        assert time.monotonic() - start < budget, "the soak sweep ran over its time budget"
        sample = _tree_rss(child.pid)
        peak = max(peak, sum(sample.values()))
        for pid, rss in sample.items():
            series.setdefault(pid, []).append((time.monotonic(), rss))
        time.sleep(0.2)
    elapsed = time.monotonic() - start
    assert child.returncode == 0, child.stderr.read()
    runs = find_runs(tmp_path)
    assert len(runs) == 15 and all(len(read_rows(r)) == 201 for r in runs)
    growth = 0.0
    for pid, points in series.items():
        life = points[-1][0] - points[0][0]
        if life < 5:
            continue
        settled = max(rss for t, rss in points if t - points[0][0] <= life / 3)
        late = max(rss for t, rss in points if t - points[0][0] >= 2 * life / 3)
        assert late <= settled * 1.1 + 20e6, f"process {pid} grew from {settled / 1e6:.0f} MB to {late / 1e6:.0f} MB"
        growth = max(growth, late - settled)
    print(f"soak: 15 chains × 201 generations in {elapsed:.1f} s; peak RSS of the process tree {peak / 1e6:.0f} MB; "
          f"largest growth of one process from its first to its last third {growth / 1e6:.1f} MB")
