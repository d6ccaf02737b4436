"""Executors: where the tasks of a sweep run. A task is the chains of one config that run together.

Chains are sequential inside and independent of each other, so any backend that runs tasks in
any order and reports when each ends will do. ``local`` runs them in parallel processes on this
machine (the default, and what CI uses); ``ray`` runs each as a Ray core task, on one machine or
a cluster (``pip install 'collapsebench[ray]'``). Resume is not an executor's business: the run
manifest decides what is left before any task starts, and every chain resumes from its own rows.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import socket
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from collapsebench.errors import CollapseBenchError
from collapsebench.experiment.config import RunConfig

EXECUTORS = ("local", "ray")

Advance = Callable[[int], None]
"""Called with a task's index each time one of its generations is finished."""


@dataclass(frozen=True)
class Task:
    """A unit of scheduling: seeds of one config that run in lockstep in one process."""

    config: RunConfig
    label: str


@dataclass(frozen=True)
class Outcome:
    """How a task ended: ``error`` is a one-line message for the user, or None when it finished."""

    index: int
    error: str | None = None


@dataclass(frozen=True)
class TaskSettings:
    """What every task of a sweep shares: BLAS/torch threads and how long to wait for a locked run."""

    threads: int = 1
    lock_wait: float = 0.0


def limit_threads(threads: int) -> None:
    """Fix BLAS and torch thread counts so results do not depend on how many jobs run.

    A torch imported later (tracks import it lazily) reads ``OMP_NUM_THREADS``; importing it here
    would cost every task seconds even when its track never uses torch.
    """
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def run_task(config: RunConfig, results_dir: Path, settings: TaskSettings, advance: Callable[[], None]) -> dict[int, int]:
    """Run one task's chains where this is called; returns the number of rows of each seed."""
    from collapsebench.run.chain import run_chains

    limit_threads(settings.threads)
    rows = run_chains(config, results_dir, progress=lambda seed, g: advance(), lock_wait=settings.lock_wait)
    return {seed: len(r) for seed, r in rows.items()}


class Executor(ABC):
    """Runs tasks and yields each one's outcome as it ends.

    A CollapseBenchError in a task is that task's outcome; the others go on. Any other exception
    is a bug: it is raised once every task has ended, so no finished chain is cut short.
    """

    name: ClassVar[str]
    lock_wait: ClassVar[float] = 0.0
    """Default seconds a task waits for a run folder another process holds (``--lock-wait``)."""

    def __enter__(self) -> Executor:
        """Acquire what the backend needs (a cluster connection) before any progress is shown."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Release it again."""

    @abstractmethod
    def run(self, tasks: Sequence[Task], results_dir: Path, settings: TaskSettings, advance: Advance) -> Iterator[Outcome]:
        """Run ``tasks``; ``results_dir`` is absolute, so it means the same to every worker."""


class LocalExecutor(Executor):
    """Parallel processes on this machine (``spawn``, so each starts clean); in-process for one job."""

    name = "local"

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = jobs

    def run(self, tasks: Sequence[Task], results_dir: Path, settings: TaskSettings, advance: Advance) -> Iterator[Outcome]:
        jobs = max(1, min(self.jobs or os.cpu_count() or 1, len(tasks)))
        if jobs == 1:
            for index, task in enumerate(tasks):
                try:
                    run_task(task.config, results_dir, settings, lambda i=index: advance(i))
                except CollapseBenchError as exc:
                    yield Outcome(index, str(exc))
                else:
                    yield Outcome(index)
            return
        context = multiprocessing.get_context("spawn")
        events = context.Queue()
        unexpected: BaseException | None = None
        with ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_init_worker, initargs=(events, os.getpid())
        ) as pool:
            futures: dict[Future, int] = {
                pool.submit(_local_task, t.config, results_dir, settings, i): i for i, t in enumerate(tasks)
            }
            pending = set(futures)
            while pending:
                try:
                    advance(events.get(timeout=0.1))
                except queue.Empty:
                    pass
                for future in [f for f in pending if f.done()]:
                    pending.discard(future)
                    exc = future.exception()
                    if exc is None:
                        yield Outcome(futures[future])
                    elif isinstance(exc, CollapseBenchError):
                        yield Outcome(futures[future], str(exc))
                    elif isinstance(exc, BrokenProcessPool):
                        yield Outcome(futures[future], "a worker process died (killed, or out of memory?); rerun the "
                                                       "same command to resume it from its last finished generation.")
                    else:
                        unexpected = unexpected or exc
        events.close()
        if unexpected is not None:
            raise unexpected


_events: Any = None


def _init_worker(events: Any, parent: int) -> None:
    """Keep the progress queue, and exit when the sweep process is gone (killed, even by SIGKILL).

    Otherwise an orphaned worker would go on writing its chain while a rerun wants that run's lock.
    """
    global _events
    _events = events

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="collapsebench-orphan-watch").start()


def _local_task(config: RunConfig, results_dir: Path, settings: TaskSettings, index: int) -> dict[int, int]:
    return run_task(config, results_dir, settings, lambda: _events.put(index))


FORWARDED_ENV = ("COLLAPSEBENCH_", "HF_")
"""Environment variables that travel with each Ray task (plugin selection, offline mode)."""

RAY_MAX_RETRIES = 3
"""A task whose worker or node died is run again this often; it resumes from its rows."""


class RayExecutor(Executor):
    """Ray core tasks, one per task, asking for the resources the track declares.

    With ``address`` it joins a running cluster (``auto``, ``host:6379`` or ``ray://host:10001``);
    without, it starts a Ray instance on this machine with ``num_cpus`` CPUs and stops it at the
    end. Every worker must have collapsebench and the plugins installed, and ``--results-dir``
    must be the same shared folder on every node (it is checked after each task).
    """

    name = "ray"
    lock_wait = 120.0  # a rerun or retried task may race its previous attempt: a killed driver's
    # worker takes a moment to stop, and an NFS lock of a lost node lasts until its lease ends (~90 s)

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self._ray: Any = None
        self._started = False

    def __enter__(self) -> RayExecutor:
        self._ray = _import_ray()
        self._started = self._connect(self._ray)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self._ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Join the cluster (or start a local instance); True when this call started Ray."""
        if ray.is_initialized():
            return False
        import logging

        options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
        if self.address is None:
            options.update(num_cpus=self.num_cpus, include_dashboard=False)
        try:
            _probe(self.address)
            ray.init(address=self.address, **options)
        except (OSError, RuntimeError, ValueError) as exc:  # refused, unknown host, timed out, bad form
            message = " ".join(str(exc).split())[:300]
            if self.address is None:
                raise CollapseBenchError(
                    f"Could not start Ray on this machine ({message}): pass --address of a running cluster, "
                    "or use --executor local."
                ) from None
            raise CollapseBenchError(
                f"Could not connect to the Ray cluster at '{self.address}' ({message}): start one with "
                "`ray start --head`, pass the address it prints (host:6379, or auto on a cluster node), "
                "or leave --address out to start Ray on this machine."
            ) from None
        return True

    def run(self, tasks: Sequence[Task], results_dir: Path, settings: TaskSettings, advance: Advance) -> Iterator[Outcome]:
        ray = self._ray
        if ray is None:
            raise RuntimeError("use the Ray executor inside `with executor:`")
        from collapsebench.plugin.components import resolve

        box = ray.remote(num_cpus=0)(ProgressBox).remote()
        remote = ray.remote(_ray_task)
        gpus = float(ray.cluster_resources().get("GPU", 0))
        env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)}
        warned: set[str] = set()
        refs: dict[Any, int] = {}
        for index, task in enumerate(tasks):
            track = resolve(task.config).track
            options, warning = ray_task_options(track.name, track.resources, gpus)
            if warning and track.name not in warned:
                warned.add(track.name)
                print(f"collapsebench: {warning}", file=sys.stderr)
            if env:
                options["runtime_env"] = {"env_vars": env}
            ref = remote.options(max_retries=RAY_MAX_RETRIES, **options).remote(
                task.config.model_dump(), str(results_dir), settings, box, index
            )
            refs[ref] = index
        unexpected: BaseException | None = None
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=0.2)
            for index in ray.get(box.drain.remote()):
                advance(index)
            for ref in done:
                index = refs[ref]
                try:
                    counts = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if exc.cause is not None else exc
                    if isinstance(cause, CollapseBenchError):
                        yield Outcome(index, str(cause))
                    else:
                        unexpected = unexpected or cause
                    continue
                except ray.exceptions.RayError as exc:  # worker or node lost more often than retried
                    first = " ".join(str(exc).split())[:200]
                    yield Outcome(index, f"its Ray worker was lost ({type(exc).__name__}: {first}); rerun the "
                                         "same command to resume it from its last finished generation.")
                    continue
                yield Outcome(index, _unshared(tasks[index].config, results_dir, counts))
        if unexpected is not None:
            raise unexpected


def ray_task_options(track: str, resources: dict[str, Any], cluster_gpus: float) -> tuple[dict[str, Any], str | None]:
    """Ray resources for one chain of ``track``, and a warning when a GPU is wanted but there is none.

    A task that asks for a GPU on a cluster without one would wait forever, so it falls back to CPU.
    """
    options: dict[str, Any] = {"num_cpus": resources.get("cpus", 1), "num_gpus": 0}
    if not resources.get("gpu"):
        return options, None
    if cluster_gpus >= 1:
        options["num_gpus"] = 1
        return options, None
    return options, (
        f"track '{track}' asks for a GPU per chain but the Ray cluster has none; its chains run on CPU "
        "(slowly). Add GPU nodes to the cluster, or use a smaller preset."
    )


class ProgressBox:
    """A Ray actor that collects progress events from tasks until the driver drains them."""

    def __init__(self) -> None:
        self.events: list[int] = []

    def add(self, index: int) -> None:
        self.events.append(index)

    def drain(self) -> list[int]:
        events, self.events = self.events, []
        return events

    def sync(self) -> None:
        """A no-op a task waits for: calls from one caller run in order, so its events are all in."""


def _ray_task(config: dict[str, Any], results_dir: str, settings: TaskSettings, box: Any, index: int) -> dict[int, int]:
    import ray

    counts = run_task(RunConfig(**config), Path(results_dir), settings, lambda: box.add.remote(index))
    ray.get(box.sync.remote())
    return counts


def _unshared(config: RunConfig, results_dir: Path, counts: dict[int, int]) -> str | None:
    """An error when a worker wrote rows that this machine cannot see: the results folder is not shared."""
    from collapsebench.run.chain import run_dir
    from collapsebench.run.storage import read_rows

    for seed, rows in counts.items():
        path = run_dir(results_dir, config, seed)
        if len(read_rows(path)) < rows:
            return (
                f"a Ray worker wrote {rows} rows to {path} but this machine sees fewer: --results-dir must be "
                "a folder every node shares at the same path (e.g. on NFS or Lustre)."
            )
    return None


def _probe(address: str | None) -> None:
    """Fail at once on a ``host:port`` where nothing listens (Ray itself retries for minutes)."""
    if address is None or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"'{address}' is not host:port")
    with socket.create_connection((host, int(port)), timeout=10):
        pass


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise CollapseBenchError(
            "The ray executor needs Ray: pip install 'collapsebench[ray]' (or use --executor local)."
        ) from None
    return ray


def make_executor(name: str, jobs: int | None = None, address: str | None = None) -> Executor:
    """The executor called ``name``; ``jobs`` caps local processes (or a local Ray instance's CPUs)."""
    if name == "local":
        if address is not None:
            raise CollapseBenchError("--address is for --executor ray; the local executor runs on this machine.")
        return LocalExecutor(jobs)
    if name == "ray":
        return RayExecutor(address, num_cpus=jobs)
    raise CollapseBenchError(f"Unknown executor '{name}'. Available: {', '.join(EXECUTORS)}.")
