from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from satori_jax.cli.simulate import main as cli_main
from satori_jax.config import DataConfig
from satori_jax.data.datasets import load_dataset
from satori_jax.data.meme import Motif, write_meme
from satori_jax.data.simulate import (
    DATASET_FILES,
    GROUPS_FILE,
    regular_interactions,
    simulate_twins,
    write_dataset,
)
from satori_jax.data.splits import make_splits
from satori_jax.data.twins import perfect_matchings
from satori_jax.errors import InputError

COMP = str.maketrans("ACGT", "TGCA")


def _motifs(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return [Motif(f"TF{i}", rng.dirichlet([0.3] * 4, size=int(rng.integers(6, 11))), alt=f"M{i}")
            for i in range(n)]


def _tsv(path):
    lines = Path(path).read_text().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, ln.split("\t"), strict=True)) for ln in lines[1:]]


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    motifs = _motifs()
    pairs = regular_interactions([m.name for m in motifs], 18, seed=0)
    ds = simulate_twins(motifs, pairs, num_sequences=400, length=200, seed=1)
    return write_dataset(tmp_path_factory.mktemp("t") / "data", ds), ds, pairs


def test_gates(twins):
    d, ds, _ = twins
    g = ds.gates
    assert g["twins"] == 200 and g["twins_with_different_tf_counts"] == 0
    assert g["oracle_auroc"] == 1.0 and g["oracle_accuracy"] == 1.0
    assert 0.45 <= g["counts_logistic_auroc"] <= 0.55  # exactly 0.5: identical counts within twins
    assert 0.3 <= g["positions_logistic_auroc"] <= 0.7  # small test set (120 sequences)
    assert json.loads((d / "dataset.json").read_text())["gates"] == g


def test_twin_files_pair_and_share_everything(twins):
    d, ds, pairs = twins
    from satori_jax.outputs import MARKER

    assert sorted(p.name for p in d.iterdir()) == sorted([*DATASET_FILES, GROUPS_FILE, MARKER])
    meta = json.loads((d / "dataset.json").read_text())
    assert meta["generator"] == "twins" and GROUPS_FILE in meta["files"] and meta["counts"]["twins"] == 200
    seqs = {}
    name = None
    for line in (d / "sequences.fa").read_text().splitlines():
        if line.startswith(">"):
            name = line[1:]
        else:
            seqs[name] = line
    label = {r["id"]: int(r["label"]) for r in _tsv(d / "labels.tsv")}
    members = defaultdict(list)
    for r in _tsv(d / GROUPS_FILE):
        members[r["group"]].append(r["id"])
    emb = defaultdict(list)
    for r in _tsv(d / "embeddings.tsv"):
        emb[r["seq_id"]].append((int(r["start"]), int(r["end"]), r["motif"], r["strand"]))
    true = {frozenset(p) for p in pairs}
    assert len(members) == 200 and all(len(v) == 2 for v in members.values())
    for ids in members.values():
        pos, neg = sorted(ids, key=lambda i: -label[i])
        assert (label[pos], label[neg]) == (1, 0)
        inst = {}
        for sid in (pos, neg):
            e = sorted(emb[sid])
            assert len(e) == 6 and len({x[2] for x in e}) == 6  # 3 blocks, 6 distinct TFs
            site = {m: (seqs[sid][s:t], strand) for s, t, m, strand in e}
            assert inst.setdefault("tf", set(site)) == set(site)
            inst[sid] = site
            # blocks: motifs 0-1, 2-3, 4-5 are 8-15 bp apart, blocks >= 40 bp apart
            gaps = [e[i + 1][0] - e[i][1] for i in range(5)]
            assert all(8 <= gaps[i] <= 15 for i in (0, 2, 4)) and all(gaps[i] >= 40 for i in (1, 3))
            adjacent = {frozenset((e[i][2], e[i + 1][2])) for i in (0, 2, 4)}
            assert (adjacent <= true) if sid == pos else not (adjacent & true)
        assert inst[pos] == inst[neg]  # same instance (bases and strand) for every TF
        covered = np.zeros(200, bool)
        for s, t, *_ in emb[pos] + emb[neg]:
            covered[s:t] = True
        a, b = np.frombuffer(seqs[pos].encode(), np.uint8), np.frombuffer(seqs[neg].encode(), np.uint8)
        assert (a[~covered] == b[~covered]).all()  # one background


def test_groups_load_and_split_whole(twins):
    d, ds, _ = twins
    data = load_dataset(data_dir=d)
    np.testing.assert_array_equal(data.groups, [f"twin{g}" for g in ds.groups])
    splits = make_splits(data, DataConfig(val_fraction=0.1, test_fraction=0.2, seed=3))
    where = {}
    for name, idx in splits.items():
        for g in data.groups[idx]:
            assert where.setdefault(g, name) == name
    assert abs(len(splits["test"]) - 80) <= 2 and abs(len(splits["val"]) - 40) <= 2
    for idx in splits.values():  # twins whole -> balanced labels in every split
        assert data.labels[idx, 0].sum() * 2 == len(idx)


def test_deterministic_and_seeded(tmp_path, twins):
    d, _, pairs = twins
    ds = simulate_twins(_motifs(), pairs, num_sequences=400, length=200, seed=1)
    again = write_dataset(tmp_path / "a", ds)
    for f in [*DATASET_FILES, GROUPS_FILE]:
        assert (d / f).read_bytes() == (again / f).read_bytes(), f
    other = simulate_twins(_motifs(), pairs, num_sequences=400, length=200, seed=2, gates=False)
    assert other.gates == {} and (other.codes != simulate_twins(_motifs(), pairs, num_sequences=400,
                                                                 length=200, seed=1, gates=False).codes).any()


def test_matchings_and_regular_pairs():
    assert [len(perfect_matchings(m)) for m in (2, 4, 6, 8)] == [1, 3, 15, 105]
    for m in perfect_matchings(6):
        assert sorted(m.ravel().tolist()) == list(range(6)) and (m[:, 0] < m[:, 1]).all()
    for t, p in ((20, 40), (25, 60), (30, 80)):
        names = [f"T{i}" for i in range(t)]
        pairs = regular_interactions(names, p, seed=3)
        deg = Counter(x for q in pairs for x in q)
        assert len({frozenset(q) for q in pairs}) == p and len(deg) == t
        assert max(deg.values()) - min(deg.values()) <= 1
    assert regular_interactions(names, 80, seed=3) == pairs != regular_interactions(names, 80, seed=4)


def test_errors():
    motifs = _motifs(6)
    dense = [(a.name, b.name) for i, a in enumerate(motifs) for b in motifs[i + 1:]]  # complete graph
    with pytest.raises(InputError, match="too dense"):
        simulate_twins(motifs, dense, num_sequences=20, length=200, pairs_per_seq=2, max_rounds=5)
    with pytest.raises(InputError, match="even"):
        simulate_twins(motifs, dense[:3], num_sequences=21)
    with pytest.raises(InputError, match="pairs_per_seq"):
        simulate_twins(motifs, dense, num_sequences=20, pairs_per_seq=6)
    with pytest.raises(InputError, match="too short"):
        simulate_twins(_motifs(), regular_interactions([m.name for m in _motifs()], 18), num_sequences=20,
                       length=60)


def test_cli_twins_user_motifs(tmp_path, capsys):
    motifs = _motifs()
    write_meme(tmp_path / "m.meme", motifs)
    pairs = regular_interactions([m.name for m in motifs], 18, seed=5)
    (tmp_path / "p.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    out = tmp_path / "out"
    assert cli_main(["twins", "--motifs", str(tmp_path / "m.meme"), "--pairs", str(tmp_path / "p.tsv"),
                     "--out", str(out), "--num-sequences", "60", "--length", "220",
                     "--pairs-per-seq", "2"]) == 0
    text = capsys.readouterr().out
    assert "0 of 30 twins with different TF counts; oracle AUROC 1.000" in text
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["parameters"]["pairs_per_seq"] == 2 and meta["counts"]["embedded_instances"] == 240
    assert (out / GROUPS_FILE).is_file()
    with pytest.raises(InputError, match="go together"):
        cli_main(["twins", "--motifs", str(tmp_path / "m.meme"), "--out", str(tmp_path / "x")])
