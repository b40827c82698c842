from __future__ import annotations

import jax
import numpy as np
import pytest

from satori_jax.config import ModelConfig
from satori_jax.interpret.activity import filter_thresholds
from satori_jax.interpret.attention import raw_scorer
from satori_jax.interpret.interactions import (
    PairScores,
    pair_maxima,
    pair_scores,
    pairs_from_maps,
    score_examples,
)
from satori_jax.models import build_model, init_variables


def naive_pair_maxima(s, act):
    b, lp, f = act.shape
    best = np.full((b, f, f), -np.inf, np.float32)
    dist = np.zeros((b, f, f), np.int32)
    for e in range(b):
        for a in range(f):
            for c in range(f):
                if a == c:
                    continue
                for i in range(lp):
                    for j in range(lp):
                        if i != j and act[e, i, a] and act[e, j, c] and s[e, i, j] > best[e, a, c]:
                            best[e, a, c] = s[e, i, j]
                            dist[e, a, c] = abs(i - j)
    return best, dist


def test_pair_maxima_matches_naive_loop():
    rng = np.random.default_rng(1)
    s = rng.random((5, 9, 9)).astype(np.float32)
    act = rng.random((5, 9, 6)) < 0.3
    best, dist = (np.asarray(x) for x in pair_maxima(s, act))
    nb, nd = naive_pair_maxima(s, act)
    np.testing.assert_array_equal(best, nb)
    fin = np.isfinite(nb)
    assert fin.any() and (~fin).any()
    np.testing.assert_array_equal(dist[fin], nd[fin])


def test_unordered_symmetrization():
    rng = np.random.default_rng(2)
    s = rng.random((4, 8, 8)).astype(np.float32)
    act = rng.random((4, 8, 5)) < 0.35
    nb, nd = naive_pair_maxima(s, act)
    best, dist = (np.asarray(x) for x in pair_scores(s, act))
    np.testing.assert_array_equal(best, np.swapaxes(best, 1, 2))
    np.testing.assert_array_equal(best, np.maximum(nb, np.swapaxes(nb, 1, 2)))
    want_d = np.where(nb >= np.swapaxes(nb, 1, 2), nd, np.swapaxes(nd, 1, 2))
    fin = np.isfinite(best)
    np.testing.assert_array_equal(dist[fin], want_d[fin])


def test_hand_built_scores_and_distances():
    # L' = 6, 3 filters; filter 0 at 1 and 2, filter 1 at 4, filter 2 at 2 and 5
    lp, f = 6, 3
    act = np.zeros((1, lp, f), bool)
    act[0, 1, 0] = act[0, 2, 0] = True
    act[0, 4, 1] = True
    act[0, 2, 2] = act[0, 5, 2] = True
    s = np.full((1, lp, lp), 0.01, np.float32)
    s[0, 1, 4] = 0.9  # 0 -> 1 at distance 3
    s[0, 4, 1] = 0.2
    s[0, 5, 4] = 0.5  # 2 (at 5) -> 1 (at 4): distance 1
    s[0, 2, 2] = 5.0  # diagonal never counts (0 and 2 both at 2)
    s[0, 1, 5] = 0.3  # 0 -> 2 at distance 4
    ps = pairs_from_maps(s, act, pool_size=4)
    got = {(int(a), int(b)): (float(sc), int(d)) for a, b, sc, d in
           zip(ps.filter_a, ps.filter_b, ps.score, ps.distance, strict=True)}
    assert got[(0, 1)] == (pytest.approx(0.9), 12)
    assert got[(1, 2)] == (pytest.approx(0.5), 4)
    assert got[(0, 2)] == (pytest.approx(0.3), 16)
    assert len(got) == 3 and ps.n_examples == 1
    # an example with a single active filter observes nothing
    act2 = np.zeros((1, lp, f), bool)
    act2[0, [0, 3], 1] = True
    assert len(pairs_from_maps(s, act2, pool_size=4)) == 0


def test_pairs_from_maps_iterable_equals_array():
    rng = np.random.default_rng(3)
    s = rng.random((10, 7, 7)).astype(np.float32)
    act = rng.random((10, 7, 4)) < 0.4
    a = pairs_from_maps(s, act, 2, batch_size=3)
    b = pairs_from_maps([s[:4], s[4:]], [act[:4], act[4:]], 2)
    for k in ("example", "filter_a", "filter_b", "score", "distance"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    dense, _ = a.to_dense(4)
    nb, _ = naive_pair_maxima(s, act)
    np.testing.assert_array_equal(dense, np.maximum(nb, np.swapaxes(nb, 1, 2)))


def test_concat_offsets_examples():
    a = PairScores(np.array([0, 1], np.int32), np.array([0, 1], np.int32), np.array([2, 3], np.int32),
                   np.array([.1, .2], np.float32), np.array([4, 8], np.int32), 3)
    c = PairScores.concat([a, a])
    np.testing.assert_array_equal(c.example, [0, 1, 3, 4])
    assert c.n_examples == 6 and c.num_pairs() == 2 and len(c) == 4


def test_chunking_does_not_change_scores():
    cfg = ModelConfig(num_filters=8, filter_width=5, num_heads=2, head_dim=8, proj_dim=16)
    model = build_model(cfg, 1)
    variables = init_variables(model, jax.random.PRNGKey(0), 40)
    codes = np.random.default_rng(0).integers(0, 5, (23, 40)).astype(np.uint8)
    thr = filter_thresholds(model, variables, codes, 0.5, batch_size=7)
    thr_full = filter_thresholds(model, variables, codes, 0.5, batch_size=64)
    np.testing.assert_allclose(thr, thr_full, rtol=1e-6)
    a = score_examples(raw_scorer(model), model, variables, codes, None, thr, batch_size=5)
    b = score_examples(raw_scorer(model), model, variables, codes, None, thr, batch_size=23)
    assert len(a) > 0 and a.n_examples == b.n_examples == 23
    for k in ("example", "filter_a", "filter_b", "distance"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    np.testing.assert_allclose(a.score, b.score, rtol=1e-5)
    assert (a.filter_a < a.filter_b).all() and (a.distance % cfg.pool_size == 0).all()


@pytest.mark.parametrize("ties", [False, True])
def test_host_pairing_equals_device_pairing(ties, monkeypatch):
    """The CPU path (host_pairs, active entries only) gives the dense device path's entries bit for bit:
    same pairs, scores, maximiser distances (ties included) and order."""
    from satori_jax.interpret import interactions as I

    rng = np.random.default_rng(7 + ties)
    s = rng.random((9, 11, 11)).astype(np.float32)
    if ties:  # few distinct values: many equal maxima, so the arg-max rules decide the distances
        s = (np.round(s * 3) / 3).astype(np.float32)
    act = rng.random((9, 11, 7)) < 0.3
    act[2] = False  # an example with nothing active
    act[3, :, :] = False
    act[3, 4, :2] = True  # two filters active at the same position only: no pair
    got = {}
    for host in (False, True):
        monkeypatch.setattr(I, "HOST_PAIRING", host)
        got[host] = (I.pairs_from_maps(s, act, 4, batch_size=4),
                     I.pairs_from_maps([s[:5], s[5:]], [act[:5], act[5:]], 4))
    for a, b in zip(got[False], got[True], strict=True):
        assert len(a) > 0
        for k in ("example", "filter_a", "filter_b", "score", "distance"):
            x, y = getattr(a, k), getattr(b, k)
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
    assert not (got[True][0].example == 3).any() and not (got[True][0].example == 2).any()
    nb, _ = naive_pair_maxima(s, act)
    dense, _ = got[True][0].to_dense(7)
    np.testing.assert_array_equal(dense, np.maximum(nb, np.swapaxes(nb, 1, 2)))


def test_score_examples_host_equals_device(monkeypatch):
    from satori_jax.interpret import interactions as I

    cfg = ModelConfig(num_filters=8, filter_width=5, num_heads=2, head_dim=8, proj_dim=16)
    model = build_model(cfg, 1)
    variables = init_variables(model, jax.random.PRNGKey(1), 40)
    codes = np.random.default_rng(1).integers(0, 5, (13, 40)).astype(np.uint8)
    thr = filter_thresholds(model, variables, codes, 0.5, batch_size=64)
    got = {}
    for host in (False, True):
        monkeypatch.setattr(I, "HOST_PAIRING", host)
        got[host] = score_examples(raw_scorer(model), model, variables, codes, None, thr, batch_size=5)
    assert len(got[True]) > 0 and got[True].n_examples == got[False].n_examples == 13
    for k in ("example", "filter_a", "filter_b", "score", "distance"):
        np.testing.assert_array_equal(getattr(got[False], k), getattr(got[True], k))
