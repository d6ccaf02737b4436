"""The wikitext2 data source: blocks, splits, provenance, local folders and tokenizers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collapsebench.errors import DataError
from collapsebench_text import data
from collapsebench_text.data import WikiText2, WikiTextOptions
from text_config import TINY_DATA


def test_shared_copy_uses_valid_as_pool_and_test_as_held_out(tiny_real):
    assert tiny_real.train.data.shape == (TINY_DATA["train_blocks"], 64)
    assert tiny_real.test.data.shape == (TINY_DATA["test_blocks"], 64)
    assert tiny_real.train.data.dtype == np.int32 and np.all(tiny_real.train.generation == -1)
    p = tiny_real.provenance
    assert (p["train_pool"], p["held_out"]) == ("valid.txt", "test.txt")
    assert "validation split is the training pool" in p["note"] and "raw" in p["variant"]
    assert p["sha256"]["valid.txt"].startswith("f0737ed3")
    assert tiny_real.truth["vocab_size"] == 1024 and tiny_real.train.data.max() < 1024


def test_blocks_decode_to_the_text(tiny_real, wikitext_dir):
    tok = tiny_real.truth["tokenizer"]
    text = tok.decode(tiny_real.train.data[0])
    assert len(text) > 100 and text in (wikitext_dir / "valid.txt").read_text()


def test_load_is_deterministic_and_seed_free(tiny_real):
    data._load.cache_clear()
    data._tokenizer_cached.cache_clear()
    again = WikiText2(WikiTextOptions(**TINY_DATA)).load(7)
    assert again.fingerprint == tiny_real.fingerprint
    np.testing.assert_array_equal(again.test.data, tiny_real.test.data)


def test_folder_with_a_train_split(tmp_path: Path):
    words = [f"word{i % 97} w{i % 13}" for i in range(3000)]
    for split, part in (("train", words[:2000]), ("valid", words[2000:2500]), ("test", words[2500:])):
        (tmp_path / f"wiki.{split}.tokens").write_text(" \n".join(part) + "\n")
    real = WikiText2(WikiTextOptions(source=str(tmp_path), vocab_size=300, block_size=16)).load(0)
    assert real.provenance["train_pool"] == "wiki.train.tokens"
    assert real.provenance["note"] == "training pool = train split"
    assert real.train.data.shape[1] == 16 and len(real.train) > 3 * len(real.test)


def test_missing_folder_and_oversized_subset_name_the_fix(tmp_path: Path, tiny_real):
    with pytest.raises(DataError, match="train/valid/test"):
        WikiText2(WikiTextOptions(source=str(tmp_path / "nowhere"))).load(0)
    (tmp_path / "test.txt").write_text("only a test split\n")
    with pytest.raises(DataError, match="train or valid file"):
        WikiText2(WikiTextOptions(source=str(tmp_path))).load(0)
    with pytest.raises(DataError, match="train_blocks"):
        WikiText2(WikiTextOptions(**{**TINY_DATA, "train_blocks": 10**6})).load(0)


def test_gpt2_tokenizer_from_the_shared_files(wikitext_dir):
    from collapsebench_text.tokenizer import gpt2_files

    try:
        tok = gpt2_files()
    except DataError as exc:
        pytest.skip(f"shared gpt2-bpe-tokenizer absent: {exc}")
    assert tok.vocab_size == 50257 and tok.eos_id == 50256
    ids = tok.encode([" The European lobster"])
    assert ids.tolist()[:1] == [383] and tok.decode(ids) == " The European lobster"


def test_offline_hub_is_a_data_error_naming_the_fix():
    with pytest.raises(DataError, match="HF_DATASETS_OFFLINE"):
        WikiText2(WikiTextOptions(source="hub")).load(0)
