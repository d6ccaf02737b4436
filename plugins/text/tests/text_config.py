"""The tiny text configuration shared by the text-track tests (a module name no other test folder uses)."""

from __future__ import annotations

from typing import Any

TINY_DATA: dict[str, Any] = {"vocab_size": 1024, "train_blocks": 192, "test_blocks": 96}
TINY_OPTIONS: dict[str, Any] = {
    "vocab_size": 1024, "hidden": 32, "layers": 1, "heads": 2, "ffn": 64,
    "epochs": 1, "base_epochs": 3, "batch_size": 16,
}
"""A model and data small enough that a generation takes about a second on one core."""
