"""The VAE part of the density track (Shumailov et al. 2024, the VAE experiment).

Each generation trains a small MLP VAE from scratch on the previous generation's samples of 8×8
digits; the paper's symptom is that the generation-0 encoder's latent means spread less and less
over generated samples. torch is imported only when a VAE is fitted or rebuilt (``vae_net``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from collapsebench import Metric, MetricContext, Model, ModelFamily, Options, Samples, torch_seed
from collapsebench_density import digits, judge


class VAEOptions(Options):
    """Sized so one generation (800 images) trains in ~0.6 s on one CPU thread."""

    latent_dim: int = Field(8, gt=0, description="latent dimensions")
    hidden: int = Field(128, gt=0, description="width of the encoder's and the decoder's hidden layer")
    epochs: int = Field(50, ge=0, description="passes over the training set (0: untrained)")
    batch_size: int = Field(64, gt=0, description="images per Adam step")
    lr: float = Field(3e-3, gt=0, description="Adam learning rate")


class VAESampling(Options):
    """``temperature`` scales the prior's std; ``output`` picks what a sample is.

    "bernoulli" (default) draws pixels from the decoder: a sample from the model's own density, so
    the chain retrains on its predecessor's samples as in the paper; collapse is gradual (latent
    std ratio ~0.98 → ~0.8 over 10 generations of pure replacement). "mean" emits the decoder's
    probabilities: smooth images on which the next VAE's posterior collapses, so all samples become
    one blurred digit within ~3 generations.
    """

    temperature: float = Field(1.0, gt=0, description="z ~ N(0, temperature² I)")
    output: Literal["bernoulli", "mean"] = Field("bernoulli", description="pixel draws or decoder means")


class VAEFamily(ModelFamily):
    name = "vae"
    track = "density"
    description = "MLP VAE (64-128-8, Bernoulli decoder) on 8x8 digits, retrained from scratch"
    Options = VAEOptions
    SamplingPolicy = VAESampling
    data_source = "digits"
    metrics = ("elbo-test", "latent-std-ratio", "class-kl", "minority-retention")
    families = {
        "fidelity": "elbo-test",
        "diversity": "latent-std-ratio",
        "drift": "class-kl",
        "tails": "minority-retention",
    }

    def fit(self, train: Samples, init: Model | None, rng: np.random.Generator) -> Model:
        from collapsebench_density.vae_net import fit_vae

        return fit_vae(train.data, init, torch_seed(rng), **self.options.model_dump())

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Model:
        from collapsebench_density.vae_net import VAEModel

        return VAEModel.from_state(state)


class HeldOutELBO(Metric):
    name = "elbo-test"
    family = "fidelity"
    higher_is_better = True
    description = "mean ELBO of model_g on the real held-out digits, nats per image"

    def compute(self, ctx: MetricContext) -> float:
        return float(np.mean(ctx.model.log_likelihood(ctx.real.test.data)))


class LatentStdRatio(Metric):
    name = "latent-std-ratio"
    family = "diversity"
    higher_is_better = True
    description = "spread of model_0's encoder means over the samples ÷ over real test digits (1 = kept)"
    # Bernoulli pixel noise alone keeps it near 0.65 even at temperature → 0: compare generations.

    def compute(self, ctx: MetricContext) -> float:
        if "vae:real_latent_std" not in ctx.cache:
            ctx.cache["vae:real_latent_std"] = _latent_std(ctx, ctx.real.test.data)
        return _latent_std(ctx, ctx.samples) / ctx.cache["vae:real_latent_std"]


def _latent_std(ctx: MetricContext, x: np.ndarray) -> float:
    """Root mean over latent dimensions of the variance (ddof 0) of model_0's encoder means.

    Pooling variances before the root keeps dimensions the encoder left unused (std ≈ 0 on real
    data too) from dominating the ratio, as a mean of per-dimension ratios would.
    """
    return float(np.sqrt(np.mean(np.var(ctx.reference.latent_means(x), axis=0))))


DATA_SOURCES = (digits.DigitsData,)
MODELS = (VAEFamily,)
METRICS = (HeldOutELBO, LatentStdRatio, *judge.METRICS)
