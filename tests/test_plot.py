"""Plots: one valid PNG per model × metric, family or metric names, did-you-mean for unknown names."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.image import imread
from test_aggregate import REPLACE, TRACK, write_group

from collapsebench.aggregate import load_groups
from collapsebench.errors import UnknownNameError
from collapsebench.plot import _figure, plot_track


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
