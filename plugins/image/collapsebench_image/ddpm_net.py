"""The DDPM in torch and diffusers: UNet2DModel trained on v-prediction (default), sampled with DDIM.

v-prediction, not ε: an undertrained ε-model's error at high noise is amplified by 1/√ᾱ in DDIM's
x₀ estimate and clipped, so short CPU runs come out with saturated random colours; predicting v
keeps the high-noise steps well conditioned.

Imported only when a model is fitted, rebuilt or benchmarked, because diffusers takes seconds to
import. All randomness comes from local ``torch.Generator``s seeded by the caller; the UNet's
initial weights are drawn under ``torch.random.fork_rng`` with a seed of ours, so the global RNG
is left as it was and a fit is a pure function of (data, options, seed) on CPU.

Class conditioning (``classes`` > 0): the UNet's ``num_class_embeds`` is classes + 1, embedding
index 0 is the null class and class c has index c + 1, so ``UNLABELLED`` (-1) trains as the null
class. Without ``classes`` every code path draws the same random numbers as an unconditional UNet.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

from collapsebench import UNLABELLED, DegenerateFit

ARCHITECTURES: dict[str, dict[str, Any]] = {
    "tiny": {
        "block_out_channels": (16, 32),
        "down_block_types": ("DownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "UpBlock2D"),
        "layers_per_block": 1,
        "norm_num_groups": 8,
    },
    "small": {
        "block_out_channels": (64, 128, 128),
        "down_block_types": ("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
        "layers_per_block": 2,
        "norm_num_groups": 32,
    },
}
"""``tiny``: CPU minutes (44 ms per step of 32 images at 16 px); ``small``: a GPU-sized UNet."""

SCORE_TIMESTEPS = (50, 150, 300, 500, 700)
"""Timesteps of the per-sample score (negative denoising loss), spread over the noise schedule."""
SCORE_SEED = 0
"""Fixed seed of the score's noise, so ``denoising_score`` is a deterministic function of model and x."""
NULL_CLASS = 0
"""Embedding index of "no class": label dropout, unlabelled images and the unconditional half of guidance."""


def build_unet(arch: str, image_size: int, channels: int, seed: int, classes: int = 0) -> UNet2DModel:
    """A fresh UNet whose initial weights depend on ``seed`` only; ``classes`` > 0 adds class embeddings."""
    conditioning = {"num_class_embeds": classes + 1} if classes > 0 else {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNet2DModel(sample_size=image_size, in_channels=channels, out_channels=channels,
                           **ARCHITECTURES[arch], **conditioning)


def classes_of(unet: UNet2DModel) -> int:
    """How many classes a UNet is conditioned on (0: unconditional)."""
    return int(unet.config.num_class_embeds or 1) - 1


def embedding_index(labels: np.ndarray) -> torch.Tensor:
    """Class c → embedding c + 1; ``UNLABELLED`` → the null class."""
    return torch.as_tensor(np.asarray(labels, dtype=np.int64) - UNLABELLED)  # UNLABELLED → 0 = NULL_CLASS


def noise_scheduler(train_timesteps: int, schedule: str, prediction: str) -> DDPMScheduler:
    """The training schedule; DDIM sampling reads its config (betas, prediction type, clipping)."""
    return DDPMScheduler(num_train_timesteps=train_timesteps, beta_schedule=schedule, prediction_type=prediction)


def _target(scheduler: DDPMScheduler, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What the UNet learns to predict: ε, v = √ᾱ·ε − √(1−ᾱ)·x₀, or x₀ itself."""
    kind = scheduler.config.prediction_type
    if kind == "v_prediction":
        return scheduler.get_velocity(x0, noise, t)
    return noise if kind == "epsilon" else x0


def train(
    unet: UNet2DModel,
    scheduler: DDPMScheduler,
    images: np.ndarray,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: str,
    ema_decay: float = 0.0,
    labels: np.ndarray | None = None,
    p_uncond: float = 0.0,
) -> UNet2DModel:
    """``steps`` AdamW steps of the denoising loss on ``images`` (N×C×H×W in [0, 1]).

    Returns the exponential moving average of the weights when ``ema_decay`` > 0 (with the usual
    warm-up, decay ≤ (1 + step) / (10 + step)): short CPU runs sample far cleaner from the average.
    A conditional UNet trains on ``labels``, each replaced by the null class with probability
    ``p_uncond`` (label dropout), so one network also learns the unconditional prediction guidance needs.
    """
    if len(images) == 0:
        raise DegenerateFit("empty training set")
    data = torch.tensor(np.asarray(images, dtype=np.float32)) * 2 - 1
    classes = None if labels is None else embedding_index(labels)
    gen = torch.Generator().manual_seed(seed)
    unet.to(device).train()
    opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
    timesteps = scheduler.config.num_train_timesteps
    params = list(unet.parameters())
    ema = [p.detach().clone() for p in params] if ema_decay > 0 else None
    for step, batch in zip(range(steps), _batches(len(data), batch_size, gen)):
        x0 = data[batch]
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, timesteps, (len(x0),), generator=gen)
        xt = scheduler.add_noise(x0, noise, t)
        class_labels = None
        if classes is not None:
            dropped = torch.rand(len(x0), generator=gen) < p_uncond
            class_labels = classes[batch].masked_fill(dropped, NULL_CLASS).to(device)
        pred = unet(xt.to(device), t.to(device), class_labels=class_labels).sample
        loss = F.mse_loss(pred, _target(scheduler, x0, noise, t).to(device))
        if not torch.isfinite(loss):
            raise DegenerateFit(f"DDPM loss became {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            with torch.no_grad():
                torch._foreach_lerp_(ema, params, 1 - min(ema_decay, (1 + step) / (10 + step)))
    if ema is not None:
        with torch.no_grad():
            torch._foreach_copy_(params, ema)
    return unet.eval().cpu()


def _batches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """Minibatch indices, reshuffled every epoch, without end."""
    while True:
        yield from torch.randperm(n, generator=gen).split(min(batch_size, n))


@torch.no_grad()
def ddim_sample(
    unet: UNet2DModel,
    scheduler: DDPMScheduler,
    n: int,
    steps: int,
    eta: float,
    seed: int,
    batch_size: int,
    device: str,
    labels: np.ndarray | None = None,
    guidance: float = 0.0,
) -> np.ndarray:
    """``n`` images N×C×H×W in [0, 1] by DDIM with ``steps`` steps (``eta`` = 0: deterministic).

    A conditional UNet draws image i for class ``labels[i]``; with ``guidance`` w > 0 the prediction
    is classifier-free guided, (1 + w)·pred(class) − w·pred(null), for ε and v alike (both linear
    in the score), with the two halves in one batch.
    """
    ddim = DDIMScheduler.from_config(scheduler.config)
    ddim.set_timesteps(steps)
    gen = torch.Generator().manual_seed(seed)
    size, channels = unet.config.sample_size, unet.config.in_channels
    classes = None if labels is None else embedding_index(labels)
    unet.to(device).eval()
    out = []
    for start in range(0, n, batch_size):
        x = torch.randn((min(batch_size, n - start), channels, size, size), generator=gen)
        c = None if classes is None else classes[start : start + len(x)]
        for t in ddim.timesteps:
            eps = _prediction(unet, x, t, c, guidance, device)
            x = ddim.step(eps, t, x, eta=eta, generator=gen).prev_sample
        out.append(((x.clamp(-1, 1) + 1) / 2).numpy())
    unet.cpu()
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, channels, size, size), np.float32)


def _prediction(unet: UNet2DModel, x: torch.Tensor, t: torch.Tensor, classes: torch.Tensor | None,
                guidance: float, device: str) -> torch.Tensor:
    """The UNet's output at (x, t): plain, for ``classes``, or guided towards them."""
    if classes is None or guidance == 0:
        return unet(x.to(device), t, class_labels=None if classes is None else classes.to(device)).sample.cpu()
    both = torch.cat([classes, torch.full_like(classes, NULL_CLASS)]).to(device)
    conditional, unconditional = unet(torch.cat([x, x]).to(device), t, class_labels=both).sample.cpu().chunk(2)
    return (1 + guidance) * conditional - guidance * unconditional


@torch.no_grad()
def denoising_score(unet: UNet2DModel, scheduler: DDPMScheduler, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Per-image negative denoising MSE (in the model's prediction type), averaged over ``SCORE_TIMESTEPS``.

    A cheap stand-in for log-likelihood (the ELBO is a weighted sum of such terms): higher means
    the model denoises the image better. Deterministic: the noise comes from ``SCORE_SEED``.
    """
    data = torch.tensor(np.asarray(images, dtype=np.float32)) * 2 - 1
    gen = torch.Generator().manual_seed(SCORE_SEED)
    noise = torch.randn((len(SCORE_TIMESTEPS), *data.shape[1:]), generator=gen)  # one draw per timestep, shared
    total = torch.zeros(len(data))
    unet.eval()
    for k, t in enumerate(SCORE_TIMESTEPS):
        for start in range(0, len(data), batch_size):
            x0 = data[start : start + batch_size]
            eps = noise[k].expand_as(x0)
            ts = torch.full((len(x0),), t, dtype=torch.long)
            null = torch.full_like(ts, NULL_CLASS) if classes_of(unet) else None  # conditional: score unconditionally
            pred = unet(scheduler.add_noise(x0, eps, ts), ts, class_labels=null).sample
            total[start : start + len(x0)] += ((pred - _target(scheduler, x0, eps, ts)) ** 2).flatten(1).mean(1)
    return (-total / len(SCORE_TIMESTEPS)).numpy().astype(np.float64)


def state_arrays(unet: UNet2DModel) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in unet.state_dict().items()}


def load_unet(arch: str, state: dict[str, np.ndarray]) -> UNet2DModel:
    """Rebuild a UNet from ``state_arrays`` plus the ``meta.*`` entries the model adds."""
    embeddings = state.get("class_embedding.weight")
    classes = 0 if embeddings is None else embeddings.shape[0] - 1
    unet = build_unet(arch, int(state["meta.image_size"]), int(state["conv_in.weight"].shape[1]), seed=0, classes=classes)
    unet.load_state_dict({k: torch.tensor(v) for k, v in state.items() if not k.startswith("meta.")})
    return unet.eval()
