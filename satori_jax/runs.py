"""Reading a run directory written by :mod:`satori_jax.train` (layout in CONTRIBUTING.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax import config as config_lib
from satori_jax.config import Config
from satori_jax.errors import InputError


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
    """``(cfg, model, variables, data_info)`` from a run directory's ``which`` checkpoint."""
    import jax

    from satori_jax.models import build_model, init_variables
    from satori_jax.train import create_state, restore_checkpoint

    run_dir = Path(run_dir)
    for name in ("config.json", "data.json"):
        if not (run_dir / name).is_file():
            raise InputError(f"{run_dir}: not a satori_jax run directory (no {name})")
    cfg = config_lib.load(run_dir / "config.json")
    info = json.loads((run_dir / "data.json").read_text())
    num_outputs, length = len(info["label_names"]), int(info["length"])
    state = create_state(cfg, num_outputs, length, jax.random.PRNGKey(0))
    restored = restore_checkpoint(run_dir / "checkpoints" / which, state)
    if restored is None:
        raise InputError(f"{run_dir}: no {which} checkpoint under checkpoints/{which}")
    state = restored[0]
    model = build_model(cfg.model, num_outputs)
    variables = {"params": state.params}
    if state.batch_stats:
        variables["batch_stats"] = state.batch_stats
    del init_variables
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
