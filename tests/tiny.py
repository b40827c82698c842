"""The tiny run's settings and how to train it as a user does (``tests/conftest.py`` has the fixtures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: ``--set`` overrides of the tiny run: a small model, 4 epochs (a killed run has epochs left to resume), no
#: motif pretraining and no k-mer seeding: the tests' probability cutoffs were set on the unseeded tiny
#: model (seeded, its best positive is at 0.38); tests/train/test_seeding.py covers seeding, through the
#: train CLI as well.
TINY_TRAIN = [
    "--set", "train.epochs=4", "--set", "train.patience=10", "--set", "model.num_filters=8",
    "--set", "model.num_heads=2", "--set", "model.head_dim=4", "--set", "model.proj_dim=8",
    "--set", "train.batch_size=32", "--set", "train.max_seconds=0", "--set", "data.length=100",
    "--set", "train.pretrain_epochs=0", "--set", "train.seed_filters=false",
]  # fmt: skip


#: The session's JAX compilation cache (``tests/conftest.py``), which subprocesses share.
JIT_CACHE_VARS = (
    "JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES",
)  # fmt: skip


def cpu_env(devices: int | None = None, jit_cache: bool = True) -> dict:
    """This environment without JAX/XLA settings, on the CPU, with ``devices`` host devices if given.

    ``jit_cache``: keep the session's compilation cache. JAX writes a cache entry in place, so a
    process that is killed, or joined to another that may read an entry while it is written, goes
    without (a torn entry is only a warning and a recompile, but a warning breaks one-line stderr).
    """
    keep = JIT_CACHE_VARS if jit_cache else ()
    env = {k: v for k, v in os.environ.items() if k in keep or not (k.startswith("JAX_") or k == "XLA_FLAGS")}
    env["JAX_PLATFORMS"] = "cpu"
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def train_tiny(data: Path, workdir: Path, env: dict, *extra: str, **kw) -> subprocess.Popen:
    """Start ``python -m satori_jax.train`` with the tiny run's settings (by default stdout and stderr
    merged into one text pipe; ``kw`` go to :class:`subprocess.Popen`)."""
    kw = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, **kw}
    return subprocess.Popen(
        [sys.executable, "-m", "satori_jax.train", "--data", str(data), "--workdir", str(workdir),
         "--config", "default", *TINY_TRAIN, "--quiet", *extra],
        env=env, **kw,
    )  # fmt: skip
