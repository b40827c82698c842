"""The TF-pooled test (interpret/pooled.py): grouping, normalisation, and what it lists."""

from __future__ import annotations

import numpy as np
import pytest

from satori_jax.interpret import report
from satori_jax.interpret.interactions import PairScores
from satori_jax.interpret.pooled import (
    MIN_POOLED_EFFECT,
    effect_lower,
    filter_groups,
    group_max,
    method_bins,
    method_folds,
    normalise_per_example,
    partner_baselines,
    pooled_stats,
)
from satori_jax.interpret.stats import test_pairs


def _ps(rows: list[tuple[int, int, int, float, int]], n: int) -> PairScores:
    ex, a, b, s, d = (np.array(c) for c in zip(*rows, strict=True))
    return PairScores(ex.astype(np.int32), a.astype(np.int32), b.astype(np.int32), s.astype(np.float32),
                      d.astype(np.int32), n)


def test_filter_groups_by_name():
    groups, names = filter_groups(["B", "", "A", "B", "C", ""])
    assert names == ["A", "B", "C"]
    assert groups.tolist() == [1, -1, 0, 1, 2, -1]


def test_group_max_keeps_each_examples_best_filter_pair():
    groups = np.array([0, 1, 0, -1, 1])  # filters 0, 2 -> A; 1, 4 -> B; 3 unnamed
    ps = _ps([(0, 0, 1, 0.2, 10), (0, 1, 2, 0.5, 20), (0, 0, 2, 0.9, 5),  # 0-2: A-A, dropped
              (0, 1, 3, 0.7, 6),  # unnamed partner, dropped
              (1, 2, 4, 0.3, 8), (1, 0, 4, 0.3, 4),  # a tie: the smaller distance
              (2, 0, 2, 0.4, 3)], n=4)
    g = group_max(ps, groups)
    assert g.n_examples == 4
    assert g.example.tolist() == [0, 1]
    assert g.filter_a.tolist() == [0, 0] and g.filter_b.tolist() == [1, 1]
    np.testing.assert_allclose(g.score, [0.5, 0.3])
    assert g.distance.tolist() == [20, 4]
    assert len(group_max(_ps([(0, 0, 2, 1.0, 3)], 1), groups)) == 0


def test_normalise_per_example_divides_by_the_examples_largest_score():
    ps = _ps([(0, 0, 1, 2.0, 1), (0, 1, 2, 1.0, 1), (1, 0, 1, 0.5, 1), (2, 0, 2, 0.0, 1)], n=3)
    np.testing.assert_allclose(normalise_per_example(ps).score, [1.0, 0.5, 1.0, 0.0])


def _pooled(fg: PairScores, bg: PairScores, groups: np.ndarray, names: list[str]) -> dict:
    """What the driver does for one method (interpret/driver.py, final)."""
    g = len(names)
    pt = test_pairs(group_max(fg, groups), group_max(bg, groups), "mean", g)
    nt = test_pairs(group_max(normalise_per_example(fg), groups),
                    group_max(normalise_per_example(bg), groups), 0.0, g)
    return {"stats": pooled_stats(pt, nt), "names": names}


def _filter_rows(fg: PairScores, bg: PairScores, names: list[str], f: int) -> list[dict]:
    t = test_pairs(fg, bg, "mean", f)
    return [{"filter_a": f"filter{a}", "filter_b": f"filter{b}", "tf_a": names[a], "tf_b": names[b],
             "family_a": "", "family_b": "", **{k: t[k][i] for k in (
                 "n_fg", "n_bg", "median_score_fg", "median_score_bg", "median_distance_bp", "u_statistic",
                 "p_value", "q_value", "effect_size")}}
            for i, (a, b) in enumerate(zip(t["filter_a"], t["filter_b"], strict=True))]


def test_pool_lists_a_pair_whose_evidence_is_split_over_redundant_filters():
    """A and B are each learnt by 8 filters: every example sees A-B through one of 64 filter pairs, so no
    filter pair has the samples to pass Benjamini-Hochberg, but the TF pair does. C-D (the same scores in
    both classes) is not listed."""
    rng = np.random.default_rng(0)
    names = ["A"] * 8 + ["B"] * 8 + ["C", "D"]
    f, n = len(names), 80
    groups, gnames = filter_groups(names)

    def side(lo: float, hi: float) -> PairScores:
        rows = []
        for e in range(n):
            rows.append((e, int(rng.integers(0, 8)), int(rng.integers(8, 16)), rng.uniform(lo, hi), 12))
            rows.append((e, 16, 17, rng.uniform(0.0, 1.0), 30))
        return _ps(rows, n)

    fg, bg = side(0.45, 1.0), side(0.0, 0.55)
    rows = _filter_rows(fg, bg, names, f)
    assert not any(r["q_value"] < 0.05 for r in rows if {r["tf_a"], r["tf_b"]} == {"A", "B"})
    assert report.tf_pair_table(rows) == []  # the filter-level rule finds nothing
    pooled = _pooled(fg, bg, groups, gnames)
    tf = report.tf_pair_table(rows, pooled=pooled)
    assert [(r["tf_a"], r["tf_b"], r["listed_by"]) for r in tf] == [("A", "B", "pool")]
    row = tf[0]
    assert row["q_pool"] < 1e-6 and row["q_value"] == row["q_pool"]
    assert row["effect_size"] >= MIN_POOLED_EFFECT and row["effect_pool_normalised"] >= MIN_POOLED_EFFECT
    assert row["n_fg"] == n and row["filter_pairs"] == "" and row["n_filter_pairs"] == 0
    # --no-tf-pool (no pooled results): the filter-level rule alone
    assert report.tf_pair_table(rows, pooled=None) == []


def test_pool_does_not_list_a_pair_raised_only_by_the_examples_scale():
    """Attributions scale with the logit: in the foreground every score is larger. A-C rides that scale
    (3x its background score) but is well below each foreground example's strongest pair, A-B; relative to
    it, A-C is lower in the foreground than in the background, where it is the only pair."""
    names = ["A", "B", "C", "D"]
    groups, gnames = filter_groups(names)
    n = 60
    rng = np.random.default_rng(1)
    fg = _ps([r for e in range(n) for r in ((e, 0, 1, 3.0 + rng.uniform(0, 0.1), 10),
                                            (e, 0, 2, 1.5 + rng.uniform(0, 0.1), 40),
                                            (e, 0, 3, 0.01, 60), (e, 1, 3, 0.01, 70))], n)  # low mean
    bg = _ps([(e, 0, 2, 0.5 + rng.uniform(0, 0.1), 40) for e in range(n)], n)
    pooled = _pooled(fg, bg, groups, gnames)
    st = pooled["stats"]
    pairs = list(zip(st["filter_a"].tolist(), st["filter_b"].tolist(), strict=True))
    ac = pairs.index((0, 2))
    assert st["q_value"][ac] < 1e-10 and st["effect_size"][ac] == pytest.approx(1.0)  # raised as scored ...
    assert st["effect_normalised"][ac] < 0.5  # ... not relative to the example's strongest pair
    tf = report.tf_pair_table(_filter_rows(fg, bg, names, 4), pooled=pooled)
    by = {(r["tf_a"], r["tf_b"]): r["listed_by"] for r in tf}
    assert by[("A", "B")] in ("both", "pool")
    assert by.get(("A", "C"), "filter pair") == "filter pair"  # the pool does not list it


def test_method_folds_normalise_only_the_filter_pair_scores():
    """FIS / DFIM (``normalise=True``): the filter-pair fold is each example's scores divided by its
    largest; the TF-pooled folds are built from the scores as they are, as for every method."""
    groups = np.array([0, 1, 2])
    ps = _ps([(0, 0, 1, 4.0, 10), (0, 0, 2, 1.0, 20), (1, 1, 2, 0.5, 30)], n=2)
    plain = method_folds("fis", ps, 3, groups, 3)
    normed = method_folds("fis", ps, 3, groups, 3, normalise=True)
    assert [f[0] for f in normed] == ["fis", "fis@tf", "fis@tfn"] and [f[2] for f in normed] == [3, 3, 3]
    np.testing.assert_allclose(plain[0][1].score, [4.0, 1.0, 0.5])
    np.testing.assert_allclose(normed[0][1].score, [1.0, 0.25, 1.0])
    for (_, a, _), (_, b, _) in zip(plain[1:], normed[1:], strict=True):
        np.testing.assert_array_equal(a.score, b.score)
    np.testing.assert_allclose(normed[1][1].score, [4.0, 1.0, 0.5])  # as scored
    assert len(method_folds("fis", ps, 3, None, 0, normalise=True)) == 1  # no names, no pool


def test_method_bins_give_every_normalised_fold_its_own_peak_bin():
    """Streamed: a normalised fold peaks at exactly 1 however small the method's raw range (FIS can stay
    below 0.01), so its bins reach 1 with a bin for the peaks; scores as scored keep the method's range."""
    ranges = {"fis": (1e-6, 4e-3), "dfim": (1e-5, 0.2), "attr": (1e-4, 1.0)}
    bins = method_bins(ranges, {"fis": True, "dfim": False, "attr": False},
                       {"fis": False, "dfim": False, "attr": True}, 50)
    assert set(bins) == {m + s for m in ranges for s in ("", "@tf", "@tfn")}
    peaks = np.array([1.0, 1.0 - 1e-7])
    for fold in ("fis", "fis@tfn", "dfim@tfn", "attr@tfn", "attr"):
        b = bins[fold]
        assert b.top and b.hi == 1.0 and np.all(b.index(peaks) == b.k - 1), fold
        assert b.index(np.array([0.5]))[0] < b.k - 1  # below the peak: not in the peak bin
    for fold, m in (("fis@tf", "fis"), ("dfim", "dfim"), ("dfim@tf", "dfim")):
        assert (bins[fold].lo, bins[fold].hi, bins[fold].top) == (*ranges[m], False), fold
    # the fis range alone would have put scores 0.004-1 in one clipped bin: the peak bin tells them apart
    own = bins["fis@tf"]
    assert own.index(np.array([0.01]))[0] == own.index(np.array([1.0]))[0]


def test_normalised_filter_test_does_not_call_a_pair_raised_only_by_the_scale():
    """The scale-only pair of the test above (A-C: 3x its background score, half its example's best A-B)
    is listed by the filter-pair rule on the scores as they are, not on the normalised fold."""
    names = ["A", "B", "C", "D"]
    groups, gnames = filter_groups(names)
    n, rng = 60, np.random.default_rng(1)
    fg = _ps([r for e in range(n) for r in ((e, 0, 1, 3.0 + rng.uniform(0, 0.1), 10),
                                            (e, 0, 2, 1.5 + rng.uniform(0, 0.1), 40),
                                            (e, 0, 3, 0.01, 60), (e, 1, 3, 0.01, 70))], n)  # low mean
    bg = _ps([r for e in range(n) for r in ((e, 0, 2, 0.5 + rng.uniform(0, 0.1), 40),
                                            (e, 0, 1, 0.5 + rng.uniform(0, 0.1), 10))], n)
    pooled = _pooled(fg, bg, groups, gnames)
    listed = {}
    for normalise in (False, True):
        (_, f, _), = method_folds("fis", fg, 4, None, 0, normalise)[:1]
        (_, b, _), = method_folds("fis", bg, 4, None, 0, normalise)[:1]
        tf = report.tf_pair_table(_filter_rows(f, b, names, 4), pooled=pooled, partners=False)
        listed[normalise] = {(r["tf_a"], r["tf_b"]): r["listed_by"] for r in tf}
    # the partner rule alone also drops it: A-C is raised less than A's other pair (A-B)
    assert ("A", "C") not in {(r["tf_a"], r["tf_b"]) for r in report.tf_pair_table(
        _filter_rows(*(method_folds("fis", x, 4, None, 0)[0][1] for x in (fg, bg)), names, 4), pooled=pooled)}
    assert listed[False][("A", "C")] == "filter pair"  # rides the scale
    assert ("A", "C") not in listed[True]
    assert listed[True][("A", "B")] in ("both", "pool")  # the interaction stays


def test_pool_does_not_list_a_pair_seen_in_a_handful_of_background_examples():
    """Both effects at 0.65 and q < 0.05 list a pair seen in 150 + 150 examples, not one seen in 150 + 4:
    there the effects' lower bound (less 1.645 null standard errors, the ranking's effect_pool_lower)
    is 0.65 - 1.645 * sqrt(155 / 7200) = 0.41, which does not exclude no effect (0.5)."""
    v = {"q_value": 0.01, "effect_size": 0.65, "effect_normalised": 0.65, "n_fg": 150, "n_bg": 150}
    assert report.pool_lists(v)
    assert not report.pool_lists({**v, "n_bg": 4})
    assert effect_lower(0.65, 0.7, 150, 4) == pytest.approx(0.65 - 1.645 * np.sqrt(155 / 7200))
    assert effect_lower(0.65, np.nan, 150, 150) < 0  # a pair the normalised test did not see
    assert not report.pool_lists({**v, "effect_normalised": float("nan")})


def test_pool_respects_min_effect():
    names = ["A", "B", "C"]
    groups, gnames = filter_groups(names)
    rng = np.random.default_rng(2)
    n = 400
    # A-C scores 1 everywhere: every example's largest score, so normalising leaves A-B as it is
    fg = _ps([r for e in range(n) for r in ((e, 0, 1, rng.uniform(0.2, 1.0), 8), (e, 0, 2, 1.0, 30))], n)
    bg = _ps([r for e in range(n) for r in ((e, 0, 1, rng.uniform(0.0, 0.8), 8), (e, 0, 2, 1.0, 30))], n)
    pooled = _pooled(fg, bg, groups, gnames)  # A-B: effect ~0.7 as scored and normalised
    assert [(r["tf_a"], r["tf_b"], r["listed_by"]) for r in report.tf_pair_table([], pooled=pooled)] == [
        ("A", "B", "pool")]
    assert report.tf_pair_table([], min_effect=0.8, pooled=pooled) == []


def test_tf_evidence_is_the_better_of_the_filter_and_the_pooled_rank():
    """Ranking evidence: pool rank by min(effect, normalised effect) less z null standard errors
    (NaN normalised = 0), filter rank by the smallest filter-pair p-value; each pair takes its better
    rank, ties broken by the other."""
    from satori_jax.interpret.pooled import tf_evidence

    # group pairs (0, 1) = A-B, (0, 2) = B-C, (1, 2) = A-C, (2, 3) = C-D
    pooled = {"names": ["B", "A", "C", "D"],
              "stats": {"filter_a": np.array([0, 0, 1, 2]), "filter_b": np.array([1, 2, 2, 3]),
                        "effect_size": np.array([0.9, 0.7, 0.8, 0.9]),
                        "effect_normalised": np.array([0.6, 0.75, np.nan, 0.9]),
                        "n_fg": np.array([100, 100, 100, 3]), "n_bg": np.array([100, 100, 100, 3]),
                        "q_value": np.array([0.01, 0.02, 0.5, 0.04])}}
    pool_only = tf_evidence(pooled, z=0.0)  # C-D 0.9, B-C 0.7, A-B 0.6, A-C 0
    assert sorted(pool_only, key=lambda k: -pool_only[k]) == [("C", "D"), ("B", "C"), ("A", "B"), ("A", "C")]
    # the lower bound: the pair seen in 3 + 3 examples falls behind those seen in 100 + 100
    ev = tf_evidence(pooled)
    assert sorted(ev, key=lambda k: -ev[k]) == [("B", "C"), ("A", "B"), ("C", "D"), ("A", "C")]
    # the filter rank lifts A-C (pool rank 3) to rank 0; B-C (ranks 0 and 1) stays ahead of it
    rows = [{"tf_a": "A", "tf_b": "C", "p_value": 1e-9}, {"tf_a": "C", "tf_b": "B", "p_value": 0.5},
            {"tf_a": "", "tf_b": "C", "p_value": 1e-12}, {"tf_a": "C", "tf_b": "C", "p_value": 1e-12}]
    both = tf_evidence(pooled, rows)
    assert sorted(both, key=lambda k: -both[k]) == [("B", "C"), ("A", "C"), ("A", "B"), ("C", "D")]
    # the table users get: the same order, ranks from 1, the listed pairs marked with their rule
    from satori_jax.interpret.pooled import RANKING_COLUMNS, ranking_table

    table = ranking_table(pooled, rows, [{"tf_a": "A", "tf_b": "C", "listed_by": "filter pair"}])
    assert [(r["tf_a"], r["tf_b"]) for r in table] == [("B", "C"), ("A", "C"), ("A", "B"), ("C", "D")]
    assert all(tuple(r) == RANKING_COLUMNS for r in table)
    assert [r["rank"] for r in table] == [1, 2, 3, 4]
    assert [r["listed_by"] for r in table] == ["", "filter pair", "", ""]
    assert (table[1]["rank_filter"], table[1]["rank_pool"], table[1]["q_pool"]) == (1, 4, 0.5)
    assert table[3]["rank_filter"] == 3  # not tested at filter level: one past the last


def test_tf_evidence_orders_by_the_better_rank_however_many_pairs():
    """With more than 1000 TF pairs the other rank still only breaks ties (review: a 1e-3 weight did
    not), and tied scores share a rank."""
    from satori_jax.interpret.pooled import tf_evidence

    g = 60
    a, b = np.triu_indices(g, 1)  # 1 770 group pairs
    names = [f"T{i:03d}" for i in range(g)]
    m = a.size
    eff = np.linspace(0.99, 0.6, m)  # pool rank = index + 1
    pooled = {"names": names, "stats": {"filter_a": a, "filter_b": b, "effect_size": eff,
                                        "effect_normalised": eff, "n_fg": np.full(m, 10 ** 6),
                                        "n_bg": np.full(m, 10 ** 6), "q_value": np.full(m, 0.01)}}
    key = [(names[x], names[y]) for x, y in zip(a, b, strict=True)]
    # filter ranks: the pool's last pair first, the pool's first pair last, two pairs tied second
    rows = [{"tf_a": key[-1][0], "tf_b": key[-1][1], "p_value": 1e-9},
            {"tf_a": key[1][0], "tf_b": key[1][1], "p_value": 1e-6},
            {"tf_a": key[5][0], "tf_b": key[5][1], "p_value": 1e-6},
            {"tf_a": key[0][0], "tf_b": key[0][1], "p_value": 0.5}]
    ev = tf_evidence(pooled, rows)
    order = sorted(ev, key=lambda k: -ev[k])
    # (better, other) rank: key[0] (1, 4), key[-1] (1, 1770), key[1] (2, 2), key[5] (2 tied, 6),
    # key[2] (3, 5: 4 pairs filter-tested, so 5 = not tested)
    assert order[:5] == [key[0], key[-1], key[1], key[5], key[2]]


def test_tf_evidence_does_not_pool_rank_a_pair_never_seen_in_the_background():
    """Its effect against zero-filled background only measures foreground co-occurrence: the pool
    leaves it unranked (one past its last), so it ranks after every pair with background scores."""
    from satori_jax.interpret.pooled import ranking_table

    pooled = {"names": ["A", "B", "C", "D"],
              "stats": {"filter_a": np.array([0, 2]), "filter_b": np.array([1, 3]),
                        "effect_size": np.array([0.75, 0.676]), "effect_normalised": np.array([0.75, 0.676]),
                        "n_fg": np.array([500, 300]), "n_bg": np.array([0, 300]),
                        "q_value": np.array([1e-9, 1e-5])}}
    table = ranking_table(pooled, [], [])
    assert [(r["tf_a"], r["tf_b"]) for r in table] == [("C", "D"), ("A", "B")]
    assert (table[0]["rank_pool"], table[1]["rank_pool"]) == (1, 2)
    assert np.isnan(table[1]["effect_pool_lower"]) and table[1]["effect_pool"] == 0.75


def _pool_of(effects: dict[tuple[str, str], tuple[float, float]], names: list[str], n: int = 200) -> dict:
    """A pooled-test result with the given (as scored, normalised) effects, every pair at q = 1e-6."""
    idx = {t: i for i, t in enumerate(names)}
    keys = list(effects)
    col = lambda v: np.array([v] * len(keys), np.float64)  # noqa: E731
    st = {"filter_a": np.array([idx[a] for a, _ in keys]), "filter_b": np.array([idx[b] for _, b in keys]),
          "q_value": col(1e-6), "p_value": col(1e-8), "n_fg": col(n), "n_bg": col(n),
          "effect_size": np.array([effects[k][0] for k in keys]),
          "effect_normalised": np.array([effects[k][1] for k in keys]),
          "median_score_fg": col(0.5), "median_score_bg": col(0.2), "median_distance_bp": col(12)}
    return {"stats": st, "names": names}


def test_partner_baselines_are_the_median_of_each_tfs_other_pairs_plus_one_standard_error():
    """Effect = min(as scored, normalised; NaN normalised counts 0); bar = the larger of the two TFs'
    medians over their other pairs (0.5 for a TF with no other pair) plus z null standard errors of the
    pair's effect (z = PARTNER_Z = 1 by default, 0 = the median itself)."""
    pooled = _pool_of({("A", "B"): (0.9, 0.8), ("A", "C"): (0.7, 0.75), ("A", "D"): (0.6, float("nan")),
                       ("B", "C"): (0.55, 0.65), ("D", "E"): (0.7, 0.7)}, list("ABCDE"))
    se = np.sqrt((200 + 200 + 1) / (12 * 200 * 200))
    for z, base in ((0.0, partner_baselines(pooled, z=0.0)), (1.0, partner_baselines(pooled))):
        assert base[("A", "B")] == pytest.approx((0.8, max(np.median([0.7, 0.0]), 0.55) + z * se))
        assert base[("A", "D")] == pytest.approx((0.0, max(np.median([0.8, 0.7]), 0.7) + z * se))
        assert base[("D", "E")] == pytest.approx((0.7, max(0.0, 0.5) + z * se))  # E has no other pair
        assert base[("B", "C")] == pytest.approx((0.55, max(0.8, 0.7) + z * se))
    few = _pool_of({("A", "B"): (0.9, 0.9), ("A", "C"): (0.6, 0.6)}, list("ABC"), n=10)
    assert partner_baselines(few)[("A", "B")][1] == pytest.approx(0.6 + np.sqrt(21 / 1200))  # fewer: wider


def test_partner_rule_drops_a_listed_pair_raised_less_than_its_tfs_other_pairs():
    """A-B interacts (pooled effect 0.85) and is listed by both rules. C-D is listed by the filter rule
    alone (a co-occurrence call: a filter pair seen in 6 foreground examples and no background one, as on
    the independent DFIM-like set), but pooled it is raised less (0.45) than C's and D's other pairs
    (0.55-0.66): the partner rule drops it, and keeps A-B; --no-partner-rule keeps both. N is raised
    equally with every partner (a motif enriched alone in the foreground): each of its pairs ties with
    N's median, does not clear it by a standard error (0.029 at 200 examples a side), and is dropped."""
    eff = {("A", "B"): (0.85, 0.85), ("C", "D"): (0.45, 0.45), ("A", "C"): (0.59, 0.59),
           ("B", "D"): (0.58, 0.58), ("A", "D"): (0.58, 0.58), ("B", "C"): (0.55, 0.55)}
    eff.update({(t, "N"): (0.66, 0.66) for t in "ABCD"})
    pooled = _pool_of(eff, list("ABCDN"))
    row = {"filter_a": "filter0", "filter_b": "filter1", "family_a": "", "family_b": "", "n_bg": 0,
           "median_score_fg": 0.5, "median_score_bg": 0.0, "median_distance_bp": 40.0, "u_statistic": 1.0,
           "p_value": 1e-6, "q_value": 1e-4}
    rows = [{**row, "tf_a": "A", "tf_b": "B", "n_fg": 90, "effect_size": 0.8},
            {**row, "filter_a": "filter2", "filter_b": "filter3", "tf_a": "C", "tf_b": "D", "n_fg": 6,
             "effect_size": 0.51}]
    on = {(r["tf_a"], r["tf_b"]): r for r in report.tf_pair_table(rows, pooled=pooled)}
    off = {(r["tf_a"], r["tf_b"]) for r in report.tf_pair_table(rows, pooled=pooled, partners=False)}
    assert off == {("A", "B"), ("C", "D")} | {(t, "N") for t in "ABCD"}
    assert set(on) == {("A", "B")}
    assert on[("A", "B")]["listed_by"] == "both"
    se = np.sqrt(401 / (12 * 200 * 200))
    assert on[("A", "B")]["effect_partners"] == pytest.approx(np.median([0.59, 0.58, 0.66]) + se)
