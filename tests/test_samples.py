"""Samples keep their provenance and optional class labels through every selection."""

from __future__ import annotations

import numpy as np
import pytest

from collapsebench.experiment.samples import UNLABELLED, Labelled, Samples
from collapsebench.run.chain import run_chains
from collapsebench.testing import TinyGaussian, TinyGaussianModel


def test_labels_follow_take_concat_and_disk(tmp_path):
    real = Samples.real(np.arange(6.0)[:, None], labels=np.array([0, 1, 0, 1, 0, 1]))
    synthetic = Samples.synthetic(np.arange(3.0)[:, None], generation=2, model="m")
    mixed = Samples.concat([real.take(np.array([5, 0])), synthetic])
    assert mixed.labels.tolist() == [1, 0, UNLABELLED, UNLABELLED, UNLABELLED]
    assert mixed.source.tolist() == ["real", "real", "m", "m", "m"]
    mixed.save(tmp_path / "s.npz")
    loaded = Samples.load(tmp_path / "s.npz")
    assert loaded.labels.tolist() == mixed.labels.tolist()
    assert Samples.concat([synthetic, synthetic]).labels is None
    with pytest.raises(ValueError, match="labels must have shape"):
        Samples.real(np.zeros((3, 1)), labels=np.zeros(2))


def test_a_conditional_model_passes_its_labels_to_its_successor(tiny_track, results_dir, monkeypatch):
    """Labels drawn in generation g arrive, aligned with their samples, in generation g+1's fit."""
    seen: list[Samples] = []
    unconditional_fit = TinyGaussian.fit

    def fit(self, train, init, rng):
        seen.append(train)
        return unconditional_fit(self, train, init, rng)

    def sample(self, n, rng, policy, real):
        data = rng.normal(self.mean, self.std, size=(n, 1))
        return Labelled(data, (data[:, 0] > 0).astype(np.int64))

    monkeypatch.setattr(TinyGaussian, "fit", fit)
    monkeypatch.setattr(TinyGaussianModel, "sample", sample)
    config = tiny_track.run_config(mitigation="retain:0.25", generations=3)
    run_chains(config, results_dir)

    assert len(seen) == 4 and seen[0].labels is None  # the real data carries no labels here
    for train in seen[1:]:
        synthetic = train.generation >= 0
        assert synthetic.sum() == 48
        assert (train.labels[~synthetic] == UNLABELLED).all()
        assert (train.labels[synthetic] == (train.data[synthetic, 0] > 0)).all()
        assert set(train.labels[synthetic].tolist()) == {0, 1}
