"""Aggregation over seeds: mean and Student-t 95% CI per generation, paired change, ratio to gen 0.

Leaderboards and plots both read stored results through this module, so the numbers in a table and
in a plot come from one computation. Seeds are the unit of replication: every statistic is over the
chains (one per seed) of one run group, never over samples inside a chain. Comparisons between
run groups are paired by seed too (each mitigation against ``replace``), and ranks tie where the
95% CIs overlap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import stdtrit

from collapsebench.errors import CollapseBenchError
from collapsebench.experiment.metrics import FAMILIES
from collapsebench.publish.revisions import newest_revisions, revision_of
from collapsebench.publish.schema import validate_run
from collapsebench.run.storage import ResultsError, find_runs, read_rows, read_spec

CONFIDENCE = 0.95

METHOD = (
    "± = 95% CI, Student t over n seeds (t₀.₉₇₅,ₙ₋₁ · s/√n, s = sample std; — for n < 2); "
    "change = paired difference last − generation 0 over the same seeds; "
    "gen G/gen 0 = ratio to generation 0 per seed, then averaged"
)
"""How every ± in collapsebench is computed; printed under each table."""


@dataclass(frozen=True)
class Stat:
    """Mean, sample std, number of finite values and the t-based CI half-width of one quantity."""

    mean: float
    std: float
    n: int
    ci: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        """Summarise the finite values (NaN and ±inf mean "no value" and are left out of n)."""
        array = np.asarray(list(values), dtype=float)
        finite = array[np.isfinite(array)]
        n = int(finite.size)
        if n == 0:
            return cls(math.nan, math.nan, 0, math.nan)
        mean = float(finite.mean())
        if n < 2:
            return cls(mean, math.nan, 1, math.nan)
        # Values equal up to rounding (e.g. the same paired difference in every seed) have no spread.
        tied = np.ptp(finite) <= 8 * np.finfo(float).eps * np.max(np.abs(finite))
        std = 0.0 if tied else float(finite.std(ddof=1))
        ci = float(stdtrit(n - 1, 0.5 + CONFIDENCE / 2) * std / math.sqrt(n))
        return cls(mean, std, n, ci)


@dataclass(frozen=True)
class SeedRun:
    """One chain: its spec and finished rows (generation order)."""

    seed: int
    spec: dict[str, Any]
    rows: tuple[dict[str, Any], ...]
    path: Path | None = None
    """The seed folder it was read from (artifacts live in ``path / "artifacts"``)."""

    @property
    def collapsed_at(self) -> int | None:
        """First generation whose fit was degenerate, or None if the chain never collapsed."""
        return next((int(r["generation"]) for r in self.rows if r.get("status") == "collapsed"), None)

    @property
    def last_generation(self) -> int:
        return int(self.rows[-1]["generation"]) if self.rows else -1

    @cached_property
    def _by_generation(self) -> dict[int, dict[str, Any]]:
        return {int(row["generation"]): row for row in self.rows}

    def value(self, metric: str, generation: int) -> float:
        """The metric at ``generation``; NaN where the row is absent, collapsed or the value null."""
        row = self._by_generation.get(generation, {})
        value = (row.get("metrics") or {}).get(metric)
        return math.nan if value is None else float(value)


@dataclass(frozen=True)
class Summary:
    """One quantity of one group at generation 0 and at the last generation."""

    name: str
    metric: str
    family: str
    higher_is_better: bool | None
    first: Stat
    last: Stat
    change: Stat
    relative: Stat


@dataclass(frozen=True)
class RunGroup:
    """The seeds of one config (one ``<model>__<mitigation>__<hash>`` folder), sorted by seed."""

    track: str
    run_group: str
    config_hash: str
    model: str
    mitigation: str
    sampling: dict[str, Any]
    headline: str
    families: dict[str, str]
    metrics: dict[str, dict[str, Any]]
    runs: tuple[SeedRun, ...]
    revision: int = 1
    """Which stored revision of the group this is (the newest one is read; see ``revisions.py``)."""
    revisions: int = 1
    """How many revisions of the group are stored."""

    @property
    def seeds(self) -> list[int]:
        return [run.seed for run in self.runs]

    @property
    def generations(self) -> int:
        """The last generation index G that the group's chains were configured to reach."""
        return max(int(run.spec["config"]["generations"]) for run in self.runs)

    @property
    def collapsed(self) -> list[SeedRun]:
        return [run for run in self.runs if run.collapsed_at is not None]

    @property
    def unfinished(self) -> list[SeedRun]:
        """Chains that stopped before G without collapsing (still running, or killed)."""
        return [r for r in self.runs if r.collapsed_at is None and r.last_generation < self.generations]

    def names(self) -> list[str]:
        """Every name :meth:`resolve` accepts: the families, then the raw metric names."""
        return [f for f in FAMILIES if f in self.families] + sorted(self.metrics)

    def resolve(self, name: str) -> str | None:
        """Family name → the metric the spec names for it; a metric name → itself; else None."""
        if name in self.families:
            return self.families[name]
        return name if name in self.metrics else None

    def family_of(self, metric: str) -> str:
        return str(self.metrics.get(metric, {}).get("family", "raw"))

    def higher_is_better(self, metric: str) -> bool | None:
        value = self.metrics.get(metric, {}).get("higher_is_better")
        return None if value is None else bool(value)

    def values(self, metric: str, generation: int) -> np.ndarray:
        """Per-seed values at ``generation`` (NaN where a seed has none), in seed order."""
        return np.array([run.value(metric, generation) for run in self.runs], dtype=float)

    def stat(self, metric: str, generation: int) -> Stat:
        return Stat.of(self.values(metric, generation))

    def series(self, metric: str) -> list[Stat]:
        """Stat per generation 0..G: what a plot draws."""
        return [self.stat(metric, g) for g in range(self.generations + 1)]

    def change(self, metric: str, generation: int | None = None) -> Stat:
        """Paired difference value_g − value_0 over the seeds finite at both (g defaults to G)."""
        g = self.generations if generation is None else generation
        return Stat.of(self.values(metric, g) - self.values(metric, 0))

    def relative(self, metric: str, generation: int | None = None) -> Stat:
        """Per-seed ratio value_g / value_0, then aggregated; NaN for a seed whose value_0 is 0."""
        g = self.generations if generation is None else generation
        base = self.values(metric, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.values(metric, g) / base
        ratio[base == 0] = np.nan
        return Stat.of(ratio)

    def summary(self, name: str) -> Summary:
        """Generation 0, last generation, change and ratio of a family or metric."""
        metric = self.resolve(name)
        if metric is None:
            raise CollapseBenchError(f"run group {self.run_group} has no metric or family '{name}'.")
        return Summary(
            name=name,
            metric=metric,
            family=self.family_of(metric),
            higher_is_better=self.higher_is_better(metric),
            first=self.stat(metric, 0),
            last=self.stat(metric, self.generations),
            change=self.change(metric),
            relative=self.relative(metric),
        )


def _group(track: str, name: str, runs: Sequence[SeedRun], revision: int = 1, revisions: int = 1) -> RunGroup:
    hashes = sorted({str(run.spec["config_hash"]) for run in runs})
    if len(hashes) > 1:
        raise ResultsError(
            f"the seeds of run group {track}/{name} have different config hashes ({', '.join(hashes)}): "
            "they are not the same experiment; move the odd seed folders into their own run group."
        )
    seeds = [run.seed for run in runs]
    if len(set(seeds)) != len(seeds):
        raise ResultsError(f"run group {track}/{name} holds seed folders with the same seed: remove the duplicates.")
    spec = runs[0].spec
    config = spec["config"]
    return RunGroup(
        track=track,
        run_group=name,
        config_hash=hashes[0],
        model=str(spec["model"]),
        mitigation=str(spec["mitigation"]),
        sampling=dict(config.get("sampling") or {}),
        headline=str(spec["headline"]),
        families=dict(spec.get("families") or {}),
        metrics=dict(spec.get("metrics") or {}),
        runs=tuple(sorted(runs, key=lambda run: run.seed)),
        revision=revision,
        revisions=revisions,
    )


def load_groups(results_dir: Path, track: str) -> list[RunGroup]:
    """Every run group of ``track`` under ``results_dir``, in a stable order (model, mitigation, hash).

    Each run folder is validated against the result schema first, so a malformed file is named.
    Where a group has several stored revisions (``<run_group>.rev<N>`` folders), only the newest is read.
    """
    by_group: dict[tuple[str, int], list[SeedRun]] = {}
    for run_dir in find_runs(results_dir, track):
        spec = read_spec(run_dir)
        rows = read_rows(run_dir)
        validate_run(run_dir, spec, rows)
        if spec["track"] != track:
            continue
        run = SeedRun(seed=int(spec["seed"]), spec=spec, rows=tuple(rows), path=run_dir)
        name = str(spec["run_group"])
        by_group.setdefault((name, revision_of(run_dir.parent.name, name)), []).append(run)
    if not by_group:
        raise CollapseBenchError(
            f"no results for track '{track}' under {results_dir}: "
            f"run `collapsebench sweep --track {track} --results-dir {results_dir}` first."
        )
    newest = newest_revisions(by_group)
    groups = [_group(track, name, by_group[name, rev], rev, count) for name, (rev, count) in newest.items()]
    return sorted(groups, key=lambda g: (g.model, g.mitigation, sampling_label(g.sampling), g.config_hash))


def sampling_label(sampling: dict[str, Any]) -> str:
    """``key=value`` pairs in key order: a short, stable label for a sampling policy."""
    return ", ".join(f"{key}={value}" for key, value in sorted(sampling.items()))


BASELINE = "replace"
"""The mitigation every other one is compared against: no mitigation at all (the paper's default)."""


def comparable(group: RunGroup, other: RunGroup) -> bool:
    """Whether two groups differ only in their mitigation (same track, model, data, options, sampling, G)."""

    def identity(g: RunGroup) -> dict[str, Any]:
        config = g.runs[0].spec["config"]
        return {k: v for k, v in config.items() if k not in ("seeds", "mitigation")}

    return group.track == other.track and identity(group) == identity(other)


def baseline_of(group: RunGroup, groups: Sequence[RunGroup], baseline: str = BASELINE) -> RunGroup | None:
    """The ``baseline`` group run with the same config as ``group`` but that mitigation; None if there is none."""
    if group.mitigation == baseline:
        return None
    return next((g for g in groups if g.mitigation == baseline and comparable(group, g)), None)


def paired_difference(group: RunGroup, baseline: RunGroup, metric: str, generation: int | None = None) -> Stat:
    """value(group) − value(baseline) at generation g (default G), paired by seed over the seeds both ran.

    Seeds are shared on purpose: the same seed gives both chains the same real data split and the
    same generation 0, so the pairing removes the seed-to-seed offset, as in the paired change.
    """
    g = group.generations if generation is None else generation
    mine = dict(zip(group.seeds, group.values(metric, g)))
    theirs = dict(zip(baseline.seeds, baseline.values(metric, g)))
    return Stat.of(mine[s] - theirs[s] for s in sorted(mine.keys() & theirs.keys()))


@dataclass(frozen=True)
class Rank:
    """A rank among comparable entries; ``tied`` when another entry shares it (their CIs overlap)."""

    rank: int
    tied: bool

    def __str__(self) -> str:
        return f"{self.rank}=" if self.tied else str(self.rank)


def ranks(stats: Sequence[Stat], higher_is_better: bool | None) -> list[Rank | None]:
    """Rank = 1 + the number of entries whose whole 95% CI lies on the better side of this one's CI.

    Entries whose intervals overlap are not told apart, so they can share a rank (marked tied). An
    entry without a CI (n < 2) overlaps everything; one without a value, or a metric without a
    direction, gets no rank (None).
    """
    if higher_is_better is None:
        return [None] * len(stats)
    sign = 1.0 if higher_is_better else -1.0

    def interval(stat: Stat) -> tuple[float, float]:
        half = stat.ci if math.isfinite(stat.ci) else math.inf
        low, high = sign * stat.mean - half, sign * stat.mean + half
        return low, high

    ranked = [i for i, s in enumerate(stats) if math.isfinite(s.mean)]
    out: list[Rank | None] = [None] * len(stats)
    values = {i: 1 + sum(interval(stats[j])[0] > interval(stats[i])[1] for j in ranked) for i in ranked}
    counts: dict[int, int] = {}
    for value in values.values():
        counts[value] = counts.get(value, 0) + 1
    for i, value in values.items():
        out[i] = Rank(value, counts[value] > 1)
    return out
