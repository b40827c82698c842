"""Interaction tables, TF-pair merging, JSON, HTML report and plots."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from satori_jax.interpret import plots, report, report_html
from satori_jax.interpret.evaluate import Truth
from satori_jax.interpret.motifs import FilterMatch


def _matches():
    # filter0 -> A, filter1 -> B, filter2 -> A (duplicate TF), filter3 unmatched (q too big), filter4 no hit
    return [
        FilterMatch(0, 50, 9.0, "A", "MA1", 1e-6, 1e-4, 0, "+", "famA"),
        FilterMatch(1, 40, 8.0, "B", "MA2", 1e-5, 1e-3, 1, "-", "famB"),
        FilterMatch(2, 30, 7.0, "A", "MA1", 1e-5, 2e-3, 0, "+", "famA"),
        FilterMatch(3, 20, 3.0, "C", "MA3", 0.1, 0.5, 0, "+", "famC"),
        FilterMatch(4, 2, 1.0),
    ]


def _stats():
    # pairs: (0,1) sig, (1,2) sig (duplicate A-B, larger q), (0,2) sig self pair A-A,
    # (1,3) sig but filter3 unnamed, (0,4) not significant
    fa = np.array([0, 1, 0, 1, 0])
    fb = np.array([1, 2, 2, 3, 4])
    q = np.array([0.001, 0.01, 0.02, 0.03, 0.5])
    return {
        "filter_a": fa, "filter_b": fb, "n_fg": np.array([10, 9, 8, 7, 6]), "n_bg": np.array([3, 0, 2, 1, 5]),
        "median_score_fg": np.array([0.5, 0.4, 0.3, 0.2, 0.1]),
        "median_score_bg": np.array([0.1, 0.0, 0.1, 0.1, 0.1]),
        "median_distance_bp": np.array([12.0, 16.0, 8.0, 4.0, 40.0]), "max_score_fg": np.ones(5),
        "u_statistic": np.array([30.0, 27.0, 16.0, 7.0, 15.0]), "p_value": q / 10, "q_value": q,
        "effect_size": np.array([1.0, 0.6, 1.0, 1.0, 0.5]),
    }


def test_interaction_table_columns_and_names(tmp_path):
    rows = report.interaction_table(_stats(), _matches(), 5)
    assert [tuple(r) for r in rows] == [report.INTERACTION_COLUMNS] * 5
    assert rows[0]["filter_a"] == "filter0" and rows[0]["tf_a"] == "A" and rows[0]["tf_b"] == "B"
    assert rows[0]["family_b"] == "famB"
    assert rows[3]["tf_b"] == ""  # filter3's best hit has q = 0.5
    assert rows[4]["tf_b"] == ""  # filter4 has no hit
    path = report.write_tsv(tmp_path / "interactions_raw.tsv", report.INTERACTION_COLUMNS, rows)
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == list(report.INTERACTION_COLUMNS)
    assert len(lines) == 6
    back = report.read_tsv(path)
    assert back[0]["n_fg"] == "10" and float(back[0]["q_value"]) == pytest.approx(0.001)
    assert float(back[1]["median_distance_bp"]) == 16.0


def test_tf_pair_table_merges_and_drops():
    rows = report.interaction_table(_stats(), _matches(), 5)
    tf = report.tf_pair_table(rows, alpha=0.05)
    # A-B from (0,1) and (1,2) merged, smallest q kept; A-A self pair dropped; unnamed dropped
    assert len(tf) == 1
    r = tf[0]
    assert tuple(r) == report.TF_INTERACTION_COLUMNS or set(r) == set(report.TF_INTERACTION_COLUMNS)
    assert (r["tf_a"], r["tf_b"]) == ("A", "B")
    assert r["q_value"] == pytest.approx(0.001) and r["n_filter_pairs"] == 2
    assert r["median_distance_bp"] == 12.0
    assert r["filter_pairs"] == "filter0-filter1;filter1-filter2"
    # TF level: Simes over A-B's two tested filter pairs (p 1e-4, 1e-3) -> 2e-4; one TF pair -> q_tf
    assert r["n_tested_filter_pairs"] == 2 and r["q_tf"] == pytest.approx(2e-4)
    # pair names are ordered, families follow their TF
    rows[0]["tf_a"], rows[0]["tf_b"], rows[0]["family_a"], rows[0]["family_b"] = "Z", "A", "famZ", "famA"
    tf = report.tf_pair_table(rows, alpha=0.05)
    assert {(t["tf_a"], t["tf_b"], t["family_a"], t["family_b"]) for t in tf} == {
        ("A", "Z", "famA", "famZ"), ("A", "B", "famA", "famB")}
    assert tf[0]["tf_b"] == "Z"  # best q first
    assert report.tf_pair_table(rows, alpha=1e-9) == []


def _row(a: int, b: int, tf_a: str, tf_b: str, p: float, q: float) -> dict:
    return {"filter_a": f"filter{a}", "filter_b": f"filter{b}", "tf_a": tf_a, "tf_b": tf_b, "family_a": "",
            "family_b": "", "n_fg": 10, "n_bg": 5, "median_score_fg": 0.5, "median_score_bg": 0.1,
            "median_distance_bp": 8.0, "u_statistic": 40.0, "p_value": p, "q_value": q, "effect_size": 0.8}


def test_simes():
    assert report.simes(np.array([0.01])) == pytest.approx(0.01)
    assert report.simes(np.array([0.04, 0.01, 0.03])) == pytest.approx(0.03)  # min(0.01*3, 0.03*3/2, 0.04)
    assert report.simes(np.array([0.5, 0.001, 0.9, 0.7])) == pytest.approx(0.004)
    assert math.isnan(report.simes(np.array([])))


def test_tf_pair_needs_tf_level_evidence():
    """A TF pair whose one significant filter pair is drowned among many untouched ones (redundant filters
    named by one TF) is not listed; a TF pair with one tested filter pair and the same p is."""
    rows = [_row(0, 1, "A", "B", 1e-4, 0.01)]  # A-B: one tested filter pair, significant
    rows.append(_row(2, 3, "C", "D", 1e-4, 0.01))  # C-D: one significant filter pair ...
    rows += [_row(2 + i, 20 + i, "C", "D", 0.6, 0.9) for i in range(1, 300)]  # ... among 300
    q_tf, n = report.tf_level_q(rows)
    assert n == {("A", "B"): 1, ("C", "D"): 300}
    assert q_tf[("A", "B")] == pytest.approx(2e-4)  # BH over the two TF pairs
    assert q_tf[("C", "D")] == pytest.approx(0.03)  # Simes 300 * 1e-4
    tf = report.tf_pair_table(rows, alpha=0.05)
    assert [(r["tf_a"], r["tf_b"]) for r in tf] == [("A", "B"), ("C", "D")]
    tf = report.tf_pair_table(rows, alpha=0.02)
    # C-D's filter-level q 0.01 alone no longer lists it
    assert [(r["tf_a"], r["tf_b"]) for r in tf] == [("A", "B")]
    assert tf[0]["n_tested_filter_pairs"] == 1 and tf[0]["q_tf"] == pytest.approx(2e-4)


def test_every_column_documented():
    from satori_jax.interpret.motifs import TOMTOM_COLUMNS

    for c in report.INTERACTION_COLUMNS + report.TF_INTERACTION_COLUMNS + TOMTOM_COLUMNS:
        assert report.COLUMN_DOCS.get(c), c


def test_json_is_strict_and_atomic(tmp_path):
    p = report.write_json(tmp_path / "summary.json", {"a": math.nan, "b": np.float32(1.5), "c": np.int64(3),
                                                      "d": [np.inf]})
    data = json.loads(p.read_text())
    assert data == {"a": None, "b": 1.5, "c": 3, "d": [None]}
    assert [x.name for x in tmp_path.iterdir()] == ["summary.json"]  # no temp files left


def test_plots_and_self_contained_html(tmp_path):
    pwm = np.full((6, 4), 0.1)
    pwm[np.arange(6), [0, 1, 2, 3, 0, 1]] = 0.7
    logo = plots.logo(pwm, tmp_path / "logo.png", title="filter0")
    att = plots.attention_heatmap(np.random.default_rng(0).random((10, 10)), [(2, "A"), (7, "B")],
                                  tmp_path / "att.png", title="ex", pool_size=4)
    fam = plots.family_barplot({"famA--famB": 3, "famA--famC": 1}, tmp_path / "fam.png")
    empty = plots.family_barplot({}, tmp_path / "fam_empty.png")
    dist = plots.distance_boxplot({"A--B": np.array([8, 12, 16]), "A--C": np.array([])}, tmp_path / "d.png")
    hm = plots.heatmap(np.eye(5), tmp_path / "dfim.png", title="DFIM", ticks=[(1, "A"), (3, "B")])
    for n in (2, 3, 4):
        tops = {f"m{i}": [f"P{j}" for j in range(i, i + 5)] for i in range(n)}
        ov = plots.method_overlap(tops, tmp_path / f"overlap{n}.png")
        assert ov.stat().st_size > 1000
    for p in (logo, att, fam, empty, dist, hm):
        assert p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG"

    rows = report.interaction_table(_stats(), _matches(), 5)
    summary = {"methods": {"raw": {"n_examples": 10, "n_tested": 5, "n_significant_filter_pairs": 4,
                                   "n_significant_tf_pairs": 1, "top_tf_pairs": [], "seconds": 0.1}},
               "run": {"run_dir": "RUN", "label_names": ["y"]}}
    tomtom_rows = [{"filter": "filter0", "n_sites": "50", "ic": "9", "target": "A", "target_id": "MA1",
                    "p_value": "1e-6", "q_value": "1e-4", "offset": "0", "orientation": "+",
                    "family": "famA"}]
    html_path = report_html.write_html(
        tmp_path / "report.html", summary, tomtom_rows=tomtom_rows, tables={"raw": rows},
        tf_tables={"raw": report.tf_pair_table(rows)},
        images={"logos": [(logo, "filter0")], "attention": [(att, "ex")],
                "overlap": tmp_path / "overlap2.png",
                "raw": {"family": fam, "distance": dist}, "extra": [(hm, "DFIM map")]})
    text = html_path.read_text()
    assert text.count("data:image/png;base64,") == 6
    assert "http://" not in text and "https://" not in text  # opens offline
    for c in report.INTERACTION_COLUMNS:
        assert f"<dt>{c}</dt>" in text


def test_min_effect_floor():
    rows = report.interaction_table(_stats(), _matches(), 5)
    # (0,1) effect 1.0 and (1,2) effect 0.6 are both A-B; a floor of 0.7 keeps only (0,1)
    tf = report.tf_pair_table(rows, alpha=0.05, min_effect=0.7)
    assert [(r["tf_a"], r["tf_b"], r["n_filter_pairs"]) for r in tf] == [("A", "B", 1)]
    assert tf[0]["effect_size"] == 1.0
    rows[0]["effect_size"] = 0.55
    assert report.tf_pair_table(rows, alpha=0.05, min_effect=0.7) == []
    assert len(report.tf_pair_table(rows, alpha=0.05)) == 1  # off by default
    assert report.is_significant(rows[1], 0.05, 0.6) and not report.is_significant(rows[1], 0.05, 0.61)


def test_few_tf_pairs_carry_the_filter_level_q_excess_and_excess_rows_filter():
    st = _stats()
    st["excess_z"] = np.array([1.0, 5.0, 0.0, 0.0, 0.0])
    st["q_excess"] = np.array([0.3, 0.01, 0.5, 0.02, 0.9])
    rows = report.interaction_table(st, _matches(), 5)
    assert rows[1]["q_excess"] == pytest.approx(0.01) and rows[1]["excess_z"] == 5.0
    tf = report.tf_pair_table(rows, alpha=0.05)
    # fewer TF pairs than TF_EXCESS_MIN_TESTS: A-B merges (0,1) (q_excess 0.3) and (1,2) (0.01), the
    # smallest filter-level q_excess is kept
    assert tf[0]["q_excess"] == pytest.approx(0.01) and tf[0]["excess_level"] == "filter"
    assert [(r["tf_a"], r["tf_b"]) for r in report.excess_tf_pairs(tf)] == [("A", "B")]
    assert report.excess_tf_pairs(tf, alpha=0.005) == []
    # a table without the excess columns (too few tests): nan, no level, no excess pairs
    plain = report.tf_pair_table(report.interaction_table(_stats(), _matches(), 5))
    assert math.isnan(plain[0]["q_excess"]) and plain[0]["excess_level"] == ""
    assert report.excess_tf_pairs(plain) == []


def test_tf_excess_runs_on_the_tf_matrix_and_counts_redundant_filters_once():
    """40 TFs; TF 0 is enriched (every pair raised), TF pair 3-7 interacts. Each TF pair has a single
    filter pair except 3-7, which has five redundant ones: on the TF matrix it is one entry."""
    from scipy.special import ndtr

    rng = np.random.default_rng(0)
    t = 40
    e = np.zeros(t)
    e[0] = 6.0
    z = e[:, None] + e[None, :] + rng.normal(0, 1, (t, t))
    z[3, 7] += 9.0
    rows = []
    for a, b in zip(*np.triu_indices(t, 1), strict=True):
        for copy in range(5 if (a, b) == (3, 7) else 1):
            p = float(ndtr(-z[a, b]))
            rows.append(_row(a, b + 100 * copy, f"T{a:02d}", f"T{b:02d}", p, p))
    q = report.tf_excess_q(rows)
    assert len(q) == t * (t - 1) // 2
    assert [k for k, v in q.items() if v < 0.05] == [("T03", "T07")]
    assert report.tf_excess_q(rows[:100], min_tests=200) == {}  # too few TF pairs


def test_method_tables_and_summary_report_the_excess_pairs(tmp_path):
    """30 named filters; filter 0's motif is enriched (all its pairs raised), pair (3, 7) interacts.
    The pair test lists both; the summary's ``excess`` entry keeps only T3-T7."""
    from scipy.special import ndtr

    from satori_jax.interpret.outputs import method_entry as _method_entry
    from satori_jax.interpret.outputs import method_tables as _method_tables
    from satori_jax.interpret.stats import benjamini_hochberg

    rng = np.random.default_rng(4)  # (a draw without a chance N(0, 1) outlier > 3.3: BH allows those)
    f = 30
    e = np.zeros(f)
    e[0] = 6.0
    z = e[:, None] + e[None, :] + rng.normal(0, 1, (f, f))
    z[3, 7] += 9.0
    a, b = np.triu_indices(f, 1)
    p = ndtr(-z[a, b])
    t = a.size
    stats = {"filter_a": a, "filter_b": b, "n_fg": np.full(t, 10), "n_bg": np.full(t, 10),
             "median_score_fg": np.ones(t), "median_score_bg": np.ones(t), "median_distance_bp": np.ones(t),
             "max_score_fg": np.ones(t), "u_statistic": np.ones(t), "p_value": p,
             "q_value": benjamini_hochberg(p), "effect_size": np.full(t, 0.6)}
    matches = [FilterMatch(i, 50, 9.0, f"T{i}", f"MA{i}", 1e-6, 1e-4, 0, "+", "fam") for i in range(f)]
    rows, tf_rows, sig, fam, excess = _method_tables(tmp_path, "raw", stats, matches, f, 0.05)
    assert len(tf_rows) > 20  # T0 with (nearly) everything, and T3-T7
    assert excess["level"] == "tf"
    assert [(r["tf_a"], r["tf_b"]) for r in excess["tf_rows"]] == [("T3", "T7")]
    back = report.read_tsv(tmp_path / "tf_interactions_raw.tsv")
    assert len(back) == len(tf_rows) and {r["excess_level"] for r in back} == {"tf"}
    assert {(r["tf_a"], r["tf_b"]) for r in back if float(r["q_excess"]) < 0.05} == {("T3", "T7")}
    entry = _method_entry(n_examples=10, n_background=10, n_observed=t, cut_value=0.0, rows=rows,
                          tf_rows=tf_rows, n_sig=int(sig.sum()), fam_counts=fam, seconds=1.0, dist=None,
                          truth=Truth(frozenset({frozenset(("T3", "T7"))})), excess=excess)
    assert entry["precision"] < 0.1 and entry["recall"] == 1.0
    base = entry["baseline"]  # every one of the 435 named TF pairs, one of them true
    assert base["n_tf_pairs"] == t and base["recall"] == 1.0 and base["precision"] == pytest.approx(1 / t)
    ranking = entry["truth"]["exact"]["ranking"]  # T3-T7 has the smallest p of all 435 pairs
    assert ranking["auprc"] == pytest.approx(1.0) and ranking["prevalence"] == pytest.approx(1 / t)
    assert "family" not in entry["truth"]  # no families given
    ex = entry["excess"]
    assert ex["level"] == "tf"
    assert (ex["precision"], ex["recall"], ex["n_significant_tf_pairs"]) == (1.0, 1.0, 1)
    assert ex["top_tf_pairs"][0]["q_excess"] < 0.05 and ex["n_significant_filter_pairs"] == 1
    assert abs(ex["null_centre"]) < 0.2 and ex["null_scale"] >= 1.0


def test_findings_merge_redundant_names_by_family_pair_and_mark_true_pairs():
    """GABPA/ELF1/EHF x HNF4A/HNF4G are one finding; unknown families group by name."""
    def row(a, b, fa, fb, q, qx=0.5, n=1):
        return {"tf_a": a, "tf_b": b, "family_a": fa, "family_b": fb, "q_value": q, "q_excess": qx,
                "n_filter_pairs": n, "effect_size": 0.9, "median_distance_bp": 12}
    rows = [row("ELF1", "HNF4A", "ETS", "NR2", 1e-8, n=3), row("GABPA", "HNF4G", "ETS", "NR2", 1e-6, qx=0.01),
            row("HNF4A", "EHF", "NR2", "ETS", 1e-5), row("X", "Y", "", "", 1e-3)]
    groups = report_html.finding_groups(rows, truth={frozenset(("GABPA", "HNF4G"))})
    assert len(groups) == 2
    ets = groups[0]
    assert ets["names_a"] == ["ELF1", "GABPA", "EHF"] and ets["names_b"] == ["HNF4A", "HNF4G"]
    assert ets["best"]["q_value"] == 1e-8 and ets["n_tf_pairs"] == 3 and ets["n_filter_pairs"] == 5
    assert ets["true"] and not groups[1]["true"]
    assert (groups[1]["names_a"], groups[1]["family_a"]) == (["X"], "")


def _tomtom(names_ics):
    return [{"filter": f"filter{i}", "target": t, "q_value": "0.001", "ic": str(ic)}
            for i, (t, ic) in enumerate(names_ics)]


def test_quality_flags_name_redundant_weak_filters_and_enrichment():
    tomtom = _tomtom([("CTCF", 5 + i) for i in range(5)] + [(f"TF{i}", 14) for i in range(5)])
    methods = {"raw": {"n_tested": 1000, "n_significant_filter_pairs": 600}}
    flags = report_html.quality_flags({"run": {"n_foreground": 40}, "methods": methods}, tomtom, {"raw": []})
    text = " | ".join(flags)
    assert "5 of 10 matched filters are named CTCF (5.0-9.0 bits)" in text
    assert "3 of 10 matched filters carry under 8 bits" in text  # ic 5, 6, 7
    assert "600 of 1000 tested filter pairs are significant" in text and "Only 40 foreground" in text
    diverse = _tomtom([(f"TF{i}", 14) for i in range(10)])
    methods = {"raw": {"n_tested": 1000, "n_significant_filter_pairs": 50}}
    ok = {"run": {"n_foreground": 500}, "methods": methods}
    assert report_html.quality_flags(ok, diverse, {"raw": []}) == []


def test_heatmap_labels_never_overlap():
    marks = [(10, "A"), (11, "A"), (12, "A"), (12.5, "B"), (30, "C"), (30.4, "D"), (60, "A")]
    kept = plots.spaced_labels(marks, min_gap=2.0)
    assert kept == [(11.0, "A"), (30.0, "C"), (60.0, "A")]  # B too close to A's run, D to C
    assert all(b[0] - a[0] >= 2.0 for a, b in zip(kept, kept[1:], strict=False))


def test_excess_level_says_where_the_test_ran_even_when_nothing_is_listed(tmp_path):
    """30 named filters, no pair shifted: nothing is listed, but the excess test ran on the TF matrix,
    and the summary says so (not "too few tests")."""
    from satori_jax.interpret.outputs import method_tables as _method_tables

    rng = np.random.default_rng(1)
    f = 30
    a, b = np.triu_indices(f, 1)
    t = a.size
    p = rng.uniform(0.2, 1.0, t)
    stats = {"filter_a": a, "filter_b": b, "n_fg": np.full(t, 10), "n_bg": np.full(t, 10),
             "median_score_fg": np.ones(t), "median_score_bg": np.ones(t), "median_distance_bp": np.ones(t),
             "max_score_fg": np.ones(t), "u_statistic": np.ones(t), "p_value": p, "q_value": np.ones(t),
             "effect_size": np.full(t, 0.5)}
    matches = [FilterMatch(i, 50, 9.0, f"T{i}", f"MA{i}", 1e-6, 1e-4, 0, "+", "fam") for i in range(f)]
    _, tf_rows, _, _, excess = _method_tables(tmp_path, "raw", stats, matches, f, 0.05)
    assert tf_rows == [] and excess["tf_rows"] == [] and excess["level"] == "tf"
    _, _, _, _, few = _method_tables(tmp_path, "raw", {k: v[:10] for k, v in stats.items()}, matches, f, 0.05)
    assert few["level"] == "none"  # 10 filter pairs, 10 TF pairs: too few at either level


def test_findings_sentence_names_only_the_rules_the_run_used(tmp_path):
    s = {"n_examples": 10, "n_tested": 5, "n_significant_filter_pairs": 0, "n_significant_tf_pairs": 0}
    default = report_html._findings("raw", s, [], None, {"tf_pool": True, "partner_rule": True})
    assert "TF-pooled test" in default and "effect_partners" in default
    bare = report_html._findings("raw", s, [], None, {"tf_pool": False, "partner_rule": False})
    assert "TF-pooled test" not in bare and "effect_partners" not in bare
    assert "q_tf &lt; 0.05" in bare
    assert "effect_partners" in report_html._findings("raw", s, [], None, {"tf_pool": False})
