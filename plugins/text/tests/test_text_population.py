"""Text populations: the unigram JS homogenisation distance, the preset, and a short cross run."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import entropy

from collapsebench.experiment.samples import Samples
from collapsebench.population.config import parse_population
from collapsebench.population.runner import resolve_population, resolve_population_config, run_population
from collapsebench.run.storage import RunStore
from collapsebench_text.population import unigram_js
from text_config import TINY_DATA, TINY_OPTIONS


def test_unigram_js_is_zero_for_equal_unigrams_and_matches_the_kl_form():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 50, size=(20, 8)), rng.integers(10, 70, size=(30, 8))
    assert unigram_js(a, a[::-1]) == pytest.approx(0.0, abs=1e-12)  # same tokens, other order
    p, q = (np.bincount(x.ravel(), minlength=70) / x.size for x in (a, b))
    m = (p + q) / 2
    assert unigram_js(a, b) == pytest.approx(0.5 * entropy(p, m) + 0.5 * entropy(q, m), rel=1e-9)
    assert unigram_js(np.zeros((2, 3), int), np.ones((2, 3), int)) == pytest.approx(np.log(2))  # disjoint


def test_cross_tiny_preset_resolves_with_three_seeds():
    population = resolve_population_config(None, "text", "cross-tiny", [])
    assert len(population.seeds) >= 3 and {m.split(":")[0] for m in population.mixtures} == {"self", "cross", "population"}
    sizes = {m.name: m.parts.family.options.hidden for m in resolve_population(population, "cross:0.1")}
    assert sizes == {"opt-tiny": 64, "opt-tinier": 32}


def test_short_cross_run_trains_on_the_other_models_continuations(tmp_path, wikitext_dir):
    population = parse_population({
        "track": "text", "init": "base", "generations": 1, "seeds": [0], "data": TINY_DATA,
        "sampling": {"decoding": "sample", "temperature": 0.8}, "options": TINY_OPTIONS,
        "members": {"small": {"model": "opt"}, "wide": {"model": "opt", "options": {"hidden": 48, "heads": 2}}},
    }, "test")
    rows = run_population(population, "cross:0.5", tmp_path)
    half = TINY_DATA["train_blocks"] // 2
    assert rows["small"][0][1]["train"]["composition"] == {"real": half, "gen0:wide": half}
    assert rows["wide"][0][1]["train"]["composition"] == {"real": half, "gen0:small": half}
    stores = {m.name: RunStore(tmp_path / "text" / m.parts.config.run_group() / "seed-0") for m in resolve_population(population, "cross:0.5")}
    draws = {name: Samples.load(store.synthetic_path(2)).data for name, store in stores.items()}
    expected = unigram_js(draws["small"], draws["wide"])
    assert expected > 0
    for member in ("small", "wide"):
        assert rows[member][0][1]["metrics"]["population-distance"] == pytest.approx(expected, rel=1e-9)
