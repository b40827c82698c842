"""Motif-resolution FIS: batched vjp equals the naive per-source loop; masks and chunking."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from satori_jax.config import ModelConfig
from satori_jax.interpret import fis
from satori_jax.interpret.activity import conv_activations, filter_thresholds
from satori_jax.models import build_model, conv_offset, init_variables

CFG = ModelConfig(num_filters=8, filter_width=5, num_heads=2, head_dim=4, proj_dim=8, pool_size=2)
L = 32


@pytest.fixture(scope="module")
def setup():
    model = build_model(CFG, 1)
    variables = init_variables(model, jax.random.PRNGKey(0), L)
    codes = np.random.default_rng(0).integers(0, 4, (5, L)).astype(np.uint8)
    codes[1, 7] = 4
    thr = filter_thresholds(model, variables, codes, 0.5)
    return model, variables, codes, thr


def _assert_same(a, b, atol=1e-5):
    assert len(a) == len(b) > 0
    assert a.n_examples == b.n_examples
    for name in ("example", "filter_a", "filter_b", "distance"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_allclose(a.score, b.score, atol=atol)


def test_batched_equals_loop(setup):
    model, variables, codes, thr = setup
    batched = fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=2)
    loop = fis.fis_scores_loop(model, variables, codes, None, thr, steps=6)
    _assert_same(batched, loop)
    assert (batched.filter_a < batched.filter_b).all()
    assert (batched.distance >= CFG.pool_size).all()
    assert (batched.score >= 0).all() and batched.score.max() > 0


def test_batched_equals_loop_multilabel_zeros_fixed_gc():
    model = build_model(CFG, 3)
    variables = init_variables(model, jax.random.PRNGKey(2), 24)
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, (3, 24)).astype(np.uint8)
    targets = rng.random((3, 3)) > 0.4
    thr = filter_thresholds(model, variables, codes, 0.5)
    kw = {"baseline": "zeros", "gc": 0.46}  # gc sets the mutation probabilities
    a = fis.fis_scores(model, variables, codes, targets, thr, steps=4, batch_size=3, **kw)
    b = fis.fis_scores_loop(model, variables, codes, targets, thr, steps=4, **kw)
    _assert_same(a, b)


def test_chunk_size_and_padding_do_not_change_results(setup):
    model, variables, codes, thr = setup
    ref = fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=len(codes))
    for bs in (2, 3):  # both pad the last chunk with masked sequences
        _assert_same(fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=bs), ref, 1e-6)
    # rows differentiated all at once (accelerator setting) or a few at a time (CPU default)
    _assert_same(fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=2, row_batch=None),
                 ref, 1e-6)
    # padded source slots: cap at the largest instance count (fewest pad slots) vs every pooled position
    conv = conv_activations(model, variables, codes)
    n_inst = max(len(fis._instances_np(c, thr, CFG.pool_size, conv_offset(CFG), CFG.filter_width, L))
                 for c in conv)
    _assert_same(fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=2,
                                max_sources=n_inst), ref, 1e-6)


def test_max_sources_cap_matches_loop(setup):
    model, variables, codes, thr = setup
    a = fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=2, max_sources=2)
    b = fis.fis_scores_loop(model, variables, codes, None, thr, steps=6, max_sources=2)
    _assert_same(a, b)
    full = fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=2)
    assert len(a) <= len(full)


def test_masked_sequences_contribute_nothing(setup):
    model, variables, codes, thr = setup
    # no instance at all when no filter can reach its threshold
    high = np.full_like(thr, 1e9)
    empty = fis.fis_scores(model, variables, codes, None, high, steps=6, batch_size=2)
    assert len(empty) == 0 and empty.n_examples == len(codes)
    sub = fis.fis_scores(model, variables, codes[:3], None, thr, steps=6, batch_size=2)
    full = fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=2)
    keep = full.example < 3
    np.testing.assert_allclose(sub.score, full.score[keep], atol=1e-6)
    np.testing.assert_array_equal(sub.distance, full.distance[keep])


def test_one_compile_across_chunks(setup):
    model, variables, codes, thr = setup
    fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=2)  # compile
    before = fis._fis_rows._cache_size()
    fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=2)  # several blocks, last padded
    assert fis._fis_rows._cache_size() == before
    fis.fis_scores(model, variables, codes[:4], None, thr, steps=6, batch_size=2)
    assert fis._fis_rows._cache_size() == before


def test_reduce_pairs_keeps_max_and_smaller_distance_on_ties():
    out = fis.reduce_pairs(np.array([0, 0, 0, 1]), np.array([3, 1, 1, 2]), np.array([1, 3, 3, 0]),
                           np.array([0.5, 0.9, 0.9, 0.1]), np.array([4, 9, 6, 2]), n_examples=2)
    np.testing.assert_array_equal(out.example, [0, 1])
    np.testing.assert_array_equal(out.filter_a, [1, 0])
    np.testing.assert_array_equal(out.filter_b, [3, 2])
    np.testing.assert_allclose(out.score, [0.9, 0.1])
    np.testing.assert_array_equal(out.distance, [6, 2])


def test_only_existing_variants_are_computed(setup, monkeypatch):
    """Rows are the originals and their instances, packed across sequences in fixed blocks: fewer
    calls than ``1 + L'`` rows (every pooled slot) per sequence would take."""
    model, variables, codes, _ = setup
    conv = np.asarray(conv_activations(model, variables, codes))
    high = np.quantile(conv.reshape(-1, conv.shape[-1]), 0.97, axis=0).astype(np.float32)  # few instances
    n_inst = [len(fis._instances_np(c, high, CFG.pool_size, conv_offset(CFG), CFG.filter_width, L))
              for c in conv]
    lp = L // CFG.pool_size
    assert 0 < sum(n_inst) < len(codes) * lp / 2
    calls = []
    orig = fis._fis_rows

    def count(*a, **k):
        calls.append(a[2].shape[0])
        return orig(*a, **k)

    monkeypatch.setattr(fis, "_fis_rows", count)
    got = fis.fis_scores(model, variables, codes, None, high, steps=4, batch_size=1)
    rows = len(codes) + sum(n_inst)  # each original and each of its sources
    per = fis.ROWS_PER_BATCH_ITEM
    assert calls == [per] * -(-rows // per)  # fixed-size blocks, none beyond the rows needed
    assert len(calls) < len(codes) * (1 + lp) / per  # fewer than with every slot of every sequence
    _assert_same(got, fis.fis_scores_loop(model, variables, codes, None, high, steps=4), 1e-5)


def test_verbose_is_one_progress_bar_with_the_same_scores(setup, capsys):
    """``verbose``: one progress bar on stderr (not a line per block of rows); scores unchanged."""
    model, variables, codes, thr = setup
    quiet = fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=1)
    capsys.readouterr()
    loud = fis.fis_scores(model, variables, codes, None, thr, steps=6, batch_size=1, verbose=True)
    err = capsys.readouterr().err
    _assert_same(quiet, loud, atol=0)
    assert "fis: 5 sequences" in err and err.count("\n") <= 2  # tqdm redraws with \r
