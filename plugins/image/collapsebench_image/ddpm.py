"""The DDPM family of the image track: a diffusers UNet2DModel trained with DDPMScheduler,
sampled with DDIM (steps in the sampling policy).

Two architectures (``arch``): ``tiny`` for CPU minutes, ``small`` for a GPU. ``steps`` AdamW
steps train a model from scratch; a model started from ``init`` (``init = "previous"``: the core
passes model_{g-1}) takes ``finetune_steps``. Training by steps, not epochs, keeps the cost of a
generation the same under every mitigation (``accumulate``'s pool grows). torch and diffusers are
imported only when a model is fitted or rebuilt (``ddpm_net``).

``conditional = true`` trains on the breed labels of the training set (label dropout ``p_uncond``)
and samples breeds in the proportions of its own training set, so a breed the model saw less it
draws less, and the self-consuming loop can lose it. The sampling policy's ``guidance`` w is
classifier-free guidance, i.e. the sampling bias λ = 1/(1+w) of Alemohammad et al. (2024).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from collapsebench import ConfigError, DataError, Labelled, Model, ModelFamily, Options, RealData, Samples, torch_seed


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
    conditional: bool = Field(False, description="condition on the breed labels (classifier-free guidance)")
    p_uncond: float = Field(0.1, ge=0, lt=1, description="conditional: share of labels dropped to the null class")


class DDIMSampling(Options):
    """DDIM steps trade quality for time; eta = 0 is deterministic given the starting noise."""

    ddim_steps: int = Field(20, gt=0, description="denoising steps")
    eta: float = Field(0.0, ge=0, le=1, description="DDIM stochasticity (1 ≈ DDPM)")
    batch_size: int = Field(250, gt=0, description="images denoised at once")
    guidance: float = Field(0.0, ge=0, description="classifier-free guidance weight w (conditional models)")

    @property
    def sampling_bias(self) -> float:
        """λ = 1/(1+w) of Alemohammad et al. (2024): 1 samples the model as it is, → 0 only its modes."""
        return 1 / (1 + self.guidance)


def check_guidance(conditional: bool, p_uncond: float, guidance: float) -> None:
    """Guidance needs a conditional model that also learned the unconditional prediction (p_uncond > 0)."""
    if guidance > 0 and not conditional:
        raise ConfigError(f"sampling.guidance = {guidance} needs a class-conditional model: "
                          "set options.conditional = true, or guidance = 0.")
    if guidance > 0 and p_uncond == 0:
        raise ConfigError("sampling.guidance > 0 needs the unconditional prediction, which a model trained "
                          "with options.p_uncond = 0 never learned: set p_uncond > 0 (e.g. 0.1).")


class DDPMModel(Model):
    """A trained UNet with its noise schedule; a conditional one also keeps its training set's class counts."""

    def __init__(self, unet: Any, scheduler: Any, arch: str, device: str, class_counts: np.ndarray | None = None,
                 p_uncond: float = 0.0) -> None:
        self.unet, self.scheduler, self.arch, self.device = unet, scheduler, arch, device
        self.class_counts, self.p_uncond = class_counts, p_uncond

    def sample(self, n: int, rng: np.random.Generator, policy: Options, real: RealData) -> np.ndarray | Labelled:
        from collapsebench_image.ddpm_net import ddim_sample

        check_guidance(self.class_counts is not None, self.p_uncond, policy.guidance)
        if self.class_counts is None:
            return ddim_sample(self.unet, self.scheduler, n, policy.ddim_steps, policy.eta, torch_seed(rng),
                               policy.batch_size, self.device)
        labels = rng.choice(len(self.class_counts), size=n, p=self.class_counts / self.class_counts.sum())
        data = ddim_sample(self.unet, self.scheduler, n, policy.ddim_steps, policy.eta, torch_seed(rng),
                           policy.batch_size, self.device, labels, policy.guidance)
        return Labelled(data, labels)

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """Not a likelihood: the negative denoising loss at fixed timesteps and noise (higher = better fit).

        See ``ddpm_net.denoising_score``; it ranks images for the ``filter`` mitigation.
        """
        from collapsebench_image.ddpm_net import denoising_score

        return denoising_score(self.unet, self.scheduler, x)

    def state_dict(self) -> dict[str, np.ndarray]:
        from collapsebench_image.ddpm_net import state_arrays

        state = {**state_arrays(self.unet), "meta.image_size": np.array(self.unet.config.sample_size)}
        if self.class_counts is not None:
            state["meta.class_counts"] = self.class_counts
        return state


class DDPMFamily(ModelFamily):
    name = "ddpm"
    track = "image"
    description = "diffusers UNet2DModel + DDPMScheduler, DDIM sampling; tiny (CPU) or small (GPU)"
    Options = DDPMOptions
    SamplingPolicy = DDIMSampling

    def check_policy(self, policy: Options) -> None:
        check_guidance(self.options.conditional, self.options.p_uncond, policy.guidance)

    def fit(self, train: Samples, init: Model | None, rng: np.random.Generator) -> Model:
        from collapsebench_image import ddpm_net

        o = self.options
        seed = torch_seed(rng)
        scheduler = ddpm_net.noise_scheduler(o.train_timesteps, o.schedule, o.prediction)
        labels, counts = _class_counts(train, init) if o.conditional else (None, None)
        if isinstance(init, DDPMModel):
            unet, steps = ddpm_net.load_unet(o.arch, init.state_dict()), o.finetune_steps
        else:
            _, channels, size, _ = train.data.shape
            classes = 0 if counts is None else len(counts)
            unet, steps = ddpm_net.build_unet(o.arch, size, channels, seed, classes), o.steps
        device = _device(o.device)
        unet = ddpm_net.train(unet, scheduler, train.data, steps, o.batch_size, o.lr, seed, device, o.ema_decay,
                              labels, o.p_uncond)
        return DDPMModel(unet, scheduler, o.arch, device, counts, o.p_uncond)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Model:
        from collapsebench_image import ddpm_net

        o = self.options
        unet = ddpm_net.load_unet(o.arch, state)
        counts = state.get("meta.class_counts")
        return DDPMModel(unet, ddpm_net.noise_scheduler(o.train_timesteps, o.schedule, o.prediction), o.arch,
                         _device(o.device), counts, o.p_uncond)


def _class_counts(train: Samples, init: Model | None) -> tuple[np.ndarray, np.ndarray]:
    """The training labels and how many images of each class they hold (the sampling frequencies).

    The number of classes is fixed by model₀ (the largest label it saw + 1) and inherited by every
    model fine-tuned from it; unlabelled images train as the null class and are not counted.
    """
    labels = train.labels_or_unlabelled()
    known = labels[labels >= 0]
    if len(known) == 0:
        raise DataError("ddpm: options.conditional = true needs class labels on the training images, and this "
                        "training set has none; use a labelled data source (dogs-procedural, dogs-folder) or "
                        "conditional = false.")
    inherited = init.class_counts if isinstance(init, DDPMModel) else None
    classes = len(inherited) if inherited is not None else int(known.max()) + 1
    if known.max() >= classes:
        raise DataError(f"ddpm: a training label is {int(known.max())} but model₀ was conditioned on {classes} "
                        "classes; keep the data source's classes the same across generations.")
    return labels, np.bincount(known, minlength=classes).astype(np.int64)


def _device(choice: str) -> str:
    """``auto`` resolves where the model runs, so one config serves CPU and GPU machines."""
    if choice != "auto":
        return choice
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


MODELS = (DDPMFamily,)
