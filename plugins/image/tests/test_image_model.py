"""The DDPM family, the breed judge (with its disk cache) and the image metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collapsebench.errors import DegenerateFit
from collapsebench.experiment.metrics import MetricContext
from collapsebench.experiment.samples import Samples
from collapsebench_image import data, metrics
from collapsebench_image.ddpm import DDIMSampling, DDPMFamily, DDPMModel, DDPMOptions

FAST = DDPMOptions(steps=6, finetune_steps=3, batch_size=8)
POLICY = DDIMSampling(ddim_steps=3)


@pytest.fixture(scope="module")
def real():
    return data.ProceduralDogs(data.ProceduralOptions(size=16, train_size=400, test_size=300)).load(seed=0)


@pytest.fixture(scope="module")
def judge_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def judge(real, judge_cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(metrics.CACHE_ENV, str(judge_cache))
        return metrics.build_judge(real)


@pytest.fixture(scope="module")
def model(real):
    return DDPMFamily(FAST).fit(real.train.take(np.arange(32)), None, np.random.default_rng(0))


def context(real, samples: np.ndarray, tmp_path: Path, generation: int = 0) -> MetricContext:
    return MetricContext(generation=generation, seed=0, model=None, reference=None, samples=samples,  # type: ignore[arg-type]
                         train=real.train, real=real, rng=np.random.default_rng(0), artifact_dir=tmp_path)


def metric_values(real, samples: np.ndarray, tmp_path: Path, judge) -> dict[str, float]:
    ctx = context(real, samples, tmp_path)
    ctx.judge = lambda name, build: judge  # type: ignore[method-assign]
    return {m.name: m().compute(ctx) for m in metrics.METRICS}


# --- DDPM -----------------------------------------------------------------------------------------


def test_fit_and_sample_are_deterministic_and_round_trip(real, model):
    again = DDPMFamily(FAST).fit(real.train.take(np.arange(32)), None, np.random.default_rng(0))
    state = model.state_dict()
    assert all(np.array_equal(state[k], v) for k, v in again.state_dict().items())
    x = model.sample(5, np.random.default_rng(1), POLICY, real)
    assert x.shape == (5, 3, 16, 16) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    rebuilt = DDPMFamily(FAST).load_state_dict(state)
    assert np.array_equal(rebuilt.sample(5, np.random.default_rng(1), POLICY, real), x)
    assert not np.array_equal(model.sample(5, np.random.default_rng(2), POLICY, real), x)


def test_score_is_deterministic_per_sample(real, model):
    x = real.test.data[:6]
    score = model.log_likelihood(x)
    assert score.shape == (6,) and np.all(np.isfinite(score)) and np.all(score < 0)
    assert np.array_equal(score, model.log_likelihood(x))
    assert np.allclose(model.log_likelihood(x[:3]), score[:3], rtol=1e-5)


def test_finetune_starts_from_init_and_changes_it(real, model):
    tuned = DDPMFamily(FAST).fit(real.train.take(np.arange(32, 64)), model, np.random.default_rng(1))
    assert isinstance(tuned, DDPMModel)
    before, after = model.state_dict(), tuned.state_dict()
    assert not np.array_equal(before["conv_in.weight"], after["conv_in.weight"])
    frozen = DDPMFamily(FAST.model_copy(update={"finetune_steps": 0})).fit(real.train, model, np.random.default_rng(1))
    assert all(np.array_equal(before[k], v) for k, v in frozen.state_dict().items())


def test_empty_or_exploding_training_is_a_degenerate_fit(real):
    with pytest.raises(DegenerateFit, match="empty"):
        DDPMFamily(FAST).fit(real.train.take(np.arange(0)), None, np.random.default_rng(0))
    nan = Samples.real(np.full((8, 3, 16, 16), np.nan, dtype=np.float32))
    with pytest.raises(DegenerateFit, match="loss became nan"):
        DDPMFamily(FAST).fit(nan, None, np.random.default_rng(0))


# --- judge and metrics ----------------------------------------------------------------------------


def test_judge_is_accurate_on_held_out_real_images(judge):
    assert judge.test_accuracy >= 0.95


def test_judge_disk_cache_round_trips(real, judge, judge_cache, monkeypatch):
    assert len(list((judge_cache / "judges").glob("*.safetensors"))) == 1
    monkeypatch.setenv(metrics.CACHE_ENV, str(judge_cache))
    loaded = metrics.build_judge(real)
    assert loaded.test_accuracy == judge.test_accuracy
    assert np.array_equal(loaded.features(real.test.data[:20]), judge.features(real.test.data[:20]))


def test_real_images_score_neutral(real, judge, tmp_path):
    values = metric_values(real, real.test.data, tmp_path, judge)
    assert values["rare-breed-retention"] == 1 and values["breed-kl"] == 0 and values["vanished-breeds"] == 0
    assert values["unrecognised-share"] == 0
    assert abs(values["breed-fd"]) < 1e-3
    assert values["knn-precision"] == values["knn-recall"] == 1
    assert values["judge-accuracy"] == judge.test_accuracy
    assert (tmp_path / "g00000_grid.png").stat().st_size > 0 and values["sample-grid"] == 64


def test_losing_every_breed_but_the_common_one_is_measured(real, judge, tmp_path):
    common = real.train.data[real.truth["train_labels"] == 0][:200]
    other = metric_values(real, real.train.data[:200], tmp_path, judge)  # same size, all breeds
    values = metric_values(real, common, tmp_path, judge)
    assert values["rare-breed-retention"] < 0.2 and values["rare-breed-share"] < 0.01
    assert values["vanished-breeds"] >= 4
    assert values["breed-kl"] > 0.5 > other["breed-kl"]
    assert values["breed-fd"] > 5 * other["breed-fd"]
    assert values["knn-recall"] < 0.6 < other["knn-recall"]
    assert values["knn-precision"] > 0.8


def test_blends_of_two_breeds_are_unrecognised_not_rare(real, judge, tmp_path):
    x, y = real.test.data, real.truth["test_labels"]
    golden, black = x[y == 0][:50], x[y == 1][:50]
    values = metric_values(real, 0.5 * golden + 0.5 * black[:, :, :, ::-1], tmp_path, judge)
    assert values["unrecognised-share"] > 0.5
    assert values["rare-breed-share"] < 0.05
