"""Evidence on a small configuration: under ``replace`` the breed mix drifts, blends replace breeds
and the rare breed thins out; keeping real data (``retain:0.2``, ``accumulate``) holds it better.

To fit the test budget, model₀ is fitted once and shared by the three mitigations, whose two
further generations (fine-tuned from the previous model, as ``init = "previous"`` does) are built
with the mitigations' own ``build``; the quick preset measures the same through the chain loop
with 3 seeds and 5 generations. One whole chain through ``run_chains`` checks the wiring.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collapsebench.experiment.config import RunConfig
from collapsebench.experiment.metrics import MetricContext
from collapsebench.experiment.samples import Samples
from collapsebench.experiment.seeding import Stream, rng_for
from collapsebench.plugin.registry import registries
from collapsebench.run.chain import run_chains
from collapsebench_image import metrics
from collapsebench_image.data import ProceduralDogs, ProceduralOptions
from collapsebench_image.ddpm import DDIMSampling, DDPMFamily, DDPMOptions

DATA = {"size": 16, "train_size": 300, "test_size": 300, "mix": [0.45, 0.2, 0.12, 0.08, 0.08, 0.07]}
OPTIONS = {"steps": 700, "finetune_steps": 150}
POLICY = DDIMSampling(ddim_steps=10)
MITIGATIONS = ("replace", "retain:0.2", "accumulate")


@pytest.fixture(scope="module")
def judge_cache(shared_judge_cache: Path) -> Path:
    return shared_judge_cache  # test_image_conditional uses the same DATA, hence the same judge


@pytest.fixture(scope="module")
def chains(judge_cache: Path, tmp_path_factory) -> dict[str, list[dict[str, float]]]:
    """Metrics of generations 0..2 per mitigation, from one shared model₀."""
    real = ProceduralDogs(ProceduralOptions(**DATA)).load(0)
    family = DDPMFamily(DDPMOptions(**OPTIONS))
    model0 = family.fit(real.train, None, rng_for(0, 0, Stream.FIT))
    synthetic0 = model0.sample(len(real.train), rng_for(0, 0, Stream.SAMPLE), POLICY, real)
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(metrics.CACHE_ENV, str(judge_cache))
        first = _metrics(real, synthetic0, 0, tmp_path_factory.mktemp("g0"))
        for spec in MITIGATIONS:
            mitigation = registries().mitigation(spec)
            model, history, rows = model0, [Samples.synthetic(synthetic0, 0, "ddpm")], [first]
            for g in (1, 2):
                train = mitigation.build(g, real, history, rng_for(0, g, Stream.BUILD), model0.log_likelihood)
                model = family.fit(train, model, rng_for(0, g, Stream.FIT))
                drawn = model.sample(len(real.train), rng_for(0, g, Stream.SAMPLE), POLICY, real)
                history.append(Samples.synthetic(drawn, g, "ddpm"))
                rows.append(_metrics(real, drawn, g, tmp_path_factory.mktemp(f"g{g}")))
            out[spec] = rows
    return out


def _metrics(real, samples: np.ndarray, generation: int, artifacts: Path) -> dict[str, float]:
    ctx = MetricContext(generation=generation, seed=0, model=None, reference=None, samples=samples,  # type: ignore[arg-type]
                        train=real.train, real=real, rng=np.random.default_rng(0), artifact_dir=artifacts)
    return {m.name: m().compute(ctx) for m in metrics.METRICS}


def test_replace_drifts_and_thins_the_rare_breed_more_than_keeping_real_data(chains):
    replace = chains["replace"]
    assert replace[0]["judge-accuracy"] >= 0.95
    assert replace[0]["rare-breed-share"] > 0  # model₀ learned the rare breed at all
    assert replace[2]["breed-kl"] > replace[0]["breed-kl"]
    assert replace[2]["unrecognised-share"] > replace[0]["unrecognised-share"]
    assert replace[2]["rare-breed-retention"] < replace[0]["rare-breed-retention"]
    for kept in ("retain:0.2", "accumulate"):
        assert chains[kept][2]["breed-kl"] < replace[2]["breed-kl"], kept
        assert chains[kept][2]["rare-breed-retention"] >= replace[2]["rare-breed-retention"], kept


def test_a_chain_runs_through_the_core_loop_and_writes_grids(tmp_path: Path, judge_cache: Path, monkeypatch):
    monkeypatch.setenv(metrics.CACHE_ENV, str(judge_cache))
    config = RunConfig(track="image", model="ddpm", mitigation="retain:0.2", generations=1, init="previous",
                       data={**DATA, "train_size": 64, "test_size": 64}, options={"steps": 10, "finetune_steps": 5},
                       sampling={"ddim_steps": 2})
    rows = run_chains(config, tmp_path)[0]
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert rows[1]["train"]["composition"] == {"gen0:ddpm": 51, "real": 13}
    assert set(rows[1]["families"]) == {"fidelity", "tails", "diversity", "drift"}
    grids = sorted(p.name for p in tmp_path.glob("image/*/seed-0/artifacts/*.png"))
    assert grids == ["g00000_grid.png", "g00001_grid.png"]
