"""Attribution export: store vs in-memory results, chunking, kill/resume, completeness, MoDISco, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from satori_jax import attribute as attr_lib
from satori_jax import config as config_lib
from satori_jax import store as store_lib
from satori_jax.attribute import exporter as exporter_lib
from satori_jax.cli.attribute import main as cli_main
from satori_jax.cli.common import run_cli
from satori_jax.data.encoding import decode, one_hot_np
from satori_jax.errors import InputError
from satori_jax.interpret import ig as ig_lib

L, N = 32, 21
LABELS = ["a", "b"]
FAST = dict(steps=8, batch_size=4)


def _write_run(run, seed=0):
    """A run directory as satori_jax.train writes it (config, data.json, best checkpoint); random biases
    make the model generic (a bias-free fresh model is homogeneous and IG from zeros is degenerate)."""
    from satori_jax.checkpoints import save_checkpoint
    from satori_jax.train import create_state

    cfg = config_lib.from_dict(
        {
            "data": {"length": L},
            "model": {
                "num_filters": 6,
                "filter_width": 5,
                "pool_size": 2,
                "num_heads": 2,
                "head_dim": 4,
                "proj_dim": 8,
                "batch_norm": False,
                "dropout": 0.0,
                "attn_dropout": 0.0,
            },
        }
    )
    run.mkdir()
    config_lib.save(cfg, run / "config.json")
    (run / "data.json").write_text(
        json.dumps({"source": {"kind": "test"}, "label_names": LABELS, "length": L, "num_sequences": N})
    )
    state = create_state(cfg, len(LABELS), L, jax.random.PRNGKey(seed))
    rng = np.random.default_rng(seed)
    params = jax.tree_util.tree_map_with_path(
        lambda p, a: (
            a + 0.3 * jnp.asarray(rng.standard_normal(a.shape), a.dtype)
            if getattr(p[-1], "key", "") == "bias"
            else a
        ),
        state.params,
    )
    state = state.replace(params=params)
    save_checkpoint(run / "checkpoints" / "best", 1, state, {"epoch": 1, "val_auroc": 0.5})
    return run


def _codes(n=N, seed=1):
    c = np.random.default_rng(seed).integers(0, 4, (n, L)).astype(np.uint8)
    c[3, 7] = 4  # an N
    return c


def _write_fasta(path, codes, ids=None):
    ids = ids or [f"s{i}" for i in range(len(codes))]
    path.write_text(
        "".join(f">{i} desc\n{s[:20]}\n{s[20:]}\n" for i, s in zip(ids, decode(codes), strict=True))
    )
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("attr")
    run = _write_run(base / "run")
    codes = _codes()
    fa = _write_fasta(base / "seqs.fa", codes)
    return base, run, codes, fa


ALL = ("predictions", "ig", "grad_x_input", "hypothetical", "attention", "attention_ig")


@pytest.fixture(scope="module")
def reference(env):
    """In-memory results of the library API, all quantities."""
    _, run, codes, _ = env
    return attr_lib.attribute(str(run), codes, what=ALL, **FAST)


def test_export_equals_in_memory_and_chunking(env, reference, tmp_path):
    _, run, codes, fa = env
    for chunk in (4, 12, 100):  # 100 > N: one chunk
        out = tmp_path / f"c{chunk}.h5"
        res = attr_lib.export(run, out, fasta=fa, what=ALL, chunk_size=chunk, **FAST)
        assert res.n == N and res.n_chunks == -(-N // chunk)
        got = store_lib.load(out)
        assert [i.decode() for i in got["ids"]] == [f"s{i}" for i in range(N)]
        np.testing.assert_array_equal(got["codes"], codes)
        for name, ref in reference.items():
            np.testing.assert_array_equal(got[name], ref, err_msg=f"{name} (chunk {chunk})")
    assert reference["ig"].shape == (N, L, 4) and reference["attention"].shape == (N, L // 2, L // 2)
    assert reference["predictions"].shape == (N, 2) and reference["attention_ig"].shape == (N, L // 2, L // 2)
    np.testing.assert_allclose(reference["predictions"], 1 / (1 + np.exp(-reference["logits"])), rtol=1e-6)


def test_manifest_and_finished_flag(env, tmp_path):
    _, run, _, fa = env
    out = tmp_path / "m.h5"
    attr_lib.export(
        run, out, fasta=fa, what="predictions,attention", heads="all", dtype="float16", chunk_size=8, **FAST
    )
    man = json.loads(store_lib.manifest_path(out).read_text())
    assert man["finished"] is True and man["completed_chunks"] == [0, 1, 2]
    assert man["n_chunks"] == 3 and man["chunk_size"] == 8
    assert man["settings"]["targets"] == LABELS and man["settings"]["heads"] == "all"
    assert man["datasets"]["attention"]["shape"] == [N, 2, L // 2, L // 2]
    assert man["model"]["run_dir"] == str(run.resolve()) and len(man["model"]["config_sha256"]) == 64
    with h5py.File(out) as f:
        assert int(f.attrs["finished"]) == 1
        assert f["attention"].dtype == np.float16 and f["predictions"].dtype == np.float32
        assert json.loads(f.attrs["manifest"])["input"]["n"] == N
    assert store_lib.is_complete(out)


def test_kill_and_resume_identical(env, tmp_path, monkeypatch):
    _, run, _, fa = env
    kw = dict(
        fasta=fa,
        what=("predictions", "ig", "attention", "attention_ig"),
        baseline="shuffle",
        chunk_size=4,
        **FAST,
    )
    full = tmp_path / "full.h5"
    attr_lib.export(run, full, **kw)

    part = tmp_path / "part.h5"
    calls = []

    def boom(i):
        calls.append(i)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(exporter_lib, "after_chunk", boom)
    with pytest.raises(KeyboardInterrupt):
        attr_lib.export(run, part, **kw)
    assert not store_lib.is_complete(part)  # an interrupted export never looks complete
    with h5py.File(part) as f:
        assert int(f.attrs["finished"]) == 0 and f["_done"][:].tolist() == [1, 1, 0, 0, 0, 0]
        assert np.isnan(f["ig"][-1]).all()
    with pytest.raises(InputError, match="not finished"):
        store_lib.load(part)
    monkeypatch.setattr(exporter_lib, "after_chunk", lambda i: None)
    res = attr_lib.export(run, part, **kw)
    assert res.chunks_skipped == 2 and res.chunks_computed == 4
    with h5py.File(full) as a, h5py.File(part) as b:
        assert sorted(a) == sorted(b)
        for name in a:
            assert a[name][()].tobytes() == b[name][()].tobytes(), name
    assert full.read_bytes() == part.read_bytes()  # the whole file, metadata included
    assert store_lib.manifest_path(full).read_text() == store_lib.manifest_path(part).read_text()
    # rerunning a finished export is a no-op
    again = attr_lib.export(run, part, **kw)
    assert again.already_complete and again.chunks_computed == 0
    assert full.read_bytes() == part.read_bytes()  # a finished store is not reopened for writing


def test_sigkill_and_resume_identical(env, tmp_path):
    """A real SIGKILL (no Python clean-up, HDF5 file left open) after two chunks; rerunning resumes."""
    _, run, _, fa = env
    kw = dict(what=("predictions", "ig", "attention"), baseline="gc", chunk_size=4, **FAST)
    full, part = tmp_path / "full.h5", tmp_path / "part.h5"
    attr_lib.export(run, full, fasta=fa, **kw)
    child = textwrap.dedent(
        f"""
        import os, signal
        from satori_jax import attribute as A
        from satori_jax.attribute import exporter
        done = []
        def hook(i):
            done.append(i)
            if len(done) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        exporter.after_chunk = hook
        A.export({str(run)!r}, {str(part)!r}, fasta={str(fa)!r}, **{kw!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not store_lib.is_complete(part)
    res = attr_lib.export(run, part, fasta=fa, **kw)
    assert res.chunks_skipped == 2 and res.chunks_computed == 4
    assert full.read_bytes() == part.read_bytes()
    assert store_lib.manifest_path(full).read_text() == store_lib.manifest_path(part).read_text()


def test_resume_with_other_settings_is_an_error(env, tmp_path, monkeypatch):
    _, run, _, fa = env
    out = tmp_path / "s.h5"

    def stop(i):
        raise KeyboardInterrupt

    monkeypatch.setattr(exporter_lib, "after_chunk", stop)
    with pytest.raises(KeyboardInterrupt):
        attr_lib.export(run, out, fasta=fa, what="ig", chunk_size=4, **FAST)
    monkeypatch.setattr(exporter_lib, "after_chunk", lambda i: None)
    with pytest.raises(InputError, match=r"settings.steps.*--overwrite"):
        attr_lib.export(run, out, fasta=fa, what="ig", chunk_size=4, steps=9, batch_size=4)
    res = attr_lib.export(run, out, fasta=fa, what="ig", chunk_size=4, steps=9, batch_size=4, overwrite=True)
    assert res.chunks_computed == res.n_chunks and store_lib.is_complete(out)


def test_ig_completeness_on_export(env, tmp_path):
    _, run, codes, fa = env
    out = tmp_path / "ig.h5"
    attr_lib.export(run, out, fasta=fa, what="ig", targets="b", steps=64, batch_size=4, baseline="zeros")
    got = store_lib.load(out)
    ig_sum = got["ig"].astype(np.float64).sum(axis=(1, 2))
    # independent F(x) - F(0) from ig.py
    from satori_jax.runs import load_model

    _, model, variables, _ = load_model(run)
    t = np.tile(np.array([[0.0, 1.0]], np.float32), (N, 1))
    x = one_hot_np(codes)
    delta = np.asarray(
        ig_lib.target_values(model, variables, x, t)
        - ig_lib.target_values(model, variables, np.zeros_like(x), t)
    )
    np.testing.assert_allclose(got["ig_delta"], delta, rtol=1e-4, atol=1e-5)
    assert np.abs(delta).max() > 0.05  # not degenerate
    np.testing.assert_allclose(ig_sum, delta, atol=0.02 * np.abs(delta).max())


def test_hypothetical_times_onehot_is_actual_contribution(env, reference):
    _, _, codes, _ = env
    x = one_hot_np(codes)
    np.testing.assert_allclose(reference["hypothetical"] * x, reference["grad_x_input"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(reference["hypothetical"].sum(-1), 0, atol=1e-6)


def test_targets_select_labels(env):
    _, run, codes, _ = env
    a = attr_lib.attribute(str(run), codes[:5], what="ig", targets="a", **FAST)["ig"]
    b = attr_lib.attribute(str(run), codes[:5], what="ig", targets=["b"], **FAST)["ig"]
    both = attr_lib.attribute(str(run), codes[:5], what="ig", **FAST)["ig"]
    np.testing.assert_allclose(a + b, both, rtol=1e-4, atol=1e-6)  # IG is linear in the target weights
    with pytest.raises(InputError, match="unknown label"):
        attr_lib.attribute(str(run), codes[:5], what="ig", targets="zzz")


def test_modisco_export(env, reference, tmp_path):
    _, run, codes, fa = env
    out = tmp_path / "mod.h5"
    res = attr_lib.export(run, out, fasta=fa, what="predictions", modisco=True, chunk_size=8, **FAST)
    d = store_lib.modisco_dir(out)
    assert res.modisco == d
    ohe = np.load(d / "ohe.npz")
    shap = np.load(d / "shap.npz")
    assert ohe.files == ["arr_0"] and shap.files == ["arr_0"]
    ohe, shap = ohe["arr_0"], shap["arr_0"]
    assert ohe.shape == shap.shape == (N, 4, L) and ohe.dtype == shap.dtype == np.float32
    np.testing.assert_array_equal(ohe, one_hot_np(codes).transpose(0, 2, 1))
    np.testing.assert_array_equal(shap, reference["hypothetical"].transpose(0, 2, 1))
    assert json.loads(store_lib.manifest_path(out).read_text())["settings"]["what"] == [
        "predictions",
        "hypothetical",
    ]


def test_bed_genome_input(env, tmp_path):
    pytest.importorskip("pyfaidx")
    _, run, _, _ = env
    rng = np.random.default_rng(5)
    chrom = decode(rng.integers(0, 4, (1, 400)).astype(np.uint8))[0]
    (tmp_path / "g.fa").write_text(">chr1\n" + "\n".join(chrom[i : i + 60] for i in range(0, 400, 60)) + "\n")
    starts = [20, 100, 250, 300, 40]
    (tmp_path / "r.bed").write_text("".join(f"chr1\t{s}\t{s + 30}\tpeak{i}\n" for i, s in enumerate(starts)))
    out = tmp_path / "bed.h5"
    attr_lib.export(
        run,
        out,
        bed=tmp_path / "r.bed",
        genome=tmp_path / "g.fa",
        what="predictions,ig",
        chunk_size=4,
        **FAST,
    )
    got = store_lib.load(out)
    centre = [(s + s + 30) // 2 - L // 2 for s in starts]
    # ids are the regions as given (satori_jax.data.sources); the codes are the L-bp windows around them
    assert [i.decode() for i in got["ids"]] == [f"chr1:{s}-{s + 30}" for s in starts]
    assert decode(got["codes"]) == [chrom[c : c + L] for c in centre]
    ref = attr_lib.attribute(str(run), got["codes"], what="predictions,ig", **FAST)
    np.testing.assert_array_equal(got["ig"], ref["ig"])


def test_bad_inputs_exit_2_one_line(env, tmp_path, capsys):
    base, run, codes, fa = env
    bad = tmp_path / "bad.fa"
    bad.write_text(">x\nACGT\n>y\nACXT\n")
    dup = _write_fasta(tmp_path / "dup.fa", codes[:3], ids=["a", "b", "a"])
    cases = [
        (
            [str(tmp_path / "nope"), "--fasta", str(fa), "--out", str(tmp_path / "o1.h5")],
            "no such run directory",
        ),
        ([str(run), "--fasta", str(bad), "--out", str(tmp_path / "o2.h5")], "invalid character 'X'"),
        ([str(run), "--fasta", str(dup), "--out", str(tmp_path / "o3.h5")], "duplicate sequence id"),
        ([str(run), "--fasta", str(tmp_path / "missing.fa"), "--out", str(tmp_path / "o4.h5")], "not found"),
        ([str(run), "--out", str(tmp_path / "o5.h5")], "exactly one input"),
        (
            [str(run), "--fasta", str(fa), "--what", "ig,foo", "--out", str(tmp_path / "o6.h5")],
            "unknown quantity",
        ),
        ([str(run), "--bed", str(fa), "--out", str(tmp_path / "o7.h5")], "--genome"),
    ]
    for argv, msg in cases:
        assert run_cli(cli_main, [*argv, "--quiet"]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and msg in err, err
    assert not (tmp_path / "o2.h5").exists()  # input is checked before the store is created


def test_cli_module_runs(env, tmp_path):
    _, run, _, fa = env
    out = tmp_path / "cli.h5"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "satori_jax.attribute",
            str(run),
            "--fasta",
            str(fa),
            "--out",
            str(out),
            "--what",
            "predictions",
            "--batch-size",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(out) and "sequences/s" in proc.stderr
    assert store_lib.load(out)["predictions"].shape == (N, 2)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "satori_jax.attribute",
            str(run),
            "--fasta",
            str(fa),
            "--out",
            str(out),
            "--steps",
            "3",
            "--what",
            "ig",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "--overwrite" in proc.stderr
    assert "Traceback" not in proc.stderr


TWO_DEVICES = textwrap.dedent(
    """
    import sys, numpy as np, jax
    from satori_jax import attribute as A, store
    assert jax.device_count() == 2
    run, fa, out, ref = sys.argv[1:5]
    A.export(run, out, fasta=fa, what="predictions,ig,attention_ig", steps=8, batch_size=3, chunk_size=8)
    got, want = store.load(out), np.load(ref)
    assert store.read_manifest(out)["settings"]["batch_size"] == 4
    for k in want.files:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-5, err_msg=k)
    print("SHARDED-OK")
    """
)


def test_two_devices_match_one(env, reference, tmp_path):
    _, run, _, fa = env
    ref = tmp_path / "ref.npz"
    np.savez(ref, **{k: reference[k] for k in ("predictions", "logits", "ig", "ig_delta", "attention_ig")})
    envv = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", TWO_DEVICES, str(run), str(fa), str(tmp_path / "two.h5"), str(ref)],
        env=envv,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHARDED-OK" in proc.stdout


def test_data_dir_and_gzipped_fasta(env, reference, tmp_path):
    import gzip
    import shutil

    _, run, _, fa = env
    (tmp_path / "d").mkdir()
    shutil.copy(fa, tmp_path / "d" / "sequences.fa")
    gz = tmp_path / "s.fa.gz"
    gz.write_bytes(gzip.compress(fa.read_bytes().replace(b"\n", b"\r\n")))  # gzipped, CRLF
    for kw in ({"data": tmp_path / "d"}, {"fasta": gz}):
        out = tmp_path / f"{next(iter(kw))}.h5"
        attr_lib.export(run, out, what="predictions", chunk_size=8, **kw, **FAST)
        np.testing.assert_array_equal(store_lib.load(out)["predictions"], reference["predictions"])


def test_package_level_call(env, reference):
    """``satori_jax.attribute(...)`` is the notebook API: the same arrays as the function."""
    import satori_jax

    _, run, codes, _ = env
    got = satori_jax.attribute(run, codes, what=("predictions", "attention"), **FAST)
    np.testing.assert_array_equal(got["predictions"], reference["predictions"])
    np.testing.assert_array_equal(got["attention"], reference["attention"])
