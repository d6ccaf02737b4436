"""The VAE in torch: MLP encoder and decoder, Bernoulli decoder, trained on the ELBO.

Imported only when a VAE is fitted or rebuilt, so loading the density plugin does not import torch.
All randomness comes from local ``torch.Generator``s seeded by the caller; global RNG state is
never read or changed, so a fit is a pure function of (data, options, seed) on CPU.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from collapsebench import DegenerateFit, Model, Options, RealData, torch_seed

ELBO_DRAWS = 16
"""Posterior draws per image in ``log_likelihood``: enough that the estimate's noise is small."""
ELBO_SEED = 0
"""Fixed seed of those draws, so ``log_likelihood`` is a deterministic function of model and x."""


class VAENet(nn.Module):
    """dim → hidden → (mean, log-variance) of the latent; latent → hidden → dim Bernoulli logits."""

    def __init__(self, dim: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.latent = latent
        # skip_init: parameters are set from a local generator in reset(), not the global RNG.
        self.enc_hidden = nn.utils.skip_init(nn.Linear, dim, hidden)
        self.enc_out = nn.utils.skip_init(nn.Linear, hidden, 2 * latent)
        self.dec_hidden = nn.utils.skip_init(nn.Linear, latent, hidden)
        self.dec_out = nn.utils.skip_init(nn.Linear, hidden, dim)

    def reset(self, gen: torch.Generator) -> None:
        """PyTorch's default Linear initialisation, U(±1/√fan_in), drawn from ``gen``."""
        with torch.no_grad():
            for layer in (self.enc_hidden, self.enc_out, self.dec_hidden, self.dec_out):
                bound = 1 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=gen)
                layer.bias.uniform_(-bound, bound, generator=gen)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.enc_out(F.relu(self.enc_hidden(x))).chunk(2, dim=-1)
        return mean, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits per pixel."""
        return self.dec_out(F.relu(self.dec_hidden(z)))

    def elbo(self, x: torch.Tensor, gen: torch.Generator, draws: int = 1) -> torch.Tensor:
        """Per-sample ELBO in nats, averaged over ``draws`` reparameterised posterior draws."""
        mean, logvar = self.encode(x)
        eps = torch.randn((draws, *mean.shape), generator=gen)
        z = mean + eps * torch.exp(0.5 * logvar)
        logits = self.decode(z)
        target = x.expand_as(logits)
        recon = -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1).mean(0)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
        return recon - kl


class VAEModel(Model):
    """A fitted VAE; a sample decodes z ~ N(0, temperature²·I) to a Bernoulli draw or mean, in [0, 1]."""

    def __init__(self, net: VAENet) -> None:
        self.net = net

    def sample(self, n: int, rng: np.random.Generator, policy: Options, real: RealData) -> np.ndarray:
        gen = torch.Generator().manual_seed(torch_seed(rng))
        with torch.no_grad():
            z = policy.temperature * torch.randn((n, self.net.latent), generator=gen)
            probs = torch.sigmoid(self.net.decode(z))
            if policy.output == "bernoulli":
                probs = torch.bernoulli(probs, generator=gen)
        return probs.numpy().astype(np.float32)

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """The per-sample ELBO (a lower bound on log p(x)), with fixed posterior draws."""
        gen = torch.Generator().manual_seed(ELBO_SEED)
        with torch.no_grad():
            return self.net.elbo(_tensor(x), gen, ELBO_DRAWS).numpy().astype(np.float64)

    def latent_means(self, x: np.ndarray) -> np.ndarray:
        """The encoder's posterior means, N×latent (the paper's diversity probe)."""
        with torch.no_grad():
            return self.net.encode(_tensor(x))[0].numpy().astype(np.float64)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().copy() for k, v in self.net.state_dict().items()}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> VAEModel:
        """Rebuild; the layer sizes are read off the weight shapes."""
        hidden, dim = state["enc_hidden.weight"].shape
        net = VAENet(dim, hidden, state["enc_out.weight"].shape[0] // 2)
        net.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        return cls(net)


def fit_vae(
    x: np.ndarray,
    init: VAEModel | None,
    seed: int,
    *,
    latent_dim: int,
    hidden: int,
    epochs: int,
    batch_size: int,
    lr: float,
) -> VAEModel:
    """Train with Adam on minibatches of ``x`` (N×D in [0, 1]); from ``init``'s weights when given."""
    if len(x) == 0:
        raise DegenerateFit("empty training set")
    data = _tensor(x)
    gen = torch.Generator().manual_seed(seed)
    net = VAENet(data.shape[1], hidden, latent_dim)
    net.reset(gen)
    if init is not None:
        net.load_state_dict(init.net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for epoch in range(epochs):
        for batch in torch.randperm(len(data), generator=gen).split(batch_size):
            loss = -net.elbo(data[batch], gen).mean()
            if not torch.isfinite(loss):
                raise DegenerateFit(f"VAE loss became {loss.item()} in epoch {epoch}")
            opt.zero_grad()
            loss.backward()
            opt.step()
    return VAEModel(net)


def _tensor(x: np.ndarray) -> torch.Tensor:
    """A float32 copy, N×D (works for read-only arrays, unlike ``torch.from_numpy``)."""
    return torch.tensor(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
