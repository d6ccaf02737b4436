"""The ``wikitext2`` data source: text cut into blocks of ``block_size`` token ids (N×L int32).

Three places to read the text from (``source``):

- ``shared`` (default, offline): the shared ``wikitext-2/`` folder. It holds only the validation and
  test splits of the *tokenized* wikitext-2-v1 variant, so valid.txt is the training pool and
  test.txt the held-out split; the run's provenance says so. Perplexities are not comparable to the
  paper's (which uses the raw variant and the real train split).
- ``hub``: ``datasets.load_dataset("wikitext", "wikitext-2-raw-v1")`` (the paper's data): train is
  the training pool, test the held-out split.
- a folder path: train/valid/test text files (``train.txt``, ``wiki.train.tokens``, …); without a
  train file, valid is the training pool, as for ``shared``.

As in the paper (``group_texts`` of HF's run_clm), each split's lines are tokenized, concatenated and
cut into blocks; the last partial block is dropped. ``train_blocks`` / ``test_blocks`` keep a fixed
random subset (seed ``subset_seed``) so CPU runs stay small. The split never depends on the chain's
seed. ``truth`` carries the tokenizer (metrics decode examples with it) and its vocabulary size.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import Field

from collapsebench import DataError, DataSource, Options, RealData, Samples, fingerprint_arrays, shared_dataset
from collapsebench_text import tokenizer as tokenizers

HUB_DATASET = ("wikitext", "wikitext-2-raw-v1")
MAX_VOCAB = 1 << 16
"""Token ids must fit in 16 bits: the n-gram metrics pack three of them into one int64."""
SPLIT_FILES = {
    "train": ("train.txt", "wiki.train.tokens", "wiki.train.raw", "train.tokens"),
    "valid": ("valid.txt", "validation.txt", "wiki.valid.tokens", "wiki.valid.raw", "valid.tokens"),
    "test": ("test.txt", "wiki.test.tokens", "wiki.test.raw", "test.tokens"),
}


class WikiTextOptions(Options):
    """Where the text comes from, how it is tokenized, and how many blocks each split keeps."""

    source: str = Field("shared", description="'shared', 'hub', or a folder of train/valid/test text files")
    tokenizer: str = Field("bpe", description="'bpe' (trained on the pool), 'gpt2' (shared files), a hub id or folder")
    vocab_size: int = Field(4096, ge=260, le=65536, description="size of the trained BPE (tokenizer = 'bpe')")
    block_size: int = Field(64, ge=2, description="tokens per training sequence (paper: 64)")
    train_blocks: int | None = Field(None, gt=0, description="random subset of training blocks (None: all)")
    test_blocks: int | None = Field(None, gt=0, description="random subset of held-out blocks (None: all)")
    subset_seed: int = Field(0, ge=0, description="seed of those subsets")


class WikiText2(DataSource):
    name = "wikitext2"
    description = "wikitext-2 in blocks of 64 tokens (shared offline copy: valid = train pool, test = held out)"
    Options = WikiTextOptions

    def load(self, seed: int) -> RealData:
        """The same blocks for every ``seed``: the data set is finite."""
        return _load(self.options)


@lru_cache(maxsize=4)
def _load(o: WikiTextOptions) -> RealData:
    pool_lines, test_lines, provenance = _read_splits(o.source)
    tok = _tokenizer(o, tuple(pool_lines))
    train = _subset(_blocks(tok.encode(pool_lines), o.block_size), o.train_blocks, o.subset_seed, "train")
    test = _subset(_blocks(tok.encode(test_lines), o.block_size), o.test_blocks, o.subset_seed + 1, "test")
    if tok.vocab_size > MAX_VOCAB:
        raise DataError(f"tokenizer '{tok.name}' has {tok.vocab_size} ids; the text metrics need at most {MAX_VOCAB}.")
    provenance.update(
        tokenizer=tok.name,
        vocab_size=tok.vocab_size,
        block_size=o.block_size,
        train_blocks=len(train),
        test_blocks=len(test),
        layout=f"N×{o.block_size} int32 token ids",
    )
    return RealData(
        train=Samples.real(train),
        test=Samples.real(test),
        fingerprint=fingerprint_arrays(train, test),
        truth={"tokenizer": tok, "vocab_size": tok.vocab_size},
        provenance=provenance,
    )


def _read_splits(source: str) -> tuple[list[str], list[str], dict[str, object]]:
    """(training-pool lines, held-out lines, provenance) with line ends kept."""
    if source == "hub":
        return _hub_splits()
    folder = shared_dataset("wikitext-2") if source == "shared" else Path(source)
    if not folder.is_dir():
        raise DataError(
            f"wikitext2: '{source}' is not a folder; give data.source = 'shared', 'hub', or a folder "
            "with train/valid/test text files."
        )
    files = {split: next((folder / n for n in names if (folder / n).is_file()), None) for split, names in SPLIT_FILES.items()}
    pool = files["train"] or files["valid"]
    if pool is None or files["test"] is None:
        raise DataError(
            f"wikitext2: {folder} needs a test file and a train or valid file "
            f"(e.g. {SPLIT_FILES['valid'][0]} and {SPLIT_FILES['test'][0]})."
        )
    note = (
        "training pool = train split"
        if files["train"]
        else "no train split here: the validation split is the training pool, the test split is held out"
    )
    provenance: dict[str, object] = {
        "dataset": "WikiText-2 (Merity et al. 2016), CC BY-SA",
        "source": "shared wikitext-2/ folder" if source == "shared" else "local folder",
        "train_pool": pool.name,
        "held_out": files["test"].name,
        "sha256": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (pool, files["test"])},
        "note": note,
    }
    if source == "shared":
        provenance["variant"] = "wikitext-2-v1 (tokenized, <unk>): not the paper's raw variant"
    return _lines(pool), _lines(files["test"]), provenance


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _hub_splits() -> tuple[list[str], list[str], dict[str, object]]:
    from datasets import load_dataset

    try:
        data = load_dataset(*HUB_DATASET)
    except Exception as exc:  # datasets raises many types offline (ConnectionError, DatasetNotFoundError …)
        raise DataError(
            f"wikitext2: load_dataset{HUB_DATASET} failed ({type(exc).__name__}); with network, unset "
            "HF_DATASETS_OFFLINE and HF_HUB_OFFLINE once to download it, or give data.source = a folder "
            "of train/valid/test text files, or 'shared' for the offline copy."
        ) from None
    provenance: dict[str, object] = {
        "dataset": "WikiText-2 raw (Merity et al. 2016), CC BY-SA",
        "source": f"datasets.load_dataset{HUB_DATASET}",
        "train_pool": "train",
        "held_out": "test",
        "fingerprints": {s: data[s]._fingerprint for s in ("train", "test")},
        "note": "training pool = train split",
    }
    return list(data["train"]["text"]), list(data["test"]["text"]), provenance


@lru_cache(maxsize=4)
def _tokenizer_cached(spec: str, vocab_size: int, pool: tuple[str, ...]) -> tokenizers.TextTokenizer:
    if spec == "bpe":
        return tokenizers.train_bpe(pool, vocab_size)
    if spec == "gpt2":
        return tokenizers.gpt2_files()
    return tokenizers.pretrained(spec)


def _tokenizer(o: WikiTextOptions, pool: tuple[str, ...]) -> tokenizers.TextTokenizer:
    return _tokenizer_cached(o.tokenizer, o.vocab_size, pool if o.tokenizer == "bpe" else ())


def _blocks(ids: np.ndarray, block_size: int) -> np.ndarray:
    n = len(ids) // block_size
    if n == 0:
        raise DataError(f"wikitext2: a split has {len(ids)} tokens, fewer than one block of {block_size}.")
    return ids[: n * block_size].reshape(n, block_size)


def _subset(blocks: np.ndarray, k: int | None, seed: int, split: str) -> np.ndarray:
    """``k`` blocks chosen at random (kept in text order), read-only: chains share the cached arrays."""
    if k is not None:
        if k > len(blocks):
            raise DataError(f"wikitext2: {split}_blocks = {k} but the split has only {len(blocks)} blocks.")
        blocks = blocks[np.sort(np.random.default_rng(seed).permutation(len(blocks))[:k])]
    blocks = np.ascontiguousarray(blocks)
    blocks.setflags(write=False)
    return blocks


DATA_SOURCES = (WikiText2,)
