"""FIS accuracy against the number of IG steps, on a trained run (issue 20: are 20 steps needed?).

    .venv/bin/python -m bench.fis_steps RUN --n 8 --steps 5,7,10,20,100 --out bench/results/....json

For the first ``--n`` test positives (predicted probability > 0.7) of the run, FIS pair tables
(:func:`satori_jax.interpret.fis.fis_scores`, defaults: GC baseline, midpoint rule, every instance
a source) are computed with every ``--steps`` value; the largest is the reference. Per step count:
seconds (including its one compile), the error of the pair scores against the reference (max
absolute, median and 95th-percentile relative), their Spearman correlation with it, the share of
pairs with the same distance, and the IG completeness error of the originals
(``|Σ IG − (F(x) − F(baseline))|``, median absolute and relative).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _table(ps) -> dict:
    cols = (ps.example, ps.filter_a, ps.filter_b, ps.score, ps.distance)
    return {(int(e), int(a), int(b)): (float(s), int(d)) for e, a, b, s, d in zip(*cols, strict=True)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--n", type=int, default=8, help="foreground sequences")
    ap.add_argument("--steps", default="5,7,10,20,100", help="IG step counts; the largest is the reference")
    ap.add_argument("--fraction", type=float, default=0.65, help="activity threshold fraction")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import jax.numpy as jnp
    from scipy.stats import spearmanr

    from satori_jax.data.encoding import one_hot
    from satori_jax.interpret import fis, ig
    from satori_jax.interpret.activity import filter_thresholds
    from satori_jax.runs import load_run

    run = load_run(args.run)
    model, variables = run.model, run.variables
    pos = np.nonzero(run.probs.reshape(-1) > 0.7)[0]
    thr = filter_thresholds(model, variables, run.codes[pos], args.fraction)
    codes = run.codes[pos[: args.n]]
    targets = np.ones((len(codes), 1), bool)
    steps = sorted({int(s) for s in args.steps.split(",")})
    res: dict = {"run": str(args.run), "n": len(codes), "length": int(codes.shape[1]), "steps": {}}
    tables = {}
    for s in steps:
        t0 = time.perf_counter()
        tables[s] = _table(fis.fis_scores(model, variables, codes, targets, thr, steps=s))
        res["steps"][s] = {"seconds_incl_compile": time.perf_counter() - t0, "pairs": len(tables[s])}
    ref = tables[steps[-1]]
    ref_scores = np.array([v[0] for v in ref.values()])
    x = one_hot(jnp.asarray(codes))
    base = ig.resolve_baseline(x, "gc")
    gap = np.asarray(ig.target_values(model, variables, x, jnp.asarray(targets))
                     - ig.target_values(model, variables, base, jnp.asarray(targets))).reshape(-1)
    for s in steps:
        got = tables[s]
        scores = np.array([got[k][0] for k in ref])
        err = np.abs(scores - ref_scores)
        rel = err / np.maximum(ref_scores, 1e-12)
        attr = np.asarray(ig.integrated_gradients(model, variables, x, jnp.asarray(targets), baseline=base,
                                                  steps=s))
        comp = np.abs(attr.sum(axis=(1, 2)) - gap)
        res["steps"][s].update({
            "same_pairs_as_reference": set(got) == set(ref),
            "max_abs_err": float(err.max()),
            "median_rel_err": float(np.median(rel)),
            "p95_rel_err": float(np.quantile(rel, 0.95)),
            "spearman_vs_reference": float(spearmanr(scores, ref_scores).correlation),
            "same_distance": float(np.mean([got[k][1] == ref[k][1] for k in ref])),
            "completeness_abs_err_median": float(np.median(comp)),
            "completeness_rel_err_median": float(np.median(comp / np.abs(gap))),
        })
        print(s, json.dumps(res["steps"][s]), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
