"""``python -m bench.accuracy``: do the interaction lists beat chance? End to end, at the defaults.

For each benchmark data set the suite runs exactly what a user runs, as subprocesses:

1. ``python -m satori_jax.simulate <generator> ... --out DATA`` (the data set and its truth);
2. ``python -m satori_jax.train --data DATA --workdir RUN`` with the default config (no
   ``--config``), so the figures are those of the defaults a user gets;
3. ``python -m satori_jax.interpret RUN --methods ... --motif-db DATA/motifs.meme --truth
   DATA/interactions.tsv`` (every method on the whole test set, as interpret's default; fis/dfim on a random
   ``--max-examples N`` a side when asked);
   for a data set drawn from JASPAR (dfim) raw/attr once more without ``--motif-db``, so that
   JASPAR names the filters as it does for a user (scored exact and family-merged).

and reads back, per method, the list's precision / recall / F1 next to the chance F1 (calling every
pair of the simulated TF pool) and the ranking's AUPRC / AUROC next to the chance AUPRC (the exact
expectation of a random ranking), exact and family-merged (``summary.json``'s
``methods.<m>.truth``). Two controls show what the model's attention adds:

* ``permuted_labels``: the same pipeline on a model trained on the same sequences with the labels
  permuted (what a list looks like when the model learned nothing about the classes);
* ``distance_only``: every tested TF pair ranked by closeness alone (the smallest median
  foreground distance of its filter pairs in ``interactions_raw.tsv``; the list: as many of the
  closest pairs as raw called), i.e. what co-location in the foreground gives without a model's
  interaction score.

Results: ``<out>/accuracy-<device>-<date>[-<mode>].json`` and ``.md`` (default out
``bench/results/accuracy``); the work directory (data sets and runs, never committed) is
``--workdir`` (default a temporary directory, removed at the end unless ``--keep``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import measure

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "accuracy"
METHODS = ("raw", "attr", "fis", "dfim")


@dataclass(frozen=True)
class Benchmark:
    """One data set of the suite: the generator module (``python -m``), its sub-command and arguments."""

    name: str
    args: tuple[str, ...]
    #: number of sequences per mode (``None``: the generator's default)
    sizes: dict[str, int | None] = field(default_factory=dict)
    #: the pool's motifs are JASPAR's: also interpret with JASPAR as the database (names a user gets
    #: without ``--motif-db``; the issue's target there is on family-merged names)
    jaspar_names: bool = False
    #: ``satori_jax.simulate`` or :mod:`bench.independent` (drawn by code of its own)
    module: str = "satori_jax.simulate"


#: cpu: 30 000 sequences, a 3 000-sequence test split; at 12 000 (1 200) the seeded models rank the
#: true pairs far above chance (AUPRC 0.63-0.83) but each filter pair is observed in only a few
#: foreground examples and no TF pair passes the tests (accuracy-...-2026-12-03-seeded-12k.md)
_PRESET_SIZES = {"cpu": 30000, "full": None, "tiny": 600}
BENCHMARKS: dict[str, Benchmark] = {
    "dfim": Benchmark("dfim", ("dfim", "--length", "200"), {"cpu": 8000, "full": 18000, "tiny": 600},
                      jaspar_names=True),
    **{f"data-{k}": Benchmark(f"data-{k}", ("pairs", "--preset", f"data-{k}"), _PRESET_SIZES)
       for k in (40, 60, 80)},
    **{f"twins-{k}": Benchmark(f"twins-{k}", ("twins", "--preset", f"twins-{k}"), _PRESET_SIZES)
       for k in (40, 60, 80)},
    # drawn without the package's simulators (bench/independent.py): an adjacency grammar with a
    # motif enriched alone, and a DFIM-like A-and-B design with other JASPAR motifs
    "grammar": Benchmark("grammar", ("grammar",), {"cpu": 24000, "full": 24000, "tiny": 600},
                         jaspar_names=True, module="bench.independent"),
    "ab": Benchmark("ab", ("ab",), {"cpu": 18000, "full": 18000, "tiny": 600}, jaspar_names=True,
                    module="bench.independent"),
}

#: data sets per mode: ``cpu`` finishes in well under 90 min on 2 cores
MODE_SETS = {
    "cpu": ("dfim", "data-40", "twins-40"),
    "full": ("dfim", "data-40", "data-60", "data-80", "twins-40", "twins-60", "twins-80", "grammar", "ab"),
    "tiny": ("dfim", "twins-40"),
}

EPILOG = """\
examples:
  python -m bench.accuracy --mode cpu
      dfim, data-40 and twins-40 at CPU sizes, all four methods, both controls (2 cores: ~23 min
      for training, raw, attr and the controls, ~20-30 min more for fis and dfim)
  python -m bench.accuracy --mode full --methods raw,attr
      all nine benchmarks at the generators' sizes (the seven of satori_jax.simulate, and grammar
      and ab drawn by bench/independent.py) (hours on a CPU; fis and dfim would add ~15-25 min
      per data set)
  python -m bench.accuracy --mode tiny --out /tmp/acc --no-controls
      smoke test (minutes; the numbers mean nothing)
  python -m bench.accuracy --datasets twins-40 --train-set train.epochs=5 --keep --workdir /tmp/accw
      one data set, training shortened, data sets and runs kept
"""


def _python() -> str:
    return sys.executable


def _run(cmd: list[str], log_path: Path) -> float:
    """Run ``cmd`` (stdout+stderr to ``log_path``); wall seconds. Raises with the log's tail on failure."""
    t = time.perf_counter()
    with open(log_path, "a") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    if proc.returncode:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-15:])
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd)}\n{tail}")
    return time.perf_counter() - t


def _display(cmd: list[str], work: Path) -> str:
    """A command as a user would type it: ``python -m ...`` with the work directory as ``$W``."""
    return " ".join(["python", *cmd[1:]]).replace(str(work), "$W")


def permuted_copy(data: Path, dest: Path, seed: int) -> Path:
    """``dest``: ``data`` with the rows of ``labels.tsv`` permuted (ids kept in place; sequences,
    motifs and truth linked). The groups file is dropped: with permuted labels a twin pair holds no
    information to keep together."""
    dest.mkdir(parents=True, exist_ok=True)
    lines = (data / "labels.tsv").read_text().splitlines()
    header, rows = lines[0], [ln.split("\t") for ln in lines[1:] if ln.strip()]
    perm = np.random.default_rng(seed).permutation(len(rows))
    out = [header] + ["\t".join([rows[i][0], *rows[j][1:]]) for i, j in enumerate(perm)]
    (dest / "labels.tsv").write_text("\n".join(out) + "\n")
    for name in ("sequences.fa", "motifs.meme", "interactions.tsv", "dataset.json"):
        if (data / name).exists() and not (dest / name).exists():
            os.symlink((data / name).resolve(), dest / name)
    return dest


def method_scores(summary: dict) -> dict[str, dict]:
    """Per method: list size and the exact and family-merged calls / ranking scores of ``summary.json``."""
    out = {}
    for m, s in summary["methods"].items():
        t = s.get("truth") or {}
        out[m] = {"n_examples": s["n_examples"], "n_tested": s["n_tested"],
                  "n_called": s["n_significant_tf_pairs"], "seconds": s["seconds"],
                  **{view: t[view] for view in ("exact", "family") if view in t}}
    return out


def distance_only(run_out: Path, data: Path, n_calls: int) -> dict:
    """The distance-only control from ``interactions_raw.tsv``: TF pairs ranked by closeness."""
    from satori_jax.interpret.evaluate import load_truth, read_table_rows

    truth = load_truth(data / "interactions.tsv")
    rows = [r for r in read_table_rows(run_out / "interactions_raw.tsv") if r["tf_a"] and r["tf_b"]]
    dist = [float(r["median_distance_bp"]) if r["median_distance_bp"] not in ("", "nan") else np.inf
            for r in rows]
    # Truth.score ranks by the smallest "p_value": give it the distance (closest first)
    ranked = [{"tf_a": r["tf_a"], "tf_b": r["tf_b"], "p_value": d} for r, d in zip(rows, dist, strict=True)]
    best: dict[frozenset, float] = {}
    for r in ranked:
        key = frozenset((r["tf_a"], r["tf_b"]))
        if len(key) == 2:
            best[key] = min(r["p_value"], best.get(key, np.inf))
    closest = sorted(best, key=lambda k: (best[k], sorted(k)))[:n_calls]
    called = [{"tf_a": a, "tf_b": b} for a, b in (sorted(k) for k in closest)]
    res = truth.score(called, ranked)
    res["n_called"] = len(called)
    return res


def run_benchmark(bench: Benchmark, work: Path, args: argparse.Namespace, mode: str) -> dict:
    """Simulate, train, interpret (and the controls) for one data set; the results entry."""
    py = _python()
    log_path = work / f"{bench.name}.log"
    data, run = work / bench.name / "data", work / bench.name / "run"
    n = bench.sizes.get(mode)
    sim = [py, "-m", bench.module, *bench.args, "--out", str(data), "--seed", str(args.seed)]
    if n is not None:
        sim += ["--num-sequences", str(n)]
    res: dict[str, Any] = {"commands": {}, "n_sequences": n}
    if args.reuse and (data / "dataset.json").is_file():
        res["simulate_seconds"] = None  # reused from an earlier run of the suite in this --workdir
    else:
        res["simulate_seconds"] = round(_run(sim, log_path), 1)
    res["commands"]["simulate"] = _display(sim, work)
    meta = json.loads((data / "dataset.json").read_text())
    res["n_sequences"] = int(meta.get("counts", {}).get("sequences", n or 0) or n or 0)
    res["n_true_pairs"] = len(meta.get("interactions", []))
    if "gates" in meta:
        res["gates"] = meta["gates"]

    train_extra = [x for kv in args.train_set for x in ("--set", kv)]
    res.update(_train_and_interpret(data, run, train_extra, args, work, log_path, res["commands"]))
    cheap = [m for m in args.methods if m in ("raw", "attr")]
    if bench.jaspar_names and args.jaspar and cheap and not res.get("default_pipeline"):
        res["jaspar"] = _interpret_jaspar(data, run, cheap, work, log_path, res["commands"])
    if args.controls:
        perm_data = permuted_copy(data, work / bench.name / "data_permuted", args.seed)
        ctl: dict[str, Any] = {"commands": {}}
        ctl.update(_train_and_interpret(perm_data, work / bench.name / "run_permuted", train_extra, args,
                                        work, log_path, ctl["commands"], methods=("raw", "attr"),
                                        control=True))
        raw_calls = res["methods"].get("raw", {}).get("n_called", 0)
        res["controls"] = {"permuted_labels": ctl,
                           "distance_only": distance_only(run / "interpret", data, raw_calls)}
    return res


def _train_and_interpret(data: Path, run: Path, train_extra: list[str], args: argparse.Namespace, work: Path,
                         log_path: Path, commands: dict, methods: tuple[str, ...] | None = None,
                         control: bool = False) -> dict:
    """Train with the defaults (plus ``--train-set``) and interpret. When the default selection finds
    no confident positive (a model that learned nothing), record that the pipeline gives no list
    (``default_pipeline``) and score the ranking with every positive as foreground
    (``--prob-cutoff 0 --neg-cutoff 1``); ``control`` only labels the entry."""
    py = _python()
    methods = methods or tuple(args.methods)
    train = [py, "-m", "satori_jax.train", "--data", str(data), "--workdir", str(run), "--quiet",
             *train_extra]
    reused = args.reuse and (run / "test_metrics.json").is_file()
    if reused:  # the trained run of an earlier suite run: re-interpret only
        for name in ("interpret", "interpret_ig", "interpret_jaspar"):
            shutil.rmtree(run / name, ignore_errors=True)
    else:
        wall = _run(train, log_path)
    commands["train"] = _display(train, work)
    metrics = json.loads((run / "test_metrics.json").read_text())
    out: dict[str, Any] = {"control": control, "test_auroc": metrics["auroc_mean"],
                           "train_seconds": round(float(metrics["train_seconds"]) if reused else wall, 1),
                           "stopped": metrics.get("stopped"), "config": _config_name(run), "reused": reused}
    common = ["--motif-db", str(data / "motifs.meme"), "--truth", str(data / "interactions.tsv"), "--quiet"]
    cheap = [m for m in methods if m in ("raw", "attr")]
    dear = [m for m in methods if m in ("fis", "dfim")]
    out["methods"] = {}
    for group, extra, name in ((cheap, [], "interpret"),
                               (dear, [] if args.max_examples is None else
                                ["--max-examples", str(args.max_examples)], "interpret_ig")):
        if not group:
            continue
        cmd = [py, "-m", "satori_jax.interpret", str(run), "--out", str(run / name), "--methods",
               ",".join(group), *common, *extra]
        try:
            out[f"{name}_seconds"] = round(_run(cmd, log_path), 1)
        except RuntimeError as exc:
            if "prob cutoff" not in str(exc):
                raise
            out["default_pipeline"] = "no list: " + next(
                (ln for ln in str(exc).splitlines() if ln.startswith("error:")), "no confident positive")
            cmd += ["--prob-cutoff", "0", "--neg-cutoff", "1"]
            out[f"{name}_seconds"] = round(_run(cmd, log_path), 1)
        commands[name] = _display(cmd, work)
        out["methods"].update(method_scores(json.loads((run / name / "summary.json").read_text())))
    return out


def _interpret_jaspar(data: Path, run: Path, methods: list[str], work: Path, log_path: Path,
                      commands: dict) -> dict:
    """Interpret ``run`` again with the default motif database (JASPAR), as a user without
    ``--motif-db`` would: the same lists, named by JASPAR's motifs (scored exact and family-merged)."""
    out = run / "interpret_jaspar"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [_python(), "-m", "satori_jax.interpret", str(run), "--out", str(out), "--methods",
           ",".join(methods), "--truth", str(data / "interactions.tsv"), "--quiet"]
    res = {"interpret_seconds": round(_run(cmd, log_path), 1)}
    commands["interpret_jaspar"] = _display(cmd, work)
    res["methods"] = method_scores(json.loads((out / "summary.json").read_text()))
    return res


def _config_name(run: Path) -> str | None:
    try:
        cfg = json.loads((run / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return cfg.get("name") or cfg.get("source")


def _f(x: Any, nd: int = 2) -> str:
    return "" if x is None else f"{x:.{nd}f}"


def _score_cells(s: dict) -> str:
    """A method's table cells: calls | P | R | F1 (chance) | AUPRC (chance) | family F1 (chance)."""
    c = s.get("exact", {}).get("calls", {})
    k = s.get("exact", {}).get("ranking", {})
    fc = s.get("family", {}).get("calls", {})
    return (f"{s['n_called']} | {_f(c.get('precision'))} | {_f(c.get('recall'))} "
            f"| {_f(c.get('f1'))} ({_f(c.get('chance_f1'))}) "
            f"| {_f(k.get('auprc'))} ({_f(k.get('chance_auprc'))}) "
            f"| {_f(fc.get('f1'))} ({_f(fc.get('chance_f1'))})")


def markdown(results: dict) -> str:
    """The suite's tables: one row per data set and method, controls beside."""
    head = f"{results['device']['name']}, {results['created']} ({results['mode']} mode)"
    lines = [f"# Interaction accuracy: {head}",
             "", f"`{results['command']}`: {results['seconds']:.0f} s in total.", "",
             "Chance in brackets: F1 of calling every pair of the simulated TF pool; AUPRC of a random "
             "ranking (exact expectation). P/R/F1 are of the method's default list (TF pairs with "
             "q_tf < 0.05 and a filter pair at q < 0.05, or listed by the TF-pooled test; then the "
             "partner rule: a pair's pooled effect must clear its TFs' other pairs, `effect_partners`); "
             "AUPRC ranks every candidate TF pair by the method's evidence (`tf_ranking_<method>.tsv`: the "
             "better of its ranks by the smallest filter-pair p-value and by the TF-pooled effect size; "
             "the first alone without the pool). Controls: *perm.* = the same "
             "pipeline on a model trained with permuted labels (when it selects no confident positive, "
             "which means no list, its ranking is scored with every positive as foreground); *dist.* = TF "
             "pairs ranked by their smallest median foreground distance alone (list: as many closest pairs "
             "as raw called). *JASPAR names*: the same run interpreted without `--motif-db` (JASPAR 2024 "
             "names the filters, as for a user; family F1 merges JASPAR's TF families)."
             + (" Reused runs (`--reuse`): *train s* is the training loop's own time "
                                   "from test_metrics.json." if any(r.get("reused") for r in
                                   results["datasets"].values()) else ""), "",
             "| data set | test AUROC | train s | method | calls | P | R | F1 (chance) | AUPRC (chance) "
             "| family F1 (chance) | perm. AUROC | perm. AUPRC | dist. F1 | dist. AUPRC |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results["datasets"].items():
        if "error" in r:
            lines.append(f"| {name} | error: {r['error'].splitlines()[0][:120]} |" + " |" * 12)
            continue
        ctl = r.get("controls", {})
        perm, dist = ctl.get("permuted_labels", {}), ctl.get("distance_only")
        for m, s in r["methods"].items():
            pm = perm.get("methods", {}).get(m, {}).get("exact", {}).get("ranking", {})
            lines.append(
                f"| {name} | {_f(r['test_auroc'], 3)} | {r['train_seconds']:.0f} | {m} | {_score_cells(s)} "
                f"| {_f(perm.get('test_auroc'), 3)} | {_f(pm.get('auprc'))} "
                f"| {_f(dist['exact']['calls']['f1']) if dist else ''} "
                f"| {_f(dist['exact']['ranking']['auprc']) if dist else ''} |")
        for m, s in r.get("jaspar", {}).get("methods", {}).items():
            lines.append(f"| {name}, JASPAR names | | | {m} | {_score_cells(s)} | | | | |")
    notes = [f"- {name}{' (permuted labels)' if k else ''}: {e['default_pipeline']}; the row scores "
             "interpret --prob-cutoff 0 --neg-cutoff 1 (every positive as foreground, every negative as "
             "background)"
             for name, r in results["datasets"].items()
             for k, e in ((0, r), (1, r.get("controls", {}).get("permuted_labels", {})))
             if e.get("default_pipeline")]
    if notes:
        lines += ["", "No list at the defaults (the model is not confident on any positive):", "", *notes]
    lines += ["", "## Commands (W = the work directory)", ""]
    for name, r in results["datasets"].items():
        cmds = dict(r.get("commands", {}))
        for k, v in r.get("controls", {}).get("permuted_labels", {}).get("commands", {}).items():
            cmds[f"permuted {k}"] = v
        lines += [f"- {name}:"] + [f"  - {k}: `{v}`" for k, v in cmds.items()]
    return "\n".join(lines) + "\n"


def _examples(text: str) -> int | None:
    """``--max-examples``: a positive count, or ``all`` (``None``: interpret's default, every example)."""
    if text.strip().lower() == "all":
        return None
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 or 'all', got {text!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.accuracy", description=__doc__.split("\n\n")[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=tuple(MODE_SETS), default="cpu",
                   help="cpu: dfim, data-40, twins-40 at CPU sizes (default); full: all seven at the "
                        "generators' sizes; tiny: smoke test")
    p.add_argument("--datasets", default=None, metavar="LIST",
                   help=f"comma list of {', '.join(BENCHMARKS)} (default: the mode's)")
    p.add_argument("--methods", default="raw,attr,fis,dfim", metavar="LIST",
                   help="comma list of raw,attr,fis,dfim (default: all four)")
    p.add_argument("--max-examples", type=_examples, default=None, metavar="N|all",
                   help="examples per side for fis and dfim (default all, as interpret's default)")
    p.add_argument("--train-set", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to train as --set KEY=VALUE (repeatable; recorded with the results)")
    p.add_argument("--no-controls", dest="controls", action="store_false",
                   help="skip the permuted-label model and the distance-only ranking")
    p.add_argument("--no-jaspar", dest="jaspar", action="store_false",
                   help="skip the JASPAR-named interpretation of the data sets drawn from JASPAR (dfim)")
    p.add_argument("--seed", type=int, default=1, help="seed of the simulated data sets (default 1)")
    p.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR",
                   help="results directory (default bench/results/accuracy)")
    p.add_argument("--workdir", default=None, metavar="DIR",
                   help="data sets and runs (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--reuse", action="store_true",
                   help="with --workdir of an earlier (--keep) run: reuse its data sets and trained runs and "
                        "only interpret again (to compare interpretation changes on the same models; "
                        "train_seconds is then the training loop's own time from test_metrics.json)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the suite; 1 when a data set failed (its error is in the results), else 0."""
    args = build_parser().parse_args(argv)
    names = tuple(args.datasets.split(",")) if args.datasets else MODE_SETS[args.mode]
    methods = tuple(m for m in args.methods.split(",") if m)
    bad = [n for n in names if n not in BENCHMARKS] + [m for m in methods if m not in METHODS]
    if bad:
        print(f"error: unknown data set or method: {', '.join(bad)}", file=sys.stderr)
        return 2
    args.methods = methods
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="satori_accuracy_"))
    work.mkdir(parents=True, exist_ok=True)
    info = measure.device_info()
    t0 = time.perf_counter()
    results: dict[str, Any] = {
        "schema": 1, "created": _dt.datetime.now().isoformat(timespec="seconds"), "mode": args.mode,
        "command": "python -m bench.accuracy " + " ".join(sys.argv[1:] if argv is None else argv),
        "device": info, "methods": list(methods), "train_set": list(args.train_set),
        "max_examples_fis_dfim": args.max_examples, "datasets": {},
    }
    status = 0
    for name in names:
        print(f"[accuracy] {name}: simulate, train, interpret ...", flush=True)
        try:
            results["datasets"][name] = run_benchmark(BENCHMARKS[name], work, args, args.mode)
        except Exception as exc:  # noqa: BLE001 - one failing data set is recorded, the others still run
            results["datasets"][name] = {"error": str(exc)}
            status = 1
        r = results["datasets"][name]
        print(f"[accuracy] {name}: " + (r["error"].splitlines()[0] if "error" in r else
              f"test AUROC {r['test_auroc']:.3f}, " + ", ".join(
                  f"{m} F1 {s['exact']['calls']['f1']:.2f} (chance {s['exact']['calls']['chance_f1']:.2f})"
                  for m, s in r["methods"].items() if "exact" in s)), flush=True)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"accuracy-{measure._slug(info['name'])}-{results['created'][:10]}" + (
        "" if args.mode == "cpu" else f"-{args.mode}")
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown(results))
    print(f"[accuracy] results: {out / stem}.json and .md ({results['seconds']:.0f} s)")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
