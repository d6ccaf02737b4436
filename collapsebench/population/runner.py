"""Populations: P models that train on each other's samples, stepped in lockstep generation by generation.

Per generation g, for every seed: each member's training set is mixed (``collapsebench.population.mixture``)
from the real train pool and the members' generation-(g−1) samples, all before any member fits
generation g; then each member fits and samples (vectorised over seeds, as a plain chain does),
and its row records, besides the track's metrics, its distance to the other members' samples of
generation g (``population-distance``). Every member is stored as an ordinary run (rows.jsonl,
run_spec.json, state/) whose mitigation names the mixture, the member and the population id, so
the seed aggregation, leaderboards and resume of plain chains apply unchanged. The members of a
population share one seed and one real data set, and draw from random streams of their own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from collapsebench.errors import ConfigError
from collapsebench.experiment.config import apply_overrides
from collapsebench.experiment.samples import REAL, Samples, split_labels
from collapsebench.experiment.seeding import Stream
from collapsebench.files import atomic_write_json
from collapsebench.plugin.components import Components, resolve
from collapsebench.plugin.registry import registries
from collapsebench.population.config import (
    POPULATION_ID_EXCLUDES,
    PopulationConfig,
    parse_population,
)
from collapsebench.population.homogenisation import PEERS, PopulationDistance
from collapsebench.population.mixture import (
    Mix,
    MixWeights,
    build_mixture,
    exact_counts,
    member_mitigation,
)
from collapsebench.run.chain import (
    Chain,
    Progress,
    fit_and_sample,
    open_chain,
    record,
    record_collapse,
    run_dir,
)
from collapsebench.run.executors import limit_threads
from collapsebench.run.runner import config_data
from collapsebench.run.storage import RunStore

Rows = dict[str, dict[int, list[dict[str, Any]]]]
"""Each member's rows by seed."""


@dataclass
class Member:
    """One member of a population under one mixture: its components and its chain per seed."""

    name: str
    parts: Components
    weights: MixWeights
    chains: dict[int, Chain] = field(default_factory=dict)


def stream_key(name: str) -> int:
    """A member's random streams depend on its name only, so its generation 0 is the same under every mixture."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def resolve_population(population: PopulationConfig, mixture: str) -> list[Member]:
    """Every member's components under ``mixture``; members must read the same data source."""
    weights = MixWeights.parse(mixture)
    population_id = population.population_id()
    distance = PopulationDistance(registries().tracks.get(population.track).pairwise_distance)
    members = []
    for name in population.members:
        config = population.member_config(name, member_mitigation(mixture, name, population_id))
        plain = resolve(config.model_copy(update={"mitigation": "replace"}))  # Mix is not registered: see mixture.Mix
        mix = Mix(config.mitigation.partition(":")[2])
        parts = dataclasses.replace(plain, config=config, mitigation=mix, metrics=(*plain.metrics, distance))
        members.append(Member(name, parts, weights))
    sources = {m.name: m.parts.data_source.name for m in members}
    if len(set(sources.values())) > 1:
        listed = ", ".join(f"{n} reads '{s}'" for n, s in sources.items())
        raise ConfigError(
            f"The members of a population must share one data source, but {listed}: "
            "choose model families of the track that read the same data."
        )
    return members


def run_population(
    population: PopulationConfig,
    mixture: str,
    results_dir: Path,
    progress: Progress | None = None,
    lock_wait: float = 0.0,
) -> Rows:
    """Run (or resume) the population under ``mixture`` for every seed; returns each member's rows.

    BLAS runs on ``COLLAPSEBENCH_THREADS`` threads (default 1) meanwhile, as a sweep's chains do.
    """
    members = resolve_population(population, mixture)
    with ExitStack() as stack:
        stack.enter_context(threadpool_limits(_threads()))
        for m in members:
            for seed in population.seeds:
                store = stack.enter_context(RunStore(run_dir(results_dir, m.parts.config, seed)).locked(lock_wait))
                m.chains[seed] = open_chain(m.parts, seed, store, name=m.name, stream_key=stream_key(m.name))
        _check_same_data(members, population.seeds)
        record_population(population, Path(results_dir))
        pending = [c.next_generation for m in members for c in m.chains.values() if not c.done]
        for generation in range(min(pending, default=population.generations + 1), population.generations + 1):
            _lockstep(members, generation, progress)
        return {m.name: {seed: c.store.rows() for seed, c in m.chains.items()} for m in members}


def _threads() -> int:
    return int(os.environ.get("COLLAPSEBENCH_THREADS", "1"))


def record_population(population: PopulationConfig, results_dir: Path) -> Path:
    """``<results>/<track>/populations/<id>.json``: the members behind the id in each member's mitigation."""
    path = results_dir / population.track / "populations" / f"{population.population_id()}.json"
    atomic_write_json(path, population.model_dump(exclude=POPULATION_ID_EXCLUDES))
    return path


def _check_same_data(members: list[Member], seeds: list[int]) -> None:
    for seed in seeds:
        prints = {m.name: m.chains[seed].real.fingerprint for m in members}
        if len(set(prints.values())) > 1:
            raise ConfigError(
                f"The members of a population must train on the same real data, but for seed {seed} their data "
                f"fingerprints differ ({prints}): give them the same data options."
            )


def _lockstep(members: list[Member], generation: int, progress: Progress | None) -> None:
    """Generation ``generation`` of every member and seed; training sets are all built before any fit."""
    by_name = {m.name: m for m in members}
    plans: list[tuple[Member, list[Chain], list[Samples]]] = []
    for m in members:
        chains, trains = [], []
        for chain in (c for c in m.chains.values() if not c.done and c.next_generation == generation):
            train = _training_set(m, by_name, chain.seed, generation)
            if isinstance(train, str):
                record_collapse(m.parts, chain, generation, _empty(chain), train)
                if progress is not None:
                    progress(chain.seed, generation)
            else:
                chains.append(chain)
                trains.append(train)
        plans.append((m, chains, trains))
    outcomes = [fit_and_sample(m.parts, chains, generation, trains) if chains else [] for m, chains, trains in plans]
    drawn = {
        (m.name, chain.seed): split_labels(out[1])[0]
        for (m, chains, _), outs in zip(plans, outcomes)
        for chain, out in zip(chains, outs)
        if out[1] is not None
    }
    for (m, chains, trains), outs in zip(plans, outcomes):
        for chain in chains:
            chain.cache[PEERS] = _peer_samples(members, m.name, chain.seed, generation, drawn)
        if chains:
            record(m.parts, chains, generation, trains, outs, progress)


def _empty(chain: Chain) -> Samples:
    return chain.real.train.take(np.arange(0))


def _training_set(member: Member, by_name: Mapping[str, Member], seed: int, generation: int) -> Samples | str:
    """Member's mixture for ``generation`` from the peers' generation-(g−1) samples, or why it cannot be built."""
    chain = member.chains[seed]
    if generation == 0 or chain.reference is None:
        return chain.real.train
    shares = member.weights.shares(member.name, list(by_name))
    counts = {k: v for k, v in exact_counts(shares, len(chain.real.train)).items() if v}
    latest = {}
    for name in counts:
        if name == REAL:
            continue
        samples = _samples_of(by_name[name].chains[seed], generation - 1, member.parts.config.on_collapse == "continue")
        if samples is None:
            return f"population member '{name}' has no samples of generation {generation - 1} (it collapsed)"
        latest[name] = samples
    return build_mixture(counts, chain.real.train, latest, chain.rng(generation, Stream.BUILD))


def _samples_of(chain: Chain, generation: int, newest_earlier: bool) -> Samples | None:
    """The chain's synthetic set drawn at ``generation`` (or, if ``newest_earlier``, its newest one before)."""
    found = [s for s in chain.history if len(s) and int(s.generation[0]) <= generation]
    exact = [s for s in found if int(s.generation[0]) == generation]
    if exact:
        return exact[0]
    return found[-1] if newest_earlier and found else None


def _peer_samples(
    members: list[Member], me: str, seed: int, generation: int, drawn: Mapping[tuple[str, int], np.ndarray]
) -> dict[str, np.ndarray]:
    """The other members' samples of ``generation``: just drawn, or (after a resume) from their history."""
    peers = {}
    for m in members:
        if m.name == me:
            continue
        if (m.name, seed) in drawn:
            peers[m.name] = drawn[(m.name, seed)]
        elif (samples := _samples_of(m.chains[seed], generation, False)) is not None:
            peers[m.name] = samples.data
    return peers


def resolve_population_config(
    config_file: Path | None, track: str | None, preset_name: str | None, overrides: list[str]
) -> PopulationConfig:
    """A population from a file or a track's population preset, with ``--set`` overrides; every mixture validated."""
    data, where = config_data(config_file, track, preset_name, populations=True)
    population = parse_population(apply_overrides(data, overrides), where)
    for mixture in population.mixtures:
        resolve_population(population, mixture)
    return population


def run_mixtures(
    population: PopulationConfig, results_dir: Path, jobs: int = 1, report: Callable[[str], None] | None = None
) -> None:
    """Every mixture of ``population`` (in ``jobs`` processes); ``report`` hears of each finished mixture.

    BLAS/torch threads per process are ``COLLAPSEBENCH_THREADS`` (default 1), as for sweeps.
    """
    results_dir = Path(results_dir).absolute()
    threads = _threads()
    if jobs <= 1:
        limit_threads(threads)
        for mixture in population.mixtures:
            run_population(population, mixture, results_dir)
            if report is not None:
                report(mixture)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=limit_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(run_population, population, m, results_dir): m for m in population.mixtures}
        for future in as_completed(futures):
            future.result()
            if report is not None:
                report(futures[future])
