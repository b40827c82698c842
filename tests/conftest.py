"""Shared fixtures: a tiny simulated data set and one tiny run trained on it, once per test session.

``tiny_data`` is the simulate command's ``dfim`` data set with 400 sequences of 100 bp (seed 2);
``tiny_run`` is ``python -m satori_jax.train`` on it with ``tests.tiny.TINY_TRAIN`` in one process
with two host devices, as a user runs it. Tests that need a trained run directory of no particular
model use these two instead of simulating and training their own; a test that trains the same way
in other processes (killed and resumed, several joined processes) compares its metrics with
``tiny_run``'s. A test that needs a special model (planted filters, random biases, an odd data set)
keeps its own. Nothing may write into either directory: outputs go to the test's own ``tmp_path``.

The session also shares one JAX compilation cache with the subprocesses it starts
(:func:`pytest_configure`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.tiny import JIT_CACHE_VARS, cpu_env, train_tiny

_OWN_JIT_CACHE: list[str] = []


def pytest_configure(config):
    """One persistent JAX compilation cache for the session, its subprocesses included.

    Most of the suite's time is XLA compiling the same small programs again: every test builds its
    own jitted functions and every ``python -m satori_jax...`` subprocess starts cold. With one cache
    directory (entries of any size and compile time) an identical program compiles once per session.
    It changes no result (the cache key is the program, its options and the backend) and no test of
    compile counts (those read the in-memory jit caches). A ``JAX_COMPILATION_CACHE_DIR`` already set
    is used as it is (kept across sessions); otherwise a temporary one is removed at the end.
    """
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        path = tempfile.mkdtemp(prefix="satori_jax_tests_jit_")
        _OWN_JIT_CACHE.append(path)
        os.environ["JAX_COMPILATION_CACHE_DIR"] = path
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    import jax

    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs",
                      float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes",
                      int(os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"]))
    assert set(JIT_CACHE_VARS) <= set(os.environ)


def pytest_unconfigure(config):
    for path in _OWN_JIT_CACHE:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A simulated DFIM-style data set: ``sequences.fa``, ``labels.tsv``, ``motifs.meme`` (400 x 100 bp)."""
    from satori_jax.cli.common import run_cli
    from satori_jax.cli.simulate import main as simulate_main

    out = tmp_path_factory.mktemp("tiny") / "data"
    argv = ["dfim", "--out", str(out), "--num-sequences", "400", "--length", "100", "--seed", "2"]
    assert run_cli(simulate_main, argv) == 0
    return out


@pytest.fixture(scope="session")
def tiny_run(tiny_data, tmp_path_factory) -> Path:
    """``tiny_data`` trained by the train command in one process with two CPU devices.

    The command's output is kept in ``train.out`` next to the run directory.
    """
    run = tmp_path_factory.mktemp("tiny_run") / "run"
    p = train_tiny(tiny_data, run, cpu_env(devices=2))
    out = p.communicate(timeout=300)[0]
    assert p.returncode == 0, out[-3000:]
    (run.parent / "train.out").write_text(out)
    assert (run / "test_metrics.json").is_file()
    return run
