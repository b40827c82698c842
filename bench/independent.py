"""Benchmark data sets drawn without the package's simulators (a check on over-fitting to them).

    python -m bench.independent grammar --out DIR [--num-sequences 24000 --length 400 --seed 7]
    python -m bench.independent ab --out DIR [--num-sequences 18000 --length 200 --seed 11]

The accuracy suite (:mod:`bench.accuracy`) runs both as the data sets ``grammar`` and ``ab``.

Written independently of ``satori_jax.data`` (own motif sampling, placement and background, JASPAR
2024 CORE vertebrate profiles fetched by name with pyjaspar) so that a list rule tuned to one of our
generators shows here:

- ``grammar``: 14 TFs, 4 true pairs (the first 8 TFs, in order). A positive holds 1-2 true pairs, each a
  block (random order and strands, gap 2-12 bp); its negative counterpart holds the same pairs' TFs
  >= 60 bp apart. Both classes get 1-3 fillers (any TF but the last), >= 30 bp from every other motif.
  The last TF is a *lone enriched* motif (in 60 % of positives, 20 % of negatives, never adjacent);
  the two before it are an adjacent pair in 30 % of negatives only. Partner enrichment and a
  negative-class pair are the traps.
- ``ab``: DFIM-like: four equal classes (A only, B only, A and B, neither); label 1 = A and B present
  (1-2 copies each, anywhere); 0-2 distractors everywhere; a slightly GC-rich background.

Both write the package's data-set files: ``sequences.fa``, ``labels.tsv``, ``motifs.meme`` (the pool,
for ``--motif-db``), ``interactions.tsv`` (for ``--truth``), ``embeddings.tsv``, ``dataset.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

GRAMMAR_TFS = ("GATA1", "SOX2", "FOXA1", "NFYA", "SP1", "MEF2A", "RUNX1", "NRF1",
               "YY1", "CREB1", "SRF", "TEAD1", "POU2F1", "NFKB1")
AB_TFS = ("GATA1", "SOX2", "CTCF", "SP1", "MEF2A")


#: the release ``interpret`` names filters with (JASPAR CORE vertebrates), so that a JASPAR-named run can
#: name what was drawn
RELEASE = "JASPAR2024"


def fetch(names):
    """``{name: (probabilities (w, 4), matrix id)}``: of each name's JASPAR profiles, the first CORE
    vertebrate one (by name alone, JASPAR gives GATA1's plant profile and CTCF's insect one first)."""
    from pyjaspar import jaspardb

    db, out = jaspardb(release=RELEASE), {}
    for nm in names:
        hits = [m for m in db.fetch_motifs_by_name(nm)
                if m.collection == "CORE" and m.tax_group == "vertebrates"]
        if not hits:
            raise SystemExit(f"error: {RELEASE} has no CORE vertebrate profile named {nm!r}")
        m = hits[0]
        c = np.array([m.counts[b] for b in "ACGT"], float).T + 0.01
        out[nm] = (c / c.sum(1, keepdims=True), m.matrix_id)
    return out


class Drawer:
    """Motif instances and non-overlapping placement on one random generator."""

    def __init__(self, pwms, rng):
        self.pwms, self.rng = pwms, rng

    def motif(self, nm):
        s = np.array([self.rng.choice(4, p=row) for row in self.pwms[nm][0]])
        return (3 - s)[::-1] if self.rng.random() < 0.5 else s

    def place(self, seq, occupied, motif, sep):
        w = len(motif)
        for _ in range(200):
            st = int(self.rng.integers(0, len(seq) - w + 1))
            if all(st + w + sep <= a or st >= b + sep for a, b in occupied):
                seq[st:st + w] = motif
                occupied.append((st, st + w))
                return st
        return None


def grammar_example(d, y, pairs, names, bg, length):
    """One sequence and its instances; ``None`` when a block did not fit (the draws go on regardless)."""
    rng = d.rng
    seq, occ, rec, ok = rng.choice(4, size=length, p=bg), [], [], True
    for j in rng.choice(len(pairs), size=int(rng.integers(1, 3)), replace=False):
        a, b = pairs[j] if rng.random() >= 0.5 else pairs[j][::-1]
        ma, mb = d.motif(a), d.motif(b)
        if y:
            gap = int(rng.integers(2, 13))
            st = d.place(seq, occ, np.concatenate([ma, rng.choice(4, size=gap, p=bg), mb]), 30)
            if st is None:
                ok = False
                break
            rec += [(a, st, st + len(ma)), (b, st + len(ma) + gap, st + len(ma) + gap + len(mb))]
        else:
            sa, sb = d.place(seq, occ, ma, 60), d.place(seq, occ, mb, 60)
            if sa is None or sb is None:
                ok = False
                break
            rec += [(a, sa, sa + len(ma)), (b, sb, sb + len(mb))]
    if not y and rng.random() < 0.3:
        a, b = names[-3], names[-2]
        block = np.concatenate([d.motif(a), rng.choice(4, size=int(rng.integers(2, 13)), p=bg), d.motif(b)])
        st = d.place(seq, occ, block, 30)
        ok = ok and st is not None
        if st is not None:
            rec.append((f"{a}+{b}", st, st + len(block)))
    if rng.random() < (0.6 if y else 0.2):
        m = d.motif(names[-1])
        st = d.place(seq, occ, m, 30)
        if st is not None:
            rec.append((names[-1], st, st + len(m)))
    for _ in range(int(rng.integers(1, 4))):
        nm = names[int(rng.integers(0, len(names) - 1))]
        m = d.motif(nm)
        st = d.place(seq, occ, m, 30)
        if st is not None:
            rec.append((nm, st, st + len(m)))
    return (seq, rec) if ok else None


def ab_example(d, cls, names, bg, length):
    rng = d.rng
    a, b, *dis = names
    seq, occ, rec, ok = rng.choice(4, size=length, p=bg), [], [], True
    todo = ([a] * int(rng.integers(1, 3)) if cls in (1, 3) else []) + \
        ([b] * int(rng.integers(1, 3)) if cls in (2, 3) else [])
    todo += [dis[int(rng.integers(len(dis)))] for _ in range(int(rng.integers(0, 3)))]
    for nm in todo:
        m = d.motif(nm)
        st = d.place(seq, occ, m, 0)
        if st is None:
            ok = False
        else:
            rec.append((nm, st, st + len(m)))
    return (seq, rec) if ok else None


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.independent", description=__doc__.split("\n\n")[0],
                                epilog="example:\n  python -m bench.independent ab --out /tmp/ab && "
                                       "python -m satori_jax.train --data /tmp/ab --workdir /tmp/ab_run",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("design", choices=("grammar", "ab"))
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--num-sequences", dest="n", type=int)
    p.add_argument("--length", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--tfs", help="comma list of JASPAR names (grammar: 14, the first 8 pair up; "
                                 "ab: A,B,distractors)")
    a = p.parse_args()
    grammar = a.design == "grammar"
    n = a.n or (24000 if grammar else 18000)
    length = a.length or (400 if grammar else 200)
    seed = a.seed if a.seed is not None else (7 if grammar else 11)
    names = tuple(a.tfs.split(",")) if a.tfs else (GRAMMAR_TFS if grammar else AB_TFS)
    pwms, rng = fetch(names), np.random.default_rng(seed)
    d = Drawer(pwms, rng)
    bg = np.array([0.29, 0.21, 0.21, 0.29]) if grammar else np.array([0.225, 0.275, 0.275, 0.225])
    pairs = [(names[2 * i], names[2 * i + 1]) for i in range(4)] if grammar else [names[:2]]
    seqs, labels, emb, prefix = [], [], [], "g" if grammar else "s"
    while len(seqs) < n:
        k = len(seqs)
        y = int(k % 2 == 0) if grammar else int(k % 4 == 3)
        ex = (grammar_example(d, y, pairs, names, bg, length) if grammar
              else ab_example(d, k % 4, names, bg, length))
        if ex is None:
            continue
        seqs.append("".join("ACGT"[c] for c in ex[0]))
        labels.append(y)
        emb += [(f"{prefix}{k}", *r) for r in ex[1]]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sequences.fa").write_text("".join(f">{prefix}{j}\n{s}\n" for j, s in enumerate(seqs)))
    rows = "".join(f"{prefix}{j}\t{y}\n" for j, y in enumerate(labels))
    (out / "labels.tsv").write_text("id\tlabel\n" + rows)
    (out / "interactions.tsv").write_text("tf_a\ttf_b\n" + "".join(f"{x}\t{z}\n" for x, z in pairs))
    (out / "embeddings.tsv").write_text("seq_id\tmotif\tstart\tend\n"
                                        + "".join("\t".join(map(str, r)) + "\n" for r in emb))
    f = ["MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n",
         "A {:.3f} C {:.3f} G {:.3f} T {:.3f}\n\n".format(*bg)]
    for nm in names:
        prob, mid = pwms[nm]
        f.append(f"MOTIF {nm} {mid}\nletter-probability matrix: alength= 4 w= {len(prob)} nsites= 20 E= 0\n")
        f += [" ".join(f"{v:.6f}" for v in row) + "\n" for row in prob] + ["\n"]
    (out / "motifs.meme").write_text("".join(f))
    info = {"generator": f"independent-{a.design}", "n": n, "length": length, "seed": seed, "tfs": names,
            "pairs": pairs, "interactions": pairs, "counts": {"sequences": n, "positive": int(sum(labels))}}
    (out / "dataset.json").write_text(json.dumps(info, indent=1))
    print(f"{out}: {n} sequences, {sum(labels)} positive, {len(pairs)} true pair(s)")


if __name__ == "__main__":
    main()
