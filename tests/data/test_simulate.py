from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from satori_jax.cli.simulate import main as cli_main
from satori_jax.data.meme import Motif, max_log_odds, pwm_to_log_odds, read_meme, write_meme
from satori_jax.data.simulate import (
    DATASET_FILES,
    choose_distinct_motifs,
    default_dataset_dir,
    motif_similarity,
    random_interactions,
    read_pairs_tsv,
    simulate_dfim,
    simulate_pairs,
    write_dataset,
)
from satori_jax.errors import InputError
from satori_jax.outputs import MARKER

COMP = str.maketrans("ACGT", "TGCA")


def _motifs(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return [Motif(f"TF{i}", rng.dirichlet([0.3] * 4, size=int(rng.integers(6, 11))), alt=f"M{i}")
            for i in range(n)]


PAIRS = [("TF0", "TF1"), ("TF2", "TF3"), ("TF4", "TF5"), ("TF0", "TF3")]


def read_fasta(path):
    ids, seqs = [], []
    for line in Path(path).read_text().splitlines():
        if line.startswith(">"):
            ids.append(line[1:].split()[0])
            seqs.append("")
        else:
            seqs[-1] += line.strip()
    return ids, seqs


def read_tsv(path):
    lines = Path(path).read_text().splitlines()
    head = lines[0].split("\t")
    return head, [dict(zip(head, ln.split("\t"), strict=True)) for ln in lines[1:]]


def _score(seq: str, pwm, bg, pc=0.01) -> float:
    lo = pwm_to_log_odds(pwm, bg, pc)
    return float(sum(lo[k, "ACGT".index(c)] for k, c in enumerate(seq)))


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    ds = simulate_pairs(_motifs(), PAIRS, num_sequences=400, length=200, seed=3)
    return write_dataset(tmp_path_factory.mktemp("p") / "data", ds), ds


@pytest.fixture(scope="module")
def dfim_dir(tmp_path_factory):
    m = _motifs(4, seed=1)
    ds = simulate_dfim(m[0], m[1], m[2:], num_sequences=301, length=150, seed=5)
    return write_dataset(tmp_path_factory.mktemp("d") / "data", ds), ds


def _embeddings_by_seq(d):
    _, rows = read_tsv(d / "embeddings.tsv")
    by = defaultdict(list)
    for r in rows:
        by[r["seq_id"]].append((int(r["start"]), int(r["end"]), r["motif"], r["strand"], float(r["score"])))
    return by


def _check_instances(d, bg):
    ids, seqs = read_fasta(d / "sequences.fa")
    seq = dict(zip(ids, seqs, strict=True))
    motifs = {m.name: m for m in read_meme(d / "motifs.meme")}
    n = 0
    strands = Counter()
    for sid, insts in _embeddings_by_seq(d).items():
        for start, end, name, strand, score in insts:
            m = motifs[name]
            assert end - start == m.width
            site = seq[sid][start:end]
            if strand == "-":
                site = site.translate(COMP)[::-1]
            s = _score(site, m.pwm, bg)
            assert s == pytest.approx(score, abs=2e-4)
            assert s >= 0.5 * max_log_odds(pwm_to_log_odds(m.pwm, bg, 0.01)) - 1e-6
            strands[strand] += 1
            n += 1
    assert n > 0 and strands["+"] > 0.3 * n and strands["-"] > 0.3 * n


def test_pairs_files_and_instances(pairs_dir):
    d, ds = pairs_dir
    assert sorted(p.name for p in d.iterdir()) == sorted([*DATASET_FILES, MARKER])
    _check_instances(d, (0.3, 0.2, 0.2, 0.3))
    ids, seqs = read_fasta(d / "sequences.fa")
    head, labels = read_tsv(d / "labels.tsv")
    assert head == ["id", "label"]
    assert ids == [r["id"] for r in labels] == [f"seq{i}" for i in range(400)]
    assert all(len(s) == 200 and set(s) <= set("ACGT") for s in seqs)
    y = np.array([int(r["label"]) for r in labels])
    assert y.sum() == 200 and 0 < y[:200].sum() < 200  # balanced, classes mixed
    assert read_tsv(d / "interactions.tsv")[0] == ["tf_a", "tf_b"]
    meta = json.loads((d / "dataset.json").read_text())
    assert meta["generator"] == "pairs" and meta["seed"] == 3 and meta["counts"]["positives"] == 200
    import hashlib

    assert meta["sequences_sha256"] == hashlib.sha256((d / "sequences.fa").read_bytes()).hexdigest()
    # base composition follows the background
    freq = np.bincount(ds.codes.ravel(), minlength=4) / ds.codes.size
    np.testing.assert_allclose(freq, [0.3, 0.2, 0.2, 0.3], atol=0.03)


def test_pairs_spacing_rules(pairs_dir):
    d, _ = pairs_dir
    _, labels = read_tsv(d / "labels.tsv")
    label = {r["id"]: int(r["label"]) for r in labels}
    truth = {frozenset((r["tf_a"], r["tf_b"])) for r in read_tsv(d / "interactions.tsv")[1]}
    by = _embeddings_by_seq(d)
    assert set(by) == set(label)
    for sid, insts in by.items():
        insts = sorted(insts)
        for a, b in zip(insts, insts[1:], strict=False):
            assert b[0] >= a[1]  # no overlap
        if label[sid]:
            assert len(insts) == 6
            pairs = [insts[i:i + 2] for i in range(0, 6, 2)]
            assert len({frozenset((p[0][2], p[1][2])) for p in pairs}) == 3  # distinct pairs
            for first, second in pairs:
                assert frozenset((first[2], second[2])) in truth
                assert 8 <= second[0] - first[1] <= 15
        else:
            assert 1 <= len(insts) <= 3
            assert len({i[2] for i in insts}) == len(insts)
            for a, b in zip(insts, insts[1:], strict=False):
                assert b[0] - a[1] >= 40


def test_long_style_ranges():
    ds = simulate_pairs(_motifs(), PAIRS, num_sequences=200, length=1500, num_pairs_per_seq=(3, 5),
                        pair_gap=(8, 80), lone_gap=200, seed=0)
    counts = np.bincount(ds.emb_seq, minlength=200)
    pos = ds.labels == 1
    assert set(counts[pos]) <= {6, 8, 10} and len(set(counts[pos])) == 3
    starts, ends = ds.emb_start, ds.emb_end
    for i in np.flatnonzero(~pos)[:50]:
        j = np.flatnonzero(ds.emb_seq == i)
        assert (starts[j][1:] - ends[j][:-1] >= 200).all()
    gaps = []
    for i in np.flatnonzero(pos):
        j = np.flatnonzero(ds.emb_seq == i)
        gaps += list(starts[j][1::2] - ends[j][0::2])
    assert min(gaps) >= 8 and max(gaps) <= 80 and max(gaps) > 60


def test_dfim_classes_and_rules(dfim_dir):
    d, ds = dfim_dir
    _check_instances(d, (0.27, 0.23, 0.23, 0.27))
    assert ds.counts["a_only"] == 101 and ds.counts["b_only"] == 100 and ds.counts["both"] == 100
    _, labels = read_tsv(d / "labels.tsv")
    label = {r["id"]: int(r["label"]) for r in labels}
    by = _embeddings_by_seq(d)
    classes = Counter()
    for sid in label:
        insts = sorted(by.get(sid, []))
        c = Counter(i[2] for i in insts)
        na, nb = c["TF0"], c["TF1"]
        assert na <= 2 and nb <= 2 and (na or nb)
        assert c["TF2"] <= 2 and c["TF3"] <= 2
        assert label[sid] == int(na > 0 and nb > 0)
        classes["both" if na and nb else ("a" if na else "b")] += 1
        for a, b in zip(insts, insts[1:], strict=False):
            assert b[0] >= a[1]
    assert classes == {"a": 101, "b": 100, "both": 100}
    assert read_tsv(d / "interactions.tsv")[1] == [{"tf_a": "TF0", "tf_b": "TF1"}]


def test_deterministic(tmp_path, pairs_dir):
    d, _ = pairs_dir
    again = write_dataset(tmp_path / "again", simulate_pairs(_motifs(), PAIRS, num_sequences=400, length=200,
                                                             seed=3))
    for f in DATASET_FILES:
        assert (d / f).read_bytes() == (again / f).read_bytes(), f
    other = write_dataset(tmp_path / "other", simulate_pairs(_motifs(), PAIRS, num_sequences=400, length=200,
                                                             seed=4))
    assert (d / "sequences.fa").read_bytes() != (other / "sequences.fa").read_bytes()
    assert (d / "embeddings.tsv").read_bytes() != (other / "embeddings.tsv").read_bytes()


def test_loads_through_training_reader(pairs_dir):
    io = pytest.importorskip("satori_jax.data.io")
    if not hasattr(io, "load_dataset"):
        pytest.skip("training reader not available")
    d, ds = pairs_dir
    data = io.load_dataset(data_dir=d)
    np.testing.assert_array_equal(data.codes, ds.codes)
    np.testing.assert_array_equal(data.labels[:, 0], ds.labels)


def test_write_refuses_non_empty_and_leaves_no_temp(tmp_path):
    ds = simulate_pairs(_motifs(), PAIRS, num_sequences=20, length=200, seed=0)
    out = tmp_path / "out"
    out.mkdir()
    write_dataset(out, ds)  # empty dir is fine
    with pytest.raises(InputError, match="not empty"):
        write_dataset(out, ds)
    write_dataset(out, ds, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_input_errors(tmp_path):
    with pytest.raises(InputError, match="too short"):
        simulate_pairs(_motifs(), PAIRS, num_sequences=10, length=40, seed=0)
    with pytest.raises(InputError, match="self pair"):
        simulate_pairs(_motifs(), [("TF0", "TF0")], num_sequences=10)
    p = tmp_path / "pairs.tsv"
    p.write_text("tf_a\ttf_b\nTF0\tTF1\nTF1 TF0\nTF2\tNOPE\n")
    with pytest.raises(InputError) as exc:
        read_pairs_tsv(p, [m.name for m in _motifs()])
    assert str(p) in str(exc.value) and "line 4" in str(exc.value) and "NOPE" in str(exc.value)
    p.write_text("# pairs\nTF0\tTF1\nTF1 TF0\n\nTF2 TF3\n")
    assert read_pairs_tsv(p, [m.name for m in _motifs()]) == [("TF0", "TF1"), ("TF2", "TF3")]


def test_cli_user_motifs(tmp_path, capsys):
    write_meme(tmp_path / "m.meme", _motifs())
    (tmp_path / "p.tsv").write_text("TF0\tTF1\nTF2\tTF3\nTF4\tTF5\n")
    out = tmp_path / "out"
    argv = ["pairs", "--motifs", str(tmp_path / "m.meme"), "--pairs", str(tmp_path / "p.tsv"),
            "--out", str(out), "--num-sequences", "50", "--length", "150", "--seed", "2",
            "--background", "0.25,0.25,0.25,0.25"]
    assert cli_main(argv) == 0
    assert "python -m satori_jax.train --data" in capsys.readouterr().out
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["counts"]["sequences"] == 50 and meta["parameters"]["background"] == [0.25] * 4
    with pytest.raises(InputError, match="not empty"):
        cli_main(argv)
    assert cli_main([*argv, "--force"]) == 0
    with pytest.raises(InputError, match="go together"):
        cli_main(["pairs", "--motifs", str(tmp_path / "m.meme"), "--out", str(tmp_path / "x")])


# ---- JASPAR-backed (pyjaspar ships its database; results cached in a temporary cache dir)


@pytest.fixture(scope="module")
def jaspar_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_choose_distinct_motifs_and_pairs(jaspar_cache, monkeypatch):
    monkeypatch.setenv("SATORI_JAX_CACHE", str(jaspar_cache))
    from satori_jax.data.jaspar import load_jaspar

    chosen = choose_distinct_motifs(load_jaspar(), 20, seed=1)
    assert len({m.name for m in chosen}) == 20
    assert all(6 <= m.width <= 20 for m in chosen)
    for i, a in enumerate(chosen):
        for b in chosen[i + 1:]:
            assert motif_similarity(a.pwm, b.pwm) <= 0.75
    pairs = random_interactions([m.name for m in chosen], 40, seed=1)
    assert len({frozenset(p) for p in pairs}) == 40 and all(a != b for a, b in pairs)
    assert {x for p in pairs for x in p} == {m.name for m in chosen}
    assert choose_distinct_motifs(load_jaspar(), 20, seed=1)[0].name == chosen[0].name


def test_motif_similarity():
    m = _motifs(1)[0].pwm
    from satori_jax.data.meme import reverse_complement_pwm

    assert motif_similarity(m, reverse_complement_pwm(m)) == pytest.approx(1.0)
    assert motif_similarity(m, m[1:]) == pytest.approx(1.0)


def test_cli_dfim_defaults_and_default_dir(jaspar_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("SATORI_JAX_CACHE", str(jaspar_cache))
    out = tmp_path / "dfim"
    assert cli_main(["dfim", "--out", str(out), "--num-sequences", "90", "--seed", "1"]) == 0
    names = [m.name for m in read_meme(out / "motifs.meme")]
    assert names == ["ELF1", "HNF4A", "FOS::JUN", "TAL1::TCF3"]
    with pytest.raises(InputError, match="unknown motif name 'NOT_A_TF'"):
        cli_main(["dfim", "--out", str(tmp_path / "x"), "--motif-a", "NOT_A_TF"])
    d = default_dataset_dir(num_sequences=60, length=120, seed=0)
    assert d.is_relative_to(jaspar_cache) and all((d / f).is_file() for f in DATASET_FILES)
    stamp = (d / "dataset.json").stat().st_mtime_ns
    assert default_dataset_dir(num_sequences=60, length=120, seed=0) == d
    assert (d / "dataset.json").stat().st_mtime_ns == stamp
    (d / "labels.tsv").unlink()  # incomplete -> regenerated
    assert (default_dataset_dir(num_sequences=60, length=120, seed=0) / "labels.tsv").is_file()


def test_cli_twins_preset(jaspar_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("SATORI_JAX_CACHE", str(jaspar_cache))
    out = tmp_path / "t40"
    argv = ["twins", "--preset", "twins-40", "--out", str(out), "--num-sequences", "400", "--seed", "1"]
    assert cli_main(argv) == 0
    meta = json.loads((out / "dataset.json").read_text())
    assert len(meta["motifs"]) == 20 and len(meta["interactions"]) == 40
    assert Counter(Counter(x for p in meta["interactions"] for x in p).values()) == {4: 20}  # 4 partners each
    g = meta["gates"]
    assert g["twins_with_different_tf_counts"] == 0 and g["oracle_auroc"] == 1.0
    assert 0.45 <= g["counts_logistic_auroc"] <= 0.55
    assert (out / "groups.tsv").is_file() and meta["parameters"]["preset"] == "twins-40"
