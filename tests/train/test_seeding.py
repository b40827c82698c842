"""Enriched k-mer seeding of the first-layer filters (satori_jax.train.seeding)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from satori_jax.config import Config, ModelConfig
from satori_jax.data.encoding import one_hot
from satori_jax.models import build_model, init_variables
from satori_jax.train.pretrain import _filter_max
from satori_jax.train.seeding import _variant, enriched_kmers, kmer_kernel, seed_filters

WORDS = ("ACGTTGAACG", "GGGATTTCCA", "TTAGCCGTAT")


def _rc(w: np.ndarray) -> np.ndarray:
    return (3 - w)[::-1]


def _planted(n: int, length: int, rng) -> np.ndarray:
    """Random sequences; each carries each planted word with probability 0.4, on a random strand."""
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    for word in WORDS:
        w = np.array(["ACGT".index(c) for c in word], np.uint8)
        for row in np.flatnonzero(rng.random(n) < 0.4):
            s = rng.integers(0, length - len(w))
            codes[row, s : s + len(w)] = w if rng.random() < 0.5 else _rc(w)
    return codes


def _contains(word: str, kmer: np.ndarray) -> bool:
    s = "".join("ACGT"[b] for b in kmer)
    rc = "".join("ACGT"[b] for b in _rc(kmer))
    return s in word or rc in word


def test_enriched_kmers_find_each_planted_word_once_per_variant_family():
    codes = _planted(1500, 100, np.random.default_rng(0))
    words, logp = enriched_kmers(codes, 6, k=8, seed=0)
    assert 3 <= len(words) <= 6 and np.all(np.diff(logp) >= 0) and logp.max() < np.log10(0.01 / 32_896)
    top3 = words[:3]
    for word in WORDS:  # the three best k-mers are one from each planted word
        assert sum(_contains(word, kmer) for kmer in top3) == 1, word
    # no k-mer kept is a variant of an earlier one (both strands, shifts)
    for i in range(1, len(words)):
        earlier = np.stack([np.stack([w, _rc(w)]) for w in words[:i]])
        assert not _variant(words[i], earlier, 8)


def test_enriched_kmers_on_random_sequences_keep_little():
    codes = np.random.default_rng(1).integers(0, 4, size=(1500, 100)).astype(np.uint8)
    words, _ = enriched_kmers(codes, 10, k=8, seed=0)
    assert len(words) == 0  # nothing planted: no word passes the family-wise level


def test_kmer_kernel_fires_on_its_word_and_not_past_two_mismatches():
    word = np.array([[0, 1, 2, 3, 3, 2, 0, 0]])
    kernel, bias = kmer_kernel(word, 12)
    conv = {"kernel": jnp.asarray(kernel), "bias": jnp.asarray(bias)}

    def response(seq: np.ndarray) -> float:
        padded = np.concatenate([np.full(6, 0, np.uint8), seq, np.full(6, 0, np.uint8)])[None]
        return float(_filter_max(conv, one_hot(jnp.asarray(padded)), "VALID")[0, 0])

    exact = word[0].astype(np.uint8)
    assert abs(response(exact) - 1.5) < 1e-5  # 8 · 0.375 − 4 · 0.375
    two = exact.copy()
    two[[1, 5]] = (two[[1, 5]] + 1) % 4
    three = two.copy()
    three[7] = (three[7] + 1) % 4
    assert response(two) > 0 and response(three) <= 1e-6


def test_seed_filters_keep_loaded_filters_and_seed_the_rest():
    codes = _planted(1500, 100, np.random.default_rng(2))
    cfg = ModelConfig(num_filters=6, filter_width=11, num_heads=1, head_dim=4, proj_dim=4, batch_norm=False)
    model = build_model(Config(model=cfg).model, 1)
    params = init_variables(model, jax.random.PRNGKey(0), 100)["params"]
    out, n = seed_filters(params, codes, k=8, first=2, seed=0, log=lambda s: None)
    assert n == 4  # two words (of 4 filters' room), each on both strands
    np.testing.assert_array_equal(np.asarray(out["conv"]["kernel"][..., :2]),
                                  np.asarray(params["conv"]["kernel"][..., :2]))
    # the two words seeded: the best pair of filters (both strands) separates sequences with the
    # planted word from those without
    fmax = np.asarray(_filter_max(out["conv"], one_hot(jnp.asarray(codes)), "SAME"))
    strands = np.stack([fmax[:, 2:4].max(1), fmax[:, 4:6].max(1)], axis=1)
    found = 0
    for word in WORDS:
        w = "".join(word)
        has = np.array(["".join("ACGT"[b] for b in row).find(w) >= 0 or
                        "".join("ACGT"[b] for b in _rc(row)).find(w) >= 0 for row in codes])
        best = max(float((strands[has, j][:, None] > strands[~has, j][None, :]).mean()) for j in range(2))
        found += best > 0.95
    assert found == 2


def test_train_cli_seeds_by_default(tmp_path):
    """The default config seeds the filters: the train CLI says how many it seeded."""
    import os
    import subprocess
    import sys

    codes = _planted(600, 100, np.random.default_rng(3))
    labels = np.random.default_rng(4).integers(0, 2, len(codes))
    with open(tmp_path / "seqs.fa", "w") as fa, open(tmp_path / "labels.tsv", "w") as lab:
        lab.write("id\tlabel\n")
        for i, row in enumerate(codes):
            fa.write(f">s{i}\n{''.join('ACGT'[b] for b in row)}\n")
            lab.write(f"s{i}\t{labels[i]}\n")
    tiny = ["--set", "model.num_filters=8", "--set", "model.num_heads=2", "--set", "model.head_dim=4",
            "--set", "model.proj_dim=8", "--set", "train.epochs=1", "--set", "train.batch_size=32"]
    cmd = [sys.executable, "-m", "satori_jax.train", "--fasta", str(tmp_path / "seqs.fa"),
           "--labels", str(tmp_path / "labels.tsv"), "--workdir", str(tmp_path / "run"), *tiny]
    proc = subprocess.run(cmd, env={**os.environ, "JAX_PLATFORMS": "cpu"}, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("seeded "))
    assert line.startswith("seeded 6 of 8 filters with 3 enriched 8-mers"), line
