"""Peak memory of streaming interpretation vs the number of test sequences (issue 7).

1. Train a small run on simulated DFIM-style data (``--run`` reuses an existing one);
2. for each N in ``--n``: simulate N × ``--length`` bp sequences (:mod:`satori_jax.data.simulate`,
   generated and written in blocks, so this process stays small too) to ``sequences.fa`` +
   ``labels.tsv``;
3. run ``python -m satori_jax.interpret RUN --fasta … --labels … --chunk-size C`` in a subprocess
   and sample its resident set size (process and children, psutil, every 0.2 s);
4. with ``--in-memory``, also interpret the same N sequences through the in-memory path: a copy of
   the run (checkpoints linked) whose ``test_predictions.npz`` holds them with the model's predicted
   probabilities, ``python -m satori_jax.interpret RUN_COPY`` with the same settings, measured the
   same way; the two paths' seconds per sequence are compared (issue 20: streamed within 20 %);
5. print and write ``bench/results/interpret_memory-<platform>.json``.

Example::

    python scripts/measure_interpret_memory.py --n 20000 50000            # ~minutes on 2 cores
    python scripts/measure_interpret_memory.py --n 20000 200000 --methods raw,attr
    python scripts/measure_interpret_memory.py --run RUN --length 200 --n 1000000 --in-memory
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def train_run(work: Path, length: int, quiet: bool) -> Path:
    """A small basic model trained ~2 minutes on simulated DFIM-style data (length ``length``)."""
    run = work / "run"
    if (run / "test_predictions.npz").is_file():
        return run
    data = work / "train_data"
    if not (data / "labels.tsv").is_file():
        _simulate(data, 6000, length, seed=123)
    cmd = [sys.executable, "-m", "satori_jax.train", "--data", str(data), "--workdir", str(run),
           "--overwrite", "--set", f"data.length={length}", "--set", "train.epochs=6",
           "--set", "train.max_seconds=150"]
    if quiet:
        cmd.append("--quiet")
    subprocess.run(cmd, check=True, cwd=ROOT)
    return run


def _simulate(out: Path, n: int, length: int, seed: int, block: int = 20_000) -> None:
    """``sequences.fa`` + ``labels.tsv`` with ``n`` sequences, simulated ``block`` at a time."""
    from satori_jax.data.encoding import decode
    from satori_jax.data.simulate import make_dfim_dataset

    out.mkdir(parents=True, exist_ok=True)
    tmp_fa, tmp_lab = out / ".sequences.fa.tmp", out / ".labels.tsv.tmp"
    done = 0
    with open(tmp_fa, "w") as fa, open(tmp_lab, "w") as lab:
        lab.write("id\tlabel\n")
        b = 0
        while done < n:
            m = min(block, n - done)
            ds = make_dfim_dataset(num_sequences=max(m, 3), length=length, seed=seed + b)
            seqs = decode(ds.codes[:m])
            y = ds.labels.reshape(len(ds.labels), -1)[:m, 0]
            for i in range(m):
                rid = f"s{done + i}"
                fa.write(f">{rid}\n{seqs[i]}\n")
                lab.write(f"{rid}\t{int(y[i])}\n")
            done += m
            b += 1
    os.replace(tmp_fa, out / "sequences.fa")
    os.replace(tmp_lab, out / "labels.tsv")


def in_memory_run(run: Path, data: Path, dest: Path, batch_size: int) -> Path:
    """A copy of ``run`` (checkpoints linked) whose test set is ``data``'s sequences, with probabilities.

    The in-memory interpretation path reads its test set from ``RUN/test_predictions.npz``; writing
    ``data``'s sequences there (probabilities from the run's model, as training would have written
    them) lets both paths interpret the same sequences.
    """
    import numpy as np

    from satori_jax.data.encoding import encode_sequences
    from satori_jax.data.io import read_fasta, read_labels
    from satori_jax.predict import predict_probs
    from satori_jax.runs import load_run

    if (dest / "test_predictions.npz").is_file():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "data.json", "splits.tsv", "metrics.jsonl", "test_metrics.json"):
        if (run / name).is_file():
            (dest / name).write_bytes((run / name).read_bytes())
    if not (dest / "checkpoints").exists():
        (dest / "checkpoints").symlink_to((run / "checkpoints").resolve())
    loaded = load_run(run)
    ids, seqs = read_fasta(data / "sequences.fa")
    _, _, labels = read_labels(data / "labels.tsv")
    codes = encode_sequences(seqs)
    probs = predict_probs(loaded.model, loaded.variables, codes, batch_size=max(batch_size, 512))
    np.savez(dest / "test_predictions.tmp.npz", ids=np.asarray(ids), labels=labels.astype(np.float32),
             probs=probs.astype(np.float32), codes=codes, label_names=np.asarray(loaded.label_names))
    os.replace(dest / "test_predictions.tmp.npz", dest / "test_predictions.npz")
    return dest


def run_measured(cmd: list[str], env: dict, interval: float = 0.2) -> tuple[int, float, float, str]:
    """Run ``cmd``; return (exit code, peak RSS in MiB over the process tree, seconds, stderr tail)."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def poll():
        nonlocal peak
        try:
            p = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            try:
                rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                peak = max(peak, rss)
            except psutil.NoSuchProcess:
                break
            stop.wait(interval)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, err = proc.communicate()
    stop.set()
    th.join()
    return proc.returncode, peak / 2**20, time.perf_counter() - t0, (out + err)[-3000:]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="/tmp/satori_interpret_memory", help="working directory")
    p.add_argument("--run", default=None, help="trained run directory (default: train a small one in --work)")
    p.add_argument("--n", type=int, nargs="+", default=[20_000, 200_000], help="test set sizes")
    p.add_argument("--length", type=int, default=300)
    p.add_argument("--chunk-size", type=int, default=10_000)
    p.add_argument("--methods", default="raw")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--prob-cutoff", type=float, default=None,
                   help="default: min(0.7, median predicted probability of the run's test positives), so a "
                        "weakly trained model still selects about half of the positives")
    p.add_argument("--background", choices=("negatives", "shuffle"), default=None,
                   help="default: negatives if the run's test set has negatives predicted < 0.3, "
                        "else shuffle")
    p.add_argument("--out", default=None,
                   help="results JSON (default bench/results/interpret_memory-<platform>.json)")
    p.add_argument("--in-memory", action="store_true",
                   help="also interpret the same sequences through the in-memory path and compare")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    run = Path(args.run) if args.run else train_run(work, args.length, args.quiet)
    env = {**os.environ}
    import jax

    plat = jax.devices()[0].platform
    import numpy as np

    with np.load(run / "test_predictions.npz") as z:
        pr, y = z["probs"][:, 0], z["labels"][:, 0]
    prob_cutoff = args.prob_cutoff if args.prob_cutoff is not None else min(0.7, float(np.median(pr[y > 0])))
    background = args.background or ("negatives" if (pr[y == 0] < 0.3).sum() >= 10 else "shuffle")
    print(f"prob cutoff {prob_cutoff:.3f}, background {background}", flush=True)
    results = []
    for n in args.n:
        data = work / f"test_{n}"
        if not (data / "labels.tsv").is_file():
            t = time.perf_counter()
            _simulate(data, n, args.length, seed=1000)
            print(f"simulated {n} sequences in {time.perf_counter() - t:.0f} s", flush=True)
        out = work / f"interpret_{n}"
        if (out / "stream").exists():  # measure a full run, not a resume
            import shutil

            shutil.rmtree(out)

        def interpret(run_dir: Path, out: Path, *extra: str) -> tuple[float, float, dict, list[str]]:
            """Peak RSS (MiB), seconds and summary of one measured ``interpret`` subprocess."""
            cmd = [sys.executable, "-m", "satori_jax.interpret", str(run_dir), "--out", str(out), *extra,
                   "--methods", args.methods, "--batch-size", str(args.batch_size), "--quiet",
                   "--prob-cutoff", f"{prob_cutoff:.4f}", "--background", background]
            rc, peak, secs, tail = run_measured(cmd, env)
            if rc != 0:
                print(tail, file=sys.stderr)
                raise SystemExit(f"interpret failed (exit {rc}): {' '.join(cmd)}")
            return peak, secs, json.loads((out / "summary.json").read_text()), cmd

        peak, secs, summary, cmd = interpret(run, out, "--fasta", str(data / "sequences.fa"), "--labels",
                                             str(data / "labels.tsv"), "--chunk-size", str(args.chunk_size))
        fa_mb = (data / "sequences.fa").stat().st_size / 2**20
        row = {"n_sequences": n, "length": args.length, "chunk_size": args.chunk_size,
               "methods": args.methods,
               "peak_rss_mib": round(peak, 1), "seconds": round(secs, 1), "fasta_mib": round(fa_mb, 1),
               "n_foreground": summary["run"]["n_foreground"], "n_background": summary["run"]["n_background"],
               "n_chunks": summary["run"]["streaming"]["n_chunks"],
               "n_tested": {m: e["n_tested"] for m, e in summary["methods"].items()},
               "command": " ".join(cmd)}
        row["seconds_per_sequence_ms"] = round(1e3 * secs / n, 4)
        print(f"N={n}: peak RSS {peak:.0f} MiB, {secs:.0f} s (FASTA {fa_mb:.0f} MiB, "
              f"{row['n_foreground']} fg / {row['n_background']} bg)", flush=True)
        if args.in_memory:
            t = time.perf_counter()
            mem_run = in_memory_run(run, data, work / f"run_in_memory_{n}", args.batch_size)
            print(f"in-memory run copy with {n} test sequences in {time.perf_counter() - t:.0f} s",
                  flush=True)
            mpeak, msecs, msum, mcmd = interpret(mem_run, work / f"interpret_in_memory_{n}")
            row["in_memory"] = {
                "peak_rss_mib": round(mpeak, 1), "seconds": round(msecs, 1),
                "seconds_per_sequence_ms": round(1e3 * msecs / n, 4),
                "n_foreground": msum["run"]["n_foreground"], "n_background": msum["run"]["n_background"],
                "n_tested": {m: e["n_tested"] for m, e in msum["methods"].items()},
                "command": " ".join(mcmd)}
            row["streamed_over_in_memory"] = round(secs / msecs, 3)
            print(f"N={n} in memory: peak RSS {mpeak:.0f} MiB, {msecs:.0f} s; streamed / in-memory = "
                  f"{secs / msecs:.2f}", flush=True)
        results.append(row)
    res = {"what": "peak resident memory of streaming interpretation (process tree, psutil 0.2 s polling)",
           "platform": plat, "cpu_count": os.cpu_count(), "machine": platform.machine(),
           "run": str(run), "results": results}
    path = Path(args.out) if args.out else ROOT / "bench" / "results" / f"interpret_memory-{plat}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
