from __future__ import annotations

import numpy as np
import pytest

from satori_jax.data.encoding import reverse_complement
from satori_jax.data.pipeline import batch_iterator, num_batches, rc_flags

N, L, C, B = 37, 6, 2, 8


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, size=(N, L)).astype(np.uint8)
    codes[:, 0] = np.arange(N) % 4  # not palindromic in general
    labels = np.stack([np.arange(N), -np.arange(N)], axis=1).astype(np.float32)  # row id in labels
    return codes, labels


def epoch(codes, labels, **kw):
    return list(batch_iterator(codes, labels, B, **kw))


def real_ids(batches):
    return np.concatenate([b["y"][b["mask"] > 0, 0] for b in batches]).astype(int)


def test_num_batches():
    assert num_batches(37, 8) == 5 and num_batches(32, 8) == 4 and num_batches(0, 8) == 0
    with pytest.raises(ValueError):
        num_batches(10, 0)


@pytest.mark.parametrize("shuffle", [False, True])
def test_fixed_shapes_mask_and_coverage(data, shuffle):
    codes, labels = data
    batches = epoch(codes, labels, shuffle=shuffle, seed=0)
    assert len(batches) == num_batches(N, B)
    for b in batches:
        assert b["x"].shape == (B, L) and b["x"].dtype == np.uint8
        assert b["y"].shape == (B, C) and b["y"].dtype == np.float32
        assert b["mask"].shape == (B,) and b["mask"].dtype == np.float32
    assert sum(b["mask"].sum() for b in batches) == N
    last = batches[-1]
    pad = last["mask"] == 0
    assert pad.sum() == num_batches(N, B) * B - N
    assert (last["x"][pad] == 0).all() and (last["y"][pad] == 0).all()
    ids = real_ids(batches)
    assert sorted(ids.tolist()) == list(range(N))
    if not shuffle:
        assert ids.tolist() == list(range(N))
    for b in batches:  # rows are the examples named by their labels
        m = b["mask"] > 0
        np.testing.assert_array_equal(b["x"][m], codes[b["y"][m, 0].astype(int)])


def test_shuffle_deterministic_per_epoch(data):
    codes, labels = data
    e0 = real_ids(epoch(codes, labels, shuffle=True, seed=5, epoch=0))
    e0b = real_ids(epoch(codes, labels, shuffle=True, seed=5, epoch=0))
    e1 = real_ids(epoch(codes, labels, shuffle=True, seed=5, epoch=1))
    other = real_ids(epoch(codes, labels, shuffle=True, seed=6, epoch=0))
    np.testing.assert_array_equal(e0, e0b)
    assert not np.array_equal(e0, e1)
    assert not np.array_equal(e0, other)
    assert not np.array_equal(e0, np.arange(N))


def test_rc_augment(data):
    codes, labels = data
    flags = rc_flags(N, seed=2, epoch=3)
    assert 0 < flags.sum() < N
    np.testing.assert_array_equal(flags, rc_flags(N, seed=2, epoch=3))
    assert not np.array_equal(flags, rc_flags(N, seed=2, epoch=4))
    batches = epoch(codes, labels, shuffle=True, seed=2, epoch=3, rc_augment=True)
    seen = 0
    for b in batches:
        for row, yid, m in zip(b["x"], b["y"][:, 0].astype(int), b["mask"], strict=True):
            if not m:
                continue
            want = reverse_complement(codes[yid]) if flags[yid] else codes[yid]
            np.testing.assert_array_equal(row, want)
            seen += 1
    assert seen == N
    # augmentation does not modify the source array
    again = epoch(codes, labels, shuffle=True, seed=2, epoch=3, rc_augment=False)
    np.testing.assert_array_equal(real_ids(again), real_ids(batches))


def test_labels_1d_and_empty():
    codes = np.zeros((3, 4), np.uint8)
    batches = list(batch_iterator(codes, np.array([1, 0, 1]), 2, shuffle=False, seed=0))
    assert batches[0]["y"].shape == (2, 1)
    assert list(batch_iterator(np.zeros((0, 4), np.uint8), np.zeros((0, 1)), 2, shuffle=True, seed=0)) == []


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("shards", [2, 4])
def test_process_shards_split_every_global_batch(data, shuffle, shards):
    """Each shard yields B / shards rows per batch; concatenated in shard order they are the
    one-process batch row for row (examples, reverse-complement flips, padding)."""
    codes, labels = data
    kw = dict(shuffle=shuffle, seed=5, epoch=1, rc_augment=True)
    whole = epoch(codes, labels, **kw)
    parts = [epoch(codes, labels, shard_index=i, shard_count=shards, **kw) for i in range(shards)]
    assert all(len(p) == len(whole) for p in parts)
    for b, one in enumerate(whole):
        local = [p[b] for p in parts]
        assert all(x["x"].shape == (B // shards, L) and x["mask"].shape == (B // shards,) for x in local)
        for key in ("x", "y", "mask"):
            np.testing.assert_array_equal(np.concatenate([x[key] for x in local]), one[key])
    # the shards are disjoint: every example exactly once over the epoch
    ids = np.concatenate([real_ids(p) for p in parts])
    assert sorted(ids.tolist()) == list(range(N))


def test_bad_shards(data):
    codes, labels = data
    with pytest.raises(ValueError, match="multiple"):
        epoch(codes, labels, shuffle=True, seed=0, shard_index=0, shard_count=3)
    with pytest.raises(ValueError, match="bad shard"):
        epoch(codes, labels, shuffle=True, seed=0, shard_index=2, shard_count=2)
