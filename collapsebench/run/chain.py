"""The recursive-training loop of DESIGN.md, run for several seeds of one config in lockstep.

Per generation g: ``mitigation.build`` → ``family.fit_many`` (init policy) → ``family.sample_many``
(sampling policy) → metrics → one row appended. Each chain checkpoints model_g and
synthetic_{g+1} before its row, so a killed run resumes at the first generation without a row and
reproduces the uninterrupted numbers (randomness is derived from (seed, generation) alone).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from collapsebench.errors import DataError, DegenerateFit
from collapsebench.experiment.config import RunConfig
from collapsebench.experiment.data import RealData
from collapsebench.experiment.metrics import MetricContext
from collapsebench.experiment.models import Model
from collapsebench.experiment.samples import Labelled, Samples, split_labels
from collapsebench.experiment.seeding import Stream, rng_for
from collapsebench.files import atomic_write_npz
from collapsebench.plugin.components import Components, resolve
from collapsebench.run import provenance
from collapsebench.run.storage import SCHEMA_VERSION, ResultsError, RunStore, load_npz

Progress = Callable[[int, int], None]
"""Called with (seed, generation) after each finished generation."""


@dataclass
class Chain:
    """One seed's chain: its store, real data and what the next generation needs.

    ``name`` tags the chain's samples (default: the model's name); ``stream_key`` gives a
    population member random streams of its own (None: the plain chain's streams).
    """

    seed: int
    store: RunStore
    real: RealData
    next_generation: int = 0
    model: Model | None = None
    reference: Model | None = None
    history: list[Samples] = field(default_factory=list)
    done: bool = False
    cache: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    stream_key: int | None = None

    def rng(self, generation: int, stream: Stream) -> np.random.Generator:
        """The generator for one purpose at one generation of this chain."""
        if self.stream_key is None:
            return rng_for(self.seed, generation, stream)
        return np.random.default_rng(np.random.SeedSequence([self.seed, generation + 1, int(stream), self.stream_key]))


Outcome = tuple[Model | DegenerateFit, np.ndarray | Labelled | None]
"""A chain's fitted model (or why the fit failed) and its draw (None when it failed)."""


def run_dir(results_dir: Path, config: RunConfig, seed: int) -> Path:
    return Path(results_dir) / config.track / config.run_group() / f"seed-{seed}"


def is_finished(rows: Sequence[dict[str, Any]], config: RunConfig) -> bool:
    """Whether a chain with these rows has nothing left to run: it reached G, or a collapse stopped it."""
    ok = any(r["status"] == "ok" for r in rows)
    stopped = bool(rows) and rows[-1]["status"] == "collapsed" and (config.on_collapse == "stop" or not ok)
    return stopped or len(rows) > config.generations


def run_chains(
    config: RunConfig, results_dir: Path, progress: Progress | None = None, lock_wait: float = 0.0
) -> dict[int, list[dict[str, Any]]]:
    """Run (or resume) one chain per seed of ``config``; returns each seed's rows.

    ``lock_wait`` is how long to wait for a run folder that another process is writing.
    """
    parts = resolve(config)
    with ExitStack() as stack:
        chains = []
        for seed in config.seeds:
            store = stack.enter_context(RunStore(run_dir(results_dir, config, seed)).locked(lock_wait))
            chains.append(open_chain(parts, seed, store))
        pending = [c.next_generation for c in chains if not c.done]
        for generation in range(min(pending, default=config.generations + 1), config.generations + 1):
            active = [c for c in chains if not c.done and c.next_generation == generation]
            if active:
                _step(parts, active, generation, progress)
        return {c.seed: c.store.rows() for c in chains}


def _spec(parts: Components, seed: int, real: RealData) -> dict[str, Any]:
    config = parts.config
    return {
        "schema_version": SCHEMA_VERSION,
        "track": config.track,
        "model": config.model,
        "mitigation": config.mitigation,
        "seed": seed,
        "run_group": config.run_group(),
        "config_hash": config.config_hash(),
        "config": config.model_copy(update={"seeds": [seed]}).model_dump(),
        "headline": parts.track.headline,
        "families": parts.families,
        "metrics": {
            m.name: {"family": m.family, "higher_is_better": m.higher_is_better, "description": m.description}
            for m in parts.metrics
        },
        "data": {"source": parts.data_source.name, "fingerprint": real.fingerprint, "provenance": real.provenance},
        "resources": parts.track.resources,
        "versions": provenance.package_versions(),
        "git_commit": provenance.git_commit(),
        "hardware": provenance.hardware(),
        "created_at": provenance.utc_now(),
    }


def open_chain(parts: Components, seed: int, store: RunStore, name: str | None = None, stream_key: int | None = None) -> Chain:
    """Load real data, write or check the run spec, and restore state after the last finished row."""
    config = parts.config
    real = _load_real(parts, seed)
    spec = store.spec()
    if spec is None:
        store.write_spec(_spec(parts, seed, real))
    else:
        if spec["data"]["fingerprint"] != real.fingerprint:
            raise ResultsError(
                f"The real data of {store.dir} changed since it was run (fingerprint "
                f"{spec['data']['fingerprint']} → {real.fingerprint}); use a new --results-dir."
            )
        if spec["config"]["generations"] != config.generations:
            spec["config"]["generations"] = config.generations
            store.write_spec(spec)
    rows = store.rows()
    if [r["generation"] for r in rows] != list(range(len(rows))):
        raise ResultsError(f"{store.dir}/rows.jsonl has gaps or duplicates: move the folder away and rerun it.")
    chain = Chain(seed, store, real, next_generation=len(rows), done=is_finished(rows, config), name=name, stream_key=stream_key)
    ok = [r["generation"] for r in rows if r["status"] == "ok"]
    if chain.done or not ok:
        return chain
    window = parts.mitigation.history_window
    kept = ok if window is None else ok[-window:]
    try:
        chain.reference = parts.family.load_state_dict(load_npz(store.model_path(0)))
        chain.model = parts.family.load_state_dict(load_npz(store.model_path(ok[-1])))
        chain.history = [Samples.load(store.synthetic_path(g + 1)) for g in kept]
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # missing, tampered, pickled
        raise ResultsError(
            f"{store.state_dir} holds a checkpoint that cannot be loaded safely ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())}); move the run folder away and rerun it (it recomputes the same numbers)."
        ) from None
    return chain


def _load_real(parts: Components, seed: int) -> RealData:
    """The real data; a file that is missing, unreadable or truncated becomes a DataError naming it."""
    try:
        return parts.data_source.load(seed)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"data source '{parts.data_source.name}' could not read its data ({type(exc).__name__}: {' '.join(str(exc).split())}); "
            "check the paths in the config's data options, or download the data set again."
        ) from None


def _init(parts: Components, chain: Chain) -> Model | None:
    policy = parts.config.init
    if policy == "previous" and chain.model is not None:
        return chain.model
    if policy in ("base", "previous"):
        return parts.family.base(chain.real)
    return None


def _train_set(parts: Components, chain: Chain, generation: int) -> Samples:
    if generation == 0 or chain.reference is None:
        return chain.real.train
    rng = chain.rng(generation, Stream.BUILD)
    return parts.mitigation.build(generation, chain.real, chain.history, rng, chain.reference.log_likelihood)


def _step(parts: Components, chains: list[Chain], generation: int, progress: Progress | None) -> None:
    trains = [_train_set(parts, c, generation) for c in chains]
    record(parts, chains, generation, trains, fit_and_sample(parts, chains, generation, trains), progress)


def fit_and_sample(parts: Components, chains: list[Chain], generation: int, trains: list[Samples]) -> list[Outcome]:
    """Fit every chain's model_g on its training set (init policy) and draw its next synthetic set."""
    family = parts.family
    fitted = family.fit_many(trains, [_init(parts, c) for c in chains], [c.rng(generation, Stream.FIT) for c in chains])
    ok = [i for i, m in enumerate(fitted) if not isinstance(m, DegenerateFit)]
    n = parts.mitigation.samples_needed(len(chains[0].real.train))
    drawn = family.sample_many(
        [fitted[i] for i in ok],
        n,
        [chains[i].rng(generation, Stream.SAMPLE) for i in ok],
        parts.policy,
        [chains[i].real for i in ok],
    )
    samples_of = dict(zip(ok, drawn))
    outcomes: list[Outcome] = []
    for i, result in enumerate(fitted):
        if i in samples_of and not np.all(np.isfinite(split_labels(samples_of[i])[0])):
            result = DegenerateFit("model produced non-finite samples")
        outcomes.append((result, None if isinstance(result, DegenerateFit) else samples_of[i]))
    return outcomes


def record(
    parts: Components,
    chains: list[Chain],
    generation: int,
    trains: list[Samples],
    outcomes: list[Outcome],
    progress: Progress | None,
) -> None:
    """Checkpoint and append each chain's row for ``generation`` (a collapsed row where the fit failed)."""
    for chain, train, (result, drawn) in zip(chains, trains, outcomes):
        if isinstance(result, DegenerateFit):
            record_collapse(parts, chain, generation, train, result.reason)
        else:
            assert drawn is not None
            _record_generation(parts, chain, generation, train, result, drawn)
        if progress is not None:
            progress(chain.seed, generation)


def _base_row(chain: Chain, generation: int, train: Samples) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generation": generation,
        "seed": chain.seed,
        "train": {"size": len(train), "composition": train.composition()},
    }


def record_collapse(parts: Components, chain: Chain, generation: int, train: Samples, reason: str) -> None:
    """Append a ``collapsed`` row; the chain stops unless its config continues after a collapse."""
    row = _base_row(chain, generation, train)
    row.update(status="collapsed", reason=reason, metrics={m.name: None for m in parts.metrics},
               families={f: None for f in parts.families})
    chain.store.append_row(row)
    chain.next_generation = generation + 1
    stop = parts.config.on_collapse == "stop" or chain.reference is None
    chain.done = stop or generation >= parts.config.generations


def _record_generation(
    parts: Components, chain: Chain, generation: int, train: Samples, model: Model, drawn: np.ndarray | Labelled
) -> None:
    store = chain.store
    data, labels = split_labels(drawn)
    synthetic = Samples.synthetic(data, generation, chain.name or parts.config.model, labels)
    synthetic.save(store.synthetic_path(generation + 1))
    atomic_write_npz(store.model_path(generation), model.state_dict())
    reference = model if generation == 0 else chain.reference
    assert reference is not None
    ctx = MetricContext(
        generation=generation,
        seed=chain.seed,
        model=model,
        reference=reference,
        samples=data,
        train=train,
        real=chain.real,
        rng=chain.rng(generation, Stream.METRICS),
        artifact_dir=store.artifact_dir,
        cache=chain.cache,
        sample_labels=labels,
        policy=parts.policy,
    )
    metrics = {m.name: _finite_or_none(m.compute(ctx)) for m in parts.metrics}
    row = _base_row(chain, generation, train)
    row.update(status="ok", reason=None, metrics=metrics,
               families={fam: metrics[name] for fam, name in parts.families.items()})
    store.append_row(row)

    window = parts.mitigation.history_window
    chain.history.append(synthetic)
    if window is not None:
        chain.history = chain.history[-window:]
    chain.model, chain.reference = model, reference
    chain.next_generation = generation + 1
    chain.done = generation >= parts.config.generations
    kept = {s.generation[0] + 1 for s in chain.history if len(s)}
    store.prune(keep_models={0, generation}, keep_synthetic=kept | {generation + 1})


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
