"""OPT in torch/transformers: build, fine-tune, generate continuations, score blocks.

Imported only when a model is built. Shuffling uses local ``torch.Generator``s; what transformers
draws from the global RNG (weight initialisation, dropout, sampling in ``generate``) runs inside
``torch.random.fork_rng`` after ``torch.manual_seed(seed)``, so a fit or a sample is a pure
function of its inputs and seed on CPU and the caller's global RNG is left untouched.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForCausalLM, OPTConfig, PreTrainedModel

from collapsebench import ConfigError, DataError, DegenerateFit, Model, RealData, torch_seed
from collapsebench_text.opt import TINY, OPTOptions, OPTSampling

CONFIG_KEY = "__config__"
"""state_dict entry holding the transformers config as JSON (a numpy unicode scalar, no pickle)."""
MAX_POSITIONS = 256
"""opt-tiny's position table: a 64-token prompt plus its 64-token continuation fit with room."""


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """The global torch RNG seeded for the block, restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def tiny_config(o: OPTOptions) -> OPTConfig:
    """A small OPT; id 0 is pad/bos/eos (the trained BPE's <|endoftext|>); no dropout on CPU runs."""
    if o.hidden % o.heads:
        raise ConfigError(f"opt-tiny: hidden ({o.hidden}) must be a multiple of heads ({o.heads}).")
    return OPTConfig(
        vocab_size=o.vocab_size,
        hidden_size=o.hidden,
        num_hidden_layers=o.layers,
        ffn_dim=o.ffn,
        num_attention_heads=o.heads,
        max_position_embeddings=MAX_POSITIONS,
        word_embed_proj_dim=o.hidden,
        dropout=0.0,
        attention_dropout=0.0,
        pad_token_id=0,
        bos_token_id=0,
        eos_token_id=0,
    )


def fresh_net(o: OPTOptions, seed: int) -> PreTrainedModel:
    """A randomly initialised network: opt-tiny, or the architecture of ``o.model``."""
    if o.model == TINY:
        config = tiny_config(o)
    else:
        try:
            config = AutoConfig.from_pretrained(o.model)
        except (OSError, ValueError) as exc:
            raise DataError(_missing(o.model, exc)) from None
    with seeded(seed):
        return _build(config)


def pretrained_net(name: str, vocab_size: int) -> PreTrainedModel:
    """Real weights from a hub id, the local HF cache or a ``save_pretrained`` folder, in float32."""
    try:
        net = AutoModelForCausalLM.from_pretrained(name, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise DataError(_missing(name, exc)) from None
    rows = net.get_input_embeddings().num_embeddings
    if rows < vocab_size:
        raise ConfigError(
            f"model '{name}' embeds {rows} ids but the tokenizer has {vocab_size}: use the model's own "
            f"tokenizer (data.tokenizer = '{name}')."
        )
    return net.eval()


def _missing(name: str, exc: Exception) -> str:
    return (
        f"model '{name}' could not be loaded ({type(exc).__name__}): download it first (`hf download {name}` "
        "with network and HF_HUB_OFFLINE unset), give the path of a save_pretrained folder, or use "
        f"options.model = '{TINY}' offline."
    )


def _build(config: object) -> PreTrainedModel:
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()


class OPTModel(Model):
    """A causal LM over token blocks. A sample is the ``L``-token continuation of an ``L``-token block."""

    def __init__(self, net: PreTrainedModel, options: OPTOptions) -> None:
        self.net = net
        self.options = options

    def sample(self, n: int, rng: np.random.Generator, policy: OPTSampling, real: RealData) -> np.ndarray:  # type: ignore[override]
        """Continue the real training blocks (cycled when ``n`` exceeds them) by as many tokens each.

        All prompts have one length, so one bucket; batches go through ``generate`` with the KV cache.
        """
        prompts = np.asarray(real.train.data)
        length = prompts.shape[1]
        order = np.arange(n) % len(prompts)
        beams = policy.num_beams if policy.decoding == "beam" else 1
        batch = max(1, self.options.generate_batch // beams)
        kwargs = _generate_kwargs(policy, length, self._eos())
        out = np.empty((n, length), dtype=np.int32)
        self.net.eval()
        with seeded(torch_seed(rng)), torch.inference_mode():
            for start in range(0, n, batch):
                ids = torch.as_tensor(prompts[order[start : start + batch]], dtype=torch.long)
                generated = self.net.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
                out[start : start + len(ids)] = generated[:, length:].numpy()
        return out

    def _eos(self) -> int:
        eos = self.net.config.eos_token_id
        return int(eos[0] if isinstance(eos, list) else eos if eos is not None else 0)

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """Mean log-probability per predicted token of each block (tokens 2..L given their prefix).

        That is minus the log of the block's perplexity: ``exp(-log_likelihood)`` is it.
        """
        return -token_nll(self.net, np.asarray(x), self.options.eval_batch).mean(axis=1)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Weights as float32 arrays (a tied output matrix once) and the config as JSON."""
        state = {k: v.detach().cpu().numpy().copy() for k, v in self.net.state_dict().items()}
        if self.net.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        state[CONFIG_KEY] = np.array(self.net.config.to_json_string(use_diff=False))
        return state

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], options: OPTOptions) -> OPTModel:
        config_dict = json.loads(str(state[CONFIG_KEY]))
        config = AutoConfig.for_model(**config_dict)
        with seeded(0):
            net = _build(config)
        weights = {k: torch.from_numpy(np.array(v)) for k, v in state.items() if k != CONFIG_KEY}
        missing, unexpected = net.load_state_dict(weights, strict=False)
        if unexpected or set(missing) - {"lm_head.weight"}:
            raise DataError(f"model checkpoint does not match its config: missing {missing}, unexpected {unexpected}.")
        return cls(net, options)


def _generate_kwargs(policy: OPTSampling, length: int, eos: int) -> dict[str, object]:
    """Exactly ``length`` new tokens (eos suppressed until then), with the policy's decoding."""
    kwargs: dict[str, object] = {
        "max_new_tokens": length,
        "min_new_tokens": length,
        "pad_token_id": eos,
        "eos_token_id": eos,
        "repetition_penalty": policy.repetition_penalty,
        "use_cache": True,
    }
    if policy.decoding == "beam":
        kwargs.update(do_sample=False, num_beams=policy.num_beams, early_stopping=True)
    elif policy.decoding == "greedy":
        kwargs.update(do_sample=False, num_beams=1)
    else:
        kwargs.update(do_sample=True, num_beams=1, temperature=policy.temperature, top_p=policy.top_p, top_k=0)
    return kwargs


def token_nll(net: PreTrainedModel, x: np.ndarray, batch: int) -> np.ndarray:
    """Per-token negative log-likelihood (N × L−1) of each block's tokens 2..L, in nats."""
    net.eval()
    out = np.empty((len(x), x.shape[1] - 1), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(x), batch):
            ids = torch.tensor(x[start : start + batch], dtype=torch.long)
            logits = net(input_ids=ids).logits[:, :-1].float()
            nll = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
            out[start : start + len(ids)] = nll.numpy()
    return out


def fit_lm(
    blocks: np.ndarray, init: PreTrainedModel, seed: int, o: OPTOptions, *, epochs: int, lr: float
) -> OPTModel:
    """AdamW on shuffled minibatches of a copy of ``init``; keeps the epoch with the lowest loss on a
    held-out ``val_fraction`` of the blocks (the last epoch when there are too few blocks to hold out).
    """
    blocks = np.asarray(blocks)
    if len(blocks) == 0:
        raise DegenerateFit("empty training set")
    if int(blocks.max()) >= init.get_input_embeddings().num_embeddings:
        raise DataError(
            f"token id {int(blocks.max())} is outside the model's {init.get_input_embeddings().num_embeddings} "
            "embedding rows: the data's tokenizer does not match the model (see data.tokenizer / options.vocab_size)."
        )
    net = copy.deepcopy(init)
    gen = torch.Generator().manual_seed(seed)
    data = torch.tensor(blocks, dtype=torch.long)
    order = torch.randperm(len(data), generator=gen)
    n_val = math.floor(o.val_fraction * len(data))
    val, train = data[order[:n_val]], data[order[n_val:]]
    best, best_loss = None, math.inf
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr)
    with seeded(seed):
        for epoch in range(epochs):
            net.train()
            for batch in torch.randperm(len(train), generator=gen).split(o.batch_size):
                loss = net(input_ids=train[batch], labels=train[batch]).loss
                if not torch.isfinite(loss):
                    raise DegenerateFit(f"training loss became {loss.item()} in epoch {epoch}")
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
            if n_val:
                val_loss = float(token_nll(net, val.numpy(), o.eval_batch).mean())
                if val_loss < best_loss:
                    best_loss = val_loss
                    best = {k: v.detach().clone() for k, v in net.state_dict().items()}
    if best is not None:
        net.load_state_dict(best)
    return OPTModel(net.eval(), o)
