"""Probe: the TF-pooled test's effect floor, against the filter-level list alone (not a feature).

    python scripts/probe_pooled_gate.py RUN DATA OUT --methods raw,attr [--max-examples N] [--permuted]

Interprets ``RUN`` in memory (``--motif-db DATA/motifs.meme --truth DATA/interactions.tsv``, the
filter-level rule only: ``tf_pool=False``) into ``OUT``, keeps each method's foreground / background
pair scores, and scores against the truth the filter-level list alone and its union with the pairs the
TF-pooled test (:mod:`satori_jax.interpret.pooled`) lists under several gates on its effect sizes
(as scored ``e``, per-example normalised ``n``). ``--permuted``: the run is a permuted-label control
(every positive as foreground, every negative as background, as ``bench.accuracy`` does). Used for
``bench/results/accuracy/tf-pooled-gate-2026-12-07.md``.
"""

from __future__ import annotations

import numpy as np
from probe_list_rules import dump_scores, filter_rows, probe_parser, tomtom_names  # (scripts/ on sys.path)

from satori_jax.interpret.evaluate import load_truth
from satori_jax.interpret.pooled import filter_groups, group_max, normalise_per_example
from satori_jax.interpret.report import tf_pair_table
from satori_jax.interpret.stats import test_pairs

#: (label, gate(effect as scored, effect normalised)); the default is ``e,n>=.6``.
GATES = (("n>.50", lambda e, n: n > 0.5), ("n>=.60", lambda e, n: n >= 0.6),
         ("e>=.60", lambda e, n: e >= 0.6 and n > 0.5), ("e,n>=.6", lambda e, n: e >= 0.6 and n >= 0.6),
         ("e,n>=.65", lambda e, n: e >= 0.65 and n >= 0.65))


def main() -> None:
    p = probe_parser(__doc__, "raw,attr", None)
    p.add_argument("--permuted", action="store_true")
    a = p.parse_args()
    truth = load_truth(f"{a.data}/interactions.tsv")
    extra = {"prob_cutoff": 0.0, "neg_cutoff": 1.0} if a.permuted else {}  # as bench.accuracy's control
    dumps = dump_scores(a.run, a.data, a.out, tuple(a.methods.split(",")), a.max_examples, tf_pool=False,
                        **extra)
    names = tomtom_names(a.out, max(nf for _, _, nf in dumps.values()))
    groups, gnames = filter_groups(names)
    print("method | filter-level list: calls P F1 (chance) | " + " | ".join(g for g, _ in GATES))
    for m, (fg, bg, nf) in dumps.items():
        t = test_pairs(fg, bg, "mean", nf)
        rows = filter_rows(t, names)
        listed = {(r["tf_a"], r["tf_b"]) for r in tf_pair_table(rows)}
        g = len(gnames)
        pt = test_pairs(group_max(fg, groups), group_max(bg, groups), "mean", g)
        nfg, nbg = (group_max(normalise_per_example(s), groups) for s in (fg, bg))
        nt = test_pairs(nfg, nbg, 0.0, g)
        effn = {(int(x), int(y)): e for x, y, e in zip(nt["filter_a"], nt["filter_b"], nt["effect_size"],
                                                        strict=True)}

        def cell(called: set, rows: list = rows) -> str:
            c = truth.score([{"tf_a": x, "tf_b": y} for x, y in sorted(called)], rows)["exact"]["calls"]
            return f"{len(called)} P {c['precision']:.2f} F1 {c['f1']:.2f} ({c['chance_f1']:.2f})"

        cells = [cell(listed)]
        for _, gate in GATES:
            pooled = {tuple(sorted((gnames[x], gnames[y]))) for x, y, q, e in
                      zip(pt["filter_a"], pt["filter_b"], pt["q_value"], pt["effect_size"], strict=True)
                      if q < 0.05 and gate(e, effn.get((int(x), int(y)), np.nan))}
            cells.append(cell(listed | pooled))
        print(f"{m} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
