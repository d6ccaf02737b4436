"""The paper's GMM protocol, timed two ways in one run: the density plugin's compiled EM (all seeds
through ``fit_many``/``sample_many`` per generation, as the chain loop calls them) vs
scikit-learn's GaussianMixture refitted chain by chain (what the paper's notebook does).

Protocol: 2-D data from N(0, I) (the notebook's ``make_blobs`` with one centre), N = 1000 samples
per generation, 2 full-covariance components, tol 1e-5, max_iter 2000, 10 seeds, pure replacement,
one BLAS thread for both. G from COLLAPSEBENCH_BENCH_GENERATIONS (the paper runs 2000).
Both sides are timed in wall and CPU seconds; the bar is on CPU seconds, because on a shared machine
wall time also counts the time a process waits for a core, which drifts between the two phases.
The numba compile is reported apart (``cold_compile_s``: a fresh process with an empty cache;
``first_call_s``: this process's first fit, a cache load when the cache is warm) and stays out of
the timed rounds. Run: ``.venv/bin/python -m pytest benchmarks/test_gmm_speed.py --benchmark-only -s``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from collapsebench_density.gmm import GMMData, GMMDataOptions, GMMFamily, GMMOptions
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from collapsebench.experiment.options import Options
from collapsebench.experiment.samples import Samples
from collapsebench.experiment.seeding import Stream, rng_for

GENERATIONS = int(os.environ.get("COLLAPSEBENCH_BENCH_GENERATIONS", "100"))
SEEDS = list(range(10))
N = 1000
PAPER_DATA = GMMDataOptions(n=N, weights=(1.0,), means=((0.0, 0.0),), covariances=(((1.0, 0.0), (0.0, 1.0)),))
PAPER_FIT = GMMOptions(components=2, tol=1e-5, max_iter=2000)
MIN_SPEEDUP = 20.0
"""The issue's bar, on CPU time (README, Performance, has the measurements)."""
FIRST_FIT = """
import time
start = time.perf_counter()
import numpy as np
from collapsebench.experiment.options import Options
from collapsebench.experiment.samples import Samples
from collapsebench_density.gmm import GMMFamily, GMMOptions
family = GMMFamily(GMMOptions(components=2))
model = family.fit(Samples.real(np.random.default_rng(0).standard_normal((100, 2))), None, np.random.default_rng(0))
family.sample_many([model], 10, [np.random.default_rng(0)], Options(), [])
print(time.perf_counter() - start)
"""


def compiled_chains(family: GMMFamily, real_trains: list[Samples]) -> None:
    """Generations 0..G of every seed, each generation one fit_many and one sample_many call."""
    trains = real_trains
    for g in range(GENERATIONS + 1):
        models = family.fit_many(trains, [None] * len(SEEDS), [rng_for(s, g, Stream.FIT) for s in SEEDS])
        drawn = family.sample_many(models, N, [rng_for(s, g, Stream.SAMPLE) for s in SEEDS], Options(), [])
        trains = [Samples.synthetic(x, g, "gmm") for x in drawn]


def sklearn_chains(real_trains: list[Samples]) -> None:
    """The notebook's loop, one chain after another."""
    for seed, train in zip(SEEDS, real_trains):
        x = train.data
        for g in range(GENERATIONS + 1):
            random_state = int(rng_for(seed, g, Stream.FIT).integers(2**31))
            gmm = GaussianMixture(2, covariance_type="full", tol=1e-5, max_iter=2000, random_state=random_state)
            x = gmm.fit(x).sample(N)[0]


def cpu_timed(fn: Callable[..., None], times: list[float]) -> Callable[..., None]:
    """``fn`` that also appends the CPU seconds each call took to ``times``."""

    def run(*args: object) -> None:
        start = time.process_time()
        fn(*args)
        times.append(time.process_time() - start)

    return run


def first_fit_seconds(cache_dir: Path) -> float:
    """Import, first fit and first draw in a fresh process whose numba cache is ``cache_dir``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    out = subprocess.run([sys.executable, "-c", FIRST_FIT], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def test_compiled_em_vs_sklearn(benchmark, tmp_path: Path) -> None:
    cold_compile_s = first_fit_seconds(tmp_path)
    real_trains = [GMMData(PAPER_DATA).load(s).train for s in SEEDS]
    family = GMMFamily(PAPER_FIT)
    start = time.perf_counter()
    first = family.fit_many(real_trains[:1], [None], [rng_for(0, 0, Stream.FIT)])
    family.sample_many(first, N, [rng_for(0, 0, Stream.SAMPLE)], Options(), [])
    first_call_s = time.perf_counter() - start  # kept out of the timed rounds
    with threadpool_limits(limits=1):
        wall, cpu = time.perf_counter(), time.process_time()
        sklearn_chains(real_trains)
        sklearn_s, sklearn_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        compiled_cpu: list[float] = []
        benchmark.pedantic(cpu_timed(compiled_chains, compiled_cpu), args=(family, real_trains), rounds=3, iterations=1)
    compiled_s, compiled_cpu_s = benchmark.stats.stats.mean, sum(compiled_cpu) / len(compiled_cpu)
    ratio, cpu_ratio = sklearn_s / compiled_s, sklearn_cpu_s / compiled_cpu_s
    chain_generations = len(SEEDS) * (GENERATIONS + 1)
    benchmark.extra_info.update(
        generations=GENERATIONS,
        seeds=len(SEEDS),
        sklearn_s=round(sklearn_s, 3),
        sklearn_cpu_s=round(sklearn_cpu_s, 3),
        compiled_mean_s=round(compiled_s, 3),
        compiled_mean_cpu_s=round(compiled_cpu_s, 3),
        sklearn_ms_per_fit=round(1e3 * sklearn_s / chain_generations, 3),
        compiled_ms_per_chain_generation=round(1e3 * compiled_s / chain_generations, 3),
        speedup=round(ratio, 1),
        cpu_speedup=round(cpu_ratio, 1),
        cold_compile_s=round(cold_compile_s, 2),
        first_call_s=round(first_call_s, 3),
    )
    print(f"\nGMM protocol, G={GENERATIONS}, {len(SEEDS)} seeds: scikit-learn {sklearn_s:.2f} s "
          f"(CPU {sklearn_cpu_s:.2f} s), compiled {compiled_s:.2f} s (CPU {compiled_cpu_s:.2f} s, mean of 3): "
          f"{ratio:.1f}x wall, {cpu_ratio:.1f}x CPU; numba compile {cold_compile_s:.1f} s with an empty cache, "
          f"first call here {first_call_s:.3f} s")
    assert cpu_ratio >= MIN_SPEEDUP
