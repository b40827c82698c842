"""Section ``training``: sequences/s of the library's jit-compiled ``train_step``
(:func:`satori_jax.train.make_train_step`) per architecture and sequence length, with its XLA FLOP
estimate. :func:`ours_train_step` is also the "ours" side of the ``peers`` section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench import measure
from bench.fixtures import log, model_config, train_step
from bench.profiles import Profile

TRAINING_NOTE = (
    "jit train_step (forward, BCE + entropy weight × attention entropy with the weight of "
    "configs/simulated_<arch>.toml, backward, optimizer update, batch-norm statistics; at weight 0 the "
    "entropy is only reported, without its gradient); uint8 codes in, one-hot on device; 2 warm-up "
    "steps excluded; median step time."
)

PEAK_NOTE = (
    "measured peak: a jit float32 (n × n) @ (n × n) matmul timed in the same run just before and after "
    "the training cells (best run of the better of the two; bench.measure.matmul_peak); 'of peak' = "
    "achieved GFLOP/s (XLA's FLOP estimate of the step / median step time) over it."
)


def ours_train_step(
    arch: str, prof: Profile, length: int, batch_size: int, seed: int
) -> tuple[Callable[[], Any], dict]:
    """Our compiled ``train_step`` on one fixed random batch as a no-argument callable.

    Parameters
    ----------
    arch
        Architecture (its ``configs/simulated_<arch>.toml`` with ``prof.model`` overrides).
    prof
        The profile (model sizes).
    length, batch_size
        Shape of the batch: ``x (batch_size, length) uint8``.
    seed
        Seed of the initial state and the batch.

    Returns
    -------
    step : callable
        Runs one step and blocks until its loss is ready; warmed up (compiled and run twice).
    info : dict
        Architecture, shape, parameter count, optimizer settings and ``flops_per_step``.
    """
    import jax

    from satori_jax.models import count_params
    from satori_jax.train import create_state

    cfg = model_config(arch, prof.model)
    state = create_state(cfg, 1, length, jax.random.PRNGKey(seed))
    step = train_step(cfg)
    rng = np.random.default_rng(seed)
    batch = {
        "x": rng.integers(0, 4, (batch_size, length)).astype(np.uint8),
        "y": (rng.random((batch_size, 1)) < 0.5).astype(np.float32),
        "mask": np.ones(batch_size, np.float32),
    }
    key = jax.random.PRNGKey(seed + 1)
    info = {
        "arch": arch,
        "length": length,
        "batch_size": batch_size,
        "params": count_params(state.params),
        "optimizer": cfg.train.optimizer,
        "learning_rate": cfg.train.learning_rate,
        "entropy_weight": cfg.train.entropy_weight,
        "flops_per_step": measure.lowered_flops(step, state, batch, key),
    }
    holder = {"state": state}

    def one():
        holder["state"], metrics = step(holder["state"], batch, key)  # the state is donated
        return jax.block_until_ready(metrics["loss"])

    for _ in range(2):
        one()
    return one, info


def train_cell(arch: str, prof: Profile, length: int, batch_size: int, seed: int) -> dict:
    """Median step time and sequences/s of ``train_step`` for one architecture, length and batch."""
    one, info = ours_train_step(arch, prof, length, batch_size, seed)
    t = measure.timed(one, prof.train_timed_steps, prof.budget_s, memory=False)
    cell = {
        **info,
        "seconds_per_step": t["seconds"],
        "times": t["times"],
        "steps_timed": t["repeats"],
        "seq_per_s": batch_size / t["seconds"],
    }
    if info["flops_per_step"]:
        cell["achieved_gflops_per_s"] = info["flops_per_step"] / t["seconds"] / 1e9
    return cell


def run_training(prof: Profile, archs: tuple[str, ...], seed: int) -> dict:
    """Sequences/s of the jit ``train_step`` per architecture and ``prof.train_lengths``.

    Returns
    -------
    dict
        ``status``, ``cells`` (one per architecture and length) and ``notes``.
    """
    n = 256 if prof.train_timed_steps <= 2 else 1024  # tiny profiles: a quick product
    peaks = [measure.matmul_peak(n)]
    cells = []
    for arch in archs:
        for length in prof.train_lengths:
            c = train_cell(arch, prof, length, prof.train_batch, seed)
            cells.append(c)
            log(f"training: {arch} L={length} B={c['batch_size']}: {c['seq_per_s']:.0f} seq/s")
    peaks.append(measure.matmul_peak(n))  # before and after the cells: the better one counts
    peak = max(peaks, key=lambda q: q["gflops_per_s"])
    for c in cells:
        if c.get("achieved_gflops_per_s"):
            c["fraction_of_measured_peak"] = c["achieved_gflops_per_s"] / peak["gflops_per_s"]
    log(f"training: measured float32 matmul peak {peak['gflops_per_s']:.1f} GFLOP/s (n = {n})")
    return {"status": "ok", "cells": cells, "measured_peak": {**peak, "runs": peaks},
            "notes": [TRAINING_NOTE, PEAK_NOTE]}
