"""FIS through one batched vjp per chunk vs a per-source loop over the same jit-compiled IG function.

Issue 5 acceptance: batched FIS at least 10x faster than the per-source loop, measured in one run;
also reports the FIS / raw-attention time ratio (SATORI reports 8-20x).

    .venv/bin/python bench/fis_vs_loop.py            # writes bench/results/fis_vs_loop-<platform>.json

Both paths compute the same scores (checked): instances from the first-layer activations, one IG
call for the original and one per (sequence, source) variant. The loop makes those IG calls one at a
time (batch 1, steps vmapped, the same jit-compiled function); the batched path puts all variants of
``--batch-size`` sequences into one padded, masked, jit-compiled call. Warm-up (compilation) is
excluded; times are medians over ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import numpy as np

from satori_jax.config import ModelConfig
from satori_jax.interpret import fis
from satori_jax.interpret.activity import conv_activations, filter_thresholds
from satori_jax.models import build_model, conv_offset, count_params, init_variables, pooled_length


def _median_time(fn, repeats: int) -> tuple[float, list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=32, help="sequences")
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--filters", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=4, help="sequences per batched FIS call")
    ap.add_argument("--max-sources", type=int, default=None)
    ap.add_argument("--fraction", type=float, default=0.5, help="activity threshold fraction")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loop-repeats", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    cfg = ModelConfig(num_filters=args.filters)
    model = build_model(cfg, 1)
    variables = init_variables(model, jax.random.PRNGKey(0), args.length)
    codes = np.random.default_rng(0).integers(0, 4, (args.n, args.length)).astype(np.uint8)
    thr = filter_thresholds(model, variables, codes, args.fraction)
    conv = conv_activations(model, variables, codes)
    n_inst = [
        len(fis._instances_np(c, thr, cfg.pool_size, conv_offset(cfg), cfg.filter_width, args.length))
        for c in conv
    ]
    lp = pooled_length(cfg, args.length)
    n_src = [min(k, args.max_sources or lp) for k in n_inst]

    def batched():
        return fis.fis_scores(
            model,
            variables,
            codes,
            None,
            thr,
            steps=args.steps,
            batch_size=args.batch_size,
            max_sources=args.max_sources,
        )

    def loop():
        return fis.fis_scores_loop(
            model, variables, codes, None, thr, steps=args.steps, max_sources=args.max_sources
        )

    def raw():
        from satori_jax.interpret.attention import raw_scorer
        from satori_jax.interpret.interactions import score_examples

        return score_examples(raw_scorer(model), model, variables, codes, None, thr, batch_size=64)

    # warm-up: compile every path once (the batched kernel on one full chunk, the loop on one sequence)
    fis.fis_scores(
        model,
        variables,
        codes[: args.batch_size],
        None,
        thr,
        steps=args.steps,
        batch_size=args.batch_size,
        max_sources=args.max_sources,
    )
    fis.fis_scores_loop(
        model, variables, codes[:1], None, thr, steps=args.steps, max_sources=args.max_sources
    )
    raw()

    t_batched, tb_all, res_b = _median_time(batched, args.repeats)
    t_loop, tl_all, res_l = _median_time(loop, args.loop_repeats)
    t_raw, tr_all, _ = _median_time(raw, args.repeats)
    same = len(res_b) == len(res_l) and bool(np.array_equal(res_b.filter_a, res_l.filter_a))
    max_diff = float(np.abs(res_b.score - res_l.score).max()) if same and len(res_b) else float("nan")

    dev = jax.devices()[0]
    result = {
        "benchmark": "fis_vs_loop",
        "device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}",
        "host": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "model": {
            "num_filters": cfg.num_filters,
            "filter_width": cfg.filter_width,
            "pool_size": cfg.pool_size,
            "num_heads": cfg.num_heads,
            "head_dim": cfg.head_dim,
            "proj_dim": cfg.proj_dim,
            "params": count_params(variables["params"]),
        },
        "sequences": args.n,
        "length": args.length,
        "pooled_length": lp,
        "ig_steps": args.steps,
        "batch_size": args.batch_size,
        "max_sources": args.max_sources or lp,
        "sources_total": int(sum(n_src)),
        "ig_calls_loop": int(sum(n_src)) + args.n,
        "pairs_scored": len(res_b),
        "batched_s": t_batched,
        "loop_s": t_loop,
        "raw_s": t_raw,
        "batched_runs_s": tb_all,
        "loop_runs_s": tl_all,
        "raw_runs_s": tr_all,
        "speedup_batched_vs_loop": t_loop / t_batched,
        "fis_over_raw": t_batched / t_raw,
        "results_identical_pairs": same,
        "max_abs_score_diff": max_diff,
    }
    print(json.dumps(result, indent=2))
    out = args.out or Path(__file__).parent / "results" / f"fis_vs_loop-{dev.platform}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
