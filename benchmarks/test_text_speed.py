"""Text-track throughput on the opt-tiny preset: the harness against a bare PyTorch loop doing the same work.

Training: ``fit_lm`` (shuffling, the best-epoch validation pass, checkpoint copy) vs a plain AdamW
loop over the same blocks and batches. Generation: ``OPTModel.sample`` (HF ``generate`` with the KV
cache, batched) vs a hand-written KV-cache sampling loop. Token blocks are random ids: throughput
does not depend on the text. One thread, as each chain gets in a sweep.
Run: ``.venv/bin/python -m pytest benchmarks/test_text_speed.py --benchmark-only -s``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from collapsebench_text.opt import OPTOptions, OPTSampling  # noqa: E402
from collapsebench_text.opt_net import fit_lm, fresh_net, seeded  # noqa: E402

from collapsebench.experiment.data import RealData  # noqa: E402
from collapsebench.experiment.samples import Samples  # noqa: E402

BLOCKS, LENGTH = 512, 64
MAX_OVERHEAD = 0.10
OPTIONS = OPTOptions()  # the quick preset's opt-tiny: hidden 64, 2 layers, vocab 4096


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _blocks(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(1, OPTIONS.vocab_size, size=(n, LENGTH), dtype=np.int32)


def _best_of(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bare_training(net: torch.nn.Module, blocks: np.ndarray) -> None:
    """One epoch of AdamW over shuffled minibatches: the work of one fit_lm epoch, nothing else."""
    net = net.train()
    optimiser = torch.optim.AdamW(net.parameters(), lr=OPTIONS.lr)
    data = torch.tensor(blocks, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    for batch in torch.randperm(len(data), generator=gen).split(OPTIONS.batch_size):
        loss = net(input_ids=data[batch], labels=data[batch]).loss
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()


def bare_sampling(net: torch.nn.Module, prompts: np.ndarray, batch: int) -> np.ndarray:
    """Ancestral sampling of LENGTH tokens per prompt with a hand-managed KV cache."""
    out = []
    with seeded(0), torch.inference_mode():
        for start in range(0, len(prompts), batch):
            ids = torch.tensor(prompts[start : start + batch], dtype=torch.long)
            result = net(input_ids=ids, use_cache=True)
            tokens = []
            for step in range(LENGTH):
                probs = torch.softmax(result.logits[:, -1].float(), dim=-1)
                token = torch.multinomial(probs, 1)
                tokens.append(token)
                if step + 1 < LENGTH:
                    result = net(input_ids=token, past_key_values=result.past_key_values, use_cache=True)
            out.append(torch.cat(tokens, dim=1).numpy())
    return np.concatenate(out)


def _report(benchmark, what: str, tokens: int, harness_s: float, bare_s: float) -> None:
    overhead = harness_s / bare_s - 1
    benchmark.extra_info.update(
        harness_tokens_per_s=round(tokens / harness_s), bare_tokens_per_s=round(tokens / bare_s),
        overhead=round(overhead, 3),
    )
    print(f"\n{what}: harness {tokens / harness_s:,.0f} tokens/s, bare loop {tokens / bare_s:,.0f} tokens/s, "
          f"overhead {100 * overhead:+.1f}%")
    assert overhead <= MAX_OVERHEAD


def test_training_throughput(benchmark) -> None:
    blocks = _blocks(BLOCKS)
    init = fresh_net(OPTIONS, 0)
    train_blocks = blocks[: BLOCKS - int(OPTIONS.val_fraction * BLOCKS)]  # what fit_lm trains on
    bare_s = _best_of(lambda: bare_training(fresh_net(OPTIONS, 0), train_blocks), rounds=2)
    benchmark.pedantic(lambda: fit_lm(blocks, init, 0, OPTIONS, epochs=1, lr=OPTIONS.lr), rounds=2, iterations=1)
    _report(benchmark, "training (1 epoch, 512 blocks of 64)", train_blocks.size, benchmark.stats.stats.min, bare_s)


def test_generation_throughput(benchmark) -> None:
    prompts = _blocks(BLOCKS)
    model = fit_lm(prompts[:64], fresh_net(OPTIONS, 0), 0, OPTIONS, epochs=1, lr=OPTIONS.lr)
    real = RealData(train=Samples.real(prompts), test=Samples.real(prompts[:1]), fingerprint="bench")
    policy = OPTSampling(decoding="sample")
    bare_s = _best_of(lambda: bare_sampling(model.net, prompts, OPTIONS.generate_batch), rounds=2)
    benchmark.pedantic(lambda: model.sample(BLOCKS, np.random.default_rng(0), policy, real), rounds=2, iterations=1)
    _report(benchmark, "generation (ancestral sampling, 64 new tokens per block)", BLOCKS * LENGTH,
            benchmark.stats.stats.min, bare_s)
