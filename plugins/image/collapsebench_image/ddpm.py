"""The DDPM family of the image track: a diffusers UNet2DModel trained with DDPMScheduler,
sampled with DDIM (steps in the sampling policy).

Two architectures (``arch``): ``tiny`` for CPU minutes, ``small`` for a GPU. ``steps`` AdamW
steps train a model from scratch; a model started from ``init`` (``init = "previous"``: the core
passes model_{g-1}) takes ``finetune_steps``. Training by steps, not epochs, keeps the cost of a
generation the same under every mitigation (``accumulate``'s pool grows). torch and diffusers are
imported only when a model is fitted or rebuilt (``ddpm_net``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from collapsebench.data import RealData
from collapsebench.models import Model, ModelFamily
from collapsebench.options import Options
from collapsebench.samples import Samples
from collapsebench.seeding import torch_seed


class DDPMOptions(Options):
    """Defaults are the ``tiny`` CPU preset (16 px: ~45–80 ms per step on one core)."""

    arch: Literal["tiny", "small"] = Field("tiny", description="UNet size (ddpm_net.ARCHITECTURES)")
    steps: int = Field(1000, ge=0, description="AdamW steps when training from scratch")
    finetune_steps: int = Field(300, ge=0, description="AdamW steps when starting from init (model_{g-1})")
    batch_size: int = Field(32, gt=0, description="images per step")
    lr: float = Field(2e-3, gt=0, description="AdamW learning rate")
    ema_decay: float = Field(0.995, ge=0, lt=1, description="weight averaging (0: none)")
    train_timesteps: int = Field(1000, gt=1, description="diffusion steps of the noise schedule")
    schedule: Literal["linear", "squaredcos_cap_v2"] = Field("squaredcos_cap_v2", description="β schedule")
    prediction: Literal["v_prediction", "epsilon", "sample"] = Field("v_prediction", description="UNet target")
    device: Literal["cpu", "cuda", "auto"] = Field("cpu", description="auto: cuda when available")


class DDIMSampling(Options):
    """DDIM steps trade quality for time; eta = 0 is deterministic given the starting noise."""

    ddim_steps: int = Field(20, gt=0, description="denoising steps")
    eta: float = Field(0.0, ge=0, le=1, description="DDIM stochasticity (1 ≈ DDPM)")
    batch_size: int = Field(250, gt=0, description="images denoised at once")


class DDPMModel(Model):
    """A trained UNet with its noise schedule."""

    def __init__(self, unet: Any, scheduler: Any, arch: str, device: str) -> None:
        self.unet, self.scheduler, self.arch, self.device = unet, scheduler, arch, device

    def sample(self, n: int, rng: np.random.Generator, policy: Options, real: RealData) -> np.ndarray:
        from collapsebench_image.ddpm_net import ddim_sample

        return ddim_sample(self.unet, self.scheduler, n, policy.ddim_steps, policy.eta, torch_seed(rng),
                           policy.batch_size, self.device)

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """Not a likelihood: the negative denoising loss at fixed timesteps and noise (higher = better fit).

        See ``ddpm_net.denoising_score``; it ranks images for the ``filter`` mitigation.
        """
        from collapsebench_image.ddpm_net import denoising_score

        return denoising_score(self.unet, self.scheduler, x)

    def state_dict(self) -> dict[str, np.ndarray]:
        from collapsebench_image.ddpm_net import state_arrays

        return {**state_arrays(self.unet), "meta.image_size": np.array(self.unet.config.sample_size)}


class DDPMFamily(ModelFamily):
    name = "ddpm"
    track = "image"
    description = "diffusers UNet2DModel + DDPMScheduler, DDIM sampling; tiny (CPU) or small (GPU)"
    Options = DDPMOptions
    SamplingPolicy = DDIMSampling

    def fit(self, train: Samples, init: Model | None, rng: np.random.Generator) -> Model:
        from collapsebench_image import ddpm_net

        o = self.options
        seed = torch_seed(rng)
        scheduler = ddpm_net.noise_scheduler(o.train_timesteps, o.schedule, o.prediction)
        if isinstance(init, DDPMModel):
            unet, steps = ddpm_net.load_unet(o.arch, init.state_dict()), o.finetune_steps
        else:
            _, channels, size, _ = train.data.shape
            unet, steps = ddpm_net.build_unet(o.arch, size, channels, seed), o.steps
        device = _device(o.device)
        unet = ddpm_net.train(unet, scheduler, train.data, steps, o.batch_size, o.lr, seed, device, o.ema_decay)
        return DDPMModel(unet, scheduler, o.arch, device)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Model:
        from collapsebench_image import ddpm_net

        o = self.options
        unet = ddpm_net.load_unet(o.arch, state)
        return DDPMModel(unet, ddpm_net.noise_scheduler(o.train_timesteps, o.schedule, o.prediction), o.arch, _device(o.device))


def _device(choice: str) -> str:
    """``auto`` resolves where the model runs, so one config serves CPU and GPU machines."""
    if choice != "auto":
        return choice
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


MODELS = (DDPMFamily,)
