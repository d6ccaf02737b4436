"""The digits data source, the VAE family, the digit judge and the VAE metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collapsebench import hookimpl
from collapsebench.errors import DataError, DegenerateFit
from collapsebench.experiment.config import RunConfig
from collapsebench.experiment.metrics import MetricContext
from collapsebench.experiment.models import Model
from collapsebench.experiment.samples import Samples
from collapsebench.experiment.tracks import Track
from collapsebench.run.chain import run_chains
from collapsebench_density import digits
from collapsebench_density.judge import ClassKL, MinorityRetention, build_judge
from collapsebench_density.vae import METRICS, HeldOutELBO, LatentStdRatio, VAEFamily, VAEOptions, VAESampling


@pytest.fixture(scope="module")
def real():
    return digits.DigitsData(digits.DigitsOptions()).load(0)


@pytest.fixture(scope="module")
def family():
    return VAEFamily(VAEOptions())


@pytest.fixture(scope="module")
def model0(real, family):
    return family.fit(real.train, None, np.random.default_rng(0))


def context(real, model: Model, reference: Model, samples: np.ndarray, tmp_path: Path) -> MetricContext:
    return MetricContext(
        generation=0, seed=0, model=model, reference=reference, samples=samples, train=real.train,
        real=real, rng=np.random.default_rng(0), artifact_dir=tmp_path,
    )


def rows(a: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in a}


# --- data -----------------------------------------------------------------------------------------


def test_split_sizes_layout_and_long_tail(real):
    assert real.train.data.shape == (800, 64) and real.test.data.shape == (300, 64)
    assert real.train.data.dtype == np.float32
    assert real.train.data.min() == 0 and real.train.data.max() == 1
    counts = np.bincount(real.truth["train_labels"], minlength=10)
    assert real.truth["minority_classes"] == [0, 4]
    assert counts[[0, 4]].max() < counts[[1, 2, 3, 5, 6, 7, 8, 9]].min() / 3
    assert np.all(real.train.generation == -1)


def test_splits_are_disjoint(real):
    reserve = real.fresh.pool
    assert len(reserve) > 400
    train, test, fresh = rows(real.train.data), rows(real.test.data), rows(reserve)
    assert len(train) == 800 and len(test) == 300
    assert not (train & test) and not (train & fresh) and not (test & fresh)


def test_split_is_deterministic_and_seed_free(real):
    digits._load.cache_clear()
    again = digits.DigitsData(digits.DigitsOptions()).load(7)
    assert again is not real
    assert again.fingerprint == real.fingerprint
    np.testing.assert_array_equal(again.train.data, real.train.data)
    other = digits.DigitsData(digits.DigitsOptions(minority_share=1.0)).load(0)
    assert other.fingerprint != real.fingerprint
    assert len(other.truth["minority_classes"]) == 1


def test_fresh_draws_unseen_real_digits(real):
    fresh = real.fresh(200, np.random.default_rng(1))
    assert len(fresh) == 200 and np.all(fresh.generation == -1)
    assert rows(fresh.data) <= rows(real.fresh.pool)
    np.testing.assert_array_equal(fresh.data, real.fresh(200, np.random.default_rng(1)).data)
    with pytest.raises(DataError, match="reserve"):
        real.fresh(len(real.fresh.pool) + 1, np.random.default_rng(1))


def test_split_too_large_is_a_data_error():
    with pytest.raises(DataError, match="train_size"):
        digits.DigitsData(digits.DigitsOptions(train_size=1400, test_size=300)).load(0)


# --- model ----------------------------------------------------------------------------------------


def test_state_dict_round_trip_through_npz(real, family, model0, tmp_path):
    np.savez(tmp_path / "m.npz", **model0.state_dict())
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        rebuilt = family.load_state_dict(dict(f))
    np.testing.assert_array_equal(rebuilt.log_likelihood(real.test.data), model0.log_likelihood(real.test.data))
    policy = VAESampling()
    a = model0.sample(50, np.random.default_rng(3), policy, real)
    b = rebuilt.sample(50, np.random.default_rng(3), policy, real)
    np.testing.assert_array_equal(a, b)


def test_same_rng_same_fit(real):
    fam = VAEFamily(VAEOptions(epochs=2))
    a, b, c = (fam.fit(real.train, None, np.random.default_rng(s)) for s in (5, 5, 6))
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])
    assert not np.array_equal(a.state_dict()["enc_hidden.weight"], c.state_dict()["enc_hidden.weight"])


def test_training_beats_an_untrained_vae_on_held_out_digits(real, model0):
    untrained = VAEFamily(VAEOptions(epochs=0)).fit(real.train, None, np.random.default_rng(0))
    trained_elbo = model0.log_likelihood(real.test.data).mean()
    assert trained_elbo > untrained.log_likelihood(real.test.data).mean() + 15
    assert trained_elbo > -27


def test_samples_stay_in_data_space(real, model0):
    draws = model0.sample(100, np.random.default_rng(0), VAESampling(), real)
    assert draws.shape == (100, 64) and draws.dtype == np.float32
    assert set(np.unique(draws)) <= {0.0, 1.0}
    means = model0.sample(100, np.random.default_rng(0), VAESampling(output="mean", temperature=0.5), real)
    assert 0 <= means.min() and means.max() <= 1 and len(np.unique(means)) > 1000


def test_init_continues_from_the_given_model(real, model0):
    unchanged = VAEFamily(VAEOptions(epochs=0)).fit(real.train, model0, np.random.default_rng(9))
    for k, v in model0.state_dict().items():
        np.testing.assert_array_equal(unchanged.state_dict()[k], v)


def test_lower_temperature_narrows_the_latent_spread(real, model0, tmp_path):
    def ratio(temperature: float) -> float:
        x = model0.sample(800, np.random.default_rng(0), VAESampling(temperature=temperature, output="mean"), real)
        return LatentStdRatio().compute(context(real, model0, model0, x, tmp_path))

    assert ratio(0.3) < 0.5 * ratio(1.0)


def test_nan_loss_is_a_degenerate_fit(real, family):
    bad = real.train.data.copy()
    bad[0, 0] = np.nan
    with pytest.raises(DegenerateFit, match="loss"):
        family.fit(Samples.real(bad), None, np.random.default_rng(0))
    failed = family.fit_many([Samples.real(bad)], [None], [np.random.default_rng(0)])
    assert isinstance(failed[0], DegenerateFit)


# --- judge and metrics ----------------------------------------------------------------------------


def test_judge_classifies_held_out_digits(real):
    accuracy = np.mean(build_judge(real).predict(real.test.data) == real.truth["test_labels"])
    assert accuracy > 0.95


def test_family_declares_registered_metrics():
    assert set(VAEFamily.metrics) == {m.name for m in METRICS}
    assert all(VAEFamily.families[m.family] == m.name for m in METRICS)


def test_real_test_digits_score_neutral(real, model0, tmp_path):
    ctx = context(real, model0, model0, real.test.data, tmp_path)
    assert LatentStdRatio().compute(ctx) == pytest.approx(1.0)
    assert MinorityRetention().compute(ctx) == pytest.approx(1.0)
    assert ClassKL().compute(ctx) == pytest.approx(0.0, abs=1e-12)
    assert HeldOutELBO().compute(ctx) == pytest.approx(model0.log_likelihood(real.test.data).mean())


def test_copies_of_one_digit_score_collapsed(real, model0, tmp_path):
    labels = real.truth["test_labels"]
    common = np.repeat(real.test.data[np.flatnonzero(labels == 3)[:1]], 500, axis=0)
    ctx = context(real, model0, model0, common, tmp_path)
    assert LatentStdRatio().compute(ctx) == pytest.approx(0.0, abs=1e-6)
    assert MinorityRetention().compute(ctx) == 0.0
    assert ClassKL().compute(ctx) > 2.0
    rare = np.repeat(real.test.data[np.flatnonzero(labels == 0)[:1]], 500, axis=0)
    real_share = np.isin(labels, [0, 4]).mean()
    assert MinorityRetention().compute(context(real, model0, model0, rare, tmp_path)) == pytest.approx(
        1 / real_share, rel=0.05
    )


def test_latent_spread_collapses_under_pure_replacement(real, family, model0, tmp_path):
    """Generations 1..3 train only on their predecessor's decoder means: the spread collapses."""
    policy = VAESampling(output="mean")
    model, ratios = model0, []
    for g in range(1, 4):
        samples = model.sample(len(real.train), np.random.default_rng(100 + g), policy, real)
        ratios.append(LatentStdRatio().compute(context(real, model, model0, samples, tmp_path)))
        model = family.fit(Samples.synthetic(samples, g, "vae"), None, np.random.default_rng(200 + g))
    final = model.sample(len(real.train), np.random.default_rng(104), policy, real)
    ratios.append(LatentStdRatio().compute(context(real, model, model0, final, tmp_path)))
    assert ratios[0] > 0.6
    assert ratios[-1] < ratios[0] / 3


# --- through the chain ----------------------------------------------------------------------------


class E2ETrack(Track):
    name = "vae-e2e"


class E2EFamily(VAEFamily):
    name = "vae-e2e"
    track = E2ETrack.name


class E2EPlugin:
    """The VAE components under a test track, so the chain runs them without the density track."""

    @hookimpl
    def register_tracks(self, register):
        register(E2ETrack)

    @hookimpl
    def register_data_sources(self, register):
        register(digits.DigitsData)

    @hookimpl
    def register_models(self, register):
        register(E2EFamily)

    @hookimpl
    def register_metrics(self, register):
        for metric in METRICS:
            register(metric)


def test_chain_runs_the_vae_reproducibly(collapsebench_plugin, tmp_path):
    collapsebench_plugin(E2EPlugin(), name="vae-e2e")
    config = RunConfig(
        track=E2ETrack.name, model=E2EFamily.name, mitigation="retain:0.5", generations=2, options={"epochs": 3}
    )
    first, again = (run_chains(config, tmp_path / name)[0] for name in ("a", "b"))
    assert [r["status"] for r in first] == ["ok"] * 3
    assert all(v is not None for r in first for v in r["families"].values())
    assert [r["metrics"] for r in first] == [r["metrics"] for r in again]
