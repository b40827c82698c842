"""bench.seeding_coverage: words are assigned to the motif they spell, on either strand."""

from __future__ import annotations

import numpy as np

from bench.seeding_coverage import HIT, best_motif


def _word(s: str) -> np.ndarray:
    return np.array(["ACGT".index(c) for c in s])


def _pwm(consensus: str, p: float = 0.9) -> np.ndarray:
    m = np.full((len(consensus), 4), (1 - p) / 3)
    m[np.arange(len(consensus)), _word(consensus)] = p
    return m


def test_a_consensus_word_hits_its_motif_on_either_strand_and_a_random_word_hits_none():
    motifs = {"A": _pwm("TTGACGTCAAGG"), "B": _pwm("CCCCGGGAAAT")}
    score, name = best_motif(_word("GACGTCAA"), motifs)
    assert name == "A" and score > HIT
    score, name = best_motif(_word("ATTTCCCG"), motifs)  # reverse complement of CGGGAAAT: part of B
    assert name == "B" and score > HIT
    score, _ = best_motif(_word("CTCTATAG"), motifs)
    assert score < HIT
