from __future__ import annotations

import pytest

from satori_jax.errors import InputError
from satori_jax.interpret.evaluate import pr_curve, read_truth, score_pairs

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
