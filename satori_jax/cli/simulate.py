"""``python -m satori_jax.simulate``: simulated benchmarks with known interacting motif pairs."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from satori_jax.cli.common import HelpFormatter, Parser, positive_int, run_cli

DESCRIPTION = """\
Generate benchmark data with ground-truth TF interactions. Writes into --out:
sequences.fa, labels.tsv, motifs.meme, interactions.tsv, embeddings.tsv, dataset.json.

  pairs  SATORI 2.0 Data-N style: positives carry interacting motif pairs 8-15 bp apart,
         negatives 1-3 lone motifs >= 40 bp apart (presets data-40/60/80, long).
  dfim   DFIM / SATORI benchmark: classes A only, B only, A and B (label 1), distractors
         embedded everywhere.
  twins  only the pairing carries the label: each positive (true pairs 8-15 bp apart) has a
         twin negative with the same background, TFs and motif instances, the TFs re-paired
         without true pairs (presets twins-40/60/80); also writes groups.tsv (twin ids, kept
         whole by training splits) and sanity gates in dataset.json.
"""

EPILOG = """\
examples:
  python -m satori_jax.simulate pairs --preset data-40 --out data/d40 --seed 1
  python -m satori_jax.simulate pairs --motifs my.meme --pairs my_pairs.tsv --out data/mine
  python -m satori_jax.simulate dfim --out data/dfim --num-sequences 30000
  python -m satori_jax.simulate twins --preset twins-40 --out data/t40
"""


EXAMPLES = {
    "pairs": """\
examples:
  python -m satori_jax.simulate pairs --preset data-40 --out data/d40 --seed 1
  python -m satori_jax.simulate pairs --preset long --num-sequences 20000 --out data/long
  python -m satori_jax.simulate pairs --motifs my.meme --pairs my_pairs.tsv --out data/mine
""",
    "dfim": """\
examples:
  python -m satori_jax.simulate dfim --out data/dfim --num-sequences 30000
  python -m satori_jax.simulate dfim --motif-a GATA1 --motif-b TAL1::TCF3 --distractors CTCF --out data/gt
""",
    "twins": """\
examples:
  python -m satori_jax.simulate twins --preset twins-40 --out data/t40
  python -m satori_jax.simulate twins --motifs my.meme --pairs my_pairs.tsv --pairs-per-seq 2 --out data/tm
""",
}


def _background(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 4 comma-separated numbers (A,C,G,T): {text!r}") from None
    if len(vals) != 4 or any(v < 0 for v in vals) or sum(vals) <= 0:
        raise argparse.ArgumentTypeError(f"expected 4 non-negative frequencies (A,C,G,T), got {text!r}")
    return vals


def _wrapped(lines: list[str], indent: int = 12) -> str:
    """Lines wrapped at 88 columns (at spaces only) with a hanging indent, for raw-formatted text."""
    import textwrap

    return "\n".join(textwrap.fill(line, 88, subsequent_indent=" " * indent, break_long_words=False,
                                    break_on_hyphens=False) for line in lines)


def preset_words(kind: str) -> str:
    """The presets of ``pairs`` or ``twins`` in words, one per line (for ``--help``)."""
    from satori_jax.data.simulate import PAIRS_DEFAULTS, PRESETS, TWIN_PRESETS, TWINS_DEFAULTS

    lines = []
    if kind == "pairs":
        for name, preset in PRESETS.items():
            c = {**PAIRS_DEFAULTS, **preset}
            per, gap = c["num_pairs_per_seq"], c["pair_gap"]
            per = f"{per[0]}-{per[1]}" if isinstance(per, tuple) else str(per)
            what = f"SATORI 2.0 Data-{name[5:]}" if name.startswith("data-") else "long sequences"
            lines.append(f"  {name + ':':<9} {what}: {c['num_tfs']} JASPAR TFs, {c['num_pairs']} "
                         f"interacting pairs among them; {c['num_sequences']} sequences of {c['length']} bp, "
                         f"half positive; each positive holds {per} pairs (motifs {gap[0]}-{gap[1]} bp "
                         f"apart), each negative lone motifs >= {c['lone_gap']} bp apart")
    else:
        for name, preset in TWIN_PRESETS.items():
            c = {**TWINS_DEFAULTS, **preset}
            lines.append(f"  {name + ':':<9} {c['num_tfs']} JASPAR TFs, {c['num_pairs']} interacting pairs "
                         f"among them; {c['num_sequences']} sequences of {c['length']} bp "
                         f"({c['num_sequences'] // 2} twin pairs); each positive holds {c['pairs_per_seq']} "
                         "true pairs")
    return _wrapped(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands ``pairs``, ``dfim`` and ``twins``)."""
    from satori_jax.data.jaspar import DEFAULT_RELEASE
    from satori_jax.data.simulate import (
        DFIM_DEFAULT_A,
        DFIM_DEFAULT_B,
        DFIM_DEFAULT_DISTRACTORS,
        PRESETS,
        TWIN_PRESETS,
    )

    p = Parser(prog="python -m satori_jax.simulate", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=HelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="{pairs,dfim,twins}")

    def common(sp: argparse.ArgumentParser, n_default: int, n_help: str) -> None:
        sp.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="output directory (must be empty or new)")
        sp.add_argument("--force", action="store_true", help="replace a data set directory simulate wrote")
        sp.add_argument("--seed", type=int, default=0, metavar="N",
                        help="random seed; same seed -> identical files (0)")
        sp.add_argument("--num-sequences", type=positive_int, default=None, metavar="N",
                        help=n_help.format(n=n_default))
        sp.add_argument("--background", type=_background, default=None, metavar="A,C,G,T",
                        help="background base frequencies, e.g. 0.3,0.2,0.2,0.3 (default: genome-like)")
        sp.add_argument("--jaspar-release", default=DEFAULT_RELEASE, metavar="RELEASE",
                        help=f"pyjaspar release for JASPAR motifs ({DEFAULT_RELEASE})")

    def pool(sp: argparse.ArgumentParser, length_help: str, per_seq_help: str) -> None:
        """The TF pool and pair options that ``pairs`` and ``twins`` share."""
        sp.add_argument("--length", type=positive_int, default=None, metavar="N", help=length_help)
        sp.add_argument("--num-tfs", type=positive_int, default=None, metavar="N",
                        help="JASPAR TFs to draw (preset or 20)")
        sp.add_argument("--num-pairs", type=positive_int, default=None, metavar="N",
                        help="interacting pairs among them (preset or 40)")
        sp.add_argument("--pairs-per-seq", type=positive_int, default=None, metavar="N", help=per_seq_help)
        sp.add_argument("--motifs", type=Path, default=None, metavar="FILE",
                        help="MEME file of your motifs (with --pairs)")
        sp.add_argument("--pairs", type=Path, default=None, metavar="FILE",
                        help="TSV of interacting pairs, two TF names (as in --motifs) per line")

    sp = sub.add_parser("pairs", help="SATORI 2.0 Data-N style interacting pairs",
                        formatter_class=HelpFormatter,
                        description=_wrapped([
                            "Positives: interacting motif pairs; negatives: lone motifs. Motifs from JASPAR "
                            "CORE vertebrates (mutually dissimilar) or from --motifs/--pairs."], 0)
                        + "\n\n"
                        "presets (--preset; options given as well override them):\n" + preset_words("pairs"),
                        epilog=EXAMPLES["pairs"])
    common(sp, 60000, "number of sequences, half positive (preset or {n})")
    sp.add_argument("--preset", choices=sorted(PRESETS), default=None,
                    help="a published benchmark's sizes (see presets above)")
    pool(sp, "sequence length in bp (preset or 300)",
         "interacting pairs embedded in each positive (preset or 3)")

    sd = sub.add_parser("dfim", help="DFIM-style A/B interaction benchmark with distractors",
                        description=_wrapped([
                            "Classes A only, B only, A and B in equal numbers; label 1 iff both. "
                            "A and B embedded 1-2 times when present, each distractor 0-2 times everywhere. "
                            f"Defaults: A={DFIM_DEFAULT_A}, B={DFIM_DEFAULT_B} (DFIM used ELF1 and SIX5; "
                            "SIX5 is not in JASPAR CORE and its relatives resemble TAL1::TCF3), distractors "
                            + ", ".join(DFIM_DEFAULT_DISTRACTORS) + "."], 0),
                        epilog=EXAMPLES["dfim"], formatter_class=HelpFormatter)
    common(sd, 30000, "number of sequences ({n})")
    sd.add_argument("--length", type=positive_int, default=200, metavar="N",
                    help="sequence length in bp (200)")
    sd.add_argument("--motif-a", default=DFIM_DEFAULT_A, metavar="TF",
                    help=f"TF name of motif A ({DFIM_DEFAULT_A})")
    sd.add_argument("--motif-b", default=DFIM_DEFAULT_B, metavar="TF",
                    help=f"TF name of motif B ({DFIM_DEFAULT_B})")
    sd.add_argument("--distractors", nargs="*", default=list(DFIM_DEFAULT_DISTRACTORS), metavar="TF",
                    help="distractor TF names (default: " + " ".join(DFIM_DEFAULT_DISTRACTORS) + ")")
    sd.add_argument("--motifs", type=Path, default=None, metavar="FILE",
                    help="look motif names up in this MEME file instead of JASPAR")

    st = sub.add_parser("twins", help="twin negatives: only the pairing of TFs carries the label",
                        description=_wrapped([
                            "Each positive holds --pairs-per-seq true pairs of distinct TFs (blocks, 8-15 "
                            "bp inside, >= 40 bp apart); its twin negative holds the same TFs and motif "
                            "instances on the same background, re-paired by a matching without true pairs. "
                            "Motifs from JASPAR CORE vertebrates (mutually dissimilar; near-regular pair "
                            "graph) or from --motifs/--pairs."], 0)
                        + "\n\npresets (--preset; options given as well override them):\n"
                        + preset_words("twins"),
                        epilog=EXAMPLES["twins"], formatter_class=HelpFormatter)
    common(st, 60000, "number of sequences, even: half positive, one twin pair each (preset or {n})")
    st.add_argument("--preset", choices=sorted(TWIN_PRESETS), default=None,
                    help="a benchmark size (see presets above)")
    pool(st, "sequence length in bp (300)", "true pairs in each positive, 1-5 (3)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, generate, write; returns the exit status."""
    from satori_jax.data.simulate import (
        DATASET_DIR,
        make_dfim_dataset,
        make_pairs_dataset,
        make_twins_dataset,
        write_dataset,
    )
    from satori_jax.outputs import check_output_dir

    args = build_parser().parse_args(argv)
    out: Path = args.out
    inputs = [getattr(args, "motifs", None), getattr(args, "pairs", None)]
    check_output_dir(out, DATASET_DIR, replace=args.force, inputs=inputs)
    t0 = time.perf_counter()
    if args.command in ("pairs", "twins"):
        common = dict(num_sequences=args.num_sequences, length=args.length, seed=args.seed,
                      num_tfs=args.num_tfs, num_pairs=args.num_pairs, motifs_file=args.motifs,
                      pairs_file=args.pairs, background=args.background, release=args.jaspar_release)
        if args.command == "pairs":
            ds = make_pairs_dataset(args.preset, **common, num_pairs_per_seq=args.pairs_per_seq)
        else:
            ds = make_twins_dataset(args.preset, **common, pairs_per_seq=args.pairs_per_seq)
    else:
        ds = make_dfim_dataset(
            num_sequences=args.num_sequences or 30000,
            length=args.length,
            seed=args.seed,
            motif_a=args.motif_a,
            motif_b=args.motif_b,
            distractors=args.distractors,
            motifs_file=args.motifs,
            background=args.background,
            release=args.jaspar_release,
        )
    write_dataset(out, ds, overwrite=args.force, inputs=inputs)
    c = ds.counts
    print(f"wrote {c['sequences']} sequences x {ds.codes.shape[1]} bp ({c['positives']} positive), "
          f"{len(ds.motifs)} motifs, {len(ds.interactions)} true interactions, "
          f"{c['embedded_instances']} embedded instances to {out} in {time.perf_counter() - t0:.1f} s")
    if ds.gates:
        g = ds.gates
        print(f"gates: {g['twins_with_different_tf_counts']} of {g['twins']} twins with different TF counts; "
              f"oracle AUROC {g['oracle_auroc']:.3f} accuracy {g['oracle_accuracy']:.3f}; per-TF-count "
              f"logistic regression AUROC {g['counts_logistic_auroc']:.3f}, per-TF-position one "
              f"{g['positions_logistic_auroc']:.3f} (held-out twins)")
    print(f"next: python -m satori_jax.train --data {out} --workdir RUN")
    return 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(run_cli(main))
