from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from satori_jax.interpret.interactions import PairScores
from satori_jax.interpret.stats import (
    benjamini_hochberg,
    distance_summary,
    grouped_median,
    mann_whitney_greater,
    p_greater_than_zeros,
)
from satori_jax.interpret.stats import (
    test_pairs as run_test_pairs,
)


def test_mann_whitney_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    g = 40
    n1 = rng.integers(1, 30, g)
    n2 = rng.integers(1, 30, g)
    fg_grp = np.repeat(np.arange(g), n1)
    bg_grp = np.repeat(np.arange(g), n2)
    # coarse values -> many ties; some groups shifted up
    shift = (np.arange(g) % 3 == 0) * 2
    fg = (rng.integers(0, 6, fg_grp.size) + shift[fg_grp]).astype(np.float32) / 4
    bg = rng.integers(0, 6, bg_grp.size).astype(np.float32) / 4
    perm1, perm2 = rng.permutation(fg.size), rng.permutation(bg.size)
    u, p, m1, m2 = mann_whitney_greater(fg[perm1], fg_grp[perm1], bg[perm2], bg_grp[perm2], g)
    for k in range(g):
        ref = mannwhitneyu(fg[fg_grp == k].astype(np.float64), bg[bg_grp == k].astype(np.float64),
                           alternative="greater", method="asymptotic",
                           use_continuity=True)
        assert u[k] == pytest.approx(ref.statistic, abs=1e-9)
        assert p[k] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-15)
    np.testing.assert_array_equal(m1, n1)
    np.testing.assert_array_equal(m2, n2)


def test_mann_whitney_extra_zeros_equal_repeats_and_empty_groups():
    rng = np.random.default_rng(1)
    fg = rng.random(30).astype(np.float32)
    fg[:5] = 0  # ties with the zeros
    fg_grp = np.repeat([0, 2, 3], 10)
    bg = np.array([0.0, 0.3, 0.5], np.float32)
    bg_grp = np.array([2, 2, 3])
    zeros = np.array([7, 0, 4, 0])
    u, p, _, n2 = mann_whitney_greater(fg, fg_grp, bg, bg_grp, 4, bg_zeros=zeros)
    rep = np.concatenate([bg, np.zeros(11, np.float32)])
    rep_grp = np.concatenate([bg_grp, np.repeat([0, 2], [7, 4])])
    u2, p2, _, n2b = mann_whitney_greater(fg, fg_grp, rep, rep_grp, 4)
    np.testing.assert_allclose(u[[0, 2, 3]], u2[[0, 2, 3]])
    np.testing.assert_allclose(p[[0, 2, 3]], p2[[0, 2, 3]])
    np.testing.assert_array_equal(n2, n2b)
    assert np.isnan(p[1]) and n2[0] == 7
    for k in (0, 2):
        ref = mannwhitneyu(fg[fg_grp == k].astype(np.float64), rep[rep_grp == k].astype(np.float64),
                           alternative="greater", method="asymptotic")
        assert p[k] == pytest.approx(ref.pvalue, rel=1e-9)


def test_all_tied_group_gives_p_one():
    u, p, _, _ = mann_whitney_greater(np.ones(3), np.zeros(3, int), np.ones(4), np.zeros(4, int), 1)
    ref = mannwhitneyu(np.ones(3), np.ones(4), alternative="greater", method="asymptotic")
    assert p[0] == pytest.approx(ref.pvalue)


def test_benjamini_hochberg_matches_statsmodels():
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    rng = np.random.default_rng(2)
    p = np.concatenate([rng.random(200), rng.random(50) * 1e-3, [0.5, 0.5, 1.0, 0.0]])
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12)
    assert benjamini_hochberg(np.array([])).size == 0


def test_grouped_median():
    v = np.array([3, 1, 2, 10, 4, 7], np.float32)
    g = np.array([0, 0, 0, 2, 2, 2])
    np.testing.assert_array_equal(grouped_median(v, g, 3)[[0, 2]], [2, 7])
    assert np.isnan(grouped_median(v, g, 3)[1])
    np.testing.assert_array_equal(grouped_median(v[:5], g[:5], 3)[2], 7)
    w = np.array([-1.5, -0.0, 2.5, 0.0], np.float32)
    np.testing.assert_array_equal(grouped_median(w, np.array([0, 0, 1, 1]), 2), [-0.75, 1.25])


def _ps(rows, n):
    ex, a, b, s, d = (np.array(c) for c in zip(*rows, strict=True))
    return PairScores(ex.astype(np.int32), a.astype(np.int32), b.astype(np.int32), s.astype(np.float32),
                      d.astype(np.int32), n)


def test_test_pairs_columns_and_rules():
    rng = np.random.default_rng(3)
    rows_fg, rows_bg = [], []
    for e in range(30):
        rows_fg.append((e, 0, 1, 0.8 + 0.1 * rng.random(), 12))  # strong pair
        rows_fg.append((e, 1, 2, rng.random(), 40))  # like background
        rows_fg.append((e, 0, 3, 0.9, 8))  # never in background
        rows_bg.append((e, 0, 1, 0.3 * rng.random(), 20))
        rows_bg.append((e, 1, 2, rng.random(), 40))
    rows_fg.append((0, 2, 3, 0.01, 4))  # below the mean cutoff -> untested
    fg, bg = _ps(rows_fg, 30), _ps(rows_bg, 30)
    t = run_test_pairs(fg, bg, "mean", 4)
    pairs = list(zip(t["filter_a"].tolist(), t["filter_b"].tolist(), strict=True))
    assert set(pairs) == {(0, 1), (1, 2), (0, 3)}
    assert set(t) == {"filter_a", "filter_b", "n_fg", "n_bg", "median_score_fg", "median_score_bg",
                      "median_distance_bp", "max_score_fg", "u_statistic", "p_value", "q_value",
                      "effect_size"}
    r = {pr: i for i, pr in enumerate(pairs)}
    assert t["q_value"][r[(0, 1)]] < 1e-6 and t["q_value"][r[(1, 2)]] > 0.05
    assert t["q_value"][r[(0, 3)]] < 1e-6 and t["n_bg"][r[(0, 3)]] == 0
    assert t["median_distance_bp"][r[(0, 1)]] == 12 and t["n_fg"][r[(0, 1)]] == 30
    assert np.all(np.diff(t["q_value"]) >= 0)
    ref = mannwhitneyu(fg.score[(fg.filter_a == 0) & (fg.filter_b == 1)],
                       bg.score[(bg.filter_a == 0) & (bg.filter_b == 1)], alternative="greater")
    assert t["p_value"][r[(0, 1)]] == pytest.approx(ref.pvalue, rel=1e-9)
    skip = run_test_pairs(fg, bg, "mean", 4, missing_bg="skip")
    assert (0, 3) not in set(zip(skip["filter_a"].tolist(), skip["filter_b"].tolist(), strict=True))
    fixed = run_test_pairs(fg, bg, 0.0, 4)
    assert len(fixed["filter_a"]) == 4
    # effect size = P(fg > bg) + P(fg = bg) / 2, by brute force over all (fg, bg) pairs
    a = fg.score[(fg.filter_a == 1) & (fg.filter_b == 2)][:, None]
    b = bg.score[(bg.filter_a == 1) & (bg.filter_b == 2)][None, :]
    assert t["effect_size"][r[(1, 2)]] == pytest.approx(np.mean((a > b) + 0.5 * (a == b)))
    assert t["effect_size"][r[(0, 1)]] == 1.0 and t["effect_size"][r[(0, 3)]] == 1.0  # all above / vs zeros


def _random_scores(rng, f: int, n: int, frac: float, shift: float, levels: int = 8,
                   offset: float = 0.0) -> PairScores:
    """Every filter pair observed in a fraction ``frac`` of ``n`` examples; scores on ``levels`` steps
    (ties), every 5th pair shifted up by ``shift`` (real effects)."""
    ia, ib = np.triu_indices(f, 1)
    obs = rng.random((n, ia.size)) < frac
    ex, col = np.nonzero(obs)
    s = np.round(rng.random(ex.size) * levels) / levels + offset + shift * (col % 5 == 0)
    return PairScores(ex.astype(np.int32), ia[col].astype(np.int32), ib[col].astype(np.int32),
                      s.astype(np.float32), rng.integers(0, 50, ex.size).astype(np.int32), n)


def test_test_pairs_blocks_and_threads_do_not_change_results(monkeypatch):
    """Pairs are tested in blocks on a thread pool; block size must not change any column."""
    from satori_jax.interpret import stats

    rng = np.random.default_rng(5)
    f, n = 12, 60
    fg, bg = _random_scores(rng, f, n, 0.5, 0.5), _random_scores(rng, f, n, 0.3, 0.0)
    whole = run_test_pairs(fg, bg, "mean", f)
    monkeypatch.setattr(stats, "_BLOCK_OBSERVATIONS", 37)
    blocked = run_test_pairs(fg, bg, "mean", f)
    assert len(whole["p_value"]) > 20
    for k in whole:
        np.testing.assert_array_equal(whole[k], blocked[k], err_msg=k)


def test_distance_summary():
    ps = _ps([(0, 0, 1, 0.5, 8), (1, 0, 1, 0.4, 12), (0, 1, 2, 0.2, 40)], 2)
    d = distance_summary(ps, (np.array([0]), np.array([1])), 3)
    assert sorted(d["distances"].tolist()) == [8, 12] and d["median"] == 10
    assert distance_summary(ps)["counts"].sum() == 3


@pytest.mark.parametrize("fg", [[0.5, 0.2, 0.0], [0.3, 0.1], [0.7, 0.7, 0.2, 0.0], [0.0, 0.0]])
def test_exact_p_against_zeros_equals_enumeration(fg):
    """Against a background of zeros, the p-value is the exact permutation tail (all relabellings)."""
    from itertools import combinations

    n2 = 5
    pooled = np.array(list(fg) + [0.0] * n2)
    n1, n = len(fg), len(fg) + n2

    def u_of(idx):
        a = pooled[list(idx)]
        b = np.delete(pooled, list(idx))
        return np.sum((a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :]))

    u_obs = u_of(range(n1))
    us = [u_of(c) for c in combinations(range(n), n1)]
    exact = np.mean(np.array(us) >= u_obs - 1e-9)
    k = int(np.sum(np.array(fg) > 0))
    assert p_greater_than_zeros(np.array([n1]), np.array([k]), np.array([n2]))[0] == pytest.approx(exact)


def test_test_pairs_zero_background_counts_unobserved_foreground_as_zeros():
    """A pair never seen in the background: zeros wherever it is not observed, on both sides."""
    from math import comb

    # seen in 2 of 2 foreground examples, never in 100 background ones: p = 1 / C(102, 2)
    fg = _ps([(0, 0, 1, 0.9, 4), (1, 0, 1, 0.8, 4)], 2)
    bg = _ps([(0, 2, 3, 0.5, 4)], 100)
    t = run_test_pairs(fg, bg, 0.0, 4)
    row = list(zip(t["filter_a"].tolist(), t["filter_b"].tolist(), strict=True)).index((0, 1))
    assert t["p_value"][row] == pytest.approx(1 / comb(102, 2))
    assert t["n_bg"][row] == 0 and t["effect_size"][row] == 1.0
    # seen in 2 of 50 foreground examples: 2 positives among 150, both in the foreground
    fg50 = _ps([(0, 0, 1, 0.9, 4), (1, 0, 1, 0.8, 4)], 50)
    t = run_test_pairs(fg50, bg, 0.0, 4)
    row = list(zip(t["filter_a"].tolist(), t["filter_b"].tolist(), strict=True)).index((0, 1))
    assert t["p_value"][row] == pytest.approx(comb(50, 2) / comb(150, 2))  # ≈ 0.11: no evidence
    assert t["effect_size"][row] == pytest.approx((2 * 100 + 48 * 100 / 2) / (50 * 100))
    # and the whole pooled sample of 150 values gives the same p by the generic formula
    pooled = np.r_[0.9, 0.8, np.zeros(148)]
    assert t["u_statistic"][row] == pytest.approx(
        np.sum((pooled[:50, None] > pooled[None, 50:]) + 0.5 * (pooled[:50, None] == pooled[None, 50:])))


def _presence(ps: PairScores, f: int) -> np.ndarray:
    """``(n_examples, F)`` bool by a plain loop: filter takes part in an observed pair."""
    out = np.zeros((ps.n_examples, f), bool)
    for e, a, b in zip(ps.example, ps.filter_a, ps.filter_b, strict=True):
        out[e, a] = out[e, b] = True
    return out


def _conditioned_by_loop(fg: PairScores, bg: PairScores, f: int, a: int, b: int):
    """p-value and effect of the conditioned test of pair (a, b) from explicit samples and scipy."""
    res = []
    pf, pb = _presence(fg, f), _presence(bg, f)
    for c in (a, b):
        cond = pb[:, c].any()
        samples = []
        for ps, pres in ((fg, pf), (bg, pb)):
            vals = np.zeros(ps.n_examples)
            sel = (ps.filter_a == a) & (ps.filter_b == b)
            vals[ps.example[sel]] = ps.score[sel]
            samples.append(vals[pres[:, c]] if cond else vals)
        r = mannwhitneyu(samples[0], samples[1], alternative="greater")
        res.append((r.pvalue, r.statistic / (len(samples[0]) * len(samples[1]))))
    return max(res)


def test_conditioned_test_matches_explicit_partner_samples():
    """Each direction equals scipy on the examples containing that partner (0 where unobserved)."""
    rng = np.random.default_rng(11)
    f, n = 6, 40
    fg, bg = _random_scores(rng, f, n, 0.4, 0.4, levels=6, offset=0.05), _random_scores(rng, f, n, 0.25, 0.0)
    t = run_test_pairs(fg, bg, 0.0, f, test="conditioned")
    assert len(t["p_value"]) == f * (f - 1) // 2
    for a, b, p, e in zip(t["filter_a"], t["filter_b"], t["p_value"], t["effect_size"], strict=True):
        p_ref, e_ref = _conditioned_by_loop(fg, bg, f, int(a), int(b))
        assert p == pytest.approx(p_ref, rel=1e-9) and e == pytest.approx(e_ref, rel=1e-9)


def test_conditioned_test_ignores_a_pair_with_one_enriched_partner():
    """DFIM-style: label = A and B; a distractor X scores high with B wherever both are present.

    Every positive has B and only half the negatives do, so X-B is observed more often in the
    foreground; given X that is a large, significant difference. Given B it is not, and only A-B
    (never together in a negative) must come out.
    """
    rng = np.random.default_rng(2)
    n = 300
    A, B, X = 0, 1, 2

    def examples(has_a, has_b):
        rows = []
        for e in range(n):
            present = [A] * has_a[e] + [B] * has_b[e] + [X] * (rng.random() < 2 / 3)
            for i, p in enumerate(present):
                for q in present[i + 1:]:
                    rows.append((e, min(p, q), max(p, q), 0.9 + 0.1 * rng.random(), 20))
            rows.append((e, 3, 4, rng.random(), 8))  # some unrelated pair in every example
        return _ps(rows, n)

    fg = examples(np.ones(n, int), np.ones(n, int))
    neg_b = rng.random(n) < 0.5
    bg = examples((~neg_b).astype(int), neg_b.astype(int))
    t = run_test_pairs(fg, bg, 0.0, 5, test="conditioned")
    q = {(int(a), int(b)): float(v)
         for a, b, v in zip(t["filter_a"], t["filter_b"], t["q_value"], strict=True)}
    assert q[(A, B)] < 1e-10
    assert q[(B, X)] > 0.05 and q[(A, X)] > 0.05
    # the same pair given X alone is a strong difference: the confound the second direction removes
    pf, pb = _presence(fg, 5), _presence(bg, 5)
    vf, vb = np.zeros(n), np.zeros(n)
    for ps, v in ((fg, vf), (bg, vb)):
        sel = (ps.filter_a == B) & (ps.filter_b == X)
        v[ps.example[sel]] = ps.score[sel]
    assert mannwhitneyu(vf[pf[:, X]], vb[pb[:, X]], alternative="greater").pvalue < 1e-6


def test_empirical_null_recentres_and_never_loosens():
    from scipy.special import ndtr as phi

    from satori_jax.interpret.stats import empirical_null

    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(2.0, 2.0, 5000), np.full(20, 25.0)])  # shifted, overdispersed null
    p = phi(-z)
    adj, centre, scale = empirical_null(p)
    assert centre == pytest.approx(2.0, abs=0.15) and scale == pytest.approx(2.0, rel=0.08)
    q = benjamini_hochberg(adj)
    assert np.mean(q[:5000] < 0.05) < 0.002 and np.all(q[5000:] < 1e-10)
    assert np.mean(benjamini_hochberg(p)[:5000] < 0.05) > 0.2  # the theoretical null calls many
    # a well-calibrated null (or a narrower one) is left as is: centre and scale floored at 0 and 1
    p0 = phi(-rng.normal(-0.5, 0.6, 3000))
    adj0, c0, s0 = empirical_null(p0)
    assert (c0, s0) == (0.0, 1.0) and np.allclose(adj0, p0)
    few, c1, s1 = empirical_null(p[:50])
    assert (c1, s1) == (0.0, 1.0) and np.array_equal(few, p[:50])
    t = run_test_pairs(_ps([(0, 0, 1, 0.5, 4)], 2), _ps([(0, 0, 1, 0.1, 4)], 2), 0.0, 2, null="empirical",
                       info=(info := {}))
    assert info == {"null_centre": 0.0, "null_scale": 1.0} and len(t["p_value"]) == 1


def test_mann_whitney_several_zero_counts_share_one_sort():
    """``(D, G)`` zero counts give the same as D separate calls."""
    rng = np.random.default_rng(4)
    g = 7
    fv, fgp = rng.choice([0.0, 0.3, 0.6, 1.0], 80), rng.integers(0, g, 80)
    bv, bgp = rng.choice([0.0, 0.3, 0.5, 1.0], 70), rng.integers(0, g, 70)
    fz, bz = rng.integers(0, 5, (3, g)), rng.integers(0, 5, (3, g))
    fz[1] = 0  # a direction without extra foreground zeros
    stacked = mann_whitney_greater(fv, fgp, bv, bgp, g, bg_zeros=bz, fg_zeros=fz)
    for d in range(3):
        one = mann_whitney_greater(fv, fgp, bv, bgp, g, bg_zeros=bz[d], fg_zeros=fz[d])
        for a, b in zip(stacked, one, strict=True):
            np.testing.assert_allclose(a[d], b, rtol=1e-12, equal_nan=True)


def _pair_p(z: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Upper-triangle pairs of an ``(F, F)`` z matrix and their one-sided p-values."""
    from scipy.special import ndtr as phi

    a, b = np.triu_indices(f, 1)
    return a, b, phi(-z[a, b])


def test_pair_main_effects_recover_an_additive_matrix():
    from satori_jax.interpret.excess import pair_main_effects

    rng = np.random.default_rng(0)
    f = 12
    e = rng.normal(0, 3, f)
    z = 1.5 + e[:, None] + e[None, :]
    np.fill_diagonal(z, np.nan)
    z[2, 5] = z[5, 2] = np.nan  # an untested pair
    centre, effect, res = pair_main_effects(z)
    fit = centre + effect[:, None] + effect[None, :]
    ok = np.isfinite(z)
    # median polish stops at one of its (non-unique) fixed points: what remains of effects spread
    # over +-9 is a small fraction of the unit null spread the excess test divides by
    assert np.allclose(fit[ok] + res[ok], z[ok]) and np.max(np.abs(res[ok])) < 0.3
    assert np.median(np.abs(res[ok])) < 0.05
    assert np.corrcoef(effect, e)[0, 1] > 0.999
    assert np.isnan(res[2, 5]) and np.allclose(res, res.T, equal_nan=True)


def test_excess_test_finds_the_interaction_not_the_enriched_filter():
    """Filter 0 is enriched in the foreground (all its pairs raised by 6 z); pair (3, 7) has an extra
    +8 on top of its filters' effects. Only (3, 7) has a significant excess; the pair test calls all
    of filter 0's pairs too."""
    from satori_jax.interpret.excess import excess_test

    rng = np.random.default_rng(1)
    f = 30
    e = np.zeros(f)
    e[0], e[3], e[7] = 6.0, 1.0, 1.0
    z = e[:, None] + e[None, :] + rng.normal(0, 1, (f, f))
    z = np.triu(z, 1) + np.triu(z, 1).T
    z[3, 7] = z[7, 3] = z[3, 7] + 8.0
    a, b, p = _pair_p(z, f)
    q = benjamini_hochberg(p)
    with_0 = (a == 0) | (b == 0)
    assert np.mean(q[with_0] < 0.05) > 0.9  # the pair test calls filter 0's pairs
    out = excess_test(a, b, p, f)
    hit = out["q_excess"] < 0.05
    hits = {(int(x), int(y)) for x, y in zip(a[hit], b[hit], strict=True)}
    assert hits == {(3, 7)}
    assert abs(out["null_centre"]) < 0.2 and out["null_scale"] == pytest.approx(1.0, abs=0.2)
    # the same input in another order gives the same values
    perm = rng.permutation(a.size)
    again = excess_test(b[perm], a[perm], p[perm], f)
    assert np.allclose(again["q_excess"], out["q_excess"][perm])


def test_excess_test_never_more_liberal_and_needs_enough_pairs():
    from satori_jax.interpret.excess import excess_test

    f = 20
    z = np.full((f, f), 2.0)
    z[4, 9] = z[9, 4] = 3.0  # excess of 1: below any threshold with the spread floored at 1
    a, b, p = _pair_p(z, f)
    p[5] = np.nan  # untested pairs are ignored
    out = excess_test(a, b, p, f)
    assert out["null_scale"] == 1.0
    assert np.all(out["q_excess"][np.isfinite(p)] > 0.05) and np.isnan(out["q_excess"][5])
    few = excess_test(a[:50], b[:50], p[:50], f)  # fewer than EMPIRICAL_MIN_TESTS tests
    assert np.isnan(few["q_excess"]).all() and np.isnan(few["null_scale"])
    assert np.isnan(excess_test(a[:99], b[:99], p[:99], f, min_tests=200)["excess_z"]).all()


def _mw_by_runs(fv, fgp, bv, bgp, g, bg_zeros, fg_zeros):
    """The former implementation: every run of equal values walked, a pseudo zero per group with extras."""
    from scipy.special import ndtr

    from satori_jax.interpret.ranks import _U32, _sortable

    keys = [(np.asarray(fgp).astype(np.uint64) << np.uint64(33))
            | (_sortable(fv).astype(np.uint64) << np.uint64(1)) | np.uint64(1),
            (np.asarray(bgp).astype(np.uint64) << np.uint64(33))
            | (_sortable(bv).astype(np.uint64) << np.uint64(1))]
    ex_b, ex_f = np.asarray(bg_zeros, np.float64), np.asarray(fg_zeros, np.float64)
    d = ex_b.shape[0]
    zero = np.uint64(_sortable(np.zeros(1))[0])
    need = (ex_b > 0).any(axis=0) | (ex_f > 0).any(axis=0)
    keys.append((np.flatnonzero(need).astype(np.uint64) << np.uint64(33)) | (zero << np.uint64(1)))
    key = np.sort(np.concatenate(keys))
    u, p = np.full((d, g), np.nan), np.full((d, g), np.nan)
    if key.size == 0:
        return u, p, ex_f.copy(), ex_b.copy()
    run_key = key >> np.uint64(1)
    starts = np.flatnonzero(np.concatenate([[True], run_key[1:] != run_key[:-1]]))
    length = np.diff(np.concatenate([starts, [key.size]])).astype(np.float64)
    f0 = np.add.reduceat((key & np.uint64(1)).astype(np.float64), starts)
    rk = run_key[starts]
    gr = (rk >> np.uint64(32)).astype(np.int64)
    is_zero = ((rk & _U32) == zero) & need[gr]
    f = f0[None, :] + np.where(is_zero[None, :], ex_f[:, gr], 0.0)
    b = (length - f0 - is_zero)[None, :] + np.where(is_zero[None, :], ex_b[:, gr], 0.0)
    cb = np.cumsum(b, axis=1) - b
    first = np.concatenate([[True], gr[1:] != gr[:-1]])
    group_start = np.zeros((d, g))
    group_start[:, gr[first]] = cb[:, first]
    below = cb - group_start[:, gr]
    t = f + b
    n1, n2, u1, tie = (np.stack([np.bincount(gr, weights=w[k], minlength=g) for k in range(d)])
                       for w in (f, b, f * (below + b / 2.0), t**3 - t))
    n = n1 + n2
    ok = (n1 > 0) & (n2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(n1 * n2 / 12.0 * ((n + 1.0) - tie / (n * (n - 1.0))))
        pv = np.clip(ndtr(-(u1 - n1 * n2 / 2.0 - 0.5) / sd), 0.0, 1.0)
    u[ok], p[ok] = u1[ok], pv[ok]
    return u, p, n1, n2


def test_mann_whitney_equals_the_run_walk_bit_for_bit():
    """Only tie runs are walked now, extra zeros in closed form: the same U, p, n1, n2 to the last bit
    (so the interaction tables stay byte-identical)."""
    rng = np.random.default_rng(11)
    for trial in range(120):
        g = int(rng.integers(1, 25))
        n1, n2 = int(rng.integers(0, 150)), int(rng.integers(0, 150))
        vals = (rng.choice([-0.5, -0.0, 0.0, 0.25, 0.5, 1.0], n1 + n2) if trial % 2
                else rng.random(n1 + n2) - 0.2).astype(np.float32)
        fgp, bgp = rng.integers(0, g, n1), rng.integers(0, g, n2)
        bz = rng.integers(0, 5, (2, g)) * (rng.random((2, g)) < 0.5) * (trial % 3 > 0)
        fz = rng.integers(0, 5, (2, g)) * (rng.random((2, g)) < 0.5) * (trial % 3 > 0)
        want = _mw_by_runs(vals[:n1], fgp, vals[n1:], bgp, g, bz, fz)
        got = mann_whitney_greater(vals[:n1], fgp, vals[n1:], bgp, g, bg_zeros=bz, fg_zeros=fz)
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(a, b)


def test_distance_summary_with_a_pair_index_is_the_same():
    from satori_jax.interpret.stats import pair_index

    rng = np.random.default_rng(8)
    f, n = 9, 40
    ex, a, b, s, d = [], [], [], [], []
    for e in range(n):
        for x in range(f):
            for y in range(x + 1, f):
                if rng.random() < 0.3:
                    ex.append(e), a.append(x), b.append(y)
                    s.append(rng.random()), d.append(rng.integers(0, 60))
    ps = PairScores(np.array(ex, np.int32), np.array(a, np.int32), np.array(b, np.int32),
                    np.array(s, np.float32), np.array(d, np.int32), n)
    idx = pair_index(ps, f)
    for pairs in [(np.array([0, 2, 2, 0]), np.array([1, 5, 5, 1])), (np.array([3]), np.array([8])),
                  (np.array([], int), np.array([], int)), (np.array([7]), np.array([8]))]:
        want, got = distance_summary(ps, pairs, f), distance_summary(ps, pairs, f, index=idx)
        for k in want:
            np.testing.assert_array_equal(want[k], got[k])
