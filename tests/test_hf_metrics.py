"""The Hugging Face ``evaluate`` adapters: loaded offline from their local files, with the network
cut off, they give the harness's own numbers (and the numbers theory says).

``evaluate`` takes ~7 s to import, so one fresh process loads every adapter and computes every
case; the tests compare its answers with the harness functions called here directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

pytest.importorskip("evaluate")
text_metrics = pytest.importorskip("collapsebench_text.metrics")
image_metrics = pytest.importorskip("collapsebench_image.metrics")
pytest.importorskip("collapsebench_density.gaussian")

from collapsebench.errors import UnknownNameError  # noqa: E402
from collapsebench.publish.evaluate_adapters import module_path, module_paths  # noqa: E402

MODULES = ("distinct_n", "unigram_kl", "rare_token_retention", "gaussian_tails", "frechet_distance")
"""The adapters the three track plugins ship."""

VOCAB = 60

RUNNER = r"""
import json, socket, sys
import numpy as np

attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[:2]))
    raise OSError("network access in an offline test")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import collapsebench.cli, collapsebench.publish.evaluate_adapters
from collapsebench.plugin.registry import registries
registries()
harness_imports_evaluate = "evaluate" in sys.modules

import evaluate
data = np.load(sys.argv[1])
out = {"harness_imports_evaluate": harness_imports_evaluate, "results": {}}
for name, path in collapsebench.publish.evaluate_adapters.module_paths().items():
    module = evaluate.load(path)
    for case in sorted({k.split("/")[1] for k in data.files if k.startswith(name + "/")}):
        kwargs = {k.split("/")[2]: data[k].tolist() for k in data.files if k.startswith(f"{name}/{case}/")}
        out["results"][f"{name}/{case}"] = module.compute(**kwargs)
out["network_attempts"] = attempts
print(json.dumps(out))
"""


def _token_blocks(rng: np.random.Generator, n: int, length: int, alpha: float) -> np.ndarray:
    """Zipf-like token blocks over VOCAB types: a small ``alpha`` keeps the tail, a large one drops it."""
    weights = 1.0 / np.arange(1, VOCAB + 1) ** alpha
    return rng.choice(VOCAB, size=(n, length), p=weights / weights.sum())


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(6)
    real = _token_blocks(rng, 40, 32, 1.0)
    collapsed = _token_blocks(rng, 40, 32, 2.5)
    points = rng.normal(size=(20000, 2))
    features = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4))
    cases: dict[str, Any] = {
        "distinct_n/collapsed": (collapsed, real, {}),
        "distinct_n/same": (real, real, {}),
        "distinct_n/hand": (np.array([[1, 2, 1, 2]]), np.array([[1, 2, 3, 4]]), {}),
        "unigram_kl/collapsed": (collapsed, real, {"vocab_size": VOCAB}),
        "unigram_kl/same": (real, real, {"vocab_size": VOCAB}),
        "rare_token_retention/collapsed": (collapsed, real, {"vocab_size": VOCAB}),
        "rare_token_retention/same": (real, real, {"vocab_size": VOCAB}),
        "gaussian_tails/kept": (points, points[::-1], {"mean": np.zeros(2), "cov": np.eye(2)}),
        "gaussian_tails/shrunk": (0.5 * points, points, {"mean": np.zeros(2), "cov": np.eye(2)}),
        "gaussian_tails/fitted": (points[:5000], 2.0 * points[5000:10000], {}),
        "frechet_distance/same": (features, features, {}),
        "frechet_distance/shifted": (features + np.array([1.0, -2.0, 0.0, 2.0]), features, {}),
    }
    arrays = {}
    for key, (predictions, references, kwargs) in cases.items():
        arrays[f"{key}/predictions"] = predictions
        arrays[f"{key}/references"] = references
        arrays.update({f"{key}/{k}": np.asarray(v) for k, v in kwargs.items()})
    return arrays


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(inputs, output of the offline process that ran every adapter on them)."""
    tmp = tmp_path_factory.mktemp("hf")
    inputs = _cases()
    np.savez(tmp / "inputs.npz", **inputs)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "COLLAPSEBENCH_LOAD", "COLLAPSEBENCH_BLOCK"))}
    env.update(HF_EVALUATE_OFFLINE="1", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp / "hf-home"))
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp / "inputs.npz")], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return inputs, json.loads(done.stdout.splitlines()[-1])


def _inputs(inputs: dict[str, np.ndarray], case: str) -> tuple[np.ndarray, np.ndarray]:
    return inputs[f"{case}/predictions"], inputs[f"{case}/references"]


def test_adapters_load_offline_without_touching_the_network(adapters):
    _, out = adapters
    assert out["network_attempts"] == []
    assert sorted({key.split("/")[0] for key in out["results"]}) == sorted(MODULES)


def test_the_harness_never_imports_evaluate(adapters):
    assert adapters[1]["harness_imports_evaluate"] is False


def test_distinct_n_is_the_text_tracks_distinct(adapters):
    inputs, out = adapters
    got = out["results"]["distinct_n/collapsed"]
    samples, real = _inputs(inputs, "distinct_n/collapsed")
    for n in (1, 2, 3):
        assert got[f"distinct-{n}"] == text_metrics.distinct(samples, n)
    assert got["distinct-2-ratio"] == text_metrics.distinct(samples, 2) / text_metrics.distinct(real, 2)
    assert got["distinct-2-ratio"] < 1  # the collapsed blocks repeat more bigrams
    assert out["results"]["distinct_n/same"]["distinct-2-ratio"] == 1.0
    hand = out["results"]["distinct_n/hand"]  # [1 2 1 2]: 2 types of 4 tokens, bigrams 12 21 12, trigrams 121 212
    assert (hand["distinct-1"], hand["distinct-2"], hand["distinct-3"]) == (0.5, pytest.approx(2 / 3), 1.0)


def test_unigram_kl_is_the_text_tracks_drift(adapters):
    inputs, out = adapters
    samples, real = _inputs(inputs, "unigram_kl/collapsed")
    got = out["results"]["unigram_kl/collapsed"]
    counts = [text_metrics.unigram_counts(x, VOCAB) for x in (real, samples)]
    p, q = [(c + 0.5) / (c + 0.5).sum() for c in counts]  # KL(real ‖ samples) with 0.5 pseudo-counts
    assert got["unigram-kl"] == pytest.approx(float(np.sum(p * np.log(p / q))), rel=1e-12)
    assert got["bigram-js"] == text_metrics.bigram_js(real, samples)
    assert got["unigram-kl"] > 0.1 and 0 < got["bigram-js"] <= np.log(2)
    assert out["results"]["unigram_kl/same"] == {"unigram-kl": 0.0, "bigram-js": 0.0}


def test_rare_token_retention_is_the_text_tracks_tails(adapters):
    inputs, out = adapters
    samples, real = _inputs(inputs, "rare_token_retention/collapsed")
    counts = text_metrics.unigram_counts(real, VOCAB)
    generated = text_metrics.unigram_counts(samples, VOCAB)
    rare = text_metrics.rare_types(counts)
    expected = (generated[rare].sum() / generated.sum()) / (counts[rare].sum() / counts.sum())
    got = out["results"]["rare_token_retention/collapsed"]
    assert got["rare-token-retention"] == pytest.approx(expected, rel=1e-12)
    assert got["rare-token-retention"] < 0.5  # a steeper Zipf law loses the tail
    assert got["vanished-types"] == float(np.sum((counts > 0) & (generated == 0)))
    assert out["results"]["rare_token_retention/same"] == {"rare-token-retention": 1.0, "vanished-types": 0.0}


def test_gaussian_tails_match_the_chi_square_law(adapters):
    _, out = adapters
    kept = out["results"]["gaussian_tails/kept"]  # 20,000 N(0, I) points: share beyond kσ ≈ P(χ²₂ > k²)
    assert kept["tail-2sigma"] == pytest.approx(1.0, abs=0.08)
    assert kept["tail-3sigma"] == pytest.approx(1.0, abs=0.35)
    shrunk = out["results"]["gaussian_tails/shrunk"]  # σ halved: beyond 2σ of N(0, I) is beyond 4σ of the samples
    expected = stats.chi2.sf(16, 2) / stats.chi2.sf(4, 2)  # e^-6 ≈ 0.0025
    assert shrunk["tail-2sigma"] == pytest.approx(expected, abs=0.003)
    assert shrunk["tail-3sigma"] < 1e-3


def test_gaussian_tails_default_to_the_gaussian_fitted_to_the_references(adapters):
    inputs, out = adapters
    samples, real = _inputs(inputs, "gaussian_tails/fitted")
    mean, cov = real.mean(axis=0), np.cov(real, rowvar=False, ddof=0)  # about 0 and 4·I
    z = np.linalg.solve(np.linalg.cholesky(cov), (samples - mean).T)
    expected = np.mean((z**2).sum(axis=0) > 4) / stats.chi2.sf(4, 2)
    got = out["results"]["gaussian_tails/fitted"]["tail-2sigma"]
    assert got == pytest.approx(expected, rel=1e-12)
    assert got == pytest.approx(stats.chi2.sf(16, 2) / stats.chi2.sf(4, 2), abs=0.005)  # σ = 1 against σ ≈ 2: e^-6


def test_frechet_distance_is_the_image_tracks(adapters):
    inputs, out = adapters
    samples, real = _inputs(inputs, "frechet_distance/shifted")
    shifted = out["results"]["frechet_distance/shifted"]
    assert shifted["frechet-distance"] == image_metrics.frechet_distance(samples, real)
    assert shifted["frechet-distance"] == pytest.approx(9.0, rel=1e-6)  # same covariance: FD = ‖shift‖² = 1 + 4 + 4
    assert shifted["knn-precision"] == image_metrics.knn_coverage(real, samples, 5)
    assert shifted["knn-recall"] == image_metrics.knn_coverage(samples, real, 5)
    same = out["results"]["frechet_distance/same"]
    assert same["frechet-distance"] == pytest.approx(0.0, abs=1e-6)
    assert (same["knn-precision"], same["knn-recall"]) == (1.0, 1.0)


def test_module_paths_are_the_shipped_files():
    paths = module_paths()
    assert set(paths) == set(MODULES)
    for name, path in paths.items():
        source = Path(path).read_text()
        assert "class " in source and "(evaluate.Metric)" in source, name
    with pytest.raises(UnknownNameError, match="No evaluate adapter 'bleu'; the adapters are distinct_n, "):
        module_path("bleu")
