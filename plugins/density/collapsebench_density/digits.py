"""The ``digits`` data source: scikit-learn's bundled 8×8 handwritten digits, made long-tailed.

Samples are float32 arrays N×64 (row-major 8×8 images), pixels scaled from 0..16 to [0, 1]; a
flat layout because the VAE is an MLP and every density-track metric works on points N×D.

By default two classes are kept at a quarter of their size, so the real class histogram has a
tail whose loss ("minority-class retention") is measurable: 1797 images become ~1530, split,
stratified by class and with a fixed seed, into a train pool (800), a held-out test split (300)
and a reserve (~430) that ``fresh(n, rng)`` draws from. The split never depends on the chain's
seed: every chain sees the same real data, and the fingerprint says which.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pydantic import Field

from collapsebench import DataError, DataSource, Options, RealData, Samples, fingerprint_arrays

N_CLASSES = 10
PIXEL_MAX = 16.0


class DigitsOptions(Options):
    """Split sizes and the long tail. ``minority_share`` = 1.0 keeps every class whole."""

    train_size: int = Field(800, gt=0, description="images in the real train pool")
    test_size: int = Field(300, gt=0, description="images in the held-out test split")
    minority_classes: tuple[int, ...] = Field((0, 4), description="digits made rare")
    minority_share: float = Field(0.25, gt=0, le=1, description="fraction of each minority class kept")
    split_seed: int = Field(0, ge=0, description="seed of the long-tail subsampling and the split")


class DigitsData(DataSource):
    name = "digits"
    description = "scikit-learn 8x8 digits (N×64 in [0,1]), two classes rare; labels in truth"
    Options = DigitsOptions

    def load(self, seed: int) -> RealData:
        """The same split for every ``seed``: the data set is finite."""
        o = self.options
        return _load(o.train_size, o.test_size, o.minority_classes, o.minority_share, o.split_seed)


@lru_cache(maxsize=4)
def _load(
    train_size: int, test_size: int, minority: tuple[int, ...], share: float, split_seed: int
) -> RealData:
    import sklearn
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not set(minority) <= set(range(N_CLASSES)):
        raise DataError(f"digits: minority_classes must be digits 0..9, got {list(minority)}.")
    bunch = load_digits()
    x = (bunch.data / PIXEL_MAX).astype(np.float32)
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(split_seed)
    keep = _long_tail(y, minority, share, rng)
    x, y = x[keep], y[keep]
    if train_size + test_size >= len(y):
        raise DataError(
            f"digits: train_size + test_size = {train_size + test_size} leaves no reserve of the "
            f"{len(y)} images; lower them or raise minority_share."
        )
    idx = np.arange(len(y))
    train_idx, rest = train_test_split(idx, train_size=train_size, stratify=y, random_state=split_seed)
    test_idx, reserve_idx = train_test_split(
        rest, train_size=test_size, stratify=y[rest], random_state=split_seed
    )
    x_train, x_test, x_reserve = (_frozen(x[i]) for i in (train_idx, test_idx, reserve_idx))
    y_train, y_test = _frozen(y[train_idx]), _frozen(y[test_idx])
    counts = np.bincount(y_train, minlength=N_CLASSES)
    rare = sorted(minority) if share < 1 and minority else [int(np.argmin(counts))]
    return RealData(
        train=Samples.real(x_train),
        test=Samples.real(x_test),
        fingerprint=fingerprint_arrays(x_train, y_train, x_test, y_test, x_reserve),
        fresh=_Reserve(x_reserve),
        truth={
            "train_labels": y_train,
            "test_labels": y_test,
            "n_classes": N_CLASSES,
            "minority_classes": rare,
        },
        provenance={
            "dataset": "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits, 8x8)",
            "sklearn": sklearn.__version__,
            "layout": "N×64 float32 in [0, 1]",
            "train_class_counts": counts.tolist(),
            "reserve_size": len(x_reserve),
        },
    )


def _frozen(a: np.ndarray) -> np.ndarray:
    """Read-only: the cached arrays are shared by every chain in the process."""
    a.setflags(write=False)
    return a


def _long_tail(y: np.ndarray, minority: tuple[int, ...], share: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices kept: every image of a majority class, ``share`` of each minority class."""
    keep = []
    for c in range(N_CLASSES):
        members = np.flatnonzero(y == c)
        if c in minority:
            members = np.sort(rng.permutation(members)[: max(1, round(share * len(members)))])
        keep.append(members)
    return np.sort(np.concatenate(keep))


class _Reserve:
    """``fresh(n, rng)``: real images in neither split, without replacement within one call."""

    def __init__(self, pool: np.ndarray) -> None:
        self.pool = pool

    def __call__(self, n: int, rng: np.random.Generator) -> Samples:
        if n > len(self.pool):
            raise DataError(
                f"digits: fresh asked for {n} images but the reserve holds {len(self.pool)}; "
                "lower the fresh fraction or the digits train_size/test_size."
            )
        return Samples.real(self.pool[rng.choice(len(self.pool), n, replace=False)])
