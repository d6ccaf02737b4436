"""The OPT family: fit, sample, score, checkpoints, and real weights from a save_pretrained folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collapsebench.errors import ConfigError, DataError
from collapsebench.experiment.samples import Samples
from collapsebench_text.data import WikiText2, WikiTextOptions
from collapsebench_text.opt import OPTFamily, OPTOptions, OPTSampling
from text_config import TINY_DATA, TINY_OPTIONS


@pytest.fixture(scope="module")
def family() -> OPTFamily:
    return OPTFamily(OPTOptions(**TINY_OPTIONS))


@pytest.fixture(scope="module")
def base(family, tiny_real):
    return family.base(tiny_real)


def _weights(model) -> dict[str, np.ndarray]:
    return {k: v for k, v in model.state_dict().items() if k != "__config__"}


def test_base_is_pretrained_once_and_beats_a_fresh_model(family, base, tiny_real):
    assert family.base(tiny_real) is base
    fresh = family.fit(tiny_real.train, None, np.random.default_rng(0))
    untrained = OPTFamily(OPTOptions(**{**TINY_OPTIONS, "base_epochs": 0})).base(tiny_real)
    test = tiny_real.test.data
    ppl = {name: float(np.exp(-m.log_likelihood(test).mean())) for name, m in
           (("base", base), ("fresh", fresh), ("untrained", untrained))}
    assert ppl["base"] < ppl["fresh"] < ppl["untrained"] < 1.2 * 1024, ppl


def test_fit_is_deterministic_and_leaves_the_base_alone(family, base, tiny_real):
    before = _weights(base)
    a, b, c = (family.fit(tiny_real.train, base, np.random.default_rng(s)) for s in (1, 1, 2))
    for key, value in _weights(a).items():
        np.testing.assert_array_equal(value, _weights(b)[key])
        np.testing.assert_array_equal(before[key], _weights(base)[key])
    assert not np.array_equal(_weights(a)["model.decoder.embed_tokens.weight"], _weights(c)["model.decoder.embed_tokens.weight"])


@pytest.mark.parametrize("policy", [
    OPTSampling(decoding="sample", temperature=0.8, top_p=0.9),
    OPTSampling(decoding="greedy", repetition_penalty=2.0),
    OPTSampling(decoding="beam", num_beams=3),
])
def test_continuations_have_the_block_length_and_are_reproducible(base, tiny_real, policy):
    n = 6  # two generate() calls: batches of 12 prompts, 4 with 3 beams
    model = type(base)(base.net, base.options.model_copy(update={"generate_batch": 12}))
    a = model.sample(n, np.random.default_rng(5), policy, tiny_real)
    b = model.sample(n, np.random.default_rng(5), policy, tiny_real)
    assert a.shape == (n, 64) and a.dtype == np.int32 and a.max() < 1024
    np.testing.assert_array_equal(a, b)


def test_prompts_cycle_when_more_samples_are_asked_for(base, tiny_real):
    pool = Samples.real(tiny_real.train.data[:3])
    small = type(tiny_real)(train=pool, test=tiny_real.test, fingerprint="p", truth=tiny_real.truth)
    out = base.sample(6, np.random.default_rng(0), OPTSampling(decoding="greedy"), small)
    np.testing.assert_array_equal(out[:3], out[3:])


def test_log_likelihood_is_minus_log_perplexity(base, tiny_real):
    from collapsebench_text.opt_net import token_nll

    x = tiny_real.test.data[:10]
    ll = base.log_likelihood(x)
    np.testing.assert_allclose(ll, -token_nll(base.net, x, 4).mean(axis=1), rtol=1e-6)
    assert ll.shape == (10,) and np.all(ll < 0)


def test_state_dict_round_trip_through_npz(family, base, tiny_real, tmp_path):
    state = base.state_dict()
    assert "lm_head.weight" not in state  # tied to the input embedding: stored once
    np.savez(tmp_path / "m.npz", **state)
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        rebuilt = family.load_state_dict(dict(f))
    np.testing.assert_array_equal(rebuilt.log_likelihood(tiny_real.test.data), base.log_likelihood(tiny_real.test.data))
    policy = OPTSampling(decoding="sample")
    np.testing.assert_array_equal(rebuilt.sample(8, np.random.default_rng(3), policy, tiny_real),
                                  base.sample(8, np.random.default_rng(3), policy, tiny_real))


def test_vocab_mismatch_names_the_fix(tiny_real):
    with pytest.raises(ConfigError, match="vocab_size"):
        OPTFamily(OPTOptions(**{**TINY_OPTIONS, "vocab_size": 512})).base(tiny_real)


def test_real_weights_load_through_the_hub_path(tmp_path: Path, tiny_real, wikitext_dir):
    """A save_pretrained folder goes through from_pretrained, as a hub id or the HF cache would."""
    from transformers import OPTForCausalLM, PreTrainedTokenizerFast

    from collapsebench_text.opt_net import seeded, tiny_config
    from collapsebench_text.tokenizer import EOS

    folder = tmp_path / "opt-local"
    tokenizer = tiny_real.truth["tokenizer"].backend
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, pad_token=EOS).save_pretrained(folder)
    with seeded(0):
        OPTForCausalLM(tiny_config(OPTOptions(**TINY_OPTIONS))).save_pretrained(folder)
    real = WikiText2(WikiTextOptions(**{**TINY_DATA, "tokenizer": str(folder)})).load(0)
    np.testing.assert_array_equal(real.train.data, tiny_real.train.data)  # same tokenizer, loaded from disk
    family = OPTFamily(OPTOptions(**{**TINY_OPTIONS, "model": str(folder)}))
    base = family.base(real)
    with seeded(0):
        saved = OPTForCausalLM.from_pretrained(folder)
    np.testing.assert_array_equal(_weights(base)["model.decoder.layers.0.fc1.weight"],
                                  saved.state_dict()["model.decoder.layers.0.fc1.weight"].numpy())
    tuned = family.fit(real.train, base, np.random.default_rng(0))
    assert tuned.log_likelihood(real.test.data).mean() > base.log_likelihood(real.test.data).mean()
    assert tuned.sample(4, np.random.default_rng(0), OPTSampling(decoding="greedy"), real).shape == (4, 64)
    scratch = family.fit(real.train, None, np.random.default_rng(0))  # the folder's architecture, fresh weights
    assert scratch.net.config.hidden_size == 32


def test_missing_hub_model_names_the_fix(tiny_real):
    with pytest.raises(DataError, match="hf download"):
        OPTFamily(OPTOptions(model="facebook/opt-nonexistent-xyz")).base(tiny_real)
