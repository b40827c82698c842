from __future__ import annotations

import jax
import numpy as np

from satori_jax.config import ModelConfig
from satori_jax.data.shuffle import (
    dinucleotide_counts,
    dinucleotide_shuffle,
    embed_instances,
    shuffled_background,
)
from satori_jax.interpret.activity import filter_thresholds
from satori_jax.models import build_model, init_variables


def test_shuffle_preserves_dinucleotides_exactly():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (200, 60)).astype(np.uint8)
    codes[:20, 10:18] = 4  # runs of N
    codes[20:40, rng.integers(0, 60, 5)] = 4  # scattered N
    codes[40:45] = np.tile(np.array([0, 1], np.uint8), 30)  # low complexity
    codes[45] = 2  # homopolymer
    out = dinucleotide_shuffle(codes, rng)
    assert out.shape == codes.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(dinucleotide_counts(out), dinucleotide_counts(codes))
    np.testing.assert_array_equal(out[:, 0], codes[:, 0])
    np.testing.assert_array_equal(out[:, -1], codes[:, -1])
    differs = (out != codes).any(axis=1)
    assert differs[50:].all()  # random sequences always change
    np.testing.assert_array_equal(out[45], codes[45])


def test_shuffle_is_random_and_reproducible():
    codes = np.random.default_rng(1).integers(0, 4, (3, 40)).astype(np.uint8)
    a = dinucleotide_shuffle(codes, np.random.default_rng(5))
    b = dinucleotide_shuffle(codes, np.random.default_rng(5))
    c = dinucleotide_shuffle(codes, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_shuffle_is_uniform_over_valid_sequences():
    # enumerate every sequence with the same dinucleotide counts (brute force) and check that the
    # shuffle hits all of them about equally often
    import itertools

    seq = np.array([0, 1, 2, 0, 1, 3, 0, 1, 0, 2], np.uint8)
    want = dinucleotide_counts(seq[None])[0]
    valid = {p for p in set(itertools.permutations(seq.tolist()))
             if (dinucleotide_counts(np.array([p]))[0] == want).all()}
    assert len(valid) > 2
    out = dinucleotide_shuffle(np.tile(seq, (6000, 1)), np.random.default_rng(2))
    seen = {}
    for r in out:
        seen[tuple(r.tolist())] = seen.get(tuple(r.tolist()), 0) + 1
    assert set(seen) == valid
    expected = len(out) / len(valid)
    chi2 = sum((c - expected) ** 2 / expected for c in seen.values())
    assert chi2 < 3 * len(valid) + 20  # loose goodness of fit (df = len(valid) - 1)


def test_embed_instances_copies_real_kmers():
    rng = np.random.default_rng(3)
    fg = rng.integers(0, 4, (10, 30)).astype(np.uint8)
    present = np.zeros((10, 2), bool)
    present[:, 0] = True  # rate 1 for filter 0, 0 for filter 1
    has = present.copy()
    start = np.zeros((10, 2), np.int64)
    start[:, 0] = 3
    bg = np.full((50, 30), 4, np.uint8)
    out = embed_instances(bg, fg, present, has, start, 5, rng)
    kmers = {r.tobytes() for r in fg[:, 3:8]}
    for row in out:
        pos = np.flatnonzero(row != 4)
        assert pos.size == 5 and np.all(np.diff(pos) == 1)
        assert row[pos].tobytes() in kmers


def test_shuffled_background_runs():
    cfg = ModelConfig(num_filters=8, filter_width=5, num_heads=2, head_dim=8, proj_dim=16)
    model = build_model(cfg, 2)
    variables = init_variables(model, jax.random.PRNGKey(0), 40)
    codes = np.random.default_rng(0).integers(0, 4, (12, 40)).astype(np.uint8)
    thr = filter_thresholds(model, variables, codes, 0.65, batch_size=5)
    out = shuffled_background(model, variables, codes, thr, np.random.default_rng(0), batch_size=5)
    assert out.shape == codes.shape and out.dtype == np.uint8 and out.max() <= 4
