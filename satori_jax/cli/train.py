"""``python -m satori_jax.train``: train a SATORI model into a run directory."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from satori_jax.cli.common import run_cli
from satori_jax.errors import InputError

EPILOG = """examples:
  python -m satori_jax.train                                   # built-in demo data, default config
  python -m satori_jax.train --data DIR --workdir runs/r1 --config simulated_basic_entropy
  python -m satori_jax.train --fasta seqs.fa.gz --labels labels.tsv --workdir runs/r2 --set train.epochs=10
  python -m satori_jax.train --bed peaks.bed --genome hg38.fa --workdir runs/r3 --set data.length=600 \\
      --set data.split=chrom --set data.val_chroms='["chr8"]' --set data.test_chroms='["chr9"]'
  python -m satori_jax.train --workdir runs/r1 --resume         # continue an interrupted run
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m satori_jax.train",
        description="Train a SATORI model (CNN + self-attention) on DNA sequences with labels. Everything "
        "goes into one run directory: config.json, data.json, splits.tsv, metrics.jsonl, tensorboard/, "
        "checkpoints/, test_metrics.json, test_predictions.npz.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_argument_group("data (one of; default: the built-in simulated DFIM-style benchmark)")
    src.add_argument("--data", metavar="DIR", help="directory with sequences.fa and labels.tsv")
    src.add_argument("--fasta", metavar="FILE", help="FASTA (plain or .gz) of sequences")
    src.add_argument("--labels", metavar="FILE", help="labels TSV: id column, then one 0/1 column per label")
    src.add_argument("--bed", metavar="FILE", help="BED-like TSV: chrom, start, end, then 0/1 labels")
    src.add_argument("--genome", metavar="FASTA", help="genome FASTA for --bed (indexed with pyfaidx)")
    p.add_argument("--workdir", metavar="RUN", help="run directory (default: runs/<config>-<time>)")
    p.add_argument("--config", metavar="NAME", help="config name in configs/ or a TOML/JSON file")
    p.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override a config key, e.g. train.epochs=5 (repeatable)",
    )
    p.add_argument("--resume", action="store_true", help="continue from the run's latest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="delete an existing run directory first")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from satori_jax import config as config_lib
    from satori_jax import parallel

    parallel.initialize()

    default_data = not (args.data or args.fasta or args.labels or args.bed or args.genome)
    if args.resume and args.workdir and Path(args.workdir, "config.json").is_file() and not args.config:
        cfg = config_lib.load(Path(args.workdir, "config.json"))
        config_name = "resumed"
    else:
        config_name = args.config or ("default" if default_data else None)
        cfg = (
            config_lib.load(config_lib.resolve_config_path(config_name))
            if config_name
            else config_lib.Config()
        )
    cfg = config_lib.apply_overrides(cfg, args.set)

    if bool(args.fasta) != bool(args.labels):
        raise InputError("--fasta and --labels go together")
    if bool(args.bed) != bool(args.genome):
        raise InputError("--bed and --genome go together")
    if sum(bool(x) for x in (args.data, args.fasta, args.bed)) > 1:
        raise InputError("give only one of --data, --fasta/--labels, --bed/--genome")

    from satori_jax.data.io import load_dataset

    if default_data:
        from satori_jax.data.simulate import default_dataset_dir

        data_dir = default_dataset_dir()
        print(f"using the built-in demo data set: {data_dir}")
        source = {"data_dir": str(data_dir), "builtin_default": True}
    elif args.data:
        source = {"data_dir": str(Path(args.data).absolute())}
    elif args.fasta:
        source = {"fasta": str(Path(args.fasta).absolute()), "labels": str(Path(args.labels).absolute())}
    else:
        source = {"bed": str(Path(args.bed).absolute()), "genome": str(Path(args.genome).absolute())}
    dataset = load_dataset(
        data_dir=source.get("data_dir"),
        fasta=source.get("fasta"),
        labels=source.get("labels"),
        bed=source.get("bed"),
        genome=source.get("genome"),
        length=cfg.data.length,
    )

    pwms = None
    if cfg.model.pwm_file:
        from satori_jax.data.meme import read_meme

        pwms = [m.pwm for m in read_meme(cfg.model.pwm_file)][: cfg.model.num_filters]

    import jax

    multi = jax.process_count() > 1
    if multi and not args.workdir:
        raise InputError("a multi-process run needs --workdir (one path on storage shared by all processes)")
    workdir = Path(args.workdir or f"runs/{(config_name or 'run')}-{time.strftime('%Y%m%d-%H%M%S')}")
    from satori_jax.data.splits import make_splits, write_splits
    from satori_jax.runs import write_data_info
    from satori_jax.train import check_run_dir, fit, prepare_run_dir

    # every process checks the directory before any process writes; process 0 alone writes
    check_run_dir(workdir, resume=args.resume, overwrite=args.overwrite)
    parallel.barrier("run directory checked")
    splits = make_splits(dataset, cfg.data)
    if jax.process_index() == 0:
        prepare_run_dir(workdir, resume=args.resume, overwrite=args.overwrite)
        config_lib.save(cfg, workdir / "config.json")
        write_data_info(workdir, dataset, source)
        write_splits(workdir / "splits.tsv", dataset.ids, splits)
    parallel.barrier("run directory written")

    print(
        f"{len(dataset.ids)} sequences of {dataset.codes.shape[1]} bp, {len(dataset.label_names)} label(s); "
        f"train/val/test {len(splits['train'])}/{len(splits['val'])}/{len(splits['test'])}"
    )
    t0 = time.time()
    try:
        test = fit(cfg, dataset, splits, workdir, resume=args.resume, pwms=pwms, verbose=not args.quiet)
    except FloatingPointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(f"test AUROC {test['auroc_mean']:.4f}  AUPRC {test['auprc_mean']:.4f}  ({time.time() - t0:.0f} s)")
    print(f"results: {workdir}/ (test_metrics.json, test_predictions.npz, metrics.jsonl, checkpoints/)")
    print(f"next: python -m satori_jax.interpret {workdir}")
    return 0


def entry() -> None:
    sys.exit(run_cli(main))


if __name__ == "__main__":
    entry()
