"""Probe: which TF-pair ranking carries a method's evidence best (threshold-free AUPRC; not a feature).

    python scripts/probe_ranking.py RUN DATA OUT --methods raw,attr [--max-examples N] [--permuted]

Interprets ``RUN`` in memory at the defaults (``--motif-db DATA/motifs.meme --truth
DATA/interactions.tsv``) into ``OUT``, keeps each method's filter-pair rows, TF list and TF-pooled test,
and scores several rankings of the candidate TF pairs against the truth (AUPRC, chance in brackets).
"""

from __future__ import annotations

import numpy as np
from probe_list_rules import probe_parser  # (scripts/ is on sys.path)

from satori_jax.interpret import outputs
from satori_jax.interpret.driver import interpret
from satori_jax.interpret.evaluate import evaluate_interactions, load_truth
from satori_jax.interpret.options import InterpretOptions
from satori_jax.interpret.pooled import tf_evidence, tf_pairs
from satori_jax.interpret.report import tf_simes


def rankings(rows: list[dict], tf_rows: list[dict], pooled: dict | None) -> dict[str, dict]:
    """``{label: {(tf_a, tf_b): score}}``, higher ranks first."""
    def lg(p: float) -> float:
        return -np.log10(max(p, 1e-300))

    named = [r for r in rows if r["tf_a"] and r["tf_b"] and r["tf_a"] != r["tf_b"]]
    minp: dict = {}
    feff: dict = {}
    for r in named:
        k = tuple(sorted((r["tf_a"], r["tf_b"])))
        minp[k] = max(minp.get(k, 0.0), lg(float(r["p_value"])))
        if float(r["p_value"]) < 0.05:
            feff[k] = max(feff.get(k, 0.0), float(r["effect_size"]))
    keys, simes, _ = tf_simes(rows)
    sim = {tuple(k): lg(float(p)) for k, p in zip(keys, np.nan_to_num(simes, nan=1.0), strict=True)}
    pool, peff, neff, se = {}, {}, {}, {}
    if pooled:
        st = pooled["stats"]
        for i, k in enumerate(tf_pairs(pooled)):
            pool[k] = lg(float(st["p_value"][i]))
            peff[k], neff[k] = float(st["effect_size"][i]), float(np.nan_to_num(st["effect_normalised"][i]))
            n1, n2 = max(float(st["n_fg"][i]), 1.0), max(float(st["n_bg"][i]), 1.0)
            se[k] = float(np.sqrt((n1 + n2 + 1) / (12 * n1 * n2)))
    listed = {(r["tf_a"], r["tf_b"]): len(tf_rows) - i for i, r in enumerate(tf_rows)}
    allk = set(minp) | set(sim) | set(pool)

    def listed_first(score: dict) -> dict:
        return {k: 1e3 + listed[k] if k in listed else score.get(k, 0.0) for k in allk}

    lb = {k: min(peff[k], neff[k]) - 1.645 * se[k] for k in peff}

    def ranks(score: dict) -> dict:  # 0 = best; missing = len(allk)
        order = sorted(score, key=lambda k: -score[k])
        r = {k: float(i) for i, k in enumerate(order)}
        return {k: r.get(k, float(len(allk))) for k in allk}

    rp, rl = ranks(minp), ranks(lb)
    return {
        "borda(min filter p, pool LB)": {k: -(rp[k] + rl[k]) for k in allk},
        "best rank of (min filter p, pool LB)": {k: -min(rp[k], rl[k]) - 1e-3 * max(rp[k], rl[k])
                                                 for k in allk},
        "tf_evidence (the product's, new)": tf_evidence(pooled, rows) if pooled else {},
        "min filter p (before)": minp,
        "simes (q_tf's p)": sim,
        "max(simes, pool) of -log p": {k: max(sim.get(k, 0.0), pool.get(k, 0.0)) for k in allk},
        "pool p": pool,
        "pool effect": peff,
        "pool min(effect, normalised)": {k: min(peff[k], neff[k]) for k in peff},
        "pool min(e, n) - 1.645 SE0": {k: min(peff[k], neff[k]) - 1.645 * se[k] for k in peff},
        "pool min(e, n) - 1 SE0": {k: min(peff[k], neff[k]) - se[k] for k in peff},
        "best filter effect (p<.05)": feff,
        "listed, then min filter p": listed_first(minp),
        "listed, then simes": listed_first(sim),
        "listed, then pool min(e, n)": listed_first({k: min(peff[k], neff[k]) for k in peff}),
    }


def main() -> None:
    p = probe_parser(__doc__, "raw,attr", None)
    p.add_argument("--permuted", action="store_true")
    p.add_argument("--jaspar", action="store_true", help="name the filters with JASPAR (no --motif-db)")
    p.add_argument("--show", type=int, default=0, help="print the top N pairs of the new ranking")
    a = p.parse_args()
    truth = load_truth(f"{a.data}/interactions.tsv")
    got: dict = {}
    orig = outputs.method_tables

    def capture(out, method, stats, matches, num_filters, alpha, min_effect=0.0, pooled=None):
        res = orig(out, method, stats, matches, num_filters, alpha, min_effect, pooled)
        got[method] = (res[0], res[1], pooled)
        return res

    outputs.method_tables = capture
    extra = {"prob_cutoff": 0.0, "neg_cutoff": 1.0} if a.permuted else {}
    try:
        interpret(a.run, InterpretOptions(
            out=a.out, methods=tuple(a.methods.split(",")),
            motif_db="jaspar2024" if a.jaspar else f"{a.data}/motifs.meme",
            truth=f"{a.data}/interactions.tsv", max_examples=a.max_examples, plots=False, verbose=False,
            **extra))
    finally:
        outputs.method_tables = orig
    cand, _ = truth.candidates([])
    for m, (rows, tf_rows, pooled) in got.items():
        pred = [(r["tf_a"], r["tf_b"]) for r in tf_rows]
        if a.show and pooled:
            st, ev = pooled["stats"], tf_evidence(pooled, rows)
            top = sorted(range(len(st["p_value"])), key=lambda i: -ev[tf_pairs(pooled)[i]])[:a.show]
            for i in top:
                k = tf_pairs(pooled)[i]
                print(f"  {m} {k} ev {ev[k]:.3f} n_fg {st['n_fg'][i]} n_bg {st['n_bg'][i]} "
                      f"p {st['p_value'][i]:.2g}")
        for label, sc in rankings(rows, tf_rows, pooled).items():
            res = evaluate_interactions(truth.pairs, cand, predicted=pred,
                                        scores=[(x, y, s) for (x, y), s in sc.items()], higher_is_better=True,
                                        families=dict(truth.families) or None)
            rk, c = res["exact"]["ranking"], res["exact"]["calls"]
            fam = f" family AUPRC {res['family']['ranking']['auprc']:.3f}" if "family" in res else ""
            print(f"{m:5s} {label:36s} AUPRC {rk['auprc']:.3f} ({rk['chance_auprc']:.3f}) "
                  f"AUROC {rk['auroc']:.3f}  list F1 {c['f1']:.3f}{fam}", flush=True)


if __name__ == "__main__":
    main()
