"""The density track: Gaussian, Gaussian-mixture and VAE chains (Shumailov et al. 2024, Sec. 3-4)."""

from __future__ import annotations

from typing import Any

from collapsebench import ALPAYDIN_1998, GERSTGRASSER_2024, SHUMAILOV_2024, Track, bibliography

MITIGATIONS = ["replace", "retain:0.1", "accumulate"]

PAPER_GMM_DATA: dict[str, Any] = {
    "n": 1000,
    "weights": [1.0],
    "means": [[0.0, 0.0]],
    "covariances": [[[1.0, 0.0], [0.0, 1.0]]],
}
"""The paper's notebook draws N(0, I) in 2-D (``make_blobs`` with one centre) and fits 2 components."""


POPULATION_MIXTURES = ["self:0", "cross:0", "population:0", "self:0.1", "cross:0.1", "population:0.1"]
POPULATIONS: dict[str, dict[str, Any]] = {
    "cross-quick": {
        "members": {
            "gmm-k2": {"model": "gmm", "options": {"components": 2}},
            "gmm-k1": {"model": "gmm", "options": {"components": 1}},
        },
        "data": {"n": 100},
        "generations": 50,
        "mixtures": POPULATION_MIXTURES,
        "seeds": list(range(20)),
        "headline": "fidelity",
    },
    "twins-quick": {
        "members": {"gaussian-a": {"model": "gaussian"}, "gaussian-b": {"model": "gaussian"}},
        "data": {"n": 100},
        "generations": 100,
        "mixtures": POPULATION_MIXTURES,
        "seeds": list(range(20)),
    },
}
"""``collapsebench population`` presets. cross-quick: a 2-component mixture and a single Gaussian (the
mixture family with K = 1, i.e. the Gaussian MLE) on the same 2-D bimodal data, N = 100 so that
self-consumption visibly collapses within 50 generations; its report leads with held-out NLL, because
the spread ratios (1.0 = kept) of a model fed another family's samples can overshoot 1. twins-quick:
two identical Gaussian fitters that differ only in their random streams (1-D, M = 100), where theory
says cross-training equals self-training at r = 0."""


class DensityTrack(Track):
    """Low-dimensional densities whose collapse has a closed-form or cheap exact measure.

    The headline family is ``diversity``: every model's diversity metric is a spread ratio to the
    true distribution (1.0 = kept), so Gaussian, mixture and VAE rows read on one scale; it is
    the paper's first symptom (variance shrinks, then the tails go) and, at small sample sizes,
    far less noisy than tail counts. Each model declares its own data source and metrics.
    """

    name = "density"
    description = "recursive fitting of Gaussians, Gaussian mixtures and VAEs on their own samples"
    headline = "diversity"
    resources = {"cpus": 1, "gpu": False}
    presets = {
        "quick": {
            "track": "density",
            "models": {
                "gaussian": {"generations": 200, "data": {"n": 100}},
                "gmm": {"generations": 100},
                "vae": {"generations": 10},
            },
            "mitigations": MITIGATIONS,
            "seeds": [0, 1, 2, 3, 4],
        },
        "paper": {
            "track": "density",
            "models": {
                "gaussian": {"generations": 2000, "data": {"n": 100}},
                "gmm": {"generations": 2000, "data": PAPER_GMM_DATA, "options": {"tol": 1e-5, "max_iter": 2000}},
                "vae": {"generations": 20},
            },
            "mitigations": MITIGATIONS,
            "seeds": list(range(10)),
        },
    }
    citation = bibliography(SHUMAILOV_2024, GERSTGRASSER_2024, ALPAYDIN_1998)
    populations = POPULATIONS
