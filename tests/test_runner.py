"""From command-line arguments to finished runs: config resolution, planning, the local executor."""

from __future__ import annotations

import pytest

from collapsebench.errors import CollapseBenchError, ConfigError, UnknownNameError
from collapsebench.run.chain import run_dir
from collapsebench.run.runner import plan, resolve_run, resolve_sweep, run_configs
from collapsebench.run.storage import RunStore, find_runs, read_rows


def test_run_from_a_preset_cell_with_flags_and_overrides(tiny_track):
    config = resolve_run(None, "tiny", "quick", "tiny-gaussian", "retain:0.5", "3,4", ["generations=2", "sampling.temperature=0.5"])
    assert (config.model, config.mitigation, config.seeds, config.generations) == ("tiny-gaussian", "retain:0.5", [3, 4], 2)
    assert config.sampling == {"temperature": 0.5}


def test_run_from_a_file(tiny_track, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("track: tiny\nmodel: tiny-gaussian\nmitigation: accumulate\nseeds: [1]\ngenerations: 4\n")
    config = resolve_run(path, None, None, None, None, None, [])
    assert (config.mitigation, config.seeds, config.generations) == ("accumulate", [1], 4)


@pytest.mark.parametrize(
    "args, error, message",
    [
        (("tiny", "quik", "tiny-gaussian", None), UnknownNameError, "Unknown preset 'quik'. Did you mean 'quick'?"),
        (("tiny", None, "tiny-gausian", None), UnknownNameError, "Did you mean 'tiny-gaussian'?"),
        (("tiny", None, "tiny-gaussian", "retian:0.1"), UnknownNameError, "Unknown mitigation 'retian:0.1'. Did you mean 'retain'?"),
        (("tiny", None, "tiny-gaussian", "retain:2"), ConfigError, "fraction in (0, 1]"),
        (("tinny", None, "tiny-gaussian", None), UnknownNameError, "Unknown track 'tinny'. Did you mean 'tiny'?"),
    ],
)
def test_bad_names_fail_before_anything_runs(tiny_track, results_dir, args, error, message):
    track, preset, model, mitigation = args
    with pytest.raises(error) as info:
        resolve_run(None, track, preset, model, mitigation, None, [])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_component_options_name_the_key(tiny_track):
    with pytest.raises(ConfigError, match="Unknown key 'dof' in options of model 'tiny-gaussian'. Did you mean 'ddof'?"):
        resolve_run(None, "tiny", None, "tiny-gaussian", None, None, ["options.dof=1"])


def test_sweep_grid_runs_and_resumes(tiny_track, results_dir):
    sweep = resolve_sweep(None, "tiny", "quick", ["mitigations=[replace, accumulate]", "seeds=[0,1,2]"])
    run_configs(sweep.runs(), results_dir, jobs=1, show_progress=False)
    runs = find_runs(results_dir, "tiny")
    assert len(runs) == 2 * 3
    assert all(len(read_rows(r)) == 4 for r in runs)
    before = {r: (r / "rows.jsonl").read_bytes() for r in runs}
    run_configs(sweep.runs(), results_dir, jobs=1, show_progress=False)
    assert {r: (r / "rows.jsonl").read_bytes() for r in runs} == before


def test_non_vectorised_families_get_one_task_per_seed(tiny_track):
    config = resolve_run(None, "tiny", "quick", "tiny-gaussian", None, "0,1,2", [])
    tasks = plan([config])
    assert [t.config.seeds for t in tasks] == [[0], [1], [2]]


def test_a_failing_run_does_not_lose_the_others(tiny_track, results_dir):
    good = resolve_run(None, "tiny", "quick", "tiny-gaussian", "replace", "0", [])
    busy = good.model_copy(update={"mitigation": "accumulate"})
    with RunStore(run_dir(results_dir, busy, 0)).locked():
        with pytest.raises(CollapseBenchError, match="1 of 2 runs failed; first: .*another collapsebench process"):
            run_configs([busy, good], results_dir, jobs=1, show_progress=False)
    assert len(read_rows(run_dir(results_dir, good, 0))) == good.generations + 1
