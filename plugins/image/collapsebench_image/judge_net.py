"""The breed judge in torch: a small CNN classifier whose penultimate layer is the feature space.

Besides the breeds it has one more class, *unrecognised*, trained on blends of two real images of
different breeds (one shifted a few pixels): a diffusion model that mixes breeds makes exactly
such images, and without this class the judge would file them under some breed, often the rare
one. Everything it learns from is real training data or a deterministic mix of it.

Trained once per real data set on its train pool (never on synthetic images) and cached on disk
by the data fingerprint as safetensors, so the processes of a sweep train it once between them.
Imported only when a metric needs the judge.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save

from collapsebench import atomic_write_bytes

FEATURES = 64


class JudgeNet(torch.nn.Module):
    """conv 16 → pool → conv 32 → pool → conv 32 → 4×4 average → 64 features → breed logits.

    The 4×4 grid keeps where things are (ears above the head, spots on the body), which a global
    average would lose; the features are taken before the last non-linearity, so none are dead
    and their covariance stays full-rank for the Fréchet distance.
    """

    def __init__(self, channels: int, n_outputs: int) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, 16, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(32, 32, 3, padding=1)
        self.feat = torch.nn.Linear(32 * 16, FEATURES)
        self.head = torch.nn.Linear(FEATURES, n_outputs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.adaptive_avg_pool2d(F.relu(self.conv3(h)), 4).flatten(1)
        return self.feat(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.features(x)))


class Judge:
    """A trained JudgeNet: predictions (breed index, or the number of breeds for "unrecognised")
    and features of N×C×H×W images in [0, 1]."""

    def __init__(self, net: JudgeNet, test_accuracy: float) -> None:
        self.net = net.eval()
        self.test_accuracy = test_accuracy

    @torch.no_grad()
    def _run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feats, labels = [], []
        for start in range(0, len(x), 512):
            batch = torch.tensor(np.asarray(x[start : start + 512], dtype=np.float32))
            f = self.net.features(batch)
            feats.append(f.numpy())
            labels.append(self.net.head(F.relu(f)).argmax(1).numpy())
        return np.concatenate(feats).astype(np.float64), np.concatenate(labels)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._run(x)[1]

    def features(self, x: np.ndarray) -> np.ndarray:
        return self._run(x)[0]


def train_judge(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
    n_classes: int, epochs: int, seed: int,
) -> Judge:
    """Adam on class-balanced cross-entropy (the rare breed must be recognised too) over the breeds
    and "unrecognised" (label ``n_classes``: a fresh quarter-epoch of blends every epoch).

    Gaussian pixel noise (σ up to 0.1) in training keeps the judge from reading a generator's
    residual noise as a breed; the held-out accuracy is measured on clean real test images.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = JudgeNet(x_train.shape[1], n_classes + 1)
    real, real_labels = torch.tensor(x_train, dtype=torch.float32), torch.tensor(y_train, dtype=torch.long)
    counts = torch.bincount(real_labels, minlength=n_classes).clamp(min=1).float()
    weight = torch.cat([counts.sum() / (n_classes * counts), torch.ones(1)])
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(epochs):
        blends = _blends(real, real_labels, len(real) // 4, gen)
        data = torch.cat([real, blends])
        labels = torch.cat([real_labels, torch.full((len(blends),), n_classes)])
        for batch in torch.randperm(len(data), generator=gen).split(64):
            x = data[batch]
            x = x + torch.rand((len(x), 1, 1, 1), generator=gen) * 0.1 * torch.randn(x.shape, generator=gen)
            loss = F.cross_entropy(net(x), labels[batch], weight=weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    judge = Judge(net, math.nan)
    judge.test_accuracy = float(np.mean(judge.predict(x_test) == y_test))
    return judge


def _blends(x: torch.Tensor, y: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` mixes λ·a + (1 − λ)·b of images of two different breeds, b shifted by up to 3 px, λ ~ U(0.3, 0.7)."""
    a = torch.randint(0, len(x), (n,), generator=gen)
    b = torch.randint(0, len(x), (n,), generator=gen)
    keep = y[a] != y[b]
    a, b = a[keep], b[keep]
    shift = torch.randint(-3, 4, (2,), generator=gen).tolist()
    lam = 0.3 + 0.4 * torch.rand((len(a), 1, 1, 1), generator=gen)
    return lam * x[a] + (1 - lam) * torch.roll(x[b], shifts=shift, dims=(2, 3))


def save_judge(judge: Judge, path: Path) -> None:
    """Weights and the held-out accuracy as one safetensors file, written atomically (no pickle)."""
    meta = {"test_accuracy": json.dumps(judge.test_accuracy), "n_outputs": str(judge.net.head.out_features),
            "channels": str(judge.net.conv1.in_channels)}
    atomic_write_bytes(path, save(judge.net.state_dict(), metadata=meta))


def load_judge(path: Path) -> Judge:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    net = JudgeNet(int(meta["channels"]), int(meta["n_outputs"]))
    net.load_state_dict(load_file(str(path)))
    return Judge(net, float(json.loads(meta["test_accuracy"])))
