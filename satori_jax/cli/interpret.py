"""``python -m satori_jax.interpret RUN``: motifs and TF-TF interactions of a trained model."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from satori_jax.cli.common import HelpFormatter, Parser, fraction, positive_int, run_cli

DESCRIPTION = """\
Interpret a trained SATORI run (a directory written by `python -m satori_jax.train`):

  1. select confidently predicted test examples (binary: positives with p > --prob-cutoff;
     multi-label: per-example precision at 0.5 >= --precision-cutoff) and a background;
  2. turn every first-layer filter into a PWM (K-mers where its activation reaches 0.65 of its
     maximum, --motif-fraction), write filters.meme and match it to a motif database with TomTom
     (filters_tomtom.tsv);
  3. score every filter pair in every example with each method (raw attention, attention
     attribution, ...), test foreground > background (Mann-Whitney U, Benjamini-Hochberg; fis on
     each example's scores divided by its largest), and name significant pairs by their filters'
     TF matches;
  4. list a TF pair when one of its filter pairs is significant and its TF-level q (Simes over
     all its filter pairs, Benjamini-Hochberg over TF pairs) is < 0.05, or when the TF-pooled test
     lists it (per example its best filter pair's score, q_pool < 0.05, effect >= 0.6 as scored
     and relative to each example's strongest pair, both above 0.5 by 1.645 standard errors;
     --no-tf-pool turns this off); then drop a listed pair whose pooled effect does not exceed the
     median of either TF's other pairs by one standard error (the partner rule, --no-partner-rule);
     flag the listed pairs that also stand out from their two TFs' other pairs (q_excess < 0.05:
     the z-score beyond a robust TF-a + TF-b fit), a stricter answer to "more than two enriched motifs".

Outputs in --out: filters.meme, filters_tomtom.tsv, interactions_<method>.tsv,
tf_interactions_<method>.tsv, PNG plots, report.html (opens offline) and, written last,
summary.json.

Test set: by default RUN/test_predictions.npz (held in memory). With --fasta FILE --labels FILE,
--data DIR or --bed FILE --genome FILE the model is interpreted on that data instead, STREAMED in
chunks of --chunk-size sequences (memory independent of the number of sequences): pass 1
predicts and selects examples and finds the filter thresholds, pass 2 scores each chunk and folds
the pair scores into fixed-size per-filter-pair histograms (--hist-bins log-spaced bins; the
Mann-Whitney test then treats scores in one bin as ties, and median scores are bin centres; counts,
maxima, cutoffs and distances are exact). Finished chunks are kept in OUT/stream/; rerunning the
same command resumes after the last finished chunk (changed settings or inputs start over).
FASTA sequences of another length than the model's are centre-cropped / N-padded to it when the
run was trained with data.length (as training did, and the log says how many), and are an error
otherwise; --bed regions are always read as windows of the model's length around their centre.

Several devices (GPUs, or XLA_FLAGS=--xla_force_host_platform_device_count=N on CPU): every
scoring call is sharded over all of them (batch split, parameters replicated); results equal one
device's up to float rounding. Several hosts (JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES,
JAX_PROCESS_ID on every process, each with the run directory): the devices of all processes share
every call, and process 0 writes --out. With a streamed test set the processes instead take turns
at whole chunks: each reads, encodes and scores only its own chunks on its own devices, and --out
must be one directory that every process sees (a shared file system); process 0 writes the final
results. An error in any process stops all of them with that error.
"""

EPILOG = """\
examples:
  python -m satori_jax.interpret runs/dfim
  python -m satori_jax.interpret runs/d40 --methods raw,attr --truth data/d40/interactions.tsv
  python -m satori_jax.interpret runs/d40 --methods fis,dfim --max-examples 500 --out runs/d40/ig_quick
  python -m satori_jax.interpret runs/mine --motif-db my_motifs.meme --family-table families.tsv
  python -m satori_jax.interpret runs/atac --fasta big_test.fa.gz --labels big_test.tsv --chunk-size 20000
  python -m satori_jax.interpret runs/atac --bed peaks.bed --genome hg38.fa --out runs/atac/interpret_peaks
"""


def _cutoff(text: str) -> str | float:
    if text.strip().lower() == "mean":
        return "mean"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'mean' or a number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = Parser(prog="python -m satori_jax.interpret", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=HelpFormatter)
    p.add_argument("run", metavar="RUN", help="run directory written by satori_jax.train "
                   "(needs config.json, data.json, checkpoints/ and test_predictions.npz)")
    p.add_argument("--out", metavar="DIR", default=None, help="output directory (default: RUN/interpret)")
    p.add_argument("--methods", default="raw,attr", metavar="M1,M2",
                   help="comma-separated interaction methods: raw (raw attention), attr (attention "
                        "attribution), and fis, dfim where installed (default: raw,attr)")
    p.add_argument("--motif-db", default="jaspar2024", metavar="jaspar2024|FILE",
                   help="motif database for TomTom: jaspar2024 (JASPAR CORE vertebrates, offline) or a MEME "
                        "file (default: jaspar2024)")
    p.add_argument("--family-table", default=None, metavar="FILE",
                   help="TSV 'name<TAB>family' giving TF families of the database motifs (JASPAR families "
                        "are used otherwise)")
    p.add_argument("--background", choices=("negatives", "shuffle"), default=None,
                   help="background examples: negatives (test negatives predicted < 0.3; binary default) "
                        "or shuffle (dinucleotide-shuffled foreground with motifs embedded; multi-label "
                        "default)")
    p.add_argument("--truth", default=None, metavar="FILE",
                   help="true interacting TF pairs (tf_a<TAB>tf_b, e.g. the interactions.tsv of "
                        "satori_jax.simulate): scores each method's list (precision, recall, F1) and "
                        "its ranking of TF pairs (AUPRC, AUROC) next to chance: calling every "
                        "candidate pair, a random ranking. Candidates are all pairs of the TFs in "
                        "dataset.json or motifs.meme beside FILE (the simulated pool), else every "
                        "tested TF pair; scored exactly and with TF families merged. Printed and in "
                        "summary.json")
    p.add_argument("--max-examples", type=positive_int, default=None, metavar="N",
                   help="use at most N foreground and N background examples (random, --seed; default: "
                        "all). fis and dfim cost ~0.06-0.13 s per example on 2 CPU cores with the default "
                        "model, and find fewer true pairs on fewer examples")
    p.add_argument("--attn-cutoff", type=_cutoff, default="mean", metavar="mean|VALUE",
                   help="test a filter pair only if its best foreground score reaches this value; 'mean' = "
                        "mean of all the method's foreground pair scores (default: mean)")
    p.add_argument("--prob-cutoff", type=fraction, default=0.7, metavar="F",
                   help="binary tasks: foreground positives need predicted probability > this (default 0.7)")
    p.add_argument("--neg-cutoff", type=fraction, default=0.3, metavar="F",
                   help="binary tasks, --background negatives: background negatives need predicted "
                        "probability < this (default 0.3)")
    p.add_argument("--precision-cutoff", type=fraction, default=0.5, metavar="F",
                   help="multi-label tasks: foreground examples need per-example precision at 0.5 >= this "
                        "(default 0.5)")
    p.add_argument("--min-effect", type=fraction, default=0.0, metavar="F",
                   help="also require effect size U/(n_fg*n_bg) >= F for a significant pair (e.g. 0.75; "
                        "default 0 = q-value only, as SATORI)")
    p.add_argument("--no-partner-rule", dest="partner_rule", action="store_false",
                   help="keep every TF pair the two rules list (default: drop a pair whose pooled effect "
                        "does not exceed the median of either TF's other pairs by one null standard error, "
                        "e.g. the pairs of a motif that is enriched alone in the foreground; see the "
                        "tf_interactions column effect_partners)")
    p.add_argument("--no-tf-pool", dest="tf_pool", action="store_false",
                   help="list TF pairs by the filter-level rule only (default: also by the TF-pooled test, "
                        "which pools the filter pairs named after a TF pair; see the tf_interactions "
                        "column listed_by)")
    p.add_argument("--test", choices=("observed", "conditioned"), default="observed",
                   help="pair test: observed (default, as SATORI: foreground > background on the examples "
                        "where the pair was observed) or conditioned (each pair tested on the examples "
                        "containing one partner, then on those containing the other, significant only if "
                        "both are; stricter, and blind to pairings when both classes hold the same motifs)")
    p.add_argument("--null", choices=("theoretical", "empirical"), default="theoretical",
                   help="null of the pair tests: theoretical (default) or empirical (Efron: p-values "
                        "re-calibrated to the centre and spread of all tested pairs' z-scores, never more "
                        "liberal; for data sets where nearly every pair comes out, e.g. few motifs and "
                        "large samples)")
    from satori_jax.interpret.options import ACTIVITY_FRACTION, ATTR_SIGNS

    p.add_argument("--activity-fraction", type=fraction, default=ACTIVITY_FRACTION, metavar="F",
                   help="a filter is active (for pairing and FIS/DFIM sources) where its activation reaches "
                        f"F times its foreground maximum (default {ACTIVITY_FRACTION}; lower = more, "
                        "weaker sites)")
    p.add_argument("--motif-fraction", type=fraction, default=None, metavar="F",
                   help="the same for the sites that build the filter PWMs (default: --activity-fraction; "
                        "SATORI uses 0.5)")
    p.add_argument("--no-attr-normalize", dest="attr_normalize", action="store_false",
                   help="attr: do not divide each example's attribution map by its maximum (default: divide, "
                        "so that larger logits in positives do not raise every pair's score)")
    p.add_argument("--no-fis-normalize", dest="fis_normalize", action="store_false",
                   help="fis: test the filter pairs on the scores as they are (default: each example's "
                        "pair scores divided by its largest, since |dIG| grows with the logit of every "
                        "positive; dfim is always tested as scored)")
    p.add_argument("--attr-sign", choices=ATTR_SIGNS, default="positive",
                   help="attr: keep the attention entries that raise the class logit ('positive', default) "
                        "or |attribution| ('absolute', which also scores the entries that lower it)")
    p.add_argument("--batch-size", type=positive_int, default=256, metavar="N",
                   help="examples per device call (default 256)")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of sub-sampling and shuffling (default 0)")
    g = p.add_argument_group("streamed test set (instead of RUN/test_predictions.npz)")
    g.add_argument("--fasta", metavar="FILE", default=None,
                   help="test sequences (FASTA, may be gzipped); with --labels")
    g.add_argument("--labels", metavar="FILE", default=None,
                   help="labels TSV (id<TAB>label1 ...; the model's label columns)")
    g.add_argument("--data", metavar="DIR", default=None,
                   help="dataset directory with sequences.fa and labels.tsv (as satori_jax.simulate writes)")
    g.add_argument("--bed", metavar="FILE", default=None,
                   help="regions 'chrom start end label1 ...'; with --genome")
    g.add_argument("--genome", metavar="FILE", default=None,
                   help="genome FASTA the --bed regions are read from")
    g.add_argument("--chunk-size", type=positive_int, default=10_000, metavar="N",
                   help="sequences read and scored at a time; bounds memory (default 10000)")
    g.add_argument("--hist-bins", type=positive_int, default=1024, metavar="N",
                   help="log-spaced score bins per filter pair for the streamed statistics (default 1024)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run :func:`satori_jax.interpret.driver.interpret`, print where outputs went."""
    args = build_parser().parse_args(argv)
    from satori_jax.outputs import check_writable

    if args.out is not None:
        check_writable(args.out, directory=True)  # one line naming --out, before any work
    from satori_jax import parallel
    from satori_jax.interpret.driver import interpret
    from satori_jax.interpret.options import InterpretOptions

    opts = InterpretOptions(
        out=args.out, methods=args.methods, motif_db=args.motif_db, family_table=args.family_table,
        background=args.background, truth=args.truth, max_examples=args.max_examples,
        attn_cutoff=args.attn_cutoff, prob_cutoff=args.prob_cutoff, neg_cutoff=args.neg_cutoff,
        precision_cutoff=args.precision_cutoff,
        batch_size=args.batch_size, seed=args.seed, verbose=not args.quiet, min_effect=args.min_effect,
        tf_pool=args.tf_pool, partner_rule=args.partner_rule,
        activity_fraction=args.activity_fraction, motif_fraction=args.motif_fraction,
        attr_normalize=args.attr_normalize, fis_normalize=args.fis_normalize, attr_sign=args.attr_sign,
        test=args.test, null=args.null,
        chunk_size=args.chunk_size,
        hist_bins=args.hist_bins)
    source = None
    streamed = {"data_dir": args.data, "fasta": args.fasta, "labels": args.labels, "bed": args.bed,
                "genome": args.genome}
    if any(v is not None for v in streamed.values()):  # (interpret refuses --max-examples with these)
        from satori_jax.data.sources import open_source

        source = open_source(**streamed)
    parallel.initialize()  # several processes (README): the run's test set is shared, streamed chunks dealt
    summary = interpret(args.run, opts, source)
    if parallel.is_writer():
        _print_summary(summary)
    return 0


def _print_summary(summary: dict) -> None:
    from satori_jax.interpret.evaluate import against_chance

    out = summary["run"]["out_dir"]

    def top(entry: dict) -> str:
        return ", ".join(f"{p['tf_a']}-{p['tf_b']}" for p in entry["top_tf_pairs"][:3]) or "none"

    for m, s in summary["methods"].items():
        print(f"{m}: {s['n_significant_filter_pairs']} significant filter pairs, "
              f"{s['n_significant_tf_pairs']} TF pairs (top: {top(s)}), {s['seconds']:.1f} s")
        if "truth" in s:
            print(f"{m} vs --truth: {against_chance(s['truth'])}")
        ex = s.get("excess")
        if ex is not None and ex["level"] != "none":
            extra = f", F1 {ex['f1']:.3f}" if "f1" in ex else ""
            print(f"{m}, beyond their {'TFs' if ex['level'] == 'tf' else 'filters'}' other pairs "
                  f"(q_excess < 0.05): {ex['n_significant_tf_pairs']} TF pairs (top: {top(ex)}){extra}")
    print(f"outputs in {out} (report: {out}/report.html, summary: {out}/summary.json)")


def entry() -> None:
    """Console-script entry point."""
    sys.exit(run_cli(main))
