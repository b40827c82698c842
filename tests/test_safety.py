"""Never lose a user's file: ``--overwrite`` / ``--force`` replace only what satori_jax wrote, outputs
that cannot be written fail with one line, and training refuses data it cannot train on before it
writes anything. Every refusal: exit status 2, one line ``error: ...`` naming the path, no traceback,
nothing touched (sentinel files survive, no temporary siblings left).
"""

from __future__ import annotations

import errno
import json
import os
import stat

import numpy as np
import pytest

from satori_jax.cli.common import run_cli
from satori_jax.cli.simulate import main as simulate_main
from satori_jax.cli.train import main as train_main
from satori_jax.data.meme import Motif, write_meme
from satori_jax.data.splits import random_split
from satori_jax.errors import InputError
from satori_jax.outputs import MARKER, DirKind, check_output_dir, write_dir
from satori_jax.runs import RUN_DIR, prepare_run_dir

TINY = [
    "--set", "model.num_filters=8", "--set", "model.filter_width=5", "--set", "model.num_heads=2",
    "--set", "model.head_dim=4", "--set", "model.proj_dim=8", "--set", "model.pool_size=2",
    "--set", "train.batch_size=16", "--set", "train.eval_batch_size=32", "--set", "train.epochs=1",
]  # fmt: skip


def _run(main, argv, capsys):
    code = run_cli(main, argv)
    captured = capsys.readouterr()
    return code, captured.err.strip()


def _one_line(code, err, *fragments):
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for f in fragments:
        assert f in err, (f, err)


def _data(d, n=40, length=48, labels=None, seed=0):
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    y = np.arange(n) % 2 if labels is None else np.asarray(labels)
    with open(d / "sequences.fa", "w") as fa, open(d / "labels.tsv", "w") as lab:
        lab.write("id\tlabel\n")
        for i in range(n):
            fa.write(f">s{i}\n{''.join(rng.choice(list('ACGT'), length))}\n")
            lab.write(f"s{i}\t{int(y[i])}\n")
    return d


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _sentinel(d, name="my_notes.txt"):
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text("precious\n")
    return d / name


# ---- train --overwrite


def test_train_overwrite_refuses_a_directory_that_is_not_a_run(tmp_path, capsys):
    data = _data(tmp_path / "d")
    work = tmp_path / "mine"
    keep = _sentinel(work)
    before = _tree(tmp_path)
    code, err = _run(train_main, ["--data", str(data), "--workdir", str(work), "--overwrite", *TINY], capsys)
    _one_line(code, err, str(work), "--overwrite refused", "not a satori_jax run directory")
    assert keep.read_text() == "precious\n" and _tree(tmp_path) == before


def test_train_overwrite_refuses_its_own_input(tmp_path, capsys):
    data = _data(tmp_path / "d")
    before = _tree(tmp_path)
    code, err = _run(train_main, ["--data", str(data), "--workdir", str(data), "--overwrite", *TINY], capsys)
    _one_line(code, err, str(data), "holds the input")
    assert _tree(tmp_path) == before
    # the data inside the output, even when the output is marked as a run
    work = tmp_path / "w"
    work.mkdir()
    (work / MARKER).write_text('{"kind": "run"}')
    inner = _data(work / "data")
    code, err = _run(train_main, ["--data", str(inner), "--workdir", str(work), "--overwrite"], capsys)
    _one_line(code, err, "holds the input")
    # --fasta given through a relative path that resolves inside the output
    code, err = _run(
        train_main,
        ["--fasta", str(inner / ".." / "data" / "sequences.fa"), "--labels", str(inner / "labels.tsv"),
         "--workdir", str(work), "--overwrite"],
        capsys,
    )  # fmt: skip
    _one_line(code, err, "holds the input")
    assert (inner / "sequences.fa").is_file() and (work / MARKER).is_file()


def test_train_overwrite_refuses_a_run_holding_a_user_file(tmp_path, capsys):
    data = _data(tmp_path / "d")
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "data.json", "splits.tsv"):
        (run / name).write_text("{}")
    keep = _sentinel(run, "attr.h5")
    code, err = _run(train_main, ["--data", str(data), "--workdir", str(run), "--overwrite", *TINY], capsys)
    _one_line(code, err, str(run), "'attr.h5'", "did not write")
    assert keep.is_file() and (run / "config.json").read_text() == "{}"


def test_train_overwrite_refuses_the_current_directory(tmp_path, capsys, monkeypatch):
    data = _data(tmp_path / "d")
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "data.json"):
        (run / name).write_text("{}")
    monkeypatch.chdir(run)
    code, err = _run(train_main, ["--data", str(data), "--workdir", ".", "--overwrite", *TINY], capsys)
    _one_line(code, err, "current directory")
    assert (run / "config.json").is_file()


def test_refusal_of_root_and_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _sentinel(tmp_path)
    with pytest.raises(InputError, match="home directory"):
        check_output_dir(tmp_path, RUN_DIR, replace=True)
    with pytest.raises(InputError, match="root|permission|current directory"):
        check_output_dir("/", RUN_DIR, replace=True)


def test_replacing_a_run_is_a_swap(tmp_path):
    """A run satori_jax wrote (marker, or the pre-marker files) is replaced: the new files are written
    beside it and swapped in; no temporary directory is left and permissions follow the umask."""
    for marked in (True, False):
        run = tmp_path / f"run{marked}"
        (run / "checkpoints" / "best").mkdir(parents=True)
        for name in ("config.json", "data.json", "metrics.jsonl"):
            (run / name).write_text("old")
        if marked:
            (run / MARKER).write_text('{"kind": "run"}')
        fill = lambda d: (d / "config.json").write_text("new")  # noqa: E731
        prepare_run_dir(run, resume=False, overwrite=True, fill=fill)
        assert sorted(p.name for p in run.iterdir()) == sorted(["config.json", MARKER])
        assert (run / "config.json").read_text() == "new"
        assert json.loads((run / MARKER).read_text())["kind"] == "run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runFalse", "runTrue"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "runTrue").stat().st_mode) == 0o777 & ~umask


def test_a_failed_write_keeps_the_old_directory(tmp_path):
    spec = DirKind("run", frozenset({"a"}), ("a",), "--overwrite")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a").write_text("old")

    def full_disk(d):
        (d / "a").write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(InputError, match=r"out: cannot be written: no space left"):
        write_dir(out, spec, full_disk)
    assert (out / "a").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_writing_into_the_empty_current_directory(tmp_path, monkeypatch):
    spec = DirKind("run", frozenset({"a"}), ("a",), "--overwrite")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert not check_output_dir(".", spec, replace=False)
    write_dir(".", spec, lambda d: (d / "a").write_text("x"))
    assert sorted(p.name for p in here.iterdir()) == [MARKER, "a"]
    assert [p.name for p in tmp_path.iterdir()] == ["here"]


def test_a_dataset_is_not_a_run(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / MARKER).write_text('{"kind": "dataset"}')
    (d / "config.json").write_text("{}")
    with pytest.raises(InputError, match="satori_jax dataset directory, not a run directory"):
        check_output_dir(d, RUN_DIR, replace=True)


# ---- unwritable outputs


def test_outputs_under_a_file(tmp_path, capsys):
    data = _data(tmp_path / "d")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    before = _tree(tmp_path)
    code, err = _run(train_main, ["--data", str(data), "--workdir", str(blocker / "run"), *TINY], capsys)
    _one_line(code, err, str(blocker / "run"), "is a file")
    code, err = _run(train_main, ["--data", str(data), "--workdir", str(blocker), *TINY], capsys)
    _one_line(code, err, str(blocker), "not a directory")
    motifs, pairs = _motif_files(tmp_path)
    before = _tree(tmp_path)
    code, err = _run(simulate_main, [*_sim_args(motifs, pairs), "--out", str(blocker / "sim")], capsys)
    _one_line(code, err, str(blocker / "sim"), "is a file")

    from satori_jax.cli.attribute import main as attribute_main
    from satori_jax.cli.interpret import main as interpret_main

    code, err = _run(interpret_main, [str(tmp_path / "run"), "--out", str(blocker / "interp")], capsys)
    _one_line(code, err, str(blocker / "interp"), "is a file")
    code, err = _run(attribute_main, [str(tmp_path / "run"), "--out", str(blocker / "a" / "attr.h5")], capsys)
    _one_line(code, err, str(blocker / "a" / "attr.h5"), "is a file")
    assert _tree(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory(tmp_path, capsys):
    data = _data(tmp_path / "d")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, err = _run(train_main, ["--data", str(data), "--workdir", str(ro / "run"), *TINY], capsys)
        _one_line(code, err, str(ro / "run"), "not writable")
        motifs, pairs = _motif_files(tmp_path)
        code, err = _run(simulate_main, [*_sim_args(motifs, pairs), "--out", str(ro / "sim")], capsys)
        _one_line(code, err, str(ro / "sim"), "not writable")
    finally:
        ro.chmod(0o755)
    assert list(ro.iterdir()) == []


def test_missing_parents_are_created(tmp_path, capsys):
    motifs, pairs = _motif_files(tmp_path)
    out = tmp_path / "a" / "b" / "sim"
    assert run_cli(simulate_main, [*_sim_args(motifs, pairs), "--out", str(out)]) == 0
    assert (out / "dataset.json").is_file()


# ---- simulate --force


def _motif_files(tmp_path):
    rng = np.random.default_rng(0)
    motifs = [Motif(f"TF{i}", rng.dirichlet([0.3] * 4, size=6), alt=f"M{i}") for i in range(4)]
    write_meme(tmp_path / "m.meme", motifs)
    (tmp_path / "p.tsv").write_text("TF0\tTF1\nTF2\tTF3\n")
    return tmp_path / "m.meme", tmp_path / "p.tsv"


def _sim_args(motifs, pairs):
    return ["pairs", "--motifs", str(motifs), "--pairs", str(pairs), "--num-sequences", "20",
            "--length", "100", "--pairs-per-seq", "1"]  # fmt: skip


def test_simulate_force_refuses_an_unrelated_directory(tmp_path, capsys):
    motifs, pairs = _motif_files(tmp_path)
    out = tmp_path / "mine"
    keep = _sentinel(out)
    (out / "sequences.fa").write_text(">mine\nACGT\n")  # a data set the user made by hand
    (out / "labels.tsv").write_text("id\tlabel\nmine\t1\n")
    before = _tree(tmp_path)
    code, err = _run(simulate_main, [*_sim_args(motifs, pairs), "--out", str(out), "--force"], capsys)
    _one_line(code, err, str(out), "--force refused")
    assert keep.read_text() == "precious\n" and _tree(tmp_path) == before
    # the same with only files whose names simulate uses (no dataset.json, no marker)
    keep.unlink()
    code, err = _run(simulate_main, [*_sim_args(motifs, pairs), "--out", str(out), "--force"], capsys)
    _one_line(code, err, "not a satori_jax dataset directory")
    assert (out / "sequences.fa").read_text() == ">mine\nACGT\n"


def test_simulate_force_refuses_its_input_and_replaces_its_own(tmp_path, capsys):
    motifs, pairs = _motif_files(tmp_path)
    out = tmp_path / "sim"
    assert run_cli(simulate_main, [*_sim_args(motifs, pairs), "--out", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask  # not mkdtemp's 0700
    assert json.loads((out / MARKER).read_text())["kind"] == "dataset"
    capsys.readouterr()
    code, err = _run(simulate_main, [*_sim_args(motifs, pairs), "--out", str(out)], capsys)
    _one_line(code, err, "not empty", "--force")
    again = [*_sim_args(motifs, pairs), "--out", str(out), "--force", "--seed", "3"]
    assert run_cli(simulate_main, again) == 0
    assert json.loads((out / "dataset.json").read_text())["seed"] == 3
    # motifs given from inside the data set directory: refused, nothing lost
    (out / "motifs.meme").write_bytes(motifs.read_bytes())
    code, err = _run(
        simulate_main, [*_sim_args(out / "motifs.meme", pairs), "--out", str(out), "--force"], capsys
    )
    _one_line(code, err, "holds the input")
    assert (out / "motifs.meme").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.meme", "p.tsv", "sim"]


# ---- train: data it cannot train on, resume


def test_resume_of_nothing(tmp_path, capsys):
    missing = tmp_path / "never"
    code, err = _run(train_main, ["--workdir", str(missing), "--resume", *TINY], capsys)
    _one_line(code, err, str(missing), "nothing to resume")
    assert not missing.exists()
    code, err = _run(train_main, ["--resume", *TINY], capsys)
    _one_line(code, err, "--resume needs --workdir")
    mine = tmp_path / "mine"
    _sentinel(mine)
    code, err = _run(train_main, ["--workdir", str(mine), "--resume", *TINY], capsys)
    _one_line(code, err, str(mine), "not a satori_jax run directory")


def test_sequences_shorter_than_the_filter(tmp_path, capsys):
    data = _data(tmp_path / "d", length=8)
    run = tmp_path / "run"
    argv = ["--data", str(data), "--workdir", str(run), "--set", "model.filter_width=13"]
    code, err = _run(train_main, argv, capsys)
    _one_line(code, err, str(data), "8 bp", "minimum of 13 bp")
    assert not run.exists()


def test_validation_split_with_one_class(tmp_path, capsys):
    n = 40
    val = random_split(n, 0)["val"]  # the default split (data.seed 0, 10 % validation)
    y = np.arange(n) % 2
    y[val] = 0
    data = _data(tmp_path / "d", n=n, labels=y)
    run = tmp_path / "run"
    code, err = _run(train_main, ["--data", str(data), "--workdir", str(run), *TINY], capsys)
    _one_line(code, err, str(data), "validation split", "one class")
    assert not run.exists()


def test_sequences_too_long_for_memory(tmp_path, capsys):
    data = _data(tmp_path / "d", n=30, length=100_000)
    run = tmp_path / "run"
    code, err = _run(train_main, ["--data", str(data), "--workdir", str(run), *TINY], capsys)
    _one_line(code, err, str(data), "100000 bp", "GiB", "available")
    assert not run.exists()


def test_metrics_are_strict_json_and_train_seconds_span_resumes(tmp_path):
    """A test split with one class: AUROC is undefined and written as null; a resumed run's
    train_seconds covers the epochs before the resume too."""
    from satori_jax import config as config_lib
    from satori_jax.data.datasets import load_dataset
    from satori_jax.train import fit

    n = 60
    splits = random_split(n, 0)
    y = np.arange(n) % 2
    y[splits["test"]] = 1
    y[splits["val"]] = np.arange(len(splits["val"])) % 2
    ds = load_dataset(data_dir=_data(tmp_path / "d", n=n, labels=y))
    cfg = config_lib.apply_overrides(
        config_lib.Config(), [a for a in TINY if a != "--set"] + ["train.patience=5"]
    )
    run = tmp_path / "run"
    run.mkdir()
    fit(cfg, ds, splits, run, verbose=False, log=lambda *_: None)
    logs = []
    cfg2 = config_lib.apply_overrides(cfg, ["train.epochs=2"])
    test = fit(cfg2, ds, splits, run, resume=True, verbose=False, log=logs.append)
    assert any("resumed from epoch 1 of 2" in line and "continuing with epoch 2" in line for line in logs)

    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))

    written = strict((run / "test_metrics.json").read_text())
    assert written["auroc_mean"] is None and test["auroc_mean"] != test["auroc_mean"]  # NaN in memory
    epochs = [strict(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert written["train_seconds"] >= sum(e["epoch_seconds"] for e in epochs)
