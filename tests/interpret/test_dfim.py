"""DFIM: batched maps equal a naive loop over mutations; window aggregation; plot."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from satori_jax.config import ModelConfig
from satori_jax.data.encoding import one_hot_np
from satori_jax.interpret import dfim, fis, ig
from satori_jax.interpret.activity import conv_activations, filter_thresholds
from satori_jax.models import build_model, conv_offset, init_variables

CFG = ModelConfig(num_filters=8, filter_width=5, num_heads=2, head_dim=4, proj_dim=8, pool_size=2)
L = 24


@pytest.fixture(scope="module")
def setup():
    model = build_model(CFG, 1)
    variables = init_variables(model, jax.random.PRNGKey(0), L)
    codes = np.random.default_rng(0).integers(0, 4, (3, L)).astype(np.uint8)
    codes[0, 3] = 4  # an N: its mutants are C, G, T
    return model, variables, codes


def _naive_map(model, variables, codes, attr, signed=False):
    """Python loops over sequences, positions and mutant bases."""
    n, length = codes.shape
    out = np.zeros((n, length, length), np.float32)
    for i in range(n):
        x = one_hot_np(codes[i : i + 1])
        c0 = attr(x).sum(-1)[0]
        obs = codes[i]
        for s in range(length):
            o = obs[s] if obs[s] < 4 else 0
            best = None
            for g in range(4):
                if g == o:
                    continue
                xm = x.copy()
                xm[0, s] = np.eye(4)[g]
                f = c0 - attr(xm).sum(-1)[0]
                best = f if best is None else np.where(np.abs(f) > np.abs(best), f, best)
            out[i, s] = best if signed else np.abs(best)
    return out


def test_map_equals_naive_loop(setup):
    model, variables, codes = setup
    got = dfim.dfim_map(model, variables, codes, batch_size=2)
    ref = _naive_map(model, variables, codes, lambda x: np.asarray(ig.gradient_x_input(model, variables, x)))
    assert got.shape == (3, L, L)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert got.max() > 0
    signed = dfim.dfim_map(model, variables, codes, batch_size=2, signed=True)
    np.testing.assert_allclose(np.abs(signed), got, atol=1e-6)
    ref_signed = _naive_map(model, variables, codes,
                            lambda x: np.asarray(ig.gradient_x_input(model, variables, x)), signed=True)
    np.testing.assert_allclose(signed, ref_signed, atol=1e-5)


def test_ig_map_equals_naive_loop(setup):
    model, variables, codes = setup
    sub = codes[:2]
    got = dfim.dfim_map(model, variables, sub, method="ig", steps=4, baseline="zeros", batch_size=2,
                        mutant_batch=16)
    ref = _naive_map(model, variables, sub, lambda x: np.asarray(
        ig.integrated_gradients(model, variables, x, baseline="zeros", steps=4)))
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_chunking_and_source_restriction(setup):
    model, variables, codes = setup
    full = dfim.dfim_map(model, variables, codes, batch_size=2)
    np.testing.assert_allclose(dfim.dfim_map(model, variables, codes, batch_size=3, mutant_batch=5), full,
                               atol=1e-6)
    win = dfim.dfim_map(model, variables, codes, window=(5, 11), batch_size=2)
    np.testing.assert_allclose(win, full[:, 5:11], atol=1e-6)
    np.testing.assert_array_equal(dfim.resolve_sources(L, sources=[17, 2, 9, 2]), [2, 9, 17])
    np.testing.assert_array_equal(dfim.resolve_sources(L, window=(20, 99)), [20, 21, 22, 23])
    with pytest.raises(ValueError):
        dfim.dfim_map(model, variables, codes, window=(4, 4))
    with pytest.raises(ValueError):
        dfim.resolve_sources(L, sources=[L])


def _naive_scores(model, variables, codes, thr, full, rows=None):
    off, k, pool = conv_offset(CFG), CFG.filter_width, CFG.pool_size
    conv = conv_activations(model, variables, codes)
    ex, fa, fb, sc, di = [], [], [], [], []
    for i in range(len(codes)):
        inst = fis._instances_np(conv[i], thr, pool, off, k, L)
        for sf, sp, s0, s1 in inst:
            for tf, tp, t0, t1 in inst:
                if sf == tf or abs(sp - tp) < pool:
                    continue
                best = -np.inf
                for s in range(s0, s1):
                    if rows is not None and s not in rows:
                        continue
                    for t in range(t0, t1):
                        if s != t:
                            best = max(best, full[i, s, t])
                if np.isfinite(best):
                    ex.append(i)
                    fa.append(sf)
                    fb.append(tf)
                    sc.append(best)
                    di.append(abs(sp - tp))
    return fis.reduce_pairs(np.array(ex), np.array(fa), np.array(fb), np.array(sc, np.float32),
                            np.array(di), n_examples=len(codes))


def test_scores_aggregate_motif_windows(setup):
    model, variables, codes = setup
    thr = filter_thresholds(model, variables, codes, 0.5)
    full = dfim.dfim_map(model, variables, codes, batch_size=2)
    got = dfim.dfim_scores(model, variables, codes, None, thr, batch_size=2)
    ref = _naive_scores(model, variables, codes, thr, full)
    assert len(got) == len(ref) > 0
    for name in ("example", "filter_a", "filter_b", "distance"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), err_msg=name)
    np.testing.assert_allclose(got.score, ref.score, atol=1e-5)
    # restricted sources: only those rows count
    rows = set(range(6, 16))
    part = dfim.dfim_scores(model, variables, codes, None, thr, window=(6, 16), batch_size=2)
    ref_part = _naive_scores(model, variables, codes, thr, full, rows)
    np.testing.assert_allclose(part.score, ref_part.score, atol=1e-5)
    np.testing.assert_array_equal(part.filter_b, ref_part.filter_b)


def test_one_compile_across_chunks(setup):
    model, variables, codes = setup
    dfim.dfim_map(model, variables, codes, batch_size=2)
    before = dfim._dfim_chunk._cache_size()
    dfim.dfim_map(model, variables, np.concatenate([codes, codes]), batch_size=2)
    assert dfim._dfim_chunk._cache_size() == before


def test_plot_writes_png(setup, tmp_path):
    pytest.importorskip("matplotlib")
    model, variables, codes = setup
    m = dfim.dfim_map(model, variables, codes, window=(5, 11), batch_size=2)[0]
    out = dfim.plot_dfim(m, tmp_path / "dfim.png", sources=np.arange(5, 11), instances=[(4, 9, "f1")])
    assert out.exists() and out.read_bytes()[:4] == b"\x89PNG"


def test_scores_compute_only_sources_inside_instance_windows(setup, monkeypatch):
    """Pair scores need only the mutants of positions inside some instance window: with few
    instances, fewer rows than every position's mutants, and the same scores as the naive loop."""
    model, variables, codes = setup
    conv = np.asarray(conv_activations(model, variables, codes))
    high = np.quantile(conv.reshape(-1, conv.shape[-1]), 0.95, axis=0).astype(np.float32)
    off, k, pool = conv_offset(CFG), CFG.filter_width, CFG.pool_size
    cover = 0
    for c in conv:
        m = np.zeros(L, bool)
        for _, _, s0, s1 in fis._instances_np(c, high, pool, off, k, L):
            m[s0:s1] = True
        cover += int(m.sum())
    assert 0 < cover < len(codes) * L
    rows = []
    orig = dfim._dfim_rows

    def count(*a, **kw):
        rows.append(int((np.asarray(a[4]) >= 0).sum()))  # mutant rows (the padding repeats row 0)
        return orig(*a, **kw)

    monkeypatch.setattr(dfim, "_dfim_rows", count)
    got = dfim.dfim_scores(model, variables, codes, None, high, batch_size=8)
    assert len(rows) == 1 and 3 + 3 * cover <= 8 * dfim.ROWS_PER_BATCH_ITEM
    assert sum(rows) == 3 * cover  # one block: each covered position's three mutants, once
    full = dfim.dfim_map(model, variables, codes, batch_size=2)
    ref = _naive_scores(model, variables, codes, high, full)
    assert len(got) == len(ref) > 0
    np.testing.assert_array_equal(got.filter_b, ref.filter_b)
    np.testing.assert_allclose(got.score, ref.score, atol=1e-5)


def test_verbose_is_one_progress_bar_with_the_same_scores(setup, capsys):
    """``verbose``: one progress bar on stderr (not a line per block of mutants); scores unchanged."""
    model, variables, codes = setup
    thr = filter_thresholds(model, variables, codes, 0.5)
    quiet = dfim.dfim_scores(model, variables, codes, None, thr, batch_size=1)
    capsys.readouterr()
    loud = dfim.dfim_scores(model, variables, codes, None, thr, batch_size=1, verbose=True)
    err = capsys.readouterr().err
    np.testing.assert_array_equal(quiet.score, loud.score)
    assert f"dfim: {len(codes)} sequences" in err and err.count("\n") <= 2
