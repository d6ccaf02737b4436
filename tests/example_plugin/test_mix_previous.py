"""Tests of the example plugin, written the way a plugin author would, with collapsebench.testing."""

import collapsebench_mix_previous
import numpy as np

from collapsebench import Samples, registries, run_chains


def _real(n):
    from collapsebench import RealData

    return RealData(train=Samples.real(np.zeros((n, 1))), test=Samples.real(np.zeros((4, 1))), fingerprint="x")


def test_halves_come_from_the_two_newest_sets(collapsebench_plugin):
    collapsebench_plugin(collapsebench_mix_previous)
    mitigation = registries().mitigation("mix-previous")
    history = [Samples.synthetic(np.full((11, 1), g), g, "m") for g in range(3)]
    rng = np.random.default_rng(0)

    train = mitigation.build(3, _real(11), history, rng, scorer=None)

    assert train.composition() == {"gen2:m": 6, "gen1:m": 5}


def test_generation_one_mixes_with_the_real_data(collapsebench_plugin):
    collapsebench_plugin(collapsebench_mix_previous)
    mitigation = registries().mitigation("mix-previous")
    history = [Samples.synthetic(np.ones((10, 1)), 0, "m")]

    train = mitigation.build(1, _real(10), history, np.random.default_rng(0), scorer=None)

    assert train.composition() == {"gen0:m": 5, "real": 5}


def test_a_chain_on_the_tiny_track(collapsebench_plugin, tiny_track, results_dir):
    collapsebench_plugin(collapsebench_mix_previous)
    config = tiny_track.run_config(mitigation="mix-previous", generations=3)

    rows = run_chains(config, results_dir)[0]

    assert [r["status"] for r in rows] == ["ok"] * 4
    compositions = [r["train"]["composition"] for r in rows]
    model = tiny_track.model
    assert compositions[1] == {"real": 32, f"gen0:{model}": 32}
    assert compositions[3] == {f"gen1:{model}": 32, f"gen2:{model}": 32}
