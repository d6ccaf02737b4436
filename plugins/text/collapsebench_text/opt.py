"""The OPT model family: fine-tuned recursively on wikitext2 blocks, as in the paper's LM experiment.

``model`` is ``opt-tiny`` (a small ``OPTConfig``, pretrained from scratch on the real training pool
once per process and then used as the base, so the whole protocol runs on a 2-core CPU) or a hub id
/ local folder holding real weights (``facebook/opt-125m``), loaded with ``AutoModelForCausalLM``.
torch and transformers are imported only when a model is built (``opt_net``): loading the plugin
stays cheap.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from collapsebench import ConfigError, Model, ModelFamily, Options, RealData, Samples, torch_seed

TINY = "opt-tiny"

_BASES: dict[tuple[str, str], Model] = {}
"""Pretrained bases per (options, data fingerprint), shared by every chain of the process."""


class OPTOptions(Options):
    """Architecture of ``opt-tiny`` (ignored for real weights) and the fine-tuning loop."""

    model: str = Field(TINY, description="'opt-tiny', a hub id (facebook/opt-125m) or a local folder")
    vocab_size: int = Field(4096, gt=0, description="opt-tiny's embedding rows: at least the tokenizer's vocabulary")
    hidden: int = Field(64, gt=0, description="opt-tiny width")
    layers: int = Field(2, gt=0, description="opt-tiny decoder layers")
    heads: int = Field(4, gt=0, description="opt-tiny attention heads")
    ffn: int = Field(256, gt=0, description="opt-tiny feed-forward width")
    epochs: int = Field(2, ge=1, description="fine-tuning epochs per generation (paper: 5)")
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate of fine-tuning")
    batch_size: int = Field(32, gt=0, description="blocks per optimiser step")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="share of the training set held out to pick the best epoch")
    base_epochs: int = Field(6, ge=0, description="opt-tiny: epochs of pretraining on the real pool (the base)")
    base_lr: float = Field(3e-3, gt=0, description="opt-tiny: learning rate of that pretraining")
    base_seed: int = Field(0, ge=0, description="opt-tiny: seed of the base's initialisation and shuffling")
    eval_batch: int = Field(128, gt=0, description="blocks per forward pass when scoring")
    generate_batch: int = Field(256, gt=0, description="prompts per generate() call (divided by the beam width)")


class OPTSampling(Options):
    """How model_g continues each 64-token block: decoding is part of the collapse protocol.

    The paper uses 5-way beam search, and 2.0 for ``repetition_penalty`` in its ablation.
    """

    decoding: Literal["beam", "greedy", "sample"] = Field("beam", description="beam search, greedy or sampling")
    num_beams: int = Field(5, ge=2, description="beam width (decoding = 'beam')")
    temperature: float = Field(1.0, gt=0, description="softmax temperature (decoding = 'sample')")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus mass (decoding = 'sample'); 1 = off")
    repetition_penalty: float = Field(1.0, ge=1, description="HF repetition penalty; 1 = off")


class OPTFamily(ModelFamily):
    name = "opt"
    track = "text"
    description = "OPT causal LM (transformers): opt-tiny on CPU, facebook/opt-125m with real weights"
    Options = OPTOptions
    SamplingPolicy = OPTSampling
    data_source = "wikitext2"

    def fit(self, train: Samples, init: Model | None, rng: np.random.Generator) -> Model:
        """Fine-tune ``init`` (or a fresh network) on the blocks; the best epoch by validation loss."""
        from collapsebench_text import opt_net

        o = self.options
        net = init.net if init is not None else opt_net.fresh_net(o, torch_seed(rng))  # type: ignore[attr-defined]
        return opt_net.fit_lm(train.data, net, torch_seed(rng), o, epochs=o.epochs, lr=o.lr)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Model:
        from collapsebench_text import opt_net

        return opt_net.OPTModel.from_state(state, self.options)

    def base(self, real: RealData) -> Model:
        """Real weights as loaded, or opt-tiny pretrained on the real pool; built once per process."""
        o = self.options
        key = (o.model_dump_json(), real.fingerprint)
        if key not in _BASES:
            from collapsebench_text import opt_net

            vocab = int(real.truth["vocab_size"])
            if o.model == TINY:
                if o.vocab_size < vocab:
                    raise ConfigError(
                        f"opt-tiny has {o.vocab_size} embedding rows but the tokenizer has {vocab} ids: "
                        f"set options.vocab_size >= {vocab} (or data.vocab_size <= {o.vocab_size})."
                    )
                net = opt_net.fresh_net(o, o.base_seed)
                model = opt_net.fit_lm(real.train.data, net, o.base_seed, o, epochs=o.base_epochs, lr=o.base_lr)
            else:
                model = opt_net.OPTModel(opt_net.pretrained_net(o.model, vocab), o)
            _BASES[key] = model
        return _BASES[key]


MODELS = (OPTFamily,)
