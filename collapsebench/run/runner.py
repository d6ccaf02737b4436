"""Turn CLI arguments into configs, plan them into tasks and run those on an executor."""

from __future__ import annotations

import copy
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from collapsebench.errors import CollapseBenchError, ConfigError, UnknownNameError
from collapsebench.experiment.config import (
    RunConfig,
    SweepConfig,
    apply_overrides,
    parse_run,
    parse_sweep,
    read_config_file,
)
from collapsebench.plugin.components import resolve
from collapsebench.plugin.registry import registries, unknown_message
from collapsebench.run.executors import Executor, LocalExecutor, Task, TaskSettings
from collapsebench.run.manifest import Manifest


def preset(track: str, name: str, populations: bool = False) -> dict[str, Any]:
    """A track's preset (or population preset) as a config dict (a copy)."""
    found = registries().tracks.get(track)
    presets = found.populations if populations else found.presets
    if name not in presets:
        kind = "population preset" if populations else "preset"
        raise UnknownNameError(unknown_message(kind, name, sorted(presets)))
    return {"track": track, **copy.deepcopy(presets[name])}


def config_data(
    config_file: Path | None, track: str | None, preset_name: str | None, populations: bool = False
) -> tuple[dict[str, Any], str]:
    """The raw config of a file (``track`` overriding its own) or of a track's preset, and where it came from."""
    if config_file is not None:
        data = read_config_file(config_file)
        if track:
            data["track"] = track
        return data, str(config_file)
    kind, example = ("population preset", "cross-quick") if populations else ("preset", "quick")
    if track and preset_name:
        return preset(track, preset_name, populations), f"{kind} '{preset_name}' of track '{track}'"
    raise ConfigError(
        f"Give a {'population ' if populations else ''}config file, or --track and --preset "
        f"(e.g. --track density --preset {example})."
    )


def resolve_sweep(config_file: Path | None, track: str | None, preset_name: str | None, overrides: list[str]) -> SweepConfig:
    """A sweep from a file or a track's preset, with ``--set`` overrides; every run validated."""
    data, where = config_data(config_file, track, preset_name)
    sweep = parse_sweep(apply_overrides(data, overrides), where)
    for config in sweep.runs():
        resolve(config)
    return sweep


def resolve_run(
    config_file: Path | None,
    track: str | None,
    preset_name: str | None,
    model: str | None,
    mitigation: str | None,
    seeds: str | None,
    overrides: list[str],
) -> RunConfig:
    """One run config from a file, a preset cell or flags, with ``--set`` overrides; validated."""
    data: dict[str, Any]
    if config_file is not None:
        data, where = read_config_file(config_file), str(config_file)
    elif preset_name:
        if not track:
            raise ConfigError("--preset needs --track, e.g. --track density --preset quick.")
        sweep = parse_sweep(preset(track, preset_name), f"preset '{preset_name}'")
        if not model:
            raise ConfigError(f"Give --model, one of: {', '.join(sweep.models)}.")
        cells = [r for r in sweep.runs() if r.model == model]
        if not cells:
            raise UnknownNameError(unknown_message("model", model, list(sweep.models)))
        data, where = cells[0].model_dump(), f"preset '{preset_name}' of track '{track}'"
    else:
        data, where = {}, "command line"
    for key, value in (("track", track), ("model", model), ("mitigation", mitigation)):
        if value:
            data[key] = value
    if seeds:
        try:
            data["seeds"] = [int(s) for s in seeds.split(",") if s.strip()]
        except ValueError:
            raise ConfigError(f"--seeds must be comma-separated integers, e.g. 0,1,2 (got '{seeds}').") from None
    for key in ("track", "model"):
        if key not in data:
            raise ConfigError(f"No {key} given: pass --{key} or a config file that sets '{key}'.")
    config = parse_run(apply_overrides(data, overrides), where)
    resolve(config)
    return config


def plan(configs: list[RunConfig]) -> list[Task]:
    """Vectorised families run all their seeds in one task; others get one task per seed."""
    tasks = []
    for config in configs:
        label = f"{config.model} · {config.mitigation}"
        if resolve(config).vectorized:
            tasks.append(Task(config, label))
        else:
            tasks += [Task(config.model_copy(update={"seeds": [s]}), f"{label} · seed {s}") for s in config.seeds]
    return sorted(tasks, key=lambda t: len(t.config.seeds) * (t.config.generations + 1), reverse=True)


def run_configs(
    configs: list[RunConfig],
    results_dir: Path,
    jobs: int | None = None,
    show_progress: bool = True,
    executor: Executor | None = None,
    lock_wait: float | None = None,
) -> Manifest:
    """Run every config's unfinished chains on ``executor`` (local processes by default).

    The manifest, read from the rows on disk, decides what is left, so a rerun skips finished
    chains and generations under every executor. Failed chains are collected, then reported.
    ``lock_wait`` (default: the executor's) is how long a chain waits for a run another process holds.
    """
    results_dir = Path(results_dir).absolute()
    executor = executor or LocalExecutor(jobs)
    manifest = Manifest(results_dir, configs, executor.name)
    tasks = plan(manifest.todo())
    settings = TaskSettings(
        threads=int(os.environ.get("COLLAPSEBENCH_THREADS", "1")),
        lock_wait=executor.lock_wait if lock_wait is None else lock_wait,
    )
    with executor if tasks else nullcontext():  # a finished sweep needs no workers (nor a cluster)
        manifest.write()
        if tasks:
            _run_tasks(executor, tasks, manifest, settings, show_progress)
    failed = manifest.failed()
    if failed:
        raise CollapseBenchError(
            f"{len(failed)} of {len(manifest.chains)} runs failed; first: {failed[0].label}: {failed[0].error} "
            f"(states: {manifest.path})"
        )
    return manifest


def _run_tasks(executor: Executor, tasks: list[Task], manifest: Manifest, settings: TaskSettings, show: bool) -> None:
    """Run the tasks with a progress bar per task; the manifest is rewritten as each one ends."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not show, transient=False) as bar:
        ids = [
            bar.add_task(
                t.label,
                total=len(t.config.seeds) * (t.config.generations + 1),
                completed=sum(c.rows for c in manifest.of(t.config)),
            )
            for t in tasks
        ]

        def advance(index: int) -> None:
            if not bar.tasks[ids[index]].finished:  # a late event of a task already shown as done
                bar.advance(ids[index])

        for outcome in executor.run(tasks, manifest.results_dir, settings, advance):
            manifest.finish_task(tasks[outcome.index].config, outcome.error)
            manifest.write()
            if outcome.error is None:  # chains stopped by a collapse skip their last generations
                bar.update(ids[outcome.index], completed=bar.tasks[ids[outcome.index]].total)
