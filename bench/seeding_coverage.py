"""``python -m bench.seeding_coverage``: how many of a simulated data set's motifs the k-mer seeding hits.

A TF that no first-layer filter detects can never be named, so none of its pairs can be listed: on
twins-40 at 60 000 sequences the seven true pairs of the two TFs no filter was named after were the
largest block of missed pairs. The seeding (:mod:`satori_jax.train.seeding`) decides which motifs
start with a filter. This bench runs :func:`~satori_jax.train.seeding.enriched_kmers` on each data
set's sequences (labels unused, as in training) with the room of the default model (64 filters = 32
words and their reverse complements) and assigns each word to the pool motif it matches best:
the highest mean log-odds ``log(p + 0.01) − log(0.25)`` per aligned base over every shift and both
strands with at least five bases of overlap; a word hits a motif when that mean is above 0.8
(a random 8-mer scores about −0.3, an exact consensus word of an informative motif 1.0-1.4).

    python -m bench.seeding_coverage D1 D2 ... --out bench/results/seeding-coverage.json

Compare two versions of the seeding by running the same command with ``PYTHONPATH`` set to each
tree.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

#: mean log-odds per aligned base above which a word counts as a hit of a motif
HIT = 0.8


def best_motif(word: np.ndarray, motifs: dict[str, np.ndarray]) -> tuple[float, str | None]:
    """``(score, name)`` of the motif ``word (k,)`` matches best (module docstring)."""
    k = len(word)
    best: tuple[float, str | None] = (-np.inf, None)
    for name, pwm in motifs.items():
        lo = np.log(pwm + 0.01) - np.log(0.25)
        length = lo.shape[0]
        for w in (word, (3 - word)[::-1]):
            for s in range(-k + 5, length - 4):
                j = np.arange(k)
                ok = (s + j >= 0) & (s + j < length)
                if ok.sum() < 5:
                    continue
                score = float(lo[(s + j)[ok], w[ok]].mean())
                if score > best[0]:
                    best = (score, name)
    return best


def coverage(data: Path, num: int = 32, k: int = 8) -> dict:
    """Seeding words of ``data/sequences.fa`` and the pool motifs (``data/motifs.meme``) they hit."""
    from satori_jax.data.encoding import encode_sequences
    from satori_jax.data.io import read_fasta
    from satori_jax.data.meme import read_meme
    from satori_jax.train.seeding import enriched_kmers

    _, seqs = read_fasta(data / "sequences.fa")
    codes = encode_sequences(seqs)
    motifs = {m.name: m.pwm for m in read_meme(data / "motifs.meme")}
    t = time.perf_counter()
    words, logp = enriched_kmers(codes, num, k=k)
    seconds = time.perf_counter() - t
    hits = [best_motif(w, motifs) for w in words]
    per_motif = Counter(name for score, name in hits if score > HIT)
    return {
        "data": str(data), "n_sequences": len(codes), "n_motifs": len(motifs), "n_words": len(words),
        "seconds": round(seconds, 1), "covered": len(per_motif), "words_per_motif": dict(per_motif),
        "missing": sorted(set(motifs) - set(per_motif)),
        "words": [{"word": "".join("ACGT"[b] for b in w), "motif": n if s > HIT else None,
                   "score": round(s, 2), "log10_p": float(p)} for w, (s, n), p in zip(words, hits, logp,
                                                                                        strict=True)],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.seeding_coverage", description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="+", help="simulated data set directories (sequences.fa, motifs.meme)")
    p.add_argument("--num", type=int, default=32, help="words (default 32: the default model's 64 filters)")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--out", default=None, help="JSON results file")
    args = p.parse_args(argv)
    res = [coverage(Path(d), args.num, args.k) for d in args.data]
    for r in res:
        print(f"{r['data']}: {r['covered']} of {r['n_motifs']} motifs hit by {r['n_words']} words "
              f"({r['seconds']} s); missing {', '.join(r['missing']) or '-'}")
    total = sum(r["covered"] for r in res), sum(r["n_motifs"] for r in res)
    print(f"total: {total[0]} of {total[1]}")
    if args.out:
        Path(args.out).write_text(json.dumps({"command": "python -m bench.seeding_coverage " + " ".join(
            sys.argv[1:] if argv is None else argv), "datasets": res, "total": total}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
