"""Smoke tests of the bench (``python -m bench``): tiny sizes, results files, ratios, the peer section."""

from __future__ import annotations

import builtins
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench import cli, measure
from bench.profiles import make_profile
from bench.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_bench_writes_results_and_skips_peers_without_torch(tmp_path, monkeypatch):
    # torch/captum "not installed": the peer section must be skipped with a message, not fail.
    # (Imports are refused rather than set to None in sys.modules, which scipy's array-API helpers read.)
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name.split(".")[0] in ("torch", "captum"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "bench.peers_torch", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    t0 = time.perf_counter()
    rc = cli.main(["--tiny", "--archs", "basic", "--out", str(tmp_path)])
    elapsed = time.perf_counter() - t0
    assert rc == 0
    (path,) = tmp_path.glob("*-tiny.json")
    res = json.loads(path.read_text())
    assert set(res["sections"]) == {"methods", "scaling", "training", "peers", "device"}
    for name in ("methods", "scaling", "training", "device"):
        assert res["sections"][name]["status"] == "ok", res["sections"][name]
    peers = res["sections"]["peers"]
    assert peers["status"] == "skipped" and "torch" in peers["reason"]

    meth = res["sections"]["methods"]
    cells = {(c["method"], c["n_examples"]): c for c in meth["cells"]}
    ratios = {(r["method"], r["n_examples"]): r for r in meth["ratios"]}
    for m in ("raw", "attr", "fis", "dfim"):
        for n in (8, 16):
            assert cells[(m, n)]["seconds"] > 0
            assert ratios[(m, n)]["ratio_to_raw"] > 0
        assert ratios[("raw", 16)]["ratio_to_raw"] == pytest.approx(1.0)
    # fis and dfim are capped at N=2: measured there, extrapolated linearly above
    for m in ("fis", "dfim"):
        assert not cells[(m, 2)]["extrapolated"] and ratios[(m, 2)]["extrapolated"] is False
        assert cells[(m, 16)]["extrapolated"] and cells[(m, 16)]["from_n"] == 2
        assert cells[(m, 16)]["seconds"] == pytest.approx(8 * cells[(m, 2)]["seconds"])
    for m in ("raw", "attr", "fis", "dfim"):  # bench.fixtures.KERNELS must name the scorers' jitted kernels
        assert cells[(m, 2 if m in ("fis", "dfim") else 16)]["flops_per_example"], f"no FLOP estimate for {m}"
    assert not cells[("raw", 16)]["extrapolated"] and cells[("raw", 16)]["repeats"] >= 1
    assert cells[("raw", 16)]["peak_rss_mb"] > 0

    scaling = res["sections"]["scaling"]
    assert [r["n"] for r in scaling["vs_n"]["raw"]] == [8, 16]
    assert [r["length"] for r in scaling["vs_length"]["fis"]] == [80, 160]
    assert "fis_time_vs_length" in scaling["exponents"]
    training = res["sections"]["training"]
    assert training["cells"][0]["seq_per_s"] > 0
    peak = training["measured_peak"]  # matmul microbenchmark of the same run
    assert peak["gflops_per_s"] > 0 and len(peak["runs"]) == 2
    assert peak["gflops_per_s"] == max(q["gflops_per_s"] for q in peak["runs"])
    cell = training["cells"][0]
    want = cell["achieved_gflops_per_s"] / peak["gflops_per_s"]
    assert cell["fraction_of_measured_peak"] == pytest.approx(want)
    assert res["sections"]["device"]["params"]["basic"] > 0
    assert res["device"]["jax"] and res["device"]["cpu_count"] >= 1

    stem = path.stem
    for ext in (".md", ".png"):
        assert (tmp_path / f"{stem}{ext}").stat().st_size > 0
    md = (tmp_path / f"{stem}.md").read_text()
    assert "fis/raw" in md and "PyTorch peer skipped" in md
    assert "Measured float32 matmul peak" in md and "of peak" in md
    readme = (tmp_path / "README.md").read_text()
    assert "python -m bench" in readme and stem in readme
    assert elapsed < 120, f"tiny bench took {elapsed:.0f} s (budget 60 s on an idle 2-core CPU)"


def test_torch_peer_matches_our_model():
    pytest.importorskip("torch")
    pytest.importorskip("captum")
    from bench.sections.peers import run_peers

    prof = make_profile("tiny", "cpu")
    prof.train_timed_steps, prof.repeats = 2, 1
    res = run_peers(prof, seed=0, threads=1)
    assert res["status"] == "ok"
    assert res["params"]["ours"] == res["params"]["peer_trainable"]
    eq = res["equivalence"]
    assert eq["logits_max_abs_diff"] <= 1e-4 * max(1.0, eq["logits_max_abs"])
    assert eq["ig_max_abs_diff"] <= 1e-4 * max(1e-3, eq["ig_max_abs"])
    assert res["train"]["ratio_ours_over_peer"] > 0 and res["ig"]["ratio_ours_over_peer"] > 0


def test_measure_helpers():
    x = np.array([10, 20, 40, 80])
    assert measure.fit_exponent(x, 3.0 * x**1.5) == pytest.approx(1.5)
    assert measure.fit_exponent([5], [1.0]) is None
    calls = []
    out = measure.interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3)
    assert calls == ["a", "b"] * 3 and out["a"]["repeats"] == 3
    t = measure.timed(lambda: bytearray(50_000_000), repeats=2)
    assert t["repeats"] == 2 and t["peak_rss_mb"] > 0


def test_other_cpu_share_excludes_own_work():
    a = {"busy_s": 100.0, "own_s": 10.0, "wall_s": 0.0}
    ncpu = os.cpu_count() or 1
    # 4 s of wall; our process used 3 CPU-seconds, the system 3 + 0.4·ncpu: others used 10 % of the CPUs
    b = {"busy_s": 103.0 + 0.4 * ncpu, "own_s": 13.0, "wall_s": 4.0}
    assert measure.other_cpu_share(a, b) == pytest.approx(0.1)
    assert measure.other_cpu_share(a, {**b, "busy_s": 100.0}) == 0.0  # clipped
    assert measure.other_cpu_share({**a, "busy_s": None}, b) is None
    snap = measure.cpu_snapshot()
    sum(i * i for i in range(200_000))  # some work of our own
    share = measure.other_cpu_share(snap, measure.cpu_snapshot())
    assert share is None or 0.0 <= share <= 1.0


def test_runs_as_a_script():
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0 and "--quick" in out.stdout and "--sections" in out.stdout
    assert "examples:" in out.stdout and "python -m bench --tiny" in out.stdout


def test_every_section_has_a_module_and_the_parser_knows_it(capsys):
    # each section is a module bench.sections.<name> with run_<name>, importable without running anything
    for name in SECTIONS:
        mod = importlib.import_module(f"bench.sections.{name}")
        assert callable(getattr(mod, f"run_{name}")), name
    parser = cli.build_parser()
    assert parser.get_default("sections") == ",".join(SECTIONS)
    assert parser.parse_args(["--sections", ",".join(SECTIONS)]).sections == ",".join(SECTIONS)
    help_text = parser.format_help()
    for name in SECTIONS:  # the epilog explains every section
        assert f"\n  {name} " in help_text, name
    with pytest.raises(SystemExit):
        cli.main(["--sections", "methods,nope"])
