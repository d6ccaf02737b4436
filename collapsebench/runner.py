"""Turn CLI arguments into configs and run their chains, locally in parallel processes."""

from __future__ import annotations

import copy
import multiprocessing
import os
import queue
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collapsebench.components import resolve
from collapsebench.config import (
    RunConfig,
    SweepConfig,
    apply_overrides,
    parse_run,
    parse_sweep,
    read_config_file,
)
from collapsebench.errors import CollapseBenchError, ConfigError, UnknownNameError
from collapsebench.registry import registries, unknown_message


def preset(track: str, name: str) -> dict[str, Any]:
    """A track's preset as a sweep config dict (a copy)."""
    presets = registries().tracks.get(track).presets
    if name not in presets:
        raise UnknownNameError(unknown_message("preset", name, sorted(presets)))
    return {"track": track, **copy.deepcopy(presets[name])}


def resolve_sweep(config_file: Path | None, track: str | None, preset_name: str | None, overrides: list[str]) -> SweepConfig:
    """A sweep from a file or a track's preset, with ``--set`` overrides; every run validated."""
    if config_file is not None:
        data, where = read_config_file(config_file), str(config_file)
        if track:
            data["track"] = track
    elif track and preset_name:
        data, where = preset(track, preset_name), f"preset '{preset_name}' of track '{track}'"
    else:
        raise ConfigError("Give a config file, or --track and --preset (e.g. --track density --preset quick).")
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


@dataclass(frozen=True)
class Task:
    """A unit of scheduling: seeds of one config that run in lockstep in one process."""

    config: RunConfig
    label: str


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


def limit_threads(threads: int) -> None:
    """Fix BLAS and torch thread counts so results do not depend on how many jobs run."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def _run_task(config: RunConfig, results_dir: Path, events: Any, task_id: int, threads: int) -> int:
    from collapsebench.chain import run_chains

    limit_threads(threads)
    run_chains(config, results_dir, progress=lambda seed, g: events.put(task_id))
    return task_id


def run_configs(configs: list[RunConfig], results_dir: Path, jobs: int | None = None, show_progress: bool = True) -> None:
    """Run every config's chains, resuming finished work; errors are collected, then reported."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks = plan(configs)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    threads = int(os.environ.get("COLLAPSEBENCH_THREADS", "1"))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    failures: list[str] = []
    with Progress(*columns, disable=not show_progress, transient=False) as bar:
        ids = [
            bar.add_task(t.label, total=len(t.config.seeds) * (t.config.generations + 1)) for t in tasks
        ]
        if jobs == 1:
            for task, task_id in zip(tasks, ids):
                try:
                    _run_task(task.config, results_dir, _Forward(bar, task_id), task_id, threads)
                except CollapseBenchError as exc:
                    failures.append(f"{task.label}: {exc}")
        else:
            manager = multiprocessing.Manager()
            events = manager.Queue()
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures: dict[Future, Task] = {
                    pool.submit(_run_task, t.config, results_dir, events, i, threads): t for t, i in zip(tasks, ids)
                }
                while any(not f.done() for f in futures) or not events.empty():
                    try:
                        bar.advance(events.get(timeout=0.1))
                    except queue.Empty:
                        pass
                for future, task in futures.items():
                    exc = future.exception()
                    if isinstance(exc, CollapseBenchError):
                        failures.append(f"{task.label}: {exc}")
                    elif exc is not None:
                        raise exc
            manager.shutdown()
        _complete_resumed(bar, ids)
    if failures:
        raise CollapseBenchError(f"{len(failures)} of {len(tasks)} runs failed; first: {failures[0]}")


class _Forward:
    """Progress events of an in-process task go straight to the bar."""

    def __init__(self, bar: Any, task_id: int) -> None:
        self.bar, self.task_id = bar, task_id

    def put(self, task_id: int) -> None:
        self.bar.advance(task_id)


def _complete_resumed(bar: Any, ids: list[int]) -> None:
    """Generations skipped because they were already finished count as done."""
    for task_id in ids:
        bar.update(task_id, completed=bar.tasks[task_id].total)
