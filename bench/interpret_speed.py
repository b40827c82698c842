"""Interpretation speed A/B on one trained run: two source trees (e.g. main and a branch), interleaved.

    .venv/bin/python -m bench.interpret_speed RUN --tree before=/path/to/main --tree after=. \\
        --rounds 2 --out bench/results/interpret-speed.json

Per round and tree, in alternation (before, after, before, after, ...) so that load from other
processes inflates both alike:

- ``interpret``: ``python -m satori_jax.interpret RUN --methods raw,attr --out TMP --quiet`` in a
  subprocess with ``PYTHONPATH=TREE``; wall seconds, CPU seconds (user + system of the process and
  its children), ``summary.json``'s ``run.step_seconds`` and ``methods.*.seconds``;
- ``raw``: a probe subprocess on the same tree: the run's foreground / background selection (the
  driver's pass 1), then ``raw`` pair scores of both (after a warm-up call of the same shapes, so
  compilation is excluded) and ``stats.test_pairs`` over them; seconds per example (foreground +
  background) for scoring, test and both; with ``--probe-methods raw,attr`` the methods are timed
  in alternation in the same process and ``attr_over_raw`` (scoring + test) is reported.

The 1-minute load average is recorded with every figure. Outputs are compared by
``scripts/compare_interpret_outputs.py`` (not here).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Runs in a subprocess with PYTHONPATH=TREE: only APIs both trees have.
PROBE = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from satori_jax.data.sources import RunSource
from satori_jax.interpret.driver import _Driver
from satori_jax.interpret.options import InterpretOptions
from satori_jax.interpret.scorers import ScoreContext, available_methods
from satori_jax.interpret.stats import test_pairs

run, out, repeats = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
methods = sys.argv[4].split(",") if len(sys.argv) > 4 else ["raw"]
opts = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
src = RunSource(run)
d = _Driver(run, InterpretOptions(methods=("raw",), out=out, verbose=False, plots=False, **opts), src,
            streamed=False)
d.t_start = time.perf_counter()
d.setup(); d.prepare_out(); d.n_chunks = d.pass1(); d.between()
z = d.store.get(1, 0)
fg, bg = src.codes[z["fg"]], src.codes[z["bg"]]
fg_t = np.asarray(z["targets"]).astype(bool)
bg_t = np.ones((len(bg), 1), bool)
ctx = ScoreContext(d.model, d.variables, d.cfg, np.asarray(d.thresholds, np.float32), 256, 0, False,
                   extra={"matches": [], "attr_normalize": True})
n = len(fg) + len(bg)
res = {"n_foreground": len(fg), "n_background": len(bg), "arch": d.cfg.model.arch}
scorers = {m: available_methods()[m] for m in methods}
first, score_s, test_s = {}, {m: [] for m in methods}, {m: [] for m in methods}
for m, sc in scorers.items():
    t0 = time.perf_counter()
    sc.score(ctx, fg, fg_t); sc.score(ctx, bg, bg_t)  # compiles
    first[m] = time.perf_counter() - t0
for _ in range(repeats):
    for m, sc in scorers.items():  # interleaved: load from other processes hits every method alike
        t0 = time.perf_counter()
        a = sc.score(ctx, fg, fg_t); b = sc.score(ctx, bg, bg_t)
        t1 = time.perf_counter()
        test_pairs(a, b, "mean", d.num_filters)
        t2 = time.perf_counter()
        score_s[m].append(t1 - t0); test_s[m].append(t2 - t1)
for m in methods:
    s, t = float(np.median(score_s[m])), float(np.median(test_s[m]))
    entry = {"first_call_s": first[m], "score_s": s, "test_s": t, "ms_per_example_score": 1e3 * s / n,
             "ms_per_example_test": 1e3 * t / n, "ms_per_example": 1e3 * (s + t) / n,
             "score_times": score_s[m], "test_times": test_s[m]}
    if m == "raw":
        res.update(entry)
    res[m] = entry
for m in methods:
    if m != "raw" and "raw" in methods:
        res[f"{m}_over_raw"] = res[m]["ms_per_example"] / res["raw"]["ms_per_example"]
print(json.dumps(res))
"""


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _env(tree: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(tree), "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}


def run_interpret(tree: Path, run: Path, scratch: Path) -> dict:
    """One whole ``interpret --methods raw,attr`` of ``run`` with ``tree``'s code."""
    out = scratch / f"out-{tree.name}"
    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    c0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "satori_jax.interpret", str(run), "--methods", "raw,attr",
                    "--out", str(out), "--quiet"], cwd=tree, env=_env(tree), check=True,
                   stdout=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    s = json.loads((out / "summary.json").read_text())
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_1min": round(load, 2),
            "total_seconds": s["run"]["total_seconds"], "step_seconds": s["run"]["step_seconds"],
            "method_seconds": {m: v["seconds"] for m, v in s["methods"].items()},
            "n_foreground": s["run"]["n_foreground"], "n_background": s["run"]["n_background"],
            "out": str(out)}


def run_probe(tree: Path, run: Path, scratch: Path, repeats: int, methods: str = "raw",
              options: str = "{}") -> dict:
    """Steady-state scoring and tests per example with ``tree``'s code, ``methods`` interleaved."""
    load = os.getloadavg()[0]
    res = subprocess.run([sys.executable, "-c", PROBE, str(run), str(scratch / f"probe-{tree.name}"),
                          str(repeats), methods, options], cwd=tree, env=_env(tree), check=True,
                         capture_output=True,
                         text=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["load_1min"] = round(load, 2)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--tree", action="append", required=True, help="NAME=PATH (at least one)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="raw probe repeats per round")
    ap.add_argument("--skip", choices=("interpret", "raw"), action="append", default=[])
    ap.add_argument("--probe-methods", default="raw",
                    help="methods of the steady-state probe, interleaved (e.g. raw,attr: also attr/raw)")
    ap.add_argument("--probe-options", default="{}",
                    help='InterpretOptions fields of the probe as JSON, e.g. \'{"prob_cutoff": 0.33}\'')
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    trees = {}
    for item in args.tree:
        name, _, path = item.partition("=")
        trees[name] = Path(path).resolve()
    scratch = Path(tempfile.mkdtemp(prefix="interpret_speed_"))
    res: dict = {"run": str(args.run), "trees": {k: str(v) for k, v in trees.items()}, "rounds": []}
    for r in range(args.rounds):
        rnd: dict = {}
        for name, tree in trees.items():
            rnd[name] = {}
            if "interpret" not in args.skip:
                rnd[name]["interpret"] = run_interpret(tree, args.run, scratch / name)
            if "raw" not in args.skip:
                rnd[name]["raw"] = run_probe(tree, args.run, scratch / name, args.repeats, args.probe_methods,
                                             args.probe_options)
            print(f"round {r + 1} {name}: {json.dumps(rnd[name])[:400]}", file=sys.stderr, flush=True)
        res["rounds"].append(rnd)
    summary = {}
    for name in trees:
        rows = [rnd[name] for rnd in res["rounds"]]
        entry = {}
        if "interpret" not in args.skip:
            entry["interpret_wall_s"] = statistics.median(x["interpret"]["wall_s"] for x in rows)
            entry["interpret_cpu_s"] = statistics.median(x["interpret"]["cpu_s"] for x in rows)
        if "raw" not in args.skip:
            for m in args.probe_methods.split(","):  # the probe's entry is "raw" whatever its methods
                entry[f"{m}_ms_per_example"] = statistics.median(x["raw"][m]["ms_per_example"] for x in rows)
                if m != "raw" and f"{m}_over_raw" in rows[0]["raw"]:
                    entry[f"{m}_over_raw"] = statistics.median(x["raw"][f"{m}_over_raw"] for x in rows)
        summary[name] = entry
    res["median"] = summary
    res["scratch"] = str(scratch)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1))
    print(json.dumps(summary, indent=1))
    return res


if __name__ == "__main__":
    main()
