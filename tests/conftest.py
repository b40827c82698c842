"""Shared fixtures: a tiny simulated data set and one tiny run trained on it, once per test session.

``tiny_data`` is the simulate command's ``dfim`` data set with 400 sequences of 100 bp (seed 2);
``tiny_run`` is ``python -m satori_jax.train`` on it with ``tests.tiny.TINY_TRAIN`` in one process
with two host devices, as a user runs it. Tests that need a trained run directory of no particular
model use these two instead of simulating and training their own; a test that trains the same way
in other processes (killed and resumed, several joined processes) compares its metrics with
``tiny_run``'s. A test that needs a special model (planted filters, random biases, an odd data set)
keeps its own. Nothing may write into either directory: outputs go to the test's own ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny import cpu_env, train_tiny


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
