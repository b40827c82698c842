"""Probe: re-run ``interpret`` on a run with the methods' pair scores cached on disk (not a feature).

    python scripts/probe_cached_scores.py CACHE RUN DATA OUT [--methods raw,attr,fis,dfim] [--option KEY=JSON]

The first call scores as ``interpret`` does and saves every scorer call's :class:`PairScores` under
``CACHE`` (keyed by method and a hash of the sequences and targets); later calls with the same run
and selection read them back, so a change to selection-independent steps (tests, list rules,
normalisation of the folds) is measured on fis / dfim in seconds instead of the 5-25 minutes their
scoring takes. ``interpret`` runs in memory with ``--motif-db DATA/motifs.meme --truth
DATA/interactions.tsv`` and no plots; the tree on ``PYTHONPATH`` decides everything but the scores.
Used for ``bench/results/accuracy/fis-normalised-2026-12-07.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from satori_jax.interpret import scorers
from satori_jax.interpret.driver import interpret
from satori_jax.interpret.interactions import PairScores
from satori_jax.interpret.options import InterpretOptions


def cached(method: str, score, cache: Path):
    """``score`` with its results stored in / read from ``cache``."""

    def wrapped(ctx, codes: np.ndarray, targets: np.ndarray) -> PairScores:
        h = hashlib.sha1(np.ascontiguousarray(codes).tobytes() + np.ascontiguousarray(targets).tobytes())
        path = cache / f"{method}-{h.hexdigest()[:16]}.npz"
        if path.is_file():
            z = np.load(path)
            cols = (z[c] for c in ("example", "filter_a", "filter_b", "score", "distance"))
            return PairScores(*cols, int(z["n"]))
        t = time.perf_counter()
        ps = score(ctx, codes, targets)
        np.savez(path, example=ps.example, filter_a=ps.filter_a, filter_b=ps.filter_b, score=ps.score,
                 distance=ps.distance, n=ps.n_examples)
        print(f"{method}: scored {len(codes)} examples in {time.perf_counter() - t:.0f} s", flush=True)
        return ps

    return wrapped


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for a in ("cache", "run", "data", "out"):
        p.add_argument(a)
    p.add_argument("--methods", default="raw,attr,fis,dfim")
    p.add_argument("--option", action="append", default=[], metavar="KEY=JSON",
                   help="an InterpretOptions field, e.g. partner_rule=false, motif_db=\"jaspar2024\" "
                        "(JASPAR names); repeatable")
    a = p.parse_args()
    extra = {k: json.loads(v) for k, v in (o.split("=", 1) for o in a.option)}
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    methods = tuple(a.methods.split(","))
    known = scorers.available_methods()
    for m in methods:  # the scorer's other fields (batch cap, normalised test) stay as the tree has them
        scorers.SCORERS[m] = dataclasses.replace(known[m], score=cached(m, known[m].score, cache), plots=None)
    base = {"out": a.out, "methods": methods, "motif_db": f"{a.data}/motifs.meme",
            "truth": f"{a.data}/interactions.tsv", "plots": False, "verbose": False}
    interpret(a.run, InterpretOptions(**(base | extra)))


if __name__ == "__main__":
    main()
