"""Class conditioning with classifier-free guidance: labels travel through the chain, guidance makes
samples look more like the breed they were drawn for, λ = 1/(1+w) is recorded, bad options fail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler

from collapsebench.errors import ConfigError, DataError
from collapsebench.experiment.config import RunConfig
from collapsebench.experiment.metrics import MetricContext
from collapsebench.experiment.options import parse_options
from collapsebench.experiment.samples import UNLABELLED, Labelled, Samples
from collapsebench.run.chain import run_chains
from collapsebench_image import ddpm_net, metrics
from collapsebench_image.data import ProceduralDogs, ProceduralOptions
from collapsebench_image.ddpm import DDIMSampling, DDPMFamily, DDPMModel, DDPMOptions

DATA = {"size": 16, "train_size": 300, "test_size": 300, "mix": [0.45, 0.2, 0.12, 0.08, 0.08, 0.07]}
"""The data of test_image_chains, so the session's judge cache serves both modules."""
FAST = DDPMOptions(steps=6, finetune_steps=3, batch_size=8, conditional=True)


@pytest.fixture(scope="module")
def real():
    return ProceduralDogs(ProceduralOptions(**DATA)).load(0)


@pytest.fixture(scope="module")
def judge(real, shared_judge_cache: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(metrics.CACHE_ENV, str(shared_judge_cache))
        return metrics.build_judge(real)


def test_guided_prediction_is_the_classifier_free_combination():
    """One DDIM step from known noise: the step taken is (1+w)·pred(class) − w·pred(null)."""
    unet = ddpm_net.build_unet("tiny", 8, 3, seed=1, classes=4)
    scheduler = ddpm_net.noise_scheduler(1000, "squaredcos_cap_v2", "v_prediction")
    labels, w = np.array([0, 3, 2]), 2.5
    guided = ddpm_net.ddim_sample(unet, scheduler, 3, 1, 0.0, 7, 3, "cpu", labels, w)
    plain = ddpm_net.ddim_sample(unet, scheduler, 3, 1, 0.0, 7, 3, "cpu", labels, 0.0)

    ddim = DDIMScheduler.from_config(scheduler.config)
    ddim.set_timesteps(1)
    (t,) = ddim.timesteps
    x = torch.randn((3, 3, 8, 8), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        cond = unet(x, t, class_labels=torch.tensor([1, 4, 3])).sample
        null = unet(x, t, class_labels=torch.zeros(3, dtype=torch.long)).sample

    def step(pred: torch.Tensor) -> np.ndarray:
        return ((ddim.step(pred, t, x).prev_sample.clamp(-1, 1) + 1) / 2).numpy()

    assert np.allclose(guided, step((1 + w) * cond - w * null), atol=1e-5)
    assert np.allclose(plain, step(cond), atol=1e-5)
    assert not np.allclose(guided, plain, atol=1e-3)


def test_guidance_makes_samples_look_like_the_breed_they_were_drawn_for(real, judge, tmp_path: Path):
    model = DDPMFamily(DDPMOptions(steps=200, conditional=True)).fit(real.train, None, np.random.default_rng(0))
    consistency, bias = {}, {}
    for w in (0.0, 2.0):
        policy = DDIMSampling(ddim_steps=10, guidance=w)
        drawn = model.sample(150, np.random.default_rng(1), policy, real)
        assert isinstance(drawn, Labelled)
        ctx = MetricContext(generation=0, seed=0, model=model, reference=model, samples=drawn.data, train=real.train,
                            real=real, rng=np.random.default_rng(0), artifact_dir=tmp_path, sample_labels=drawn.labels,
                            policy=policy)
        ctx.judge = lambda name, build: judge  # type: ignore[method-assign]
        consistency[w] = metrics.ClassConsistency().compute(ctx)
        assert consistency[w] == np.mean(judge.predict(drawn.data) == drawn.labels)
        bias[w] = metrics.SamplingBias().compute(ctx)
    assert bias == {0.0: 1.0, 2.0: 1 / 3}
    assert consistency[2.0] > consistency[0.0] + 0.15, consistency


def test_classes_are_drawn_in_the_training_sets_proportions(real):
    labels = np.repeat([0, 2, UNLABELLED], [90, 30, 80])  # class 1 absent, unlabelled images not counted
    train = Samples.real(real.train.data[:200], labels=labels)
    model = DDPMFamily(FAST).fit(train, None, np.random.default_rng(0))
    assert model.class_counts.tolist() == [90, 0, 30]
    drawn = model.sample(200, np.random.default_rng(0), DDIMSampling(ddim_steps=1), real)
    counts = np.bincount(drawn.labels, minlength=3)
    assert counts[1] == 0 and 0.62 < counts[0] / 200 < 0.88  # 90/120 = 0.75, ± 4 binomial sd
    rebuilt = DDPMFamily(FAST).load_state_dict(model.state_dict())
    again = rebuilt.sample(200, np.random.default_rng(0), DDIMSampling(ddim_steps=1), real)
    assert np.array_equal(again.labels, drawn.labels) and np.array_equal(again.data, drawn.data)


def test_labels_do_not_change_an_unconditional_fit(real):
    """The default path ignores labels and draws the same random numbers as before they existed."""
    options = DDPMOptions(steps=4, batch_size=8)
    unlabelled = Samples.real(real.train.data[:40])
    a = DDPMFamily(options).fit(real.train.take(np.arange(40)), None, np.random.default_rng(0))
    b = DDPMFamily(options).fit(unlabelled, None, np.random.default_rng(0))
    assert a.state_dict().keys() == b.state_dict().keys() and "meta.class_counts" not in a.state_dict()
    assert all(np.array_equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    x = a.sample(4, np.random.default_rng(1), DDIMSampling(ddim_steps=2), real)
    assert isinstance(x, np.ndarray) and np.array_equal(x, b.sample(4, np.random.default_rng(1), DDIMSampling(ddim_steps=2), real))


def test_labels_drawn_by_model_g_train_model_g_plus_1(tmp_path: Path, shared_judge_cache: Path, monkeypatch):
    """Through the core loop under ``replace``: model₁ trains on model₀'s images with the breeds they were drawn for."""
    monkeypatch.setenv(metrics.CACHE_ENV, str(shared_judge_cache))
    fits: list[Samples] = []
    draws: list[Labelled] = []
    fit, sample = DDPMFamily.fit, DDPMModel.sample

    def recording_fit(self, train, init, rng):
        fits.append(train)
        return fit(self, train, init, rng)

    def recording_sample(self, *args):
        draws.append(sample(self, *args))
        return draws[-1]

    monkeypatch.setattr(DDPMFamily, "fit", recording_fit)
    monkeypatch.setattr(DDPMModel, "sample", recording_sample)
    config = RunConfig(track="image", model="ddpm", mitigation="replace", generations=1, init="previous",
                       data={**DATA, "train_size": 64, "test_size": 64},
                       options={"steps": 10, "finetune_steps": 5, "conditional": True},
                       sampling={"ddim_steps": 2, "guidance": 1.0})
    rows = run_chains(config, tmp_path)[0]

    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert np.array_equal(fits[0].labels, ProceduralDogs(ProceduralOptions(**config.data)).load(0).truth["train_labels"])
    label_of = {image.tobytes(): label for image, label in zip(draws[0].data, draws[0].labels)}
    assert [label_of[image.tobytes()] for image in fits[1].data] == fits[1].labels.tolist()
    model1 = np.load(next(tmp_path.glob("image/*/seed-0/state/model_00001.npz")))
    assert model1["meta.class_counts"].tolist() == np.bincount(draws[0].labels, minlength=6).tolist()
    for row in rows:
        assert row["metrics"]["sampling-bias"] == 0.5
        assert 0 <= row["metrics"]["class-consistency"] <= 1


def test_bad_conditioning_options_name_the_fix(real):
    with pytest.raises(ConfigError, match="p_uncond"):
        parse_options(DDPMOptions, {"conditional": True, "p_uncond": 1.0}, "options of model 'ddpm'")
    with pytest.raises(ConfigError, match="guidance"):
        parse_options(DDIMSampling, {"guidance": -1}, "sampling policy of model 'ddpm'")
    unconditional = DDPMFamily(DDPMOptions(steps=1, batch_size=8)).fit(real.train.take(np.arange(8)), None,
                                                                       np.random.default_rng(0))
    with pytest.raises(ConfigError, match="set options.conditional = true"):
        unconditional.sample(2, np.random.default_rng(0), DDIMSampling(ddim_steps=1, guidance=1), real)
    with pytest.raises(DataError, match="needs class labels"):
        DDPMFamily(FAST).fit(Samples.real(real.train.data[:8]), None, np.random.default_rng(0))
    no_dropout = DDPMFamily(FAST.model_copy(update={"p_uncond": 0.0})).fit(real.train.take(np.arange(8)), None,
                                                                           np.random.default_rng(0))
    with pytest.raises(ConfigError, match="p_uncond > 0"):
        no_dropout.sample(2, np.random.default_rng(0), DDIMSampling(ddim_steps=1, guidance=1), real)


def test_guidance_without_a_conditional_model_fails_before_any_training(tmp_path: Path):
    """The family checks its sampling policy when the run is resolved, not after generation 0's fit."""
    config = RunConfig(track="image", model="ddpm", mitigation="replace", generations=1, data=DATA,
                       options={"steps": 1}, sampling={"ddim_steps": 1, "guidance": 1.0})
    with pytest.raises(ConfigError, match="set options.conditional = true"):
        run_chains(config, tmp_path)
    assert not any(tmp_path.rglob("rows.jsonl"))
