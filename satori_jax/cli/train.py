"""``python -m satori_jax.train``: train a SATORI model into a run directory."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from satori_jax.cli.common import HelpFormatter, Parser, run_cli
from satori_jax.errors import InputError

DEFAULT_CONFIG = "default"
"""Config (name in ``configs/``) that ``train`` uses whenever ``--config`` is not given."""

EPILOG = """examples:
  python -m satori_jax.train                                   # built-in demo data, default config
  python -m satori_jax.train --data DIR --workdir runs/r1 --config simulated_basic_entropy
  python -m satori_jax.train --fasta seqs.fa.gz --labels labels.tsv --workdir runs/r2 --set train.epochs=10
  python -m satori_jax.train --bed peaks.bed --genome hg38.fa --workdir runs/r3 --set data.length=600 \\
      --set data.split=chrom --set data.val_chroms='["chr8"]' --set data.test_chroms='["chr9"]'
  python -m satori_jax.train --workdir runs/r1 --resume         # continue an interrupted run
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m satori_jax.train",
        description="Train a SATORI model (CNN + self-attention) on DNA sequences with labels. Everything "
        "goes into one run directory: config.json, data.json, splits.tsv, metrics.jsonl, tensorboard/, "
        "checkpoints/, test_metrics.json, test_predictions.npz.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    src = p.add_argument_group("data (one of; default: the built-in simulated DFIM-style benchmark)")
    src.add_argument("--data", metavar="DIR", help="directory with sequences.fa and labels.tsv")
    src.add_argument("--fasta", metavar="FILE", help="FASTA (plain or .gz) of sequences")
    src.add_argument("--labels", metavar="FILE", help="labels TSV: id column, then one 0/1 column per label")
    src.add_argument("--bed", metavar="FILE", help="BED-like TSV: chrom, start, end, then 0/1 labels")
    src.add_argument("--genome", metavar="FILE", help="genome FASTA for --bed (indexed with pyfaidx)")
    p.add_argument("--workdir", metavar="RUN", help="run directory (default: runs/<config>-<time>)")
    p.add_argument("--config", metavar="NAME|FILE",
                   help="config name in configs/ or a TOML/JSON file (default: configs/default.toml, "
                   "for the demo and any data)")
    p.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override a config key, e.g. train.epochs=5 (repeatable)",
    )
    p.add_argument("--resume", action="store_true",
                   help="continue from the run's latest checkpoint (on the run's own data unless given)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run directory (only one that train wrote)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from satori_jax import config as config_lib
    from satori_jax import parallel

    parallel.initialize()

    workdir_arg = Path(args.workdir) if args.workdir else None
    if args.resume and workdir_arg is None:
        raise InputError("--resume needs --workdir (the run directory to continue)")
    if args.resume and args.overwrite:
        raise InputError("--resume continues a run and --overwrite replaces it: give one of them")
    given_data = bool(args.data or args.fasta or args.labels or args.bed or args.genome)
    resumed_info = None
    if args.resume:
        from satori_jax.runs import check_run_dir

        # before the demo data, the config or anything else: a missing run is nothing to resume
        check_run_dir(workdir_arg, resume=True, overwrite=False)
        from satori_jax.checkpoints import check_readable

        # a damaged checkpoint is refused here, before the run directory is written
        check_readable(workdir_arg / "checkpoints" / "latest")
        if (workdir_arg / "data.json").is_file() and not given_data:
            resumed_info = _read_data_info(workdir_arg / "data.json")
    default_data = not given_data and resumed_info is None
    if args.resume and Path(args.workdir, "config.json").is_file() and not args.config:
        config_path = Path(args.workdir, "config.json")
        config_name = "resumed"
    else:
        # one default for the demo and for any user data: configs/default.toml
        config_name = args.config or DEFAULT_CONFIG
        config_path = config_lib.resolve_config_path(config_name)
    cfg = config_lib.apply_overrides(config_lib.load(config_path), args.set)
    overrides = f" with {len(args.set)} --set override(s)" if args.set else ""
    print(f"config: {config_path}{overrides}")

    if bool(args.fasta) != bool(args.labels):
        raise InputError("--fasta and --labels go together")
    if bool(args.bed) != bool(args.genome):
        raise InputError("--bed and --genome go together")
    if sum(bool(x) for x in (args.data, args.fasta, args.bed)) > 1:
        raise InputError("give only one of --data, --fasta/--labels, --bed/--genome")

    from satori_jax.data.datasets import load_dataset

    if resumed_info is not None:
        source = resumed_info
        print(f"resuming on the run's data: {', '.join(f'{k}={v}' for k, v in source.items())}")
    elif default_data:
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
    inputs = [source.get(k) for k in ("data_dir", "fasta", "labels", "bed", "genome")]
    inputs += [cfg.model.pwm_file or None]
    import jax

    multi = jax.process_count() > 1
    if multi and not args.workdir:
        raise InputError("a multi-process run needs --workdir (one path on storage shared by all processes)")
    workdir = workdir_arg or Path(f"runs/{Path(config_name).stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    from satori_jax.runs import check_run_dir, prepare_run_dir, write_run_files

    # every process checks the directory before any process writes (and before the data is read,
    # so a refused directory costs nothing); process 0 alone writes
    check_run_dir(workdir, resume=args.resume, overwrite=args.overwrite, inputs=inputs)
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

    from satori_jax.data.splits import make_splits
    from satori_jax.train import check_training_input, fit

    splits = make_splits(dataset, cfg.data)
    check_training_input(cfg, dataset, splits)
    parallel.barrier("run directory and data checked")
    if jax.process_index() == 0:
        prepare_run_dir(
            workdir, resume=args.resume, overwrite=args.overwrite, inputs=inputs,
            fill=lambda d: write_run_files(d, cfg, dataset, source, splits),
        )
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


def _read_data_info(path: Path) -> dict:
    """The ``source`` of a run's ``data.json`` (what to resume on when no data option is given)."""
    import json

    hint = "give the data again (--data, --fasta/--labels or --bed/--genome)"
    try:
        source = json.loads(path.read_text())["source"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: unreadable run data file ({exc}); {hint}") from None
    if not isinstance(source, dict):
        raise InputError(f"{path}: unreadable run data file (no source); {hint}")
    return {k: v for k, v in source.items() if k in ("data_dir", "fasta", "labels", "bed", "genome")}


def entry() -> None:
    sys.exit(run_cli(main))


if __name__ == "__main__":
    entry()
