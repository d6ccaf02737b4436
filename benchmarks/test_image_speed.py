"""The image track's DDPM against a bare diffusers loop doing the same work, on the tiny preset.

Training: ``steps`` AdamW steps of v-prediction on 16 px images, batch 32, with a weight average
(ours through ``DDPMFamily.fit``, the bare loop with diffusers' ``EMAModel``). Sampling: DDIM with
20 steps of 250 images (ours through ``DDPMModel.sample``, the bare loop calling the UNet and
``DDIMScheduler.step`` directly). Rounds alternate between the two so machine load hits both;
the fastest round of each is compared. Overhead must stay within 10%. The conditional path is
measured the same way: label dropout in training, classifier-free guidance (both halves in one
batch of the UNet) in sampling, against the loop a user would write with diffusers' class embeddings.
Run: ``.venv/bin/python -m pytest benchmarks/test_image_speed.py --benchmark-only``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
import torch
from collapsebench_image.data import ProceduralDogs, ProceduralOptions
from collapsebench_image.ddpm import DDIMSampling, DDPMFamily, DDPMOptions

from collapsebench.experiment.samples import Samples

STEPS = 60
SAMPLES = 250
DDIM_STEPS = 20
ROUNDS = 3
MAX_OVERHEAD = 1.10
GUIDANCE = 2.0
OPTIONS = DDPMOptions(steps=STEPS)
POLICY = DDIMSampling(ddim_steps=DDIM_STEPS, batch_size=SAMPLES)
CONDITIONAL = DDPMOptions(steps=STEPS, conditional=True)
GUIDED = DDIMSampling(ddim_steps=DDIM_STEPS, batch_size=SAMPLES, guidance=GUIDANCE)


@pytest.fixture(scope="module")
def train() -> Samples:
    return ProceduralDogs(ProceduralOptions(size=16, train_size=500, test_size=10)).load(0).train


def bare_training(images: np.ndarray, labels: np.ndarray | None = None) -> torch.nn.Module:
    """The diffusers training loop a user would write, with the same schedule, target and sizes.

    With ``labels``: class embeddings (one extra, index 0, for "no class") and 10% label dropout.
    """
    from collapsebench_image.ddpm_net import ARCHITECTURES
    from diffusers import DDPMScheduler, UNet2DModel
    from diffusers.training_utils import EMAModel

    torch.manual_seed(0)
    classes = {} if labels is None else {"num_class_embeds": int(labels.max()) + 2}
    unet = UNet2DModel(sample_size=16, in_channels=3, out_channels=3, **ARCHITECTURES["tiny"], **classes)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
    ema = EMAModel(unet.parameters(), decay=OPTIONS.ema_decay, use_ema_warmup=False)
    opt = torch.optim.AdamW(unet.parameters(), lr=OPTIONS.lr, weight_decay=0.0)
    data = torch.tensor(images) * 2 - 1
    targets = None if labels is None else torch.tensor(labels) + 1
    order = torch.randperm(len(data))
    for step in range(STEPS):
        batch = order[(step * 32) % len(data) :][:32]
        x0 = data[batch]
        noise = torch.randn_like(x0)
        t = torch.randint(0, 1000, (len(x0),))
        c = None if targets is None else torch.where(torch.rand(len(x0)) < 0.1, 0, targets[batch])
        loss = torch.nn.functional.mse_loss(
            unet(scheduler.add_noise(x0, noise, t), t, class_labels=c).sample, scheduler.get_velocity(x0, noise, t))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.step(unet.parameters())
    ema.copy_to(unet.parameters())
    return unet


@torch.no_grad()
def bare_sampling(unet: torch.nn.Module) -> np.ndarray:
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
    scheduler.set_timesteps(DDIM_STEPS)
    x = torch.randn(SAMPLES, 3, 16, 16)
    for t in scheduler.timesteps:
        x = scheduler.step(unet(x, t).sample, t, x).prev_sample
    return ((x.clamp(-1, 1) + 1) / 2).numpy()


@torch.no_grad()
def bare_guided_sampling(unet: torch.nn.Module, labels: np.ndarray) -> np.ndarray:
    """Classifier-free guidance as the diffusers pipelines do it: class and null halves in one batch."""
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
    scheduler.set_timesteps(DDIM_STEPS)
    classes = torch.tensor(labels[:SAMPLES]) + 1
    both = torch.cat([classes, torch.zeros_like(classes)])
    x = torch.randn(SAMPLES, 3, 16, 16)
    for t in scheduler.timesteps:
        cond, uncond = unet(torch.cat([x, x]), t, class_labels=both).sample.chunk(2)
        x = scheduler.step((1 + GUIDANCE) * cond - GUIDANCE * uncond, t, x).prev_sample
    return ((x.clamp(-1, 1) + 1) / 2).numpy()


def _fastest(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def _check_overhead(benchmark, title: str, family: DDPMFamily, train: Samples, policy: DDIMSampling,
                    bare_fit: Callable[[], torch.nn.Module], bare_sample: Callable[[torch.nn.Module], np.ndarray]) -> None:
    """Time the plugin's fit and sample against the bare loops, round by round, and hold both to MAX_OVERHEAD."""
    model = family.fit(train, None, np.random.default_rng(0))  # warm-up: imports, allocator
    bare_unet = bare_fit()
    ours_fit, bare_fit_s, ours_sample, bare_sample_s = [], [], [], []
    for r in range(ROUNDS):
        ours_fit.append(_fastest(family.fit, train, None, np.random.default_rng(r)))
        bare_fit_s.append(_fastest(bare_fit))
        ours_sample.append(_fastest(model.sample, SAMPLES, np.random.default_rng(r), policy, None))
        bare_sample_s.append(_fastest(bare_sample, bare_unet))
    benchmark.pedantic(model.sample, args=(SAMPLES, np.random.default_rng(0), policy, None), rounds=1, iterations=1)
    fit_ratio, sample_ratio = min(ours_fit) / min(bare_fit_s), min(ours_sample) / min(bare_sample_s)
    benchmark.extra_info.update(
        train_steps_per_s=round(STEPS / min(ours_fit), 2),
        bare_train_steps_per_s=round(STEPS / min(bare_fit_s), 2),
        images_per_s=round(SAMPLES / min(ours_sample), 1),
        bare_images_per_s=round(SAMPLES / min(bare_sample_s), 1),
        train_overhead=round(fit_ratio, 3),
        sample_overhead=round(sample_ratio, 3),
    )
    print(f"\n{title}, 16 px, {torch.get_num_threads()} threads: training {STEPS / min(ours_fit):.2f} steps/s "
          f"(bare diffusers {STEPS / min(bare_fit_s):.2f}), sampling {SAMPLES / min(ours_sample):.1f} images/s "
          f"(bare {SAMPLES / min(bare_sample_s):.1f}) with DDIM-{DDIM_STEPS}")
    assert fit_ratio <= MAX_OVERHEAD and sample_ratio <= MAX_OVERHEAD


def test_training_and_sampling_overhead_vs_bare_diffusers(benchmark, train: Samples) -> None:
    _check_overhead(benchmark, "tiny DDPM", DDPMFamily(OPTIONS), train, POLICY,
                    lambda: bare_training(train.data), bare_sampling)


def test_conditional_training_and_guided_sampling_overhead_vs_bare_diffusers(benchmark, train: Samples) -> None:
    _check_overhead(benchmark, f"conditional tiny DDPM, guidance w={GUIDANCE:g}", DDPMFamily(CONDITIONAL), train,
                    GUIDED, lambda: bare_training(train.data, train.labels),
                    lambda unet: bare_guided_sampling(unet, train.labels))
