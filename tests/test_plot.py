"""Plots: one valid PNG per model × metric, family or metric names, did-you-mean for unknown names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from test_aggregate import REPLACE, TRACK, write_group

from collapsebench.errors import UnknownNameError
from collapsebench.publish.aggregate import load_groups
from collapsebench.publish.plot import (
    _figure,
    _histogram_figure,
    artifact_values,
    plot_track,
)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    write_group(root, REPLACE)
    write_group(root, REPLACE, mitigation="accumulate", config_hash="cccccccccc")
    write_group(root, REPLACE, model="vae", config_hash="dddddddddd")
    return root


def test_one_png_per_model_and_family(results: Path, tmp_path: Path) -> None:
    paths = plot_track(results, TRACK, tmp_path / "plots")
    names = sorted(p.name for p in paths)
    families = ["diversity", "drift", "fidelity", "tails"]
    assert names == sorted(f"{model}__{f}.png" for model in ("gauss", "vae") for f in families)
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width, channels = imread(path).shape
        assert height > 100 and width > 100 and channels in (3, 4)


def test_metric_and_raw_metric_names_accepted(results: Path, tmp_path: Path) -> None:
    paths = plot_track(results, TRACK, tmp_path / "plots", ["w2", "raw_count"])
    expected = ["gauss__raw_count.png", "gauss__w2.png", "vae__raw_count.png", "vae__w2.png"]
    assert sorted(p.name for p in paths) == expected


def test_log_scale_only_for_positive_values_over_many_decades(tmp_path: Path) -> None:
    table = {m: {s: list(v) for s, v in per_seed.items()} for m, per_seed in REPLACE.items()}
    table["w2"] = {s: [1e-6 * (s + 1), 1e-4, 1e-2, 1.0] for s in range(3)}
    write_group(tmp_path, table)
    (group,) = load_groups(tmp_path, TRACK)
    assert _figure([group], "drift").axes[0].get_yscale() == "log"  # 1e-6..1 spans 6 decades
    assert _figure([group], "nll").axes[0].get_yscale() == "linear"
    assert "gauss: w2 (drift) ↓ lower is better, n = 3 seeds" == _figure([group], "drift").axes[0].get_title()


def test_unknown_metric_suggests_close_name(results: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"Unknown metric 'drfit'\. Did you mean 'drift'\? Available: .*w2"):
        plot_track(results, TRACK, tmp_path / "plots", ["drfit"])
    assert not (tmp_path / "plots").exists()


def _write_artifacts(results: Path, name: str) -> None:
    """Per-sample arrays for every seed of every group: generation g is centred on 10^g."""
    for group in load_groups(results, TRACK):
        for run in group.runs:
            folder = results / TRACK / group.run_group / f"seed-{run.seed}" / "artifacts"
            folder.mkdir(parents=True, exist_ok=True)
            for g in range(4):
                values = np.random.default_rng(g).lognormal(g * np.log(10), 0.3, size=50)
                np.save(folder / f"g{g:05d}_{name}.npy", values, allow_pickle=False)


def test_declared_artifacts_plot_as_per_generation_histograms(results: Path, tmp_path: Path) -> None:
    _write_artifacts(results, "seq_ppl")
    histograms = {"seq_ppl": "perplexity per sequence"}
    paths = plot_track(results, TRACK, tmp_path / "plots", histograms=histograms)
    names = sorted(p.name for p in paths)
    assert "gauss__seq_ppl.png" in names and "vae__seq_ppl.png" in names and "gauss__drift.png" in names
    (group,) = [g for g in load_groups(results, TRACK) if g.model == "gauss" and g.mitigation == "replace"]
    pooled = artifact_values(results, group, "seq_ppl")
    assert sorted(pooled) == [0, 1, 2, 3] and all(len(v) == 150 for v in pooled.values())
    only = plot_track(results, TRACK, tmp_path / "only", ["seq_ppl"], histograms=histograms)
    assert sorted(p.name for p in only) == ["gauss__seq_ppl.png", "vae__seq_ppl.png"]
    height, width, _ = imread(only[0]).shape
    assert width > 1.5 * height  # one panel per mitigation, side by side
    fig = _histogram_figure(results, [group], "seq_ppl", "perplexity per sequence")
    assert fig is not None and fig.axes[0].get_xscale() == "log"  # values span > 1.5 decades
    assert len(fig.axes[0].patches) == 4  # one step histogram per generation


def test_histograms_without_artifacts_are_skipped(results: Path, tmp_path: Path) -> None:
    paths = plot_track(results, TRACK, tmp_path / "plots", histograms={"seq_ppl": "perplexity"})
    assert sorted(p.name for p in paths) == sorted(
        f"{m}__{f}.png" for m in ("gauss", "vae") for f in ("diversity", "drift", "fidelity", "tails")
    )
