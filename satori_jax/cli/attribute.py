"""``python -m satori_jax.attribute RUN ... --out FILE``: batched, resumable attribution export."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from satori_jax.cli.common import HelpFormatter, Parser, positive_int, run_cli

DESCRIPTION = """\
Export per-sequence evidence of a trained SATORI run into one HDF5 store: predictions, input
attributions (integrated gradients, gradient x input, hypothetical contributions), attention maps
and attention attributions. Sequences are streamed from disk in chunks (memory does not grow with
their number), every chunk runs through jit-compiled fixed-shape batches on every visible device,
and each finished chunk is flushed to disk. Rerunning the same command after an interruption
resumes at the first unfinished chunk and produces the same file as an uninterrupted run.

Datasets in the store (--out FILE; N sequences, L bp, C labels, L' attention positions, H heads):
  ids (N,), codes (N, L) uint8, predictions / logits (N, C), ig / grad_x_input / hypothetical
  (N, L, 4), ig_delta (N,) = F(x) - F(baseline), attention / attention_ig (N, L', L') with
  --heads max or (N, H, L', L') with --heads all. FILE.manifest.json describes the export.
"""

EPILOG = """\
examples:
  python -m satori_jax.attribute runs/demo --data data/demo --out runs/demo/attr.h5
  python -m satori_jax.attribute runs/demo --fasta peaks.fa --out attr.h5 --what ig,attention_ig --steps 50
  python -m satori_jax.attribute runs/atac --bed peaks.bed --genome hg38.fa --out atac.h5 --modisco
    then: modisco motifs -s atac.h5_modisco/ohe.npz -a atac.h5_modisco/shap.npz -n 2000 -w <L> -o modisco.h5
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    from satori_jax.attribute import DEFAULT_WHAT, QUANTITIES

    p = Parser(
        prog="python -m satori_jax.attribute",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="run directory written by satori_jax.train")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", metavar="DIR", help="dataset directory (its sequences.fa is exported)")
    src.add_argument("--fasta", metavar="FILE", help="FASTA file (plain or gzipped), streamed")
    src.add_argument("--bed", metavar="FILE", help="BED regions (chrom start end ...), with --genome")
    p.add_argument("--genome", metavar="FILE", help="genome FASTA for --bed (indexed with pyfaidx)")
    p.add_argument("--out", metavar="FILE", required=True, help="output HDF5 store (e.g. attr.h5)")
    p.add_argument(
        "--what",
        default=",".join(DEFAULT_WHAT),
        metavar="Q1,Q2",
        help=f"quantities: {','.join(QUANTITIES)} (default: {','.join(DEFAULT_WHAT)})",
    )
    p.add_argument(
        "--steps", type=positive_int, default=20, metavar="N",
        help="Riemann steps of IG and attention IG (20)",
    )
    p.add_argument(
        "--baseline",
        choices=("gc", "zeros", "shuffle"),
        default="gc",
        help="IG baseline: GC-matched background, zeros, or a dinucleotide shuffle (default: gc)",
    )
    p.add_argument(
        "--targets",
        default=None,
        metavar="NAME1,NAME2",
        help="comma-separated label names whose logits are attributed, or 'all' (default: all)",
    )
    p.add_argument(
        "--heads",
        choices=("max", "all"),
        default="max",
        help="attention maps: max over heads (N, L', L') or all heads (N, H, L', L') (default: max)",
    )
    p.add_argument(
        "--dtype",
        choices=("float16", "float32"),
        default="float32",
        help="storage type of attributions and attention (default: float32)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=64,
        metavar="N",
        help="sequences per jit call, rounded up to a multiple of the device count (default: 64)",
    )
    p.add_argument(
        "--chunk-size",
        type=positive_int,
        default=1024,
        metavar="N",
        help="sequences per written (resumable) chunk, rounded up to a multiple of the batch size "
        "(default: 1024)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of the shuffle baseline (default: 0)")
    p.add_argument(
        "--modisco",
        action="store_true",
        help="also write FILE_modisco/ohe.npz and shap.npz (N, 4, L) for modisco-lite (FILE: --out)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing store instead of resuming it"
    )
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run :func:`satori_jax.attribute.export`."""
    from satori_jax.attribute import export
    from satori_jax.outputs import check_writable

    args = build_parser().parse_args(argv)
    check_writable(args.out, directory=False)  # one line naming --out, before any work
    res = export(
        args.run,
        args.out,
        data=args.data,
        fasta=args.fasta,
        bed=args.bed,
        genome=args.genome,
        what=args.what,
        steps=args.steps,
        baseline=args.baseline,
        targets=args.targets,
        heads=args.heads,
        dtype=args.dtype,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        seed=args.seed,
        modisco=args.modisco,
        overwrite=args.overwrite,
        verbose=not args.quiet,
    )
    if not args.quiet:
        print(res.store)
    return 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(run_cli(main))
