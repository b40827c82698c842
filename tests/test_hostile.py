"""Hostile input: every user mistake ends in one line ``error: ...`` naming the problem, exit status 2,
no traceback, and nothing left behind that looks like a finished result.

The command-line ``main`` functions run in-process through ``run_cli`` (what ``python -m`` runs).

The kinds of hostile input tested here and in ``test_safety.py`` (94; ``test_degenerate.py`` adds
degenerate models, ``test_streaming.py`` the library side of streamed sequences of another length):

========================  ==================================================================================
what                      kinds
========================  ==================================================================================
FASTA / labels (train)    1 binary garbage, 2 empty FASTA, 3 empty record, 4 duplicate ids, 5 non-IUPAC
                          character, 6 ragged lengths, 7 label id not in the FASTA, 8 FASTA id without
                          label, 9 non-numeric label, 10 label not 0/1, 11 empty labels file, 12 no '>'
                          header, 13 labels row with an extra column, 14 with a missing column, 15 labels
                          id twice, 16 labels header only, 17 truncated gzip FASTA, 18 dataset directory
                          without labels.tsv, 19 --data a file, 20 --data missing, 21 --fasta without
                          --labels (lowercase and N are read, not refused)
config (train)            22 wrong value type, 23 unknown section, 24 TOML syntax error, 25 unknown key,
                          26 negative epochs, 27 batch size 0, 28 --set without '=', 29 --set of an unknown
                          key, 30 config name not found, 31 malformed MEME as model.pwm_file
BED / genome (train)      32 chromosome not in the genome, 33 region beyond the chromosome end, 34 end before
                          start, 35 coordinate not a number, 36 too few columns, 37 empty BED, 38 genome
                          missing, 39 genome not FASTA, 40 BED without data.length, 41 damaged .fai,
                          42 stale .fai (reads wrong bases otherwise)
interpret                 43 not a run, 44 half a run, 45 unknown --methods, 46 --motif-db not MEME, 47 empty
                          MEME, 48 missing MEME, 49 --truth with one column, 50 --truth missing,
                          51 malformed --family-table, 52 run without checkpoint, 53 corrupted checkpoint,
                          54 labels of another task (2 columns, model has 1), 55 streamed sequences of
                          another length, 56 --fasta without --labels, 57 --max-examples 0,
                          58 --prob-cutoff 2, 59 --batch-size 0
attribute                 60 unknown --what, 61 unknown --targets, 62 --steps 0, 63 run without checkpoint
                          (and sequences of another length, as 55), 64 launched as one of several
                          processes, 65 library call from a joined job
simulate                  66 malformed --motifs MEME, 67 --pairs naming a TF not in --motifs, 68 --motifs
                          without --pairs, 69 bad --background, 70 --num-sequences 0, 71 unknown preset
outputs (test_safety)     72 --overwrite of a directory that is not a run, 73 of its own input, 74 input
                          inside a marked run, 75 input through a relative path inside the output, 76 run
                          holding a user's file, 77 the current directory, 78 $HOME and /, 79 a dataset
                          directory as a run, 80 outputs under a file (all four commands), 81 --workdir a
                          file, 82 read-only directory (train, simulate; not as root), 83 full disk during
                          the write, 84 simulate --force on an unrelated directory, 85 on a look-alike
                          without marker, 86 into a non-empty directory without --force, 87 --force on its
                          own input
training data (safety)    88 --resume of nothing, 89 --resume without --workdir, 90 --resume of a directory
                          that is not a run, 91 sequences shorter than the first filter, 92 a one-class
                          validation split, 93 sequences too long for memory
checkpoint                94 array files truncated (interpret, attribute, train --resume: refused before the
                          run is written; no traceback from orbax's unfinished reads)
========================  ==================================================================================
"""

import gzip

import pytest

from satori_jax.cli.common import run_cli
from satori_jax.cli.interpret import main as interpret_main
from satori_jax.cli.simulate import main as simulate_main
from satori_jax.cli.train import main as train_main
from satori_jax.data.datasets import load_dataset

GOOD_FA = ">a\nACGTACGTAC\n>b\nACGTTTGTAC\n>c\nACGGACGTAC\n>d\nTTGTACGTAC\n"
GOOD_LABELS = "id\tlabel\na\t1\nb\t0\nc\t1\nd\t0\n"
BAD_MEME = (
    "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF M1\n"
    "letter-probability matrix: alength= 4 w= 2\n0.5 0.5\n0.2 0.8 0 0\n"
)


def _run(main, argv, capsys):
    code = run_cli(main, argv)
    err = capsys.readouterr().err.strip()
    return code, err


def _dataset(tmp_path, fasta=GOOD_FA, labels=GOOD_LABELS, mode="w"):
    d = tmp_path / "data"
    d.mkdir(exist_ok=True)
    if isinstance(fasta, bytes):
        (d / "sequences.fa").write_bytes(fasta)
    else:
        (d / "sequences.fa").write_text(fasta)
    (d / "labels.tsv").write_text(labels)
    return d


CASES = {
    "binary garbage": (bytes(range(256)) * 4, GOOD_LABELS, "sequences.fa"),
    "empty file": ("", GOOD_LABELS, "empty"),
    "empty record": (">a\n\n>b\nACGTTTGTAC\n>c\nACGGACGTAC\n>d\nTTGTACGTAC\n", GOOD_LABELS, "empty sequence"),
    "duplicated ids": (GOOD_FA + ">a\nACGTACGTAC\n", GOOD_LABELS, "duplicate"),
    "bad character": (GOOD_FA.replace("ACGTTTGTAC", "ACGTXTGTAC"), GOOD_LABELS, "'X'"),
    "ragged lengths": (GOOD_FA.replace("ACGTTTGTAC", "ACGTTTGTACGG"), GOOD_LABELS, "length"),
    "label id missing from FASTA": (GOOD_FA, GOOD_LABELS + "zz\t1\n", "zz"),
    "FASTA id without label": (GOOD_FA + ">e\nACGTACGTAC\n", GOOD_LABELS, "e"),
    "non-numeric label": (GOOD_FA, GOOD_LABELS.replace("b\t0", "b\tyes"), "yes"),
    "label not 0/1": (GOOD_FA, GOOD_LABELS.replace("b\t0", "b\t2"), "2"),
    "empty labels": (GOOD_FA, "", "labels.tsv"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_data_fails_cleanly(case, tmp_path, capsys):
    fasta, labels, fragment = CASES[case]
    data = _dataset(tmp_path, fasta, labels)
    run = tmp_path / "run"
    code, err = _run(train_main, ["--data", str(data), "--workdir", str(run), "--quiet"], capsys)
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert fragment in err
    assert not run.exists()


def test_windows_line_endings_and_gzip_are_fine(tmp_path):
    d = tmp_path / "crlf"
    d.mkdir()
    with gzip.open(d / "sequences.fa", "wt", newline="") as fh:
        fh.write(GOOD_FA.replace("\n", "\r\n"))
    (d / "labels.tsv").write_text(GOOD_LABELS.replace("\n", "\r\n"))
    ds = load_dataset(data_dir=d)
    assert ds.codes.shape == (4, 10) and list(ds.ids) == ["a", "b", "c", "d"]


def test_genome_without_the_chromosome(tmp_path, capsys):
    (tmp_path / "g.fa").write_text(">chr1\n" + "ACGT" * 50 + "\n")
    (tmp_path / "r.bed").write_text("chr1\t10\t30\t1\nchr7\t10\t30\t0\n")
    code, err = _run(
        train_main,
        [
            "--bed",
            str(tmp_path / "r.bed"),
            "--genome",
            str(tmp_path / "g.fa"),
            "--set",
            "data.length=20",
            "--workdir",
            str(tmp_path / "run"),
        ],
        capsys,
    )
    assert code == 2 and "chr7" in err and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_region_out_of_bounds(tmp_path, capsys):
    (tmp_path / "g.fa").write_text(">chr1\n" + "ACGT" * 50 + "\n")
    (tmp_path / "r.bed").write_text("chr1\t10\t30\t1\nchr1\t190\t200\t0\n")
    code, err = _run(
        train_main,
        [
            "--bed",
            str(tmp_path / "r.bed"),
            "--genome",
            str(tmp_path / "g.fa"),
            "--set",
            "data.length=40",
            "--workdir",
            str(tmp_path / "run"),
        ],
        capsys,
    )
    assert code == 2 and "chr1" in err and "\n" not in err


def test_malformed_meme_everywhere(tmp_path, capsys):
    bad = tmp_path / "bad.meme"
    bad.write_text(BAD_MEME)
    data = _dataset(tmp_path)
    code, err = _run(
        train_main,
        ["--data", str(data), "--workdir", str(tmp_path / "run"), "--set", f"model.pwm_file={bad}"],
        capsys,
    )
    assert code == 2 and "bad.meme" in err and "M1" in err and "\n" not in err
    assert not (tmp_path / "run").exists()
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("M1\tM2\n")
    code, err = _run(
        simulate_main,
        ["pairs", "--motifs", str(bad), "--pairs", str(pairs), "--out", str(tmp_path / "sim")],
        capsys,
    )
    assert code == 2 and "bad.meme" in err and "\n" not in err
    assert not (tmp_path / "sim" / "dataset.json").exists()


def test_config_with_wrong_types(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[train]\nepochs = "ten"\n')
    data = _dataset(tmp_path)
    code, err = _run(
        train_main, ["--data", str(data), "--config", str(cfg), "--workdir", str(tmp_path / "r")], capsys
    )
    assert code == 2 and "train.epochs" in err and "bad.toml" in err and "\n" not in err
    cfg.write_text("[training]\nepochs = 3\n")
    code, err = _run(
        train_main, ["--data", str(data), "--config", str(cfg), "--workdir", str(tmp_path / "r")], capsys
    )
    assert code == 2 and "unknown section 'training'" in err


def test_interpret_on_something_that_is_not_a_run(tmp_path, capsys):
    code, err = _run(interpret_main, [str(tmp_path / "nope")], capsys)
    assert code == 2 and "nope" in err and "\n" not in err
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    code, err = _run(interpret_main, [str(tmp_path / "half")], capsys)
    assert code == 2 and "\n" not in err and "Traceback" not in err


def test_attribute_refuses_a_multi_process_launch(tmp_path, capsys, monkeypatch):
    """attribute export, started as one of several processes, stops with one line before joining the
    job (which would block on the other processes) or writing the store."""
    from satori_jax.cli import attribute as cli

    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "localhost:1")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    monkeypatch.setenv("JAX_PROCESS_ID", "0")
    out = tmp_path / "attr.h5"
    code, err = _run(cli.main, [str(tmp_path / "no_run"), "--out", str(out)], capsys)
    assert code == 2 and "single process" in err and "2 processes" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_library_callers_in_a_joined_job_are_refused_by_the_same_guard(tmp_path, monkeypatch):
    """attribute.export, called from a process that already joined a job of several processes,
    stops with the same one-line error as the command-line tool."""
    import jax

    from satori_jax.attribute import export
    from satori_jax.errors import InputError

    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    with pytest.raises(InputError, match="single process .*every local device.* one of 2 processes"):
        export(str(tmp_path / "no_run"), str(tmp_path / "attr.h5"))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# more kinds: every command, each refusal one line naming the file and the problem, exit 2, no
# traceback, nothing half-written. ``_refused`` runs the command-line main in-process (argparse
# usage errors exit through SystemExit, also with one line).
# --------------------------------------------------------------------------------------------


def _refused(main, argv, capsys, *fragments, absent=()):
    try:
        code = run_cli(main, [str(a) for a in argv])
    except SystemExit as exc:  # argparse: a usage error
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for f in fragments:
        assert str(f) in err, (f, err)
    for p in absent:
        assert not p.exists(), p
    return err


MORE_DATA = {  # train --data DIR with sequences.fa, labels.tsv: (fasta, labels, fragments)
    "FASTA without a header": ("ACGTACGTAC\n" + GOOD_FA, GOOD_LABELS, ["sequences.fa", "header"]),
    "labels row with an extra column": (GOOD_FA, GOOD_LABELS.replace("b\t0", "b\t0\t1"),
                                        ["labels.tsv", "column"]),
    "labels row with a missing column": (GOOD_FA, GOOD_LABELS.replace("b\t0", "b"), ["labels.tsv", "column"]),
    "labels id twice": (GOOD_FA, GOOD_LABELS + "a\t1\n", ["labels.tsv", "duplicate"]),
    "labels header only": (GOOD_FA, "id\tlabel\n", ["labels.tsv", "no labelled records"]),
    "truncated gzip FASTA": (gzip.compress(GOOD_FA.encode())[:-12], GOOD_LABELS, ["sequences.fa"]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MORE_DATA))
def test_more_bad_data(case, tmp_path, capsys):
    fasta, labels, fragments = MORE_DATA[case]
    data = _dataset(tmp_path, fasta, labels)
    run = tmp_path / "run"
    _refused(train_main, ["--data", data, "--workdir", run, "--quiet"], capsys, *fragments, absent=[run])


def test_lowercase_and_n_are_read(tmp_path):
    d = _dataset(tmp_path, GOOD_FA.replace("ACGTTTGTAC", "acgtnnGTAC"))
    ds = load_dataset(data_dir=d)
    assert ds.codes[1].tolist() == [0, 1, 2, 3, 4, 4, 2, 3, 0, 1]


def test_dataset_directory_problems(tmp_path, capsys):
    run = tmp_path / "run"
    d = _dataset(tmp_path)
    (d / "labels.tsv").unlink()
    _refused(train_main, ["--data", d, "--workdir", run], capsys, str(d), "labels", absent=[run])
    _refused(train_main, ["--data", d / "sequences.fa", "--workdir", run], capsys, "sequences.fa",
             "not a directory", absent=[run])
    _refused(train_main, ["--data", tmp_path / "nowhere", "--workdir", run], capsys, "nowhere", absent=[run])
    _refused(train_main, ["--fasta", d / "sequences.fa", "--workdir", run], capsys, "--labels", absent=[run])


CONFIGS = {  # train --config bad.toml / --set: (toml text or None, --set values, fragments)
    "TOML syntax error": ("[train\nepochs = 3\n", [], ["bad.toml"]),
    "unknown key": ("[train]\nepoch = 3\n", [], ["bad.toml", "epoch"]),
    "negative epochs": (None, ["train.epochs=-1"], ["train.epochs", "got -1"]),
    "batch size 0": (None, ["train.batch_size=0"], ["train.batch_size"]),
    "--set without a value": (None, ["train.epochs"], ["train.epochs", "section.key=value"]),
    "--set of an unknown key": (None, ["train.nonsense=1"], ["train.nonsense"]),
    "config name not found": ("", [], ["no_such_config"]),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_configs(case, tmp_path, capsys):
    text, sets, fragments = CONFIGS[case]
    data = _dataset(tmp_path)
    run = tmp_path / "run"
    argv = ["--data", data, "--workdir", run, "--quiet", *[x for s in sets for x in ("--set", s)]]
    if text:
        (tmp_path / "bad.toml").write_text(text)
        argv += ["--config", tmp_path / "bad.toml"]
    elif text == "":
        argv += ["--config", "no_such_config"]
    _refused(train_main, argv, capsys, *fragments, absent=[run])


BEDS = {  # train --bed regions.bed --genome g.fa: (bed text, fragments)
    "end before start": ("chr1\t10\t30\t1\nchr1\t90\t60\t0\n", ["r.bed", "end"]),
    "coordinate not a number": ("chr1\t10\t30\t1\nchr1\tten\t60\t0\n", ["r.bed", "ten"]),
    "too few columns": ("chr1\t10\t30\t1\nchr1\t40\n", ["r.bed"]),
    "empty BED": ("", ["r.bed"]),
}


@pytest.mark.parametrize("case", sorted(BEDS))
def test_bad_bed(case, tmp_path, capsys):
    text, fragments = BEDS[case]
    (tmp_path / "g.fa").write_text(">chr1\n" + "ACGT" * 50 + "\n")
    (tmp_path / "r.bed").write_text(text)
    run = tmp_path / "run"
    argv = ["--bed", tmp_path / "r.bed", "--genome", tmp_path / "g.fa", "--set", "data.length=20",
            "--workdir", run]
    _refused(train_main, argv, capsys, *fragments, absent=[run])


def test_bad_genome(tmp_path, capsys):
    (tmp_path / "r.bed").write_text("chr1\t10\t30\t1\nchr1\t40\t60\t0\n")
    run = tmp_path / "run"
    argv = ["--bed", tmp_path / "r.bed", "--genome", tmp_path / "g.fa", "--set", "data.length=20",
            "--workdir", run]
    _refused(train_main, argv, capsys, "g.fa", "not found", absent=[run])
    (tmp_path / "g.fa").write_bytes(bytes(range(256)) * 8)  # not a FASTA file
    _refused(train_main, argv, capsys, "g.fa", absent=[run])
    (tmp_path / "g.fa").write_text(">chr1\n" + "ACGT" * 50 + "\n")
    _refused(train_main, argv[:4] + ["--workdir", run], capsys, "data.length", absent=[run])  # no length
    (tmp_path / "g.fa.fai").write_text("garbage\n")  # an index that is not one
    _refused(train_main, argv, capsys, "g.fa", "cannot index", "delete it", absent=[run])
    (tmp_path / "g.fa.fai").write_text("chr1\t999\t6\t60\t61\n")  # a stale index (other line length)
    _refused(train_main, argv, capsys, "g.fa.fai", "does not match", absent=[run])


# ---- interpret and attribute on a tiny run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A hand-built 64 bp run (data.length = 64), a motif database, its test set as FASTA + labels,
    and broken copies of the run."""
    import json
    import shutil

    import numpy as np

    from satori_jax.data.meme import Motif, write_meme
    from tests.interpret.test_interpret_e2e import _write_run

    base = tmp_path_factory.mktemp("hostile")
    run = _write_run(base / "run")
    rng = np.random.default_rng(0)
    write_meme(base / "db.meme", [Motif(f"M{i}", rng.dirichlet([0.3] * 4, size=8)) for i in range(3)])
    with np.load(run / "test_predictions.npz") as z:
        ids, codes = [str(i) for i in z["ids"]], z["codes"]
    seqs = ["".join(np.array(list("ACGT"))[c]) for c in codes]
    (base / "t.fa").write_text("".join(f">{i}\n{s}\n" for i, s in zip(ids, seqs, strict=True)))
    (base / "t.tsv").write_text("id\ty\n" + "".join(f"{i}\t{k % 2}\n" for k, i in enumerate(ids)))
    (base / "long.fa").write_text("".join(f">{i}\nAAAA{s}TTTT\n" for i, s in zip(ids, seqs, strict=True)))
    (base / "two.tsv").write_text("id\ty\tz\n" + "".join(f"{i}\t{k % 2}\t1\n" for k, i in enumerate(ids)))
    for name in ("as_given", "no_checkpoint", "bad_checkpoint", "cut_checkpoint"):
        shutil.copytree(run, base / name)
    truncate_arrays(base / "cut_checkpoint" / "checkpoints" / "best")
    cfg = json.loads((base / "as_given" / "config.json").read_text())
    cfg["data"]["length"] = 0
    (base / "as_given" / "config.json").write_text(json.dumps(cfg))
    shutil.rmtree(base / "no_checkpoint" / "checkpoints")
    for f in (base / "bad_checkpoint" / "checkpoints").rglob("*"):
        if f.is_file():
            f.write_bytes(b"\x00garbage")
    return base


def truncate_arrays(checkpoint) -> None:
    """Cut every array file (``.../d/*``) of a checkpoint to half its size (``tests/test_checkpoints.py``
    cuts a single one of a larger model)."""
    for f in checkpoint.rglob("*"):
        if f.is_file() and f.parent.name == "d":
            with open(f, "r+b") as fh:
                fh.truncate(f.stat().st_size // 2)


def _interp(tiny, *extra, run="run"):
    return [tiny / run, "--out", tiny / "out", "--motif-db", tiny / "db.meme", "--quiet", *extra]


INTERPRET = {  # extra arguments (files relative to the fixture), run, fragments
    "unknown method": (["--methods", "raw,nope"], "run", ["nope"]),
    "motif database not MEME": (["--motif-db", "t.tsv"], "run", ["t.tsv"]),
    "empty motif database": (["--motif-db", "empty.meme"], "run", ["empty.meme"]),
    "motif database missing": (["--motif-db", "missing.meme"], "run", ["missing.meme", "not found"]),
    "truth with one column": (["--truth", "one.tsv"], "run", ["one.tsv", "two TF names"]),
    "truth missing": (["--truth", "missing.tsv"], "run", ["missing.tsv", "not found"]),
    "family table malformed": (["--family-table", "one.tsv"], "run", ["one.tsv"]),
    "run without a checkpoint": ([], "no_checkpoint", ["no_checkpoint", "checkpoint"]),
    "corrupted checkpoint": ([], "bad_checkpoint", ["bad_checkpoint", "checkpoint"]),
    "truncated checkpoint arrays": ([], "cut_checkpoint", ["cut_checkpoint", "unreadable checkpoint"]),
    "labels of another task": (["--fasta", "t.fa", "--labels", "two.tsv"], "run",
                               ["two.tsv", "label column"]),
    "sequences of another length": (["--fasta", "long.fa", "--labels", "t.tsv"], "as_given",
                                    ["long.fa", "72 bp", "64 bp"]),
    "--fasta without --labels": (["--fasta", "t.fa"], "run", ["--labels"]),
    "--max-examples 0": (["--max-examples", "0"], "run", ["--max-examples", "'0'"]),
    "--prob-cutoff above 1": (["--prob-cutoff", "2"], "run", ["--prob-cutoff", "'2'"]),
    "--batch-size 0": (["--batch-size", "0"], "run", ["--batch-size"]),
}


@pytest.mark.parametrize("case", sorted(INTERPRET))
def test_interpret_refusals(case, tiny, capsys):
    from satori_jax.cli.interpret import main

    extra, run, fragments = INTERPRET[case]
    (tiny / "empty.meme").write_text("")
    (tiny / "one.tsv").write_text("TFA\n")
    extra = [tiny / e if (tiny / e).suffix in (".tsv", ".fa", ".meme") else e for e in extra]
    _refused(main, _interp(tiny, *extra, run=run), capsys, *fragments, absent=[tiny / "out"])


def test_attribute_refusals(tiny, capsys):
    from satori_jax.cli.attribute import main

    out = tiny / "attr.h5"
    for extra, fragments in (
        (["--what", "ig,nope"], ["nope"]),
        (["--targets", "nope"], ["nope"]),
        (["--steps", "0"], ["--steps"]),
    ):
        _refused(main, [tiny / "run", "--fasta", tiny / "t.fa", "--out", out, "--quiet", *extra], capsys,
                 *fragments, absent=[out])
    _refused(main, [tiny / "no_checkpoint", "--fasta", tiny / "t.fa", "--out", out, "--quiet"], capsys,
             "no_checkpoint", "checkpoint", absent=[out])
    _refused(main, [tiny / "cut_checkpoint", "--fasta", tiny / "t.fa", "--out", out, "--quiet"], capsys,
             "cut_checkpoint", "unreadable checkpoint", absent=[out])
    _refused(main, [tiny / "as_given", "--fasta", tiny / "long.fa", "--out", out, "--quiet"], capsys,
             "long.fa", "record seq0", "72 bp", "64 bp", "data.length = 0", absent=[out])


def test_attribute_resizes_as_training_did(tiny, capsys):
    """The run was trained with data.length = 64: 72 bp records are centre-cropped to the originals."""
    import numpy as np

    from satori_jax.cli.attribute import main

    h5py = pytest.importorskip("h5py")
    out = tiny / "resized.h5"
    assert run_cli(main, [str(tiny / "run"), "--fasta", str(tiny / "long.fa"), "--out", str(out),
                          "--what", "predictions", "--chunk-size", "64"]) == 0
    assert "60 of 60 sequences are not 64 bp" in capsys.readouterr().err
    with h5py.File(out, "r") as f, np.load(tiny / "run" / "test_predictions.npz") as z:
        np.testing.assert_array_equal(f["codes"][:], z["codes"])


def test_simulate_refusals(tmp_path, capsys):
    import numpy as np

    from satori_jax.data.meme import Motif, write_meme

    rng = np.random.default_rng(0)
    write_meme(tmp_path / "m.meme", [Motif(f"TF{i}", rng.dirichlet([0.3] * 4, size=6)) for i in range(4)])
    (tmp_path / "p.tsv").write_text("TF0\tTF9\n")
    out = tmp_path / "sim"
    base = ["pairs", "--num-sequences", "20", "--length", "100", "--out", out]
    _refused(simulate_main, [*base, "--motifs", tmp_path / "m.meme", "--pairs", tmp_path / "p.tsv"], capsys,
             "p.tsv", "TF9", absent=[out])
    _refused(simulate_main, [*base, "--motifs", tmp_path / "m.meme"], capsys, "--pairs", absent=[out])
    _refused(simulate_main, [*base, "--background", "1,2,3"], capsys, "--background", absent=[out])
    _refused(simulate_main, [*base, "--num-sequences", "0"], capsys, "--num-sequences", absent=[out])
    _refused(simulate_main, ["pairs", "--preset", "data-99", "--out", out], capsys, "data-99", absent=[out])


def _tree(d):
    return {str(f.relative_to(d)): f.read_bytes() for f in sorted(d.rglob("*")) if f.is_file()}


def test_truncated_checkpoint_in_a_real_process(tiny, tiny_run, tmp_path):
    """Truncated array files: ``train --resume`` refuses before it writes anything in the run, and the
    commands' stderr is the one line (no traceback printed later from orbax's unfinished reads)."""
    import shutil
    import subprocess
    import sys

    from tests.tiny import cpu_env

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    truncate_arrays(run / "checkpoints" / "latest")
    before = _tree(run)
    env = cpu_env()
    commands = {
        "train": ["satori_jax.train", "--workdir", str(run), "--resume", "--quiet"],
        "interpret": ["satori_jax.interpret", str(tiny / "cut_checkpoint"), "--out", str(tmp_path / "o"),
                      "--motif-db", str(tiny / "db.meme"), "--quiet"],
    }
    for name, argv in commands.items():
        p = subprocess.run([sys.executable, "-m", *argv], env=env, capture_output=True, text=True,
                           timeout=120)
        err = p.stderr.strip()
        assert p.returncode == 2, (name, err[-2000:])
        assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, (name, err[-2000:])
        assert "unreadable checkpoint" in err, (name, err)
    assert _tree(run) == before  # nothing rewritten (config.json, data.json, logs)
    assert not (tmp_path / "o").exists()
