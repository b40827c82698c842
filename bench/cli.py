"""``python -m bench``: argument parsing and the pipeline profile -> sections -> comparison -> report.

1. :func:`bench.profiles.make_profile` picks the mode's sizes; flags override them.
2. Each requested section in :data:`bench.sections.SECTIONS` order runs
   (``bench.sections.<name>.run_<name>``); a failing section is recorded with its traceback and the
   others still run. Models built by ``methods`` are reused by ``scaling`` and ``device``.
3. :func:`bench.paper.paper_comparison` sets the run against the published figures.
4. :func:`bench.report.write_all` writes ``<out>/<device>-<date>[-mode].{json,md,png}`` and the
   directory's ``README.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import os
import sys
import textwrap
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import measure
from bench.fixtures import ArchModel, log
from bench.profiles import ARCHS, METHODS, make_profile
from bench.sections import SECTIONS

DEFAULT_OUT = Path(__file__).resolve().parent / "results"

EPILOG = """\
examples:
  python -m bench --quick
      every section at small sizes (small random-init models, short sequences)
  python -m bench --quick --archs basic --sections methods,training --out /tmp/b
      the method comparison and training throughput of the basic model only
  python -m bench --sections methods --archs basic --methods raw,fis \\
      --sizes 500 --cap fis=8 --train-steps 200
      raw against FIS on a briefly trained model, FIS measured at N=8
  python -m bench --tiny --out /tmp/bench
      smoke test: every section at the smallest sizes (about 2 min)

sections (--sections, default all, run in this order; rough times on an
idle 2-core CPU, full / --quick):
  methods   raw, attr, fis and dfim on the same N foreground + N background
            examples per architecture: the interpret scorers plus the
            statistics, ratios to raw; fis/dfim above --cap extrapolated
            (full: ~20 min for 3 architectures / quick: 1-2 min)
  scaling   raw and fis time and peak memory against N and sequence length
            (basic model, scorer only), log-log exponents (~3 min / < 1 min)
  training  sequences/s of the jit train_step per architecture and
            --train-lengths (~1 min / under 1 min)
  peers     PyTorch/captum peer of the basic model: training step and input
            IG against ours (~30 s / ~20 s; skipped without torch/captum)
  device    device, versions, parameter counts, FLOP estimates and achieved
            FLOP/s of the sections above (instant)
"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout and wraps help texts at spaces only (never inside a word)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        text = " ".join(text.split())
        return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def _ints(text: str, what: str) -> tuple[int, ...]:
    """``"1,2,3"`` -> ``(1, 2, 3)``; positive integers only (else exit with an error)."""
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise SystemExit(f"error: {what}: expected comma-separated integers, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise SystemExit(f"error: {what}: expected positive integers, got {text!r}")
    return vals


def _names(text: str, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    """Comma list -> de-duplicated names, each one of ``known`` (else exit with an error)."""
    vals = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    bad = [v for v in vals if v not in known]
    if bad or not vals:
        raise SystemExit(f"error: {what}: unknown {bad or text!r} (known: {', '.join(known)})")
    return vals


def _caps(text: str) -> dict[str, int]:
    """``"fis=16,dfim=8"`` -> ``{"fis": 16, "dfim": 8}`` (else exit with an error)."""
    out: dict[str, int] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in METHODS or not value.strip().isdigit() or int(value) < 1:
            raise SystemExit(f"error: --cap: expected METHOD=N (methods: {', '.join(METHODS)}), got {item!r}")
        out[name] = int(value)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m bench`` argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Runtimes of SATORI's interaction methods (raw, attr, fis, dfim), their scaling,\n"
        "training throughput and PyTorch peers; writes\n"
        "bench/results/<device>-<date>.{json,md,png} (and the directory's README.md).",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        action="store_true",
        help="small models, random init, short sequences, tiny caps: < 3 min on a 2-core CPU",
    )
    mode.add_argument("--tiny", action="store_true", help="smallest settings (for the smoke test)")
    p.add_argument(
        "--sections", default=",".join(SECTIONS), metavar="S1,S2", help=f"comma list of {', '.join(SECTIONS)}"
    )
    p.add_argument(
        "--archs", default=",".join(ARCHS), metavar="A1,A2", help=f"comma list of {', '.join(ARCHS)}"
    )
    p.add_argument(
        "--methods", default=",".join(METHODS), metavar="M1,M2", help=f"comma list of {', '.join(METHODS)}"
    )
    p.add_argument(
        "--sizes",
        metavar="N1,N2",
        help="foreground examples per timing, e.g. 500,2000,5000 (each + as many background)",
    )
    p.add_argument(
        "--cap",
        metavar="METHOD=N,...",
        help="largest N actually run per method, e.g. fis=16,dfim=8 (larger N extrapolated)",
    )
    p.add_argument(
        "--lengths", metavar="N1,N2", help="sequence lengths of the scaling section, e.g. 300,600,1500"
    )
    p.add_argument(
        "--length",
        type=int,
        metavar="N",
        help="sequence length of the method comparison (default 300; quick 100)",
    )
    p.add_argument(
        "--train-lengths", metavar="N1,N2", help="lengths of the training-throughput section, e.g. 300,600"
    )
    p.add_argument(
        "--train-steps", type=int, metavar="N", help="training steps before interpretation (0 = random init)"
    )
    p.add_argument(
        "--repeats", type=int, metavar="N", help="timed repeats per cell (median); default 3, quick 2"
    )
    p.add_argument(
        "--out", default=str(DEFAULT_OUT), metavar="DIR", help="results directory (default bench/results)"
    )
    p.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of models and simulated data (default 0)"
    )
    p.add_argument("--no-plot", action="store_true", help="skip the PNG chart")
    return p


def _section_runners(
    prof: Any,
    archs: tuple[str, ...],
    methods: tuple[str, ...],
    seed: int,
    threads: int,
    models: dict[str, ArchModel],
) -> dict[str, Callable[[], dict]]:
    """``name -> run()`` for every section but ``device`` (which summarises the others)."""
    from bench.sections.methods import run_methods
    from bench.sections.peers import run_peers
    from bench.sections.scaling import run_scaling
    from bench.sections.training import run_training

    return {
        "methods": lambda: run_methods(prof, archs, methods, seed, models),
        "scaling": lambda: run_scaling(prof, seed, models),
        "training": lambda: run_training(prof, archs, seed),
        "peers": lambda: run_peers(prof, seed, threads),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the bench; returns 1 when a section failed (its error is in the results), else 0."""
    args = build_parser().parse_args(argv)
    t_start = time.perf_counter()
    sections = _names(args.sections, SECTIONS, "--sections")
    archs = _names(args.archs, ARCHS, "--archs")
    methods = _names(args.methods, METHODS, "--methods")
    info = measure.device_info()
    cpu_start = measure.cpu_snapshot()
    mode = "quick" if args.quick else "tiny" if args.tiny else "full"
    prof = make_profile(mode, info["platform"])
    if args.sizes:
        prof.sizes = _ints(args.sizes, "--sizes")
    if args.cap:
        prof.caps.update(_caps(args.cap))
    if args.lengths:
        prof.scale_lengths = _ints(args.lengths, "--lengths")
    if args.length:
        prof.length = _ints(str(args.length), "--length")[0]
    if args.train_lengths:
        prof.train_lengths = _ints(args.train_lengths, "--train-lengths")
    if args.train_steps is not None:
        prof.train_steps = max(0, int(args.train_steps))
    if args.repeats:
        prof.repeats = max(1, int(args.repeats))
    log(
        f"mode {mode} on {info['name']} (jax {info['jax']}, {info['cpu_count']} CPUs, "
        f"load {info['load_average']}); sections {','.join(sections)}"
    )

    results: dict[str, Any] = {
        "schema": 1,
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "mode": mode,
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "device": info,
        "profile": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(prof).items()},
        "sections": {},
    }
    models: dict[str, ArchModel] = {}
    failed = False
    runners = _section_runners(prof, archs, methods, args.seed, info["cpu_count"], models)
    for name in SECTIONS:
        if name == "device" or name not in sections:
            continue
        t0 = time.perf_counter()
        try:
            results["sections"][name] = runners[name]()
        except Exception as exc:  # noqa: BLE001 - keep the other sections' numbers
            failed = True
            results["sections"][name] = {
                "status": "error",
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
            log(f"{name}: FAILED: {type(exc).__name__}: {exc}")
        results["sections"][name]["seconds"] = round(time.perf_counter() - t0, 2)
        if results["sections"][name]["status"] == "skipped":
            log(f"{name}: {results['sections'][name]['reason']}")
    if "device" in sections:
        from bench.sections.device import run_device

        results["sections"]["device"] = run_device(info, results["sections"], models, prof, archs)
    try:
        results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        results["load_average_end"] = None
    share = measure.other_cpu_share(cpu_start, measure.cpu_snapshot())
    results["other_cpu_share"] = None if share is None else round(share, 4)
    from bench import report
    from bench.paper import paper_comparison

    results["paper_comparison"] = paper_comparison(results)
    results["total_seconds"] = round(time.perf_counter() - t_start, 2)
    paths = report.write_all(results, Path(args.out), plot=not args.no_plot)
    print(report.console_summary(results, paths))
    return 1 if failed else 0
