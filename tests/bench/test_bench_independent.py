"""The independent generators (bench/independent.py): their files, truth and the designs' promises."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyjaspar")

ROOT = Path(__file__).resolve().parents[2]


def _draw(tmp_path, design, n, length):
    out = tmp_path / design
    subprocess.run([sys.executable, "-m", "bench.independent", design, "--out", str(out), "--num-sequences",
                    str(n), "--length", str(length), "--seed", "3"], check=True, cwd=ROOT,
                   capture_output=True)
    labels = dict(ln.split("\t") for ln in (out / "labels.tsv").read_text().splitlines()[1:])
    inst = defaultdict(list)
    for ln in (out / "embeddings.tsv").read_text().splitlines()[1:]:
        sid, name, start, end = ln.split("\t")
        inst[sid].append((name, int(start), int(end)))
    return out, labels, inst, json.loads((out / "dataset.json").read_text())


def _gap(inst, a, b):
    """Smallest gap (bp) between an instance of a and one of b, None when one is missing."""
    xs = [(s, e) for n, s, e in inst if n == a]
    ys = [(s, e) for n, s, e in inst if n == b]
    gaps = [max(s2 - e1, s1 - e2) for s1, e1 in xs for s2, e2 in ys]
    return min(gaps) if gaps else None


def test_grammar_pairs_adjacent_only_in_positives_and_a_lone_enriched_motif(tmp_path):
    out, labels, inst, meta = _draw(tmp_path, "grammar", 400, 400)
    truth = [ln.split("\t") for ln in (out / "interactions.tsv").read_text().splitlines()[1:]]
    assert len(truth) == 4 and meta["interactions"] == truth
    assert meta["counts"]["sequences"] == len(labels) == 400
    assert sum(int(y) for y in labels.values()) == 200
    near = {"1": 0, "0": 0}
    for sid, y in labels.items():
        for a, b in truth:
            g = _gap(inst[sid], a, b)
            if g is not None and g <= 12:
                near[y] += 1
    assert near["1"] >= 200 and near["0"] == 0  # every positive holds an adjacent true pair, no negative
    lone = meta["tfs"][-1]
    has = {y: sum(any(n == lone for n, *_ in inst[s]) for s, yy in labels.items() if yy == y) for y in "01"}
    assert has["1"] > 2 * has["0"]  # the lone motif is enriched in the positives
    names = [ln.split()[1] for ln in (out / "motifs.meme").read_text().splitlines() if ln.startswith("MOTIF")]
    assert names == list(meta["tfs"])


def test_ab_positives_hold_both_key_motifs(tmp_path):
    out, labels, inst, meta = _draw(tmp_path, "ab", 200, 200)
    a, b = meta["tfs"][:2]
    assert meta["interactions"] == [[a, b]]
    for sid, y in labels.items():
        present = {n for n, *_ in inst[sid]}
        assert (a in present and b in present) == (y == "1")


def test_profiles_are_jaspar_core_vertebrate_ones():
    """By name alone JASPAR returns GATA1's plant profile (MA2388.1) and CTCF's insect one (MA0531.2)
    first; the generators draw the vertebrate ones, which the JASPAR naming of ``interpret`` holds."""
    from bench import independent

    got = independent.fetch(("GATA1", "CTCF", "CREB1"))
    assert {k: v[1] for k, v in got.items()} == {"GATA1": "MA0035.5", "CTCF": "MA0139.2", "CREB1": "MA0018.5"}
    for prob, _ in got.values():
        assert np.allclose(prob.sum(1), 1.0)
