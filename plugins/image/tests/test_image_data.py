"""The image track's data sources: procedural dogs and breed folders (incl. the shared photos)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collapsebench.errors import DataError
from collapsebench.experiment.paths import ENV_VAR, shared_dataset
from collapsebench_image import data, procedural


def procedural_real(**options):
    return data.ProceduralDogs(data.ProceduralOptions(**options)).load(seed=0)


def test_procedural_layout_mix_and_labels():
    real = procedural_real(size=16, train_size=200, test_size=100)
    assert real.train.data.shape == (200, 3, 16, 16) and real.test.data.shape == (100, 3, 16, 16)
    assert real.train.data.dtype == np.float32 and 0 <= real.train.data.min() and real.train.data.max() <= 1
    counts = np.bincount(real.truth["train_labels"], minlength=6)
    assert counts.tolist() == procedural.breed_counts(procedural.DEFAULT_MIX, 200).tolist() == [90, 40, 24, 24, 16, 6]
    assert real.truth["breeds"][real.truth["rare_breeds"][0]] == "french_bulldog"
    assert real.provenance["rare_breeds"] == ["french_bulldog"]
    assert np.array_equal(real.train.labels, real.truth["train_labels"])
    assert np.array_equal(real.test.labels, real.truth["test_labels"])


def test_procedural_is_a_function_of_split_seed_not_chain_seed():
    a = data.ProceduralDogs(data.ProceduralOptions(train_size=50, test_size=20)).load(seed=0)
    b = data.ProceduralDogs(data.ProceduralOptions(train_size=50, test_size=20)).load(seed=7)
    c = data.ProceduralDogs(data.ProceduralOptions(train_size=50, test_size=20, split_seed=1)).load(seed=0)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    fresh = a.fresh(10, np.random.default_rng(3))
    assert fresh.data.shape == (10, 3, 16, 16) and not np.isin(fresh.data[:, 0, 0, 0], a.train.data[:, 0, 0, 0]).all()
    rng = np.random.default_rng(3)  # fresh images are labelled with the breed they were drawn for
    breeds = rng.choice(6, size=10, p=np.asarray(procedural.DEFAULT_MIX) / sum(procedural.DEFAULT_MIX))
    assert np.array_equal(fresh.labels, breeds)
    assert np.array_equal(fresh.data, procedural.render(breeds, 16, rng))


def test_breeds_differ_visibly_in_colour():
    real = procedural_real(size=16, train_size=300, test_size=10, mix=(1, 1, 1, 1, 1, 1))
    y = real.truth["train_labels"]
    mean_rgb = np.stack([real.train.data[y == k].mean(axis=(0, 2, 3)) for k in range(6)])
    gaps = np.linalg.norm(mean_rgb[:, None] - mean_rgb[None], axis=-1)[np.triu_indices(6, 1)]
    assert gaps.min() > 0.01


def test_bad_mix_is_a_data_error():
    with pytest.raises(DataError, match="mix needs 6"):
        procedural_real(mix=(1.0, 2.0))


def _write_png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_folder_of_breed_subfolders_with_a_long_tailed_mix(tmp_path: Path):
    for i in range(20):
        _write_png(tmp_path / "n02-golden" / f"{i}.png", (220, 160, 60))
        _write_png(tmp_path / "n02-bulldog" / f"{i}.png", (30, 30, 30))
    options = data.FolderOptions(path=str(tmp_path), size=8, mix={"n02-golden": 0.8, "n02-bulldog": 0.2},
                                 test_fraction=0.25)
    real = data.BreedFolder(options).load(seed=0)
    assert real.truth["breeds"] == ["n02-bulldog", "n02-golden"] and real.truth["rare_breeds"] == [0]
    labels = np.concatenate([real.truth["train_labels"], real.truth["test_labels"]])
    assert np.bincount(labels).tolist() == [5, 20]
    assert real.train.data.shape[1:] == (3, 8, 8)
    bulldog = real.train.data[real.truth["train_labels"] == 0]
    assert np.allclose(bulldog, 30 / 255, atol=1e-6)
    assert np.array_equal(real.train.labels, real.truth["train_labels"])
    assert np.allclose(real.test.data[real.test.labels == 1], np.array([220, 160, 60])[:, None, None] / 255, atol=1e-6)


def test_folder_errors_name_the_fix(tmp_path: Path):
    with pytest.raises(DataError, match="not a folder"):
        data.BreedFolder(data.FolderOptions(path=str(tmp_path / "absent"))).load(0)
    _write_png(tmp_path / "beagle" / "1.png", (1, 2, 3))
    with pytest.raises(DataError, match="breeds found: beagle"):
        data.BreedFolder(data.FolderOptions(path=str(tmp_path), mix={"pug": 1.0})).load(0)


def test_missing_shared_data_names_the_variable(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(DataError, match=ENV_VAR):
        data.BreedFolder(data.FolderOptions()).load(0)


def test_shared_udacity_photos_load_with_breed_from_file_name():
    try:
        root = shared_dataset(data.SHARED_DOGS)
    except DataError as exc:
        pytest.skip(f"shared dog photos absent: {exc}")
    mix = {"Golden_retriever": 1.0, "Beagle": 1.0, "Dalmatian": 1.0, "Boston_terrier": 1.0}
    real = data.BreedFolder(data.FolderOptions(size=32, mix=mix, test_fraction=0.34)).load(seed=0)
    assert real.truth["breeds"] == sorted(mix)
    assert real.train.data.shape[1:] == (3, 32, 32) and real.train.data.dtype == np.float32
    assert len(real.train) + len(real.test) == 12  # 3 of each: Golden_retriever has 4, the mix is even
    assert 0.05 < real.train.data.mean() < 0.95 and real.train.data.std() > 0.05  # real photos, not blank
    assert data.breed_of(root / "pet_images" / "Great_pyrenees_05367.jpg", root / "pet_images") == "Great_pyrenees"
