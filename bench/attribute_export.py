"""Attribution export throughput and peak memory vs the number of sequences (issue 8 acceptance).

Exports predictions, attention (max over heads) and 20-step IG input attributions (GC baseline) of
N random 200 bp sequences with the ``basic`` model at its default size, for each N in ``--ns``, and
records sequences/s per quantity and the peak RSS of each export. The model is randomly
initialised (a run directory is written with ``create_state`` + ``save_checkpoint``): throughput
and memory do not depend on the weights.

Every export runs in a fresh child process (``python -m``-equivalent: :func:`satori_jax.attribute.export`
reading a FASTA file from disk in chunks), so its peak RSS is its own: ``ru_maxrss`` of the child,
cross-checked by polling its RSS with psutil every 50 ms from the parent. Compilation is included in
the wall time but excluded from the per-quantity rates only in so far as it happens in the first
chunk (it is a few seconds against minutes).

    .venv/bin/python bench/attribute_export.py                 # N = 10 000 and 20 000
    .venv/bin/python bench/attribute_export.py --ns 10000 100000   # the acceptance pair (long on 2 cores)

writes ``bench/results/attribute_export-<platform>.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CHILD = """
import json, resource, sys, time
from satori_jax.attribute import export
args = json.loads(sys.argv[1])
t0 = time.perf_counter()
res = export(args["run"], args["out"], fasta=args["fasta"], what=args["what"], steps=args["steps"],
             batch_size=args["batch_size"], chunk_size=args["chunk_size"], verbose=False)
print(json.dumps({"wall_s": time.perf_counter() - t0, "seconds": res.seconds, "throughput": res.throughput(),
                  "n": res.n, "n_chunks": res.n_chunks,
                  "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _write_run(run: Path, length: int) -> dict:
    import jax

    from satori_jax import config as config_lib
    from satori_jax.checkpoints import save_checkpoint
    from satori_jax.models import count_params
    from satori_jax.train import create_state

    cfg = config_lib.from_dict({"data": {"length": length}})  # default model: basic, 200 filters, 8 heads
    run.mkdir(parents=True)
    config_lib.save(cfg, run / "config.json")
    (run / "data.json").write_text(
        json.dumps({"source": {"kind": "bench"}, "label_names": ["y"], "length": length, "num_sequences": 0})
    )
    state = create_state(cfg, 1, length, jax.random.PRNGKey(0))
    save_checkpoint(run / "checkpoints" / "best", 1, state, {"epoch": 1})
    m = cfg.model
    return {
        "arch": m.arch,
        "num_filters": m.num_filters,
        "filter_width": m.filter_width,
        "pool_size": m.pool_size,
        "num_heads": m.num_heads,
        "head_dim": m.head_dim,
        "proj_dim": m.proj_dim,
        "batch_norm": m.batch_norm,
        "params": int(count_params(state.params)),
        "weights": "random init",
    }


def _write_fasta(path: Path, n: int, length: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    with open(path, "w") as fh:
        for start in range(0, n, 10_000):
            m = min(10_000, n - start)
            seqs = letters[rng.integers(0, 4, (m, length))]
            fh.write("".join(f">seq{start + i}\n{seqs[i].tobytes().decode()}\n" for i in range(m)))


def _run_child(args: dict) -> dict:
    import psutil

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0]
    stop = threading.Event()

    def poll():
        p = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], p.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.05)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, err = proc.communicate()
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise RuntimeError(f"export failed ({proc.returncode}):\n{err[-3000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    res["psutil_peak_rss_mib"] = peak[0] / 2**20
    return res


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", type=int, nargs="+", default=[10_000, 20_000], help="numbers of sequences")
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--chunk-size", type=int, default=1024)
    ap.add_argument("--what", default="predictions,attention,ig")
    ap.add_argument(
        "--workdir", type=Path, default=None, help="where the run, FASTA and stores go (default: tmp)"
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import jax

    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="attr_bench_")
        args.workdir = Path(tmp.name)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    model = _write_run(work / "run", args.length)
    runs = []
    for n in args.ns:
        fa = work / f"seqs_{n}.fa"
        _write_fasta(fa, n, args.length)
        store = work / f"attr_{n}.h5"
        for p in (store, Path(str(store) + ".manifest.json")):
            if p.exists():
                p.unlink()
        load_before = os.getloadavg()
        res = _run_child(
            {
                "run": str(work / "run"),
                "out": str(store),
                "fasta": str(fa),
                "what": args.what,
                "steps": args.steps,
                "batch_size": args.batch_size,
                "chunk_size": args.chunk_size,
            }
        )
        res["store_mib"] = store.stat().st_size / 2**20
        res["loadavg_1m_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
        runs.append(res)
        print(
            json.dumps(
                {
                    "n": n,
                    "wall_s": round(res["wall_s"], 1),
                    "seq_per_s": {k: round(v, 1) for k, v in res["throughput"].items()},
                    "peak_rss_mib": round(res["ru_maxrss_mib"], 1),
                }
            ),
            flush=True,
        )
        store.unlink()
        Path(str(store) + ".manifest.json").unlink()
        fa.unlink()
    peaks = [r["ru_maxrss_mib"] for r in runs]
    result = {
        "benchmark": "attribute_export",
        "device": f"{jax.default_backend()}:{jax.devices()[0].device_kind}",
        "host": platform.machine(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "model": model,
        "length": args.length,
        "what": args.what.split(","),
        "ig_steps": args.steps,
        "baseline": "gc",
        "batch_size": args.batch_size,
        "chunk_size": args.chunk_size,
        "command": "python bench/attribute_export.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "runs": runs,
        "peak_rss_ratio_max_over_min": max(peaks) / min(peaks),
        "note": "sequences/s per quantity = rows computed / seconds spent in that quantity's jit calls "
        "(including the device-to-host copy); wall_s includes the counting pass, compilation and "
        "HDF5 writes. Peak RSS = ru_maxrss of the exporting child process. The host is shared: see "
        "loadavg_1m_before_after (2 cores; a load above 2 means other jobs took CPU time).",
    }
    out = (
        args.out
        or Path(__file__).resolve().parent / "results" / f"attribute_export-{jax.default_backend()}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    if tmp is not None:
        tmp.cleanup()
    return result


if __name__ == "__main__":
    main()
