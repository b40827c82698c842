from __future__ import annotations

import numpy as np
import pytest

from satori_jax.config import DataConfig
from satori_jax.data.io import Dataset
from satori_jax.data.splits import chrom_split, make_splits, random_split, read_splits, write_splits
from satori_jax.errors import InputError


def check_partition(splits, n):
    allidx = np.concatenate([splits["train"], splits["val"], splits["test"]])
    assert len(allidx) == n and len(np.unique(allidx)) == n
    assert set(allidx.tolist()) == set(range(n))
    for idx in splits.values():
        assert (np.diff(idx) > 0).all()


def test_random_split_deterministic_disjoint_covering():
    a = random_split(1000, seed=3)
    b = random_split(1000, seed=3)
    for k in ("train", "val", "test"):
        np.testing.assert_array_equal(a[k], b[k])
    check_partition(a, 1000)
    assert len(a["train"]) == 800 and len(a["val"]) == 100 and len(a["test"]) == 100
    c = random_split(1000, seed=4)
    assert not np.array_equal(a["test"], c["test"])


def test_random_split_fractions_and_small_n():
    s = random_split(10, seed=0, val_fraction=0.2, test_fraction=0.3)
    assert (len(s["train"]), len(s["val"]), len(s["test"])) == (5, 2, 3)
    s = random_split(5, seed=0)
    assert len(s["val"]) == 1 and len(s["test"]) == 1
    check_partition(s, 5)
    s = random_split(50, seed=0, val_fraction=0.0, test_fraction=0.2)
    assert len(s["val"]) == 0
    s = random_split(2, seed=0)
    assert s["train"].tolist() == [0, 1]
    with pytest.raises(InputError, match="too few examples"):
        random_split(4, seed=0, val_fraction=0.45, test_fraction=0.45)
    with pytest.raises(InputError):
        random_split(100, seed=0, val_fraction=0.6, test_fraction=0.5)


def test_chrom_split():
    chroms = np.array(["chr1", "chr2", "chr3", "chr1", "chr2", "chr4"])
    s = chrom_split(chroms, ["chr2"], ["chr3", "chr4"])
    np.testing.assert_array_equal(s["train"], [0, 3])
    np.testing.assert_array_equal(s["val"], [1, 4])
    np.testing.assert_array_equal(s["test"], [2, 5])
    with pytest.raises(InputError, match="chrX.*not in the data"):
        chrom_split(chroms, ["chrX"], ["chr3"])
    with pytest.raises(InputError, match="val split is empty"):
        chrom_split(chroms, [], ["chr3"])
    with pytest.raises(InputError, match="train split is empty"):
        chrom_split(chroms, ["chr1", "chr2"], ["chr3", "chr4"])
    with pytest.raises(InputError, match="share chr2"):
        chrom_split(chroms, ["chr2"], ["chr2"])


def make_ds(ids, chroms=None):
    n = len(ids)
    return Dataset(ids=ids, codes=np.zeros((n, 4), np.uint8), labels=np.zeros((n, 1), np.float32),
                   label_names=["A"], chroms=chroms, source={"fasta": "x.fa"})


def test_make_splits():
    ds = make_ds([f"s{i}" for i in range(20)])
    s = make_splits(ds, DataConfig(seed=1))
    r = random_split(20, 1)
    for k in r:
        np.testing.assert_array_equal(s[k], r[k])
    with pytest.raises(InputError, match="x.fa.*chromosome information"):
        make_splits(ds, DataConfig(split="chrom", val_chroms=("chr1",), test_chroms=("chr2",)))
    ds = make_ds(["a", "b", "c"], np.array(["chr1", "chr2", "chr3"]))
    s = make_splits(ds, DataConfig(split="chrom", val_chroms=("chr2",), test_chroms=("chr3",)))
    assert s["train"].tolist() == [0] and s["val"].tolist() == [1] and s["test"].tolist() == [2]


def test_write_read_splits(tmp_path):
    ids = ["a", "b", "c", "d"]
    splits = {"train": np.array([0, 3]), "val": np.array([2]), "test": np.array([1])}
    p = tmp_path / "splits.tsv"
    write_splits(p, ids, splits)
    assert p.read_text() == "id\tsplit\na\ttrain\nb\ttest\nc\tval\nd\ttrain\n"
    back = read_splits(p, ids)
    for k in splits:
        np.testing.assert_array_equal(back[k], np.sort(splits[k]))
    with pytest.raises(InputError, match="splits.tsv: record d: id not in the dataset"):
        read_splits(p, ["a", "b", "c"])
