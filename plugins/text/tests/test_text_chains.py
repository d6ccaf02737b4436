"""The text protocol through the real chain loop: artifacts, resume, determinism, collapse vs mitigations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collapsebench.experiment.config import RunConfig
from collapsebench.publish.plot import plot_track
from collapsebench.run.chain import run_chains
from collapsebench_text import opt
from text_config import TINY_DATA, TINY_OPTIONS

SAMPLING = {"decoding": "sample", "temperature": 0.8}


def _config(mitigation: str = "replace", generations: int = 2, seeds: list[int] | None = None) -> RunConfig:
    return RunConfig(track="text", model="opt", mitigation=mitigation, init="base", generations=generations,
                     seeds=seeds or [0], data=TINY_DATA, options=TINY_OPTIONS, sampling=SAMPLING)


def _fresh_process() -> None:
    """Forget the pretrained bases, as a new process would."""
    opt._BASES.clear()


def test_resumed_chain_gives_the_uninterrupted_rows_and_artifacts(tmp_path: Path, wikitext_dir) -> None:
    whole = run_chains(_config(generations=1), tmp_path / "whole")[0]
    run_chains(_config(generations=0), tmp_path / "resumed")
    _fresh_process()  # the resumed part rebuilds the base and reloads model_0 from its checkpoint
    resumed = run_chains(_config(generations=1), tmp_path / "resumed")[0]
    assert [r["status"] for r in whole] == ["ok"] * 2
    assert [r["metrics"] for r in resumed] == [r["metrics"] for r in whole]  # bit-identical floats
    assert all(v is not None for r in whole for v in r["metrics"].values())
    run = next((tmp_path / "whole" / "text").glob("*/seed-0"))
    for g in range(2):
        ppl = np.load(run / "artifacts" / f"g{g:05d}_synthetic_ppl.npy")
        assert ppl.shape == (TINY_DATA["train_blocks"],) and np.all(ppl > 1)
        assert whole[g]["metrics"]["synthetic-ppl-median"] == pytest.approx(np.median(ppl))
        assert (run / "artifacts" / f"g{g:05d}_examples.txt").read_text().count("continuation: ") == 5
    paths = plot_track(tmp_path / "whole", "text", tmp_path / "plots")
    assert "opt__synthetic_ppl.png" in {p.name for p in paths}


@pytest.mark.slow
def test_replace_collapses_and_real_data_slows_it(tmp_path: Path, wikitext_dir) -> None:
    """Over 3 generations of replacement, held-out perplexity rises and the rare tokens go;
    keeping 10% real data or accumulating everything degrades less (mean over 2 seeds)."""
    rows = {m: run_chains(_config(m, generations=3, seeds=[0, 1]), tmp_path)
            for m in ("replace", "retain:0.1", "accumulate")}

    def mean(mitigation: str, metric: str, generation: int) -> float:
        return float(np.mean([r[generation]["metrics"][metric] for r in rows[mitigation].values()]))

    ppl = {m: mean(m, "test-perplexity", 3) for m in rows}
    rare = {m: mean(m, "rare-token-retention", 3) for m in rows}
    assert ppl["replace"] > 1.05 * mean("replace", "test-perplexity", 0)
    assert rare["replace"] < 0.7 * mean("replace", "rare-token-retention", 0)
    assert ppl["accumulate"] < ppl["retain:0.1"] < ppl["replace"]
    assert rare["accumulate"] > rare["replace"] and rare["retain:0.1"] > rare["replace"]
