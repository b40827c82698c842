"""The run directory (layout in CONTRIBUTING.md): checking, creating and replacing it safely, writing
its config, data and split files, and loading a trained model from it.

Loading needs neither the trainer nor the optimizer: the variables come from the checkpoint alone
(:func:`satori_jax.checkpoints.restore_variables`). Checkpoints are written by
:mod:`satori_jax.checkpoints`; the files a run holds are :data:`RUN_DIR`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax import config as config_lib
from satori_jax.config import Config
from satori_jax.errors import InputError, input_error
from satori_jax.outputs import DirKind, check_output_dir, check_writable, read_marker, write_dir, write_marker

RUN_DIR = DirKind(
    kind="run",
    entries=frozenset({
        "config.json", "data.json", "splits.tsv", "metrics.jsonl", "checkpoints", "tensorboard",
        "test_metrics.json", "test_metrics.json.tmp", "test_predictions.npz", "test_predictions.tmp.npz",
        "interpret",
    }),
    defining=("config.json", "data.json"),
    flag="--overwrite",
)
"""What ``train`` writes into a run directory (``interpret`` is the default interpretation output)."""


@dataclass
class LoadedRun:
    """A trained model and its test set.

    Attributes
    ----------
    ids
        ``(N,)`` test sequence ids.
    labels, probs
        ``(N, C)`` test labels and predicted probabilities.
    codes
        ``(N, L)`` uint8 test sequences.
    """

    run_dir: Path
    cfg: Config
    model: Any
    variables: dict
    label_names: list[str]
    length: int
    ids: np.ndarray
    labels: np.ndarray
    probs: np.ndarray
    codes: np.ndarray


def load_model(run_dir: str | Path, which: str = "best"):
    """``(cfg, model, variables, data_info)`` from a run directory's ``which`` checkpoint.

    ``variables`` is ``{"params": ..., "batch_stats": ...}`` as ``model.apply`` takes it.
    """
    from satori_jax.checkpoints import restore_variables
    from satori_jax.models import build_model

    run_dir = Path(run_dir)
    for name in ("config.json", "data.json"):
        if not (run_dir / name).is_file():
            raise InputError(f"{run_dir}: not a satori_jax run directory (no {name})")
    cfg = config_lib.load(run_dir / "config.json")
    info = json.loads((run_dir / "data.json").read_text())
    restored = restore_variables(run_dir / "checkpoints" / which)
    if restored is None:
        raise InputError(f"{run_dir}: no {which} checkpoint under checkpoints/{which}")
    variables = restored[0]
    model = build_model(cfg.model, len(info["label_names"]))
    return cfg, model, variables, info


def load_run(run_dir: str | Path) -> LoadedRun:
    """Load the best checkpoint and the test predictions of a finished run.

    Raises
    ------
    InputError
        If the directory is not a finished run (no ``test_predictions.npz``).
    """
    run_dir = Path(run_dir)
    pred = run_dir / "test_predictions.npz"
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run directory")
    if not pred.is_file():
        raise InputError(
            f"{run_dir}: no test_predictions.npz (training has not finished; run "
            f"`python -m satori_jax.train --workdir {run_dir} --resume` first)"
        )
    cfg, model, variables, info = load_model(run_dir)
    with np.load(pred, allow_pickle=False) as z:
        ids, labels, probs, codes = z["ids"], z["labels"], z["probs"], z["codes"]
    return LoadedRun(
        run_dir,
        cfg,
        model,
        variables,
        list(info["label_names"]),
        int(info["length"]),
        ids,
        labels,
        probs,
        codes,
    )


def write_data_info(run_dir: str | Path, dataset, source: dict) -> None:
    """Write ``RUN/data.json``: data source, label names, sequence length and counts."""
    info = {
        "source": source,
        "label_names": list(dataset.label_names),
        "length": int(dataset.codes.shape[1]),
        "num_sequences": int(dataset.codes.shape[0]),
    }
    Path(run_dir, "data.json").write_text(json.dumps(info, indent=2) + "\n")


def write_run_files(
    run_dir: str | Path, cfg: Config, dataset, source: dict, splits: dict[str, np.ndarray]
) -> None:
    """Write ``config.json``, ``data.json`` and ``splits.tsv`` into ``run_dir``."""
    from satori_jax.data.splits import write_splits

    config_lib.save(cfg, Path(run_dir, "config.json"))
    write_data_info(run_dir, dataset, source)
    write_splits(Path(run_dir, "splits.tsv"), dataset.ids, splits)


def is_run_dir(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` is a run directory satori_jax wrote (marker, or config and data files)."""
    d = Path(run_dir)
    kind = read_marker(d)
    if kind is not None:
        return kind == RUN_DIR.kind
    return all((d / f).is_file() for f in RUN_DIR.defining)


def check_run_dir(
    workdir: str | Path, *, resume: bool, overwrite: bool, inputs: Sequence[str | Path | None] = ()
) -> Path:
    """Check (read-only) that the run directory may be used; every process calls this first.

    - ``resume``: ``workdir`` must be an existing run directory (else "nothing to resume");
    - otherwise ``workdir`` must be new or empty, or, with ``overwrite``, a run directory that
      holds only what ``train`` writes and none of ``inputs`` (see :mod:`satori_jax.outputs`).

    Raises
    ------
    InputError
        Naming ``workdir`` and why; nothing has been touched.
    """
    workdir = Path(workdir)
    if resume and overwrite:
        raise InputError("--resume continues a run and --overwrite replaces it: give one of them")
    if resume:
        if not workdir.is_dir() or not any(workdir.iterdir()):
            why = "no such directory" if not workdir.exists() else "the directory is empty"
            raise input_error(workdir, f"nothing to resume ({why}); start the run without --resume")
        if not is_run_dir(workdir):
            raise input_error(workdir, "not a satori_jax run directory (no .satori_jax marker, config.json "
                              "or data.json); nothing to resume")
        check_writable(workdir, directory=True)
        return workdir
    check_output_dir(workdir, RUN_DIR, replace=overwrite, inputs=inputs)
    return workdir


def prepare_run_dir(
    workdir: str | Path,
    *,
    resume: bool,
    overwrite: bool,
    inputs: Sequence[str | Path | None] = (),
    fill: Callable[[Path], None] | None = None,
) -> Path:
    """Create (or, with ``overwrite``, replace) the run directory with ``fill(dir)`` written into it.

    A new or replaced directory is written beside the old one and swapped in (the old one is
    deleted only then); a resumed one gets ``fill`` in place. In a multi-process job call
    :func:`check_run_dir` on every process first, then this on process 0 only.
    """
    workdir = check_run_dir(workdir, resume=resume, overwrite=overwrite, inputs=inputs)
    if resume:
        if fill is not None:
            fill(workdir)
        if read_marker(workdir) is None:
            write_marker(workdir, RUN_DIR.kind)
        return workdir
    return write_dir(workdir, RUN_DIR, fill or (lambda d: None))
