"""Two processes joined with ``jax.distributed`` (one CPU device each, gloo collectives) train
one model: the run directory is written once, and the metrics equal those of one process with
two devices (same mesh shape, same batches, same reductions). Then two processes interpret it:
the tables equal one process's with two devices, and only process 0 writes and prints."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tiny import JIT_CACHE_VARS, cpu_env, train_tiny


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process_two_devices(tiny_data, tiny_run, tmp_path):
    """``tiny_run`` (conftest) is the one process with two devices."""
    base = _base_env()
    port = _free_port()
    procs = [train_tiny(tiny_data, tmp_path / "multi", _joined(base, port, i)) for i in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-3000:]
        assert "2 device(s) (cpu) in 2 process(es)" in out
    assert "2 device(s) (cpu) in 1 process(es)" in (tiny_run.parent / "train.out").read_text()
    multi = json.loads((tmp_path / "multi" / "test_metrics.json").read_text())
    one = json.loads((tiny_run / "test_metrics.json").read_text())
    assert multi["auroc_mean"] == pytest.approx(one["auroc_mean"], abs=1e-6)
    assert multi["auprc_mean"] == pytest.approx(one["auprc_mean"], abs=1e-6)
    lines = (tmp_path / "multi" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4  # the 4 epochs of tests.tiny.TINY_TRAIN, written by process 0 only


def _interpret(run: Path, data: Path, out: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "satori_jax.interpret", str(run), "--out", str(out),
         "--methods", "raw,attr,fis", "--motif-db", str(data / "motifs.meme"), "--background", "shuffle",
         "--prob-cutoff", "0.4"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _base_env() -> dict:
    return cpu_env()


def _joined(base: dict, port: int, i: int) -> dict:
    base = {k: v for k, v in base.items() if k not in JIT_CACHE_VARS}  # see tests.tiny.cpu_env
    return {**base, "JAX_COORDINATOR_ADDRESS": f"localhost:{port}", "JAX_NUM_PROCESSES": "2",
            "JAX_PROCESS_ID": str(i)}


def test_two_processes_interpret_like_one_process_two_devices(tiny_data, tiny_run, tmp_path):
    base = _base_env()
    two_dev = {**base, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    run = tiny_run
    port = _free_port()
    procs = [_interpret(run, tiny_data, tmp_path / "multi", _joined(base, port, i)) for i in range(2)]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (o, e) in zip(procs, outs, strict=True):
        assert p.returncode == 0, (o + e)[-3000:]
    assert "fis:" in outs[0][0] and "fis:" not in outs[1][0]  # only process 0 prints the summary
    single = _interpret(run, tiny_data, tmp_path / "single", two_dev)
    o, e = single.communicate(timeout=400)
    assert single.returncode == 0, (o + e)[-3000:]
    for m in ("raw", "attr", "fis"):
        a = (tmp_path / "multi" / f"interactions_{m}.tsv").read_text()
        b = (tmp_path / "single" / f"interactions_{m}.tsv").read_text()
        assert a == b and len(a.splitlines()) > 1, m
    multi = json.loads((tmp_path / "multi" / "summary.json").read_text())
    assert multi["run"]["out_dir"] == str(tmp_path / "multi")


def _stream(run: Path, fasta: Path, labels: Path, data: Path, out: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "satori_jax.interpret", str(run), "--out", str(out), "--fasta", str(fasta),
         "--labels", str(labels), "--chunk-size", "100", "--methods", "raw,attr",
         "--motif-db", str(data / "motifs.meme"), "--background", "shuffle", "--prob-cutoff", "0.4",
         "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_two_processes_stream_like_one_process(tiny_data, tiny_run, tmp_path):
    """A streamed interpret in two joined processes: each takes every other chunk of 100 sequences
    (400 in all) on its own device, the chunk files meet in one --out, process 0 writes tables equal
    to one process's streamed run, the other returns quietly."""
    base = _base_env()
    fa, lab = tiny_data / "sequences.fa", tiny_data / "labels.tsv"
    port = _free_port()
    procs = [_stream(tiny_run, fa, lab, tiny_data, tmp_path / "multi", _joined(base, port, i))
             for i in range(2)]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (o, e) in zip(procs, outs, strict=True):
        assert p.returncode == 0, (o + e)[-3000:]
    assert "raw:" in outs[0][0] and "raw:" not in outs[1][0]  # only process 0 prints the summary
    single = _stream(tiny_run, fa, lab, tiny_data, tmp_path / "single", base)
    o, e = single.communicate(timeout=400)
    assert single.returncode == 0, (o + e)[-3000:]
    for m in ("raw", "attr"):
        a = (tmp_path / "multi" / f"interactions_{m}.tsv").read_text()
        b = (tmp_path / "single" / f"interactions_{m}.tsv").read_text()
        assert a == b and len(a.splitlines()) > 1, m
    multi = json.loads((tmp_path / "multi" / "summary.json").read_text())
    assert multi["run"]["n_processes"] == 2 and multi["run"]["streaming"]["n_chunks"] == 4
    assert multi["run"]["n_test"] == 400
    assert len(list((tmp_path / "multi" / "stream").glob("pass2_*.npz"))) == 4


def test_an_input_error_in_one_process_stops_both(tiny_data, tiny_run, tmp_path):
    """A bad record in a chunk that only process 1 reads: process 1 names file, record and problem;
    process 0, waiting for it, stops with the same message instead of hanging; nothing looks
    complete."""
    base = _base_env()
    lines = (tiny_data / "sequences.fa").read_text().splitlines()
    headers = [i for i, ln in enumerate(lines) if ln.startswith(">")]
    bad = headers[150]  # chunk 1 of 100-sequence chunks: process 1's
    rid = lines[bad][1:].split()[0]
    lines[bad + 1] = "X" + lines[bad + 1][1:]
    fa = tmp_path / "bad.fa"
    fa.write_text("\n".join(lines) + "\n")
    port = _free_port()
    out = tmp_path / "out"
    procs = [_stream(tiny_run, fa, tiny_data / "labels.tsv", tiny_data, out, _joined(base, port, i))
             for i in range(2)]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (o, e) in zip(procs, outs, strict=True):
        assert p.returncode == 2, (o + e)[-3000:]
        err = "\n".join(ln for ln in e.strip().splitlines() if not ln.startswith("[Gloo]"))  # gloo's own
        assert "\n" not in err and "Traceback" not in err, err[-3000:]
        assert str(fa) in err and rid in err, err
    assert "process 1 stopped at pass 1" in outs[0][1]
    assert not (out / "summary.json").exists()
