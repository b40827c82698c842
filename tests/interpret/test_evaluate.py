from __future__ import annotations

import json

import numpy as np
import pytest

from satori_jax.errors import InputError
from satori_jax.interpret.evaluate import (
    against_chance,
    average_precision,
    candidate_pairs,
    evaluate_interactions,
    family_aliases,
    load_truth,
    pr_curve,
    read_truth,
    score_calls,
    score_pairs,
    score_ranking,
)

TRUTH = {frozenset(p) for p in [("A", "B"), ("C", "D"), ("E", "F"), ("A", "C")]}


def test_score_hand_computed():
    # predicted: A-B (tp, given reversed), B-A duplicate, C-D (tp), X-Y (fp), A-A (self, dropped)
    pred = [("B", "A"), ("A", "B"), ("C", "D"), ("X", "Y"), ("A", "A")]
    s = score_pairs(pred, TRUTH)
    assert (s["tp"], s["fp"], s["fn"], s["n_predicted"], s["n_true"]) == (2, 1, 2, 3, 4)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(0.5)
    assert s["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))  # 4/7


def test_score_empty_and_aliases():
    s = score_pairs([], TRUTH)
    assert (s["precision"], s["recall"], s["f1"]) == (0.0, 0.0, 0.0)
    # E1 and E2 are near-identical motifs merged to E; E1-F counts as E-F; E1-E2 becomes a self pair
    aliases = {"E1": "E", "E2": "E"}
    s = score_pairs([("E1", "F"), ("E1", "E2")], TRUTH, aliases=aliases)
    assert (s["tp"], s["fp"], s["n_predicted"]) == (1, 0, 1)
    assert s["precision"] == 1.0 and s["recall"] == 0.25 and s["f1"] == pytest.approx(0.4)


def test_pr_curve():
    rows = [
        {"tf_a": "A", "tf_b": "B", "q_value": "0.001"},
        {"tf_a": "B", "tf_b": "A", "q_value": "0.2"},  # same pair, smaller q counts
        {"tf_a": "X", "tf_b": "Y", "q_value": "0.01"},
        {"tf_a": "C", "tf_b": "D", "q_value": "0.04"},
        {"tf_a": "C", "tf_b": "C", "q_value": "0.0"},  # self pair ignored
        {"tf_a": "E", "tf_b": "F", "q_value": "nan"},  # ignored
    ]
    curve = pr_curve(rows, TRUTH)
    assert [c["threshold"] for c in curve] == [0.001, 0.01, 0.04]
    assert [c["n_predicted"] for c in curve] == [1, 2, 3]
    assert [c["precision"] for c in curve] == pytest.approx([1.0, 0.5, 2 / 3])
    assert [c["recall"] for c in curve] == pytest.approx([0.25, 0.25, 0.5])
    c = pr_curve(rows, TRUTH, thresholds=[0.05, 0.0001])
    assert [x["threshold"] for x in c] == [0.0001, 0.05]
    assert c[0]["precision"] == 0.0 and c[1]["f1"] == pytest.approx(4 / 7)


def test_read_truth(tmp_path):
    p = tmp_path / "interactions.tsv"
    p.write_text("tf_a\ttf_b\nFOS::JUN\tGATA1\nGATA1\tFOS::JUN\n# c\n\nX\tX\n")
    assert read_truth(p) == {frozenset(("FOS::JUN", "GATA1"))}
    p.write_text("tf_a\ttf_b\nA\tB\tC\n")
    with pytest.raises(InputError, match="line 2"):
        read_truth(p)


def _brute_ap(labels, scores):
    """Mean AP over every order of the tied items (all permutations consistent with the scores)."""
    import itertools

    labels, scores = np.asarray(labels), np.asarray(scores, float)
    aps = []
    for perm in itertools.permutations(range(len(labels))):
        s = scores[list(perm)]
        if (np.diff(s) > 0).any():  # not a descending order of the scores
            continue
        y = labels[list(perm)]
        hits = np.cumsum(y)
        aps.append(np.sum((hits / np.arange(1, len(y) + 1))[y == 1]) / y.sum())
    return float(np.mean(aps))


def test_average_precision_hand_made_and_ties():
    assert average_precision([1, 0, 1, 0], [4, 3, 2, 1]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0, 1, 0, 1], [4, 3, 2, 1]) == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert average_precision([1, 1, 0], [3, 2, 1]) == pytest.approx(1.0)
    assert average_precision([1, 0], [1, 1]) == pytest.approx(0.75)  # either order, equally likely
    assert np.isnan(average_precision([0, 0], [1, 2]))
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 2, size=7)
        y[0] = 1
        s = rng.integers(0, 3, size=7).astype(float)
        assert average_precision(y, s) == pytest.approx(_brute_ap(y, s))
    # all tied: expected AP of a random ranking, a little above the prevalence
    assert average_precision([1, 0, 0, 0], [0, 0, 0, 0]) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


def test_candidates_and_calls_against_chance():
    cand = candidate_pairs(["A", "B", "C", "D"])
    assert cand == {frozenset(p) for p in [("A", "B"), ("A", "C"), ("A", "D"), ("B", "C"), ("B", "D"),
                                           ("C", "D")]}
    assert candidate_pairs(tested=[("A", "B"), ("B", "A"), ("C", "C")]) == {frozenset(("A", "B"))}
    with pytest.raises(InputError):
        candidate_pairs(["A"], tested=[])
    truth = [("A", "B"), ("C", "D")]
    s = score_calls([("A", "B"), ("A", "C")], truth, cand)
    assert (s["precision"], s["recall"], s["f1"]) == (0.5, 0.5, 0.5)
    assert s["n_candidates"] == 6 and s["n_true_candidates"] == 2
    assert s["chance_precision"] == pytest.approx(1 / 3) and s["chance_recall"] == 1.0
    assert s["chance_f1"] == pytest.approx(0.5)
    s = score_calls([], truth, [("A", "B"), ("A", "C")])  # tested pairs miss C-D: chance recall 1/2
    assert s["f1"] == 0 and s["chance_precision"] == 0.5 and s["chance_recall"] == 0.5


def test_score_ranking_known_values():
    truth = [("A", "B"), ("C", "D")]
    cand = candidate_pairs(["A", "B", "C", "D"])
    perfect = {("A", "B"): 5.0, ("D", "C"): 4.0, ("A", "C"): 1.0}
    r = score_ranking(perfect, truth, cand)
    assert r["auprc"] == 1.0 and r["auroc"] == 1.0
    assert r["prevalence"] == pytest.approx(2 / 6) and r["n_ranked"] == 6 and r["n_scored"] == 3
    assert r["chance_auprc"] == pytest.approx(_brute_ap([1, 1, 0, 0, 0, 0], [0] * 6))
    # rows, q-values (smaller first); C-D never tested ranks last, tied with the 3 other untested pairs
    rows = [("A", "C", 0.01), ("B", "A", 0.2), ("A", "B", 0.5), ("B", "D", float("nan"))]
    r = score_ranking(rows, truth, cand, higher_is_better=False)
    # order: A-C (0), A-B (1), then 4 tied pairs with one positive
    assert r["auprc"] == pytest.approx(_brute_ap([0, 1, 1, 0, 0, 0], [3, 2, 1, 1, 1, 1]))
    # A-B beats 3 of 4 negatives; C-D loses to A-C and ties with 3 -> (3 + 1.5) / 8
    assert r["auroc"] == pytest.approx(4.5 / 8)
    assert r["n_scored"] == 2 and r["n_true_scored"] == 1
    # a true pair outside the candidates is ranked (last), not dropped
    r = score_ranking({("A", "B"): 1.0}, truth, [("A", "B"), ("A", "C")])
    assert r["n_ranked"] == 3 and r["prevalence"] == pytest.approx(2 / 3)
    expected = (1 + (1 + 2 / 3) / 2) / 2  # C-D second or third with A-C, equally likely
    assert r["auprc"] == pytest.approx(_brute_ap([1, 0, 1], [1, 0, 0])) == pytest.approx(expected)


def test_family_merging():
    from satori_jax.data.meme import Motif

    pwm = np.full((4, 4), 0.25)
    motifs = [Motif("ELF1", pwm, family="Ets-related"), Motif("GABPA", pwm, family="Ets-related"),
              Motif("EHF", pwm, family="Ets-related"), Motif("HNF4A", pwm, family="Thyroid hormone receptor"),
              Motif("X", pwm)]
    fam = family_aliases(motifs)
    assert fam["ELF1"] == fam["GABPA"] == fam["EHF"] == "family:Ets-related" and "X" not in fam
    assert family_aliases([{"name": "Elf1", "family": "Ets-related"}, {"name": "Y", "family": ""}]) == {
        "Elf1": "family:Ets-related", "ELF1": "family:Ets-related"}
    truth = [("ELF1", "HNF4A")]
    cand = candidate_pairs([m.name for m in motifs])
    out = evaluate_interactions(truth, cand, predicted=[("GABPA", "HNF4A"), ("EHF", "HNF4A")],
                                scores={("GABPA", "HNF4A"): 2.0, ("ELF1", "X"): 1.0}, families=motifs)
    assert out["exact"]["calls"]["tp"] == 0 and out["exact"]["calls"]["n_candidates"] == 10
    assert out["family"]["calls"]["tp"] == 1 and out["family"]["calls"]["precision"] == 1.0
    assert out["family"]["calls"]["n_candidates"] == 3  # ETS-HNF4A, ETS-X, HNF4A-X (ETS-ETS dropped)
    fr = out["family"]["ranking"]
    assert fr["auprc"] == 1.0 and fr["prevalence"] == pytest.approx(1 / 3)
    assert out["exact"]["ranking"]["auprc"] < 0.5
    assert set(evaluate_interactions(truth, cand, predicted=[])) == {"exact"}


def test_truth_pool_and_candidates_from_the_simulated_data_set(tmp_path):
    """The pool is dataset.json's motifs beside the truth file; chance is C(T, 2) over it."""
    (tmp_path / "interactions.tsv").write_text("tf_a\ttf_b\nA\tB\nC\tD\n")
    motifs = [{"name": n, "family": f} for n, f in (("A", "ets"), ("B", "nr"), ("C", "ets"), ("D", "bzip"),
                                                       ("E", ""))]
    (tmp_path / "dataset.json").write_text(json.dumps({"motifs": motifs}))
    truth = load_truth(tmp_path / "interactions.tsv", {"G": "ets"})
    assert truth.pool == ("A", "B", "C", "D", "E")
    assert truth.families["A"] == "ets" and "E" not in truth.families
    assert truth.families["G"] == "ets"  # the database's families join the pool's
    # a list of A-B and A-E; tested filter pairs: A-B (p 1e-6), A-E (1e-3), C-D (0.5), one unnamed
    tested = [{"tf_a": "A", "tf_b": "B", "p_value": 1e-6}, {"tf_a": "E", "tf_b": "A", "p_value": 1e-3},
              {"tf_a": "C", "tf_b": "D", "p_value": 0.5}, {"tf_a": "", "tf_b": "D", "p_value": 1e-9}]
    out = truth.score([{"tf_a": "A", "tf_b": "B"}, {"tf_a": "A", "tf_b": "E"}], tested)
    assert out["candidates"].endswith("C(5, 2) = 10")
    calls = out["exact"]["calls"]
    assert (calls["precision"], calls["recall"], calls["n_candidates"]) == (0.5, 0.5, 10)
    assert calls["chance_precision"] == pytest.approx(0.2)
    assert calls["chance_f1"] == pytest.approx(2 * 0.2 / 1.2)
    rank = out["exact"]["ranking"]  # order A-B, A-E, C-D, then 7 untested tied last: AP = (1 + 2/3) / 2
    assert rank["auprc"] == pytest.approx((1 + 2 / 3) / 2) and rank["prevalence"] == pytest.approx(0.2)
    fam = out["family"]  # A and C are one ETS family: A-B stays, C-D becomes ets-bzip, A-E is ets-E
    assert fam["calls"]["n_true"] == 2 and fam["calls"]["precision"] == 0.5


def test_truth_without_a_pool_uses_the_tested_pairs(tmp_path):
    """No dataset.json / motifs.meme beside the truth: candidates are the tested TF pairs."""
    (tmp_path / "t.tsv").write_text("A\tB\n")
    truth = load_truth(tmp_path / "t.tsv")
    assert truth.pool is None and truth.families == {}
    tested = [{"tf_a": "A", "tf_b": "B", "p_value": 0.2}, {"tf_a": "A", "tf_b": "C", "p_value": 0.1}]
    out = truth.score([], tested)
    assert out["candidates"] == "every tested TF pair (a filter pair, the pool) or listed one"
    assert "family" not in out
    assert out["exact"]["calls"]["chance_precision"] == 0.5 and out["exact"]["calls"]["f1"] == 0.0
    assert out["exact"]["ranking"]["auprc"] == pytest.approx(0.5)  # A-C ranks above the true A-B
    # TF pairs only the pooled test tested are candidates too (chance level), ranked last
    pool = [{"tf_a": "C", "tf_b": "D"}, {"tf_a": "B", "tf_b": "D"}]
    more = truth.score([{"tf_a": "B", "tf_b": "D"}], tested, pool)
    assert more["exact"]["calls"]["n_candidates"] == 4 and more["exact"]["calls"]["chance_precision"] == 0.25
    assert more["exact"]["ranking"]["auprc"] == pytest.approx(0.5)


def test_against_chance_reads_each_score_beside_its_chance_level():
    view = {"calls": {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "chance_f1": 0.2},
            "ranking": {"auprc": 0.75, "chance_auprc": 0.3, "auroc": None}}
    text = against_chance({"exact": view})
    assert text == "P 0.50 R 0.25 F1 0.333 (chance 0.200), AUPRC 0.750 (chance 0.300), AUROC n/a"
    both = against_chance({"exact": view, "family": view}, digits=2)
    assert both.count("F1 0.33 (chance 0.20)") == 2 and "; families merged: P 0.50" in both


def test_truth_ranks_by_the_evidence_given_instead_of_the_p_values(tmp_path):
    """With the pooled test's evidence, higher ranks first and p-values are ignored; a pair without
    evidence ranks last."""
    (tmp_path / "t.tsv").write_text("A\tB\n")
    truth = load_truth(tmp_path / "t.tsv")
    tested = [{"tf_a": "A", "tf_b": "B", "p_value": 0.2}, {"tf_a": "A", "tf_b": "C", "p_value": 0.1},
              {"tf_a": "B", "tf_b": "C", "p_value": 0.3}]
    by_p = truth.score([], tested)
    assert by_p["exact"]["ranking"]["auprc"] == pytest.approx(0.5)
    assert by_p["ranked_by"] == "smallest filter-pair p-value"
    ev = truth.score([], tested, evidence={("A", "B"): 0.8, ("A", "C"): 0.6, ("B", "C"): 0.7})
    assert ev["exact"]["ranking"]["auprc"] == pytest.approx(1.0) and ev["exact"]["ranking"]["auroc"] == 1.0
    assert ev["ranked_by"].startswith("better of two ranks")
    last = truth.score([], tested, evidence={("A", "C"): 0.6, ("B", "C"): 0.7})
    assert last["exact"]["ranking"]["auprc"] == pytest.approx(1 / 3)


def test_names_match_regardless_of_case():
    """JASPAR names mouse profiles in mouse case (Nrf1, Sox17): a call of Nrf1-RUNX1 is the true pair
    NRF1-RUNX1, in the exact view and the family view (NRF1 has no JASPAR family), and a mouse name
    finds its family whichever case the family table used."""
    truth = [("NRF1", "RUNX1"), ("GATA1", "SOX17")]
    cand = candidate_pairs(["NRF1", "RUNX1", "GATA1", "SOX17"])
    out = evaluate_interactions(truth, cand, predicted=[("Nrf1", "Runx1"), ("GATA1", "Sox17")],
                                families={"RUNX1": "Runt", "SOX17": "SOX", "GATA1": "GATA"})
    for view in ("exact", "family"):
        assert out[view]["calls"]["tp"] == 2 and out[view]["calls"]["precision"] == 1.0
    assert score_pairs([("Sox17", "gata1")], [("SOX17", "GATA1")])["tp"] == 1
