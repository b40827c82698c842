"""The train command as a user runs it: errors, run-directory safety, kill and resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.tiny import cpu_env, train_tiny

TINY = [
    "--set", "model.num_filters=8", "--set", "model.filter_width=5", "--set", "model.num_heads=2",
    "--set", "model.head_dim=4", "--set", "model.proj_dim=8", "--set", "model.pool_size=2",
    "--set", "train.batch_size=16", "--set", "train.eval_batch_size=32",
]  # fmt: skip


def _dataset(root: Path, n=200, length=32) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    y = np.arange(n) % 2
    with open(root / "sequences.fa", "w") as fa, open(root / "labels.tsv", "w") as lab:
        lab.write("id\tlabel\n")
        for i in range(n):
            s = rng.choice(list("ACGT"), length)
            if y[i]:
                s[5:11] = list("TGACTC")
            fa.write(f">s{i}\n{''.join(s)}\n")
            lab.write(f"s{i}\t{y[i]}\n")
    return root


def _train(*args, check=True, **kw):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-m", "satori_jax.train", "--quiet", *args], env=env,
                          capture_output=True, text=True, timeout=600, **kw)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_bad_key_and_bad_character_fail_cleanly(tmp_path):
    data = _dataset(tmp_path / "d")
    bad = ["--set", "train.bogus=1"]
    proc = _train("--data", str(data), "--workdir", str(tmp_path / "r"), *bad, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown key train.bogus" in proc.stderr
    assert "Traceback" not in proc.stderr
    fa = (data / "sequences.fa").read_text().replace("ACGT", "ACXT", 1)
    (data / "sequences.fa").write_text(fa)
    proc = _train("--data", str(data), "--workdir", str(tmp_path / "r2"), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "sequences.fa" in proc.stderr and "'X'" in proc.stderr
    assert not (tmp_path / "r2" / "test_metrics.json").exists()


def test_refuses_to_overwrite_a_run(tmp_path):
    data = _dataset(tmp_path / "d", n=60)
    run = tmp_path / "r"
    run.mkdir()
    (run / "something").write_text("x")
    proc = _train("--data", str(data), "--workdir", str(run), *TINY, check=False)
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    # user data without --config gets configs/default.toml (as the demo does), and says so
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("config: "))
    assert line.endswith("configs/default.toml with 8 --set override(s)")
    proc = _train("--data", str(data), "--workdir", str(run), "--config", "simulated_basic", check=False)
    assert proc.returncode == 2 and "configs/simulated_basic.toml" in proc.stdout.splitlines()[0]


def test_killed_run_resumes_to_the_same_metrics(tiny_data, tiny_run, tmp_path):
    """Killed after its first checkpoint and resumed, a run ends like ``tiny_run`` (conftest), which
    trained the same way uninterrupted (same data, settings and devices)."""
    full = json.loads((tiny_run / "test_metrics.json").read_text())

    run = tmp_path / "killed"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = train_tiny(tiny_data, run, cpu_env(devices=2, jit_cache=False), **quiet)
    deadline = time.time() + 300
    latest = run / "checkpoints" / "latest"
    while time.time() < deadline and proc.poll() is None:
        if latest.is_dir() and any(p.name.isdigit() for p in latest.iterdir()):
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail("training finished before it could be killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "test_metrics.json").exists()
    resume = train_tiny(tiny_data, run, cpu_env(devices=2), "--resume")
    out = resume.communicate(timeout=600)[0]
    assert resume.returncode == 0, out[-3000:]
    assert "resumed from epoch" in out
    resumed = json.loads((run / "test_metrics.json").read_text())
    assert resumed["auroc"] == full["auroc"] and resumed["auprc"] == full["auprc"]
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs[-1] == 4
