"""The accuracy suite's pieces: the permuted-label copy, the distance-only control, the tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import accuracy
from satori_jax.interpret.report import INTERACTION_COLUMNS, write_tsv


def _dataset(d, n=40):
    d.mkdir()
    (d / "labels.tsv").write_text("id\tlabel\n" + "".join(f"s{i}\t{int(i < n // 4)}\n" for i in range(n)))
    (d / "sequences.fa").write_text("".join(f">s{i}\nACGT\n" for i in range(n)))
    (d / "interactions.tsv").write_text("tf_a\ttf_b\nA\tB\n")
    (d / "dataset.json").write_text(json.dumps({"motifs": [{"name": x} for x in "ABCD"]}))
    return d


def test_permuted_copy_keeps_ids_and_label_counts_and_moves_labels(tmp_path):
    data = _dataset(tmp_path / "d")
    dest = accuracy.permuted_copy(data, tmp_path / "p", seed=3)
    rows = [ln.split("\t") for ln in (dest / "labels.tsv").read_text().splitlines()[1:]]
    orig = [ln.split("\t") for ln in (data / "labels.tsv").read_text().splitlines()[1:]]
    assert [r[0] for r in rows] == [r[0] for r in orig]  # ids in place
    assert sorted(r[1] for r in rows) == sorted(r[1] for r in orig)  # same label counts
    assert [r[1] for r in rows] != [r[1] for r in orig]  # but moved
    assert (dest / "sequences.fa").read_text() == (data / "sequences.fa").read_text()
    assert not (dest / "groups.tsv").exists()


def _table(path, rows):
    full = [{c: "" for c in INTERACTION_COLUMNS} | r for r in rows]
    write_tsv(path, INTERACTION_COLUMNS, full)


def test_distance_only_ranks_tf_pairs_by_their_closest_filter_pair(tmp_path):
    data = _dataset(tmp_path / "d")
    out = tmp_path / "interpret"
    out.mkdir()
    _table(out / "interactions_raw.tsv", [
        {"tf_a": "A", "tf_b": "B", "median_distance_bp": 40},
        {"tf_a": "B", "tf_b": "A", "median_distance_bp": 12},  # A-B's closest: 12 bp
        {"tf_a": "C", "tf_b": "D", "median_distance_bp": 20},
        {"tf_a": "A", "tf_b": "C", "median_distance_bp": 90},
        {"tf_a": "", "tf_b": "D", "median_distance_bp": 1},  # unnamed filter: not a TF pair
    ])
    res = accuracy.distance_only(out, data, n_calls=1)
    assert res["n_called"] == 1
    assert res["exact"]["calls"]["precision"] == 1.0  # the closest pair is A-B, the true one
    assert res["exact"]["ranking"]["auprc"] == pytest.approx(1.0)
    assert res["exact"]["calls"]["n_candidates"] == 6  # C(4, 2) of the pool


def test_markdown_shows_scores_chance_and_controls():
    view = {"calls": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "chance_f1": 0.3},
            "ranking": {"auprc": 0.9, "chance_auprc": 0.25}}
    results = {
        "device": {"name": "cpu-test"}, "created": "2026-12-03T00:00:00", "mode": "tiny", "command": "x",
        "seconds": 1.0,
        "datasets": {
            "twins-40": {"test_auroc": 0.97, "train_seconds": 10.0, "commands": {"train": "python -m t"},
                         "methods": {"raw": {"n_called": 2, "exact": view, "family": view}},
                         "controls": {"permuted_labels": {"test_auroc": 0.5, "default_pipeline": "no list: e",
                                                          "methods": {"raw": {"exact": view}}},
                                      "distance_only": {"exact": view}}},
            "dfim": {"error": "exit 2: boom"},
            "dfim-j": {"test_auroc": 0.9, "train_seconds": 5.0, "methods": {},
                       "jaspar": {"methods": {"attr": {"n_called": 2, "exact": view, "family": view}}}},
        },
    }
    md = accuracy.markdown(results)
    assert "| twins-40 | 0.970 | 10 | raw | 2 | 1.00 | 0.50 | 0.67 (0.30) | 0.90 (0.25) |" in md
    assert "| dfim | error: exit 2: boom |" in md
    assert ("| dfim-j, JASPAR names | | | attr | 2 | 1.00 | 0.50 | 0.67 (0.30) | 0.90 (0.25) | 0.67 (0.30) |"
            in md)
    assert "twins-40 (permuted labels): no list: e" in md and "`python -m t`" in md


def test_unknown_dataset_is_refused(capsys):
    assert accuracy.main(["--datasets", "nope", "--out", "/nonexistent"]) == 2
    assert "nope" in capsys.readouterr().err


def _fake_interpret(monkeypatch, record) -> None:
    """Replace the suite's subprocesses: ``record(cmd)``, then an empty ``summary.json`` in ``--out``."""

    def fake_run(cmd, log_path):
        record(cmd)
        out = Path(cmd[cmd.index("--out") + 1])
        out.mkdir(exist_ok=True)
        (out / "summary.json").write_text("{}")
        return 1.0

    monkeypatch.setattr(accuracy, "_run", fake_run)
    monkeypatch.setattr(accuracy, "method_scores", lambda summary: {})


def test_reuse_interprets_again_without_simulating_or_training(tmp_path, monkeypatch):
    """``--reuse``: the data set and trained run of an earlier suite run are kept; only interpret runs,
    into a cleared output directory, and train_seconds comes from the run's test_metrics.json."""
    work = tmp_path / "w"
    data = _dataset((work / "dfim").mkdir(parents=True) or work / "dfim" / "data")
    run = work / "dfim" / "run"
    (run / "interpret").mkdir(parents=True)
    (run / "interpret" / "stale.txt").write_text("old")
    (run / "test_metrics.json").write_text(json.dumps({"auroc_mean": 0.9, "train_seconds": 12.34}))
    calls = []

    def record(cmd):
        calls.append((cmd[2], "--motif-db" in cmd))
        assert not (run / "interpret" / "stale.txt").exists()  # cleared before interpreting again

    _fake_interpret(monkeypatch, record)
    args = accuracy.build_parser().parse_args(["--workdir", str(work), "--reuse", "--no-controls",
                                                "--methods", "raw"])
    args.methods = ("raw",)
    res = accuracy.run_benchmark(accuracy.BENCHMARKS["dfim"], work, args, "cpu")
    # the pool's database, then JASPAR's (dfim draws its motifs from JASPAR)
    assert calls == [("satori_jax.interpret", True), ("satori_jax.interpret", False)]
    assert res["commands"]["interpret_jaspar"].startswith("python -m satori_jax.interpret $W/dfim/run")
    assert res["simulate_seconds"] is None and res["reused"] is True
    assert res["train_seconds"] == 12.3 and res["test_auroc"] == 0.9
    assert (data / "dataset.json").exists()


@pytest.mark.parametrize("given, expected", [([], None), (["--max-examples", "all"], None),
                                             (["--max-examples", "50"], "50")])
def test_fis_dfim_use_every_example_unless_asked(tmp_path, monkeypatch, given, expected):
    """fis / dfim are scored as interpret scores them by default (every selected example); ``--max-examples
    N`` passes a per-side subsample on; 0 is refused."""
    work = tmp_path / "w"
    _dataset((work / "dfim").mkdir(parents=True) or work / "dfim" / "data")
    run = work / "dfim" / "run"
    run.mkdir(parents=True)
    (run / "test_metrics.json").write_text(json.dumps({"auroc_mean": 0.9, "train_seconds": 1.0}))
    cmds = []
    _fake_interpret(monkeypatch, cmds.append)
    argv = ["--workdir", str(work), "--reuse", "--no-controls", "--no-jaspar", *given]
    args = accuracy.build_parser().parse_args(argv)
    args.methods = ("fis", "dfim")
    accuracy.run_benchmark(accuracy.BENCHMARKS["dfim"], work, args, "cpu")
    (cmd,) = cmds
    assert cmd[cmd.index("--methods") + 1] == "fis,dfim"
    got = cmd[cmd.index("--max-examples") + 1] if "--max-examples" in cmd else None
    assert got == expected
    with pytest.raises(SystemExit):
        accuracy.build_parser().parse_args(["--max-examples", "0"])
