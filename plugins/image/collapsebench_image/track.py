"""The image track: a small diffusion model on long-tailed dog breeds (Shumailov et al. 2024's
example: a model that over-represents golden retrievers forgets French bulldogs).

The headline family is ``tails``: the rare breed's share of the samples relative to its real share.
"""

from __future__ import annotations

from typing import Any

from collapsebench import (
    ALEMOHAMMAD_2024,
    HO_2020,
    KHOSLA_2011,
    SHUMAILOV_2024,
    SONG_2021,
    UDACITY_PET_IMAGES,
    Track,
    bibliography,
)
from collapsebench_image.metrics import METRICS

MITIGATIONS = ["replace", "retain:0.2", "accumulate"]

TINY: dict[str, Any] = {"arch": "tiny"}
SMALL: dict[str, Any] = {
    "arch": "small", "steps": 20000, "finetune_steps": 5000, "batch_size": 128, "lr": 2e-4,
    "ema_decay": 0.999, "device": "auto",
}
"""Model option sets: ``tiny`` (the DDPMOptions defaults, CPU minutes) and ``small`` (GPU)."""


class ImageTrack(Track):
    """DDPM chains on dog-breed images; the judge measures which breeds survive."""

    name = "image"
    description = "a small DDPM on long-tailed dog breeds: do the rare breeds disappear?"
    data_source = "dogs-procedural"
    metrics = tuple(m.name for m in METRICS)
    families = {
        "fidelity": "breed-fd",
        "tails": "rare-breed-retention",
        "diversity": "knn-recall",
        "drift": "breed-kl",
    }
    headline = "tails"
    resources = {"cpus": 1, "gpu": False}
    presets = {
        "quick": {
            "track": "image",
            "models": {"ddpm": {"options": TINY}},
            "data": {"size": 16, "train_size": 500, "test_size": 500},
            "sampling": {"ddim_steps": 20},
            "init": "previous",
            "generations": 4,
            "mitigations": MITIGATIONS,
            "seeds": [0, 1, 2],
        },
        "small": {
            "track": "image",
            "models": {"ddpm": {"options": SMALL}},
            "data": {"size": 32, "train_size": 5000, "test_size": 1000},
            "sampling": {"ddim_steps": 50},
            "init": "previous",
            "generations": 10,
            "mitigations": MITIGATIONS,
            "seeds": [0, 1, 2, 3, 4],
        },
    }
    citation = bibliography(SHUMAILOV_2024, ALEMOHAMMAD_2024, HO_2020, SONG_2021, KHOSLA_2011, UDACITY_PET_IMAGES)
