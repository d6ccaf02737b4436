"""Real dog-breed images for the image track: procedural (offline default) or a breed folder.

Samples are float32 arrays N×3×H×W in [0, 1], labelled with their breed index (``Samples.labels``:
a conditional model trains on them, an unconditional one ignores them). ``RealData.truth`` holds
the same labels (``train_labels``, ``test_labels``) with ``breeds`` and ``rare_breeds``, where the
judge and the tail metrics read them.

Both sources draw a configurable long-tailed breed mix: exact per-breed counts from the weights
(largest remainders), so the rare breed's real share is known exactly, not sampled. Both are
finite-data sources in the DataSource sense: the split depends on ``split_seed`` only, never on
the chain's seed, so every chain sees the same real data and the judge is trained once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import Field

from collapsebench import DataError, DataSource, Options, RealData, Samples, fingerprint_arrays, shared_dataset
from collapsebench_image import procedural

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SHARED_DOGS = "dog-breeds-udacity-pet-images"


class ProceduralOptions(Options):
    """Sizes, resolution and the breed mix (weights in ``procedural.BREEDS`` order)."""

    size: int = Field(16, ge=8, description="image side in pixels")
    train_size: int = Field(500, gt=0, description="images in the real train pool")
    test_size: int = Field(500, gt=0, description="images in the held-out test split")
    mix: tuple[float, ...] = Field(procedural.DEFAULT_MIX, description="relative breed frequencies")
    split_seed: int = Field(0, ge=0, description="seed of the drawing (the data set is a function of it)")


class ProceduralDogs(DataSource):
    name = "dogs-procedural"
    description = "procedural dog-like figures of 6 breeds (coat, pattern, ears, size), long-tailed"
    Options = ProceduralOptions

    def load(self, seed: int) -> RealData:
        o = self.options
        return _procedural(o.size, o.train_size, o.test_size, tuple(o.mix), o.split_seed)


@lru_cache(maxsize=4)
def _procedural(size: int, train_size: int, test_size: int, mix: tuple[float, ...], split_seed: int) -> RealData:
    breeds = procedural.BREEDS
    if len(mix) != len(breeds) or min(mix) < 0 or sum(mix) <= 0:
        raise DataError(f"dogs-procedural: mix needs {len(breeds)} non-negative weights "
                        f"({', '.join(b.name for b in breeds)}), got {list(mix)}.")
    rng = np.random.default_rng(split_seed)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.repeat(np.arange(len(breeds)), procedural.breed_counts(mix, n)))
        return procedural.render(labels, size, rng), labels

    (x_train, y_train), (x_test, y_test) = draw(train_size), draw(test_size)
    names = [b.name for b in breeds]

    def fresh(n: int, fresh_rng: np.random.Generator) -> Samples:
        """New images from the same mix, drawn with the chain's generator: never in either split."""
        labels = fresh_rng.choice(len(breeds), size=n, p=np.asarray(mix) / sum(mix))
        return Samples.real(procedural.render(labels, size, fresh_rng), labels=labels)

    return _real_data(x_train, y_train, x_test, y_test, names, mix, fresh,
                      {"dataset": "collapsebench procedural dogs", "split_seed": split_seed})


class FolderOptions(Options):
    """Where the images are and which breeds in which mix.

    ``path`` None reads the shared ``dog-breeds-udacity-pet-images`` set (COLLAPSEBENCH_SHARED_DATA).
    ``mix`` maps breed → weight; the breeds listed are used (others ignored) and each is subsampled
    so the proportions hold; None keeps every breed at its natural frequency.
    """

    path: str | None = Field(None, description="folder of breed sub-folders, or flat <Breed>_<n>.jpg files")
    size: int = Field(32, ge=8, description="image side in pixels (centre crop, then resize)")
    mix: dict[str, float] | None = Field(None, description="breed → relative frequency")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="share of each breed held out")
    split_seed: int = Field(0, ge=0, description="seed of the subsampling and the split")


class BreedFolder(DataSource):
    name = "dogs-folder"
    description = "photos in one sub-folder per breed (Stanford Dogs / Oxford-IIIT Pet layout) or <Breed>_<n>.jpg"
    Options = FolderOptions

    def load(self, seed: int) -> RealData:
        o = self.options
        root = Path(o.path) if o.path else shared_dataset(SHARED_DOGS) / "pet_images"
        mix = tuple(sorted(o.mix.items())) if o.mix else None
        return _folder(str(root), o.size, mix, o.test_fraction, o.split_seed)


def breed_of(path: Path, root: Path) -> str:
    """The sub-folder name, or for a flat folder the file name without its ``_<number>`` suffix."""
    if path.parent != root:
        return path.parent.name
    return re.sub(r"_\d+$", "", path.stem)


def read_image(path: Path, size: int) -> np.ndarray:
    """3×size×size float32 in [0, 1]: RGB, centre-cropped to a square, resized with a box filter."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BOX)
        return (np.asarray(im, dtype=np.float32) / 255).transpose(2, 0, 1)


@lru_cache(maxsize=2)
def _folder(root_str: str, size: int, mix: tuple[tuple[str, float], ...] | None, test_fraction: float,
            split_seed: int) -> RealData:
    root = Path(root_str)
    if not root.is_dir():
        raise DataError(f"dogs-folder: '{root}' is not a folder; set data.path to a folder of breed "
                        "sub-folders (e.g. Stanford Dogs' Images/) or of <Breed>_<n>.jpg files.")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    by_breed: dict[str, list[Path]] = {}
    for p in files:
        by_breed.setdefault(breed_of(p, root), []).append(p)
    weights = dict(mix) if mix else {b: float(len(v)) for b, v in by_breed.items()}
    missing = sorted(set(weights) - set(by_breed))
    if missing or not weights:
        raise DataError(f"dogs-folder: no images of {missing or 'any breed'} in '{root}'; "
                        f"breeds found: {', '.join(sorted(by_breed)) or 'none'}.")
    names = sorted(weights)
    rng = np.random.default_rng(split_seed)
    # the largest total whose exact mix every breed can supply
    total = int(min(len(by_breed[b]) * sum(weights.values()) / weights[b] for b in names if weights[b] > 0))
    counts = procedural.breed_counts(tuple(weights[b] for b in names), total)
    train, test = [], []
    for label, (breed, count) in enumerate(zip(names, counts)):
        chosen = [by_breed[breed][i] for i in np.sort(rng.permutation(len(by_breed[breed]))[:count])]
        n_test = int(round(test_fraction * len(chosen))) if len(chosen) > 1 else 0
        test += [(p, label) for p in chosen[:n_test]]
        train += [(p, label) for p in chosen[n_test:]]
    if not train or not test:
        raise DataError(f"dogs-folder: {len(train)} train and {len(test)} test images in '{root}'; "
                        "give more images per breed or change test_fraction.")

    def stack(items: list[tuple[Path, int]]) -> tuple[np.ndarray, np.ndarray]:
        order = rng.permutation(len(items))
        return (np.stack([read_image(items[i][0], size) for i in order]),
                np.array([items[i][1] for i in order], dtype=np.int64))

    (x_train, y_train), (x_test, y_test) = stack(train), stack(test)
    return _real_data(x_train, y_train, x_test, y_test, names, tuple(weights[b] for b in names), None,
                      {"dataset": f"image folder '{root.name}'", "split_seed": split_seed, "files": len(files)})


def _real_data(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
               names: list[str], mix: tuple[float, ...], fresh, provenance: dict) -> RealData:
    """Frozen arrays, the labels in ``truth`` and the rarest breed(s) by weight as ``rare_breeds``."""
    for a in (x_train, y_train, x_test, y_test):
        a.setflags(write=False)
    w = np.asarray(mix, dtype=np.float64)
    present = w > 0
    rare = [int(i) for i in np.flatnonzero(present & (w == w[present].min()))]
    counts = np.bincount(y_train, minlength=len(names))
    return RealData(
        train=Samples.real(x_train, labels=y_train),
        test=Samples.real(x_test, labels=y_test),
        fingerprint=fingerprint_arrays(x_train, y_train, x_test, y_test),
        fresh=fresh,
        truth={"train_labels": y_train, "test_labels": y_test, "breeds": names, "rare_breeds": rare},
        provenance={**provenance, "layout": f"N×3×{x_train.shape[2]}×{x_train.shape[3]} float32 in [0, 1]",
                    "breeds": names, "train_breed_counts": counts.tolist(),
                    "rare_breeds": [names[i] for i in rare]},
    )
