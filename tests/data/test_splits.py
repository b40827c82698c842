from __future__ import annotations

import numpy as np
import pytest

from satori_jax.config import DataConfig
from satori_jax.data.datasets import Dataset
from satori_jax.data.splits import (
    chrom_split,
    group_split,
    make_splits,
    random_split,
    read_groups,
    read_splits,
    write_splits,
)
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


def _group_of(splits, groups):
    where = {}
    for name, idx in splits.items():
        for g in np.asarray(groups)[idx].tolist():
            assert where.setdefault(g, name) == name, f"group {g} in two splits"
    return where


def test_group_split_keeps_groups_whole_and_proportions():
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 5, size=700)  # 700 groups of 1-4 examples
    groups = np.repeat(np.arange(700), sizes)[rng.permutation(sizes.sum())]
    n = len(groups)
    s = group_split(groups, seed=2, val_fraction=0.1, test_fraction=0.2)
    check_partition(s, n)
    _group_of(s, groups)
    assert abs(len(s["test"]) - 0.2 * n) <= 4 and abs(len(s["val"]) - 0.1 * n) <= 4
    again = group_split(groups, seed=2, val_fraction=0.1, test_fraction=0.2)
    assert all((again[k] == s[k]).all() for k in s)
    assert not (group_split(groups, seed=3)["test"].tolist() == group_split(groups, seed=2)["test"].tolist())
    # twins (pairs): exact 20 % of 1000 examples
    twins = np.repeat(np.arange(500), 2)
    s = group_split(twins, seed=0, val_fraction=0.1, test_fraction=0.2)
    assert [len(s[k]) for k in ("train", "val", "test")] == [700, 100, 200]
    # every held-out split gets a group when there are >= 3 groups; too few groups is an error
    s = group_split(["a", "a", "a", "a", "b", "c"], seed=0, val_fraction=0.05, test_fraction=0.05)
    assert [len(s[k]) > 0 for k in ("train", "val", "test")] == [True, True, True]
    _group_of(s, ["a", "a", "a", "a", "b", "c"])
    with pytest.raises(InputError, match="too few groups"):
        group_split(["a", "b"], seed=0, val_fraction=0.4, test_fraction=0.4)


def test_read_groups_and_make_splits_with_groups(tmp_path):
    ids = [f"s{i}" for i in range(40)]
    p = tmp_path / "g.tsv"
    p.write_text("id\tgroup\n" + "".join(f"s{i}\tg{i // 4}\n" for i in range(36)))  # s36-s39 ungrouped
    groups = read_groups(p, ids)
    assert groups[:5].tolist() == ["g0", "g0", "g0", "g0", "g1"] and len(set(groups[36:].tolist())) == 4
    ds = make_ds(ids)
    s = make_splits(ds, DataConfig(seed=1, groups=str(p), val_fraction=0.2, test_fraction=0.2))
    check_partition(s, 40)
    _group_of(s, groups)
    ds.groups = groups  # as loaded from a dataset directory's groups.tsv
    assert all((make_splits(ds, DataConfig(seed=1, val_fraction=0.2, test_fraction=0.2))[k] == s[k]).all()
               for k in s)
    plain = make_splits(ds, DataConfig(seed=1, groups="none"))  # groups ignored
    r = random_split(40, 1)
    assert all((plain[k] == r[k]).all() for k in r)
    p.write_text("s1\tg0\nzz\tg1\n")
    with pytest.raises(InputError, match="g.tsv: record zz: id not in the dataset"):
        read_groups(p, ids)
    p.write_text("s1\tg0\ns1\tg1\n")
    with pytest.raises(InputError, match="id given twice"):
        read_groups(p, ids)
    p.write_text("s1 g0\n")
    with pytest.raises(InputError, match="line 1: expected id<TAB>group"):
        read_groups(p, ids)
