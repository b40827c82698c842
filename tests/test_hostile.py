"""Hostile input: every user mistake ends in one line ``error: ...`` naming the problem, exit status 2,
no traceback, and nothing left behind that looks like a finished result.

The command-line ``main`` functions run in-process through ``run_cli`` (what ``python -m`` runs).
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
