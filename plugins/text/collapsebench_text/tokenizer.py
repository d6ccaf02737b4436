"""Tokenizers for the text track, all held as a ``tokenizers.Tokenizer`` (cheap to import).

- ``bpe``: a byte-level BPE trained on the training pool (small vocab: keeps the tiny model cheap);
  id 0 is ``<|endoftext|>``, used only as the model's pad/eos id, never in the data.
- ``gpt2``: the GPT-2 byte-level BPE files of the shared ``gpt2-bpe-tokenizer/`` folder.
- anything else: a hub id or a local folder, loaded with ``transformers.AutoTokenizer`` (the real
  model's own tokenizer, e.g. ``facebook/opt-125m``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from collapsebench import DataError, shared_dataset

EOS = "<|endoftext|>"


@dataclass(frozen=True)
class TextTokenizer:
    """A tokenizer, its name for the records, and the id a model may use for padding and eos."""

    backend: object  # tokenizers.Tokenizer
    name: str
    eos_id: int

    @property
    def vocab_size(self) -> int:
        return int(self.backend.get_vocab_size(with_added_tokens=True))  # type: ignore[attr-defined]

    def encode(self, lines: Sequence[str]) -> np.ndarray:
        """The ids of ``lines`` concatenated (no special tokens), as int32."""
        encoded = self.backend.encode_batch(list(lines), add_special_tokens=False)  # type: ignore[attr-defined]
        ids = [i for e in encoded for i in e.ids]
        return np.asarray(ids, dtype=np.int32)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.backend.decode([int(i) for i in ids], skip_special_tokens=True))  # type: ignore[attr-defined]


def train_bpe(lines: Sequence[str], vocab_size: int) -> TextTokenizer:
    """A byte-level BPE of ``vocab_size`` ids trained on ``lines``; deterministic (0.5 s on 1 MB)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer=trainer)
    return TextTokenizer(tok, f"bpe-{vocab_size} trained on the training pool", tok.token_to_id(EOS))


def gpt2_files() -> TextTokenizer:
    """GPT-2's byte-level BPE from the shared ``gpt2-bpe-tokenizer/`` folder (50,257 ids)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    folder = shared_dataset("gpt2-bpe-tokenizer")
    tok = Tokenizer(models.BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    eos = tok.token_to_id(EOS)
    if eos is None:
        raise DataError(f"{folder}/vocab.json has no '{EOS}': it is not GPT-2's vocabulary.")
    return TextTokenizer(tok, "gpt2 (shared gpt2-bpe-tokenizer files)", eos)


def pretrained(name: str) -> TextTokenizer:
    """The fast tokenizer of a hub id or a local folder (``save_pretrained`` output)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise DataError(
            f"Tokenizer '{name}' could not be loaded ({type(exc).__name__}): download it first "
            f"(`hf download {name}`, with network and HF_HUB_OFFLINE unset) or give the path of a "
            "local folder that holds tokenizer.json; offline, use tokenizer = 'bpe'."
        ) from None
    if not getattr(tok, "is_fast", False):
        raise DataError(f"Tokenizer '{name}' has no fast (tokenizers) version; give one that has tokenizer.json.")
    eos = tok.eos_token_id if tok.eos_token_id is not None else tok.pad_token_id
    return TextTokenizer(tok.backend_tokenizer, name, int(eos if eos is not None else 0))
