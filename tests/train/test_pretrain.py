"""Motif pretraining of the first-layer filters (satori_jax.train.pretrain)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from satori_jax.config import Config, ModelConfig
from satori_jax.data.encoding import one_hot
from satori_jax.models import build_model, init_variables
from satori_jax.train.pretrain import _filter_max, pretrain_filters, shuffle_dinucleotide_blocks


def test_shuffle_keeps_bases_and_blocks():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(5, 41)).astype(np.uint8)
    out = np.asarray(shuffle_dinucleotide_blocks(jnp.asarray(codes), jax.random.PRNGKey(1)))
    assert out.shape == codes.shape and out.dtype == codes.dtype
    for a, b in zip(codes, out, strict=True):
        assert sorted(a.tolist()) == sorted(b.tolist())  # same bases
        blocks_a = sorted(map(tuple, a[:40].reshape(20, 2).tolist()))
        blocks_b = sorted(map(tuple, b[:40].reshape(20, 2).tolist()))
        assert blocks_a == blocks_b  # the same 2-bp blocks, reordered
        assert a[40] == b[40]  # odd last base stays
    assert (out != codes).any()


def _planted(n: int, length: int, motif: np.ndarray, rng) -> np.ndarray:
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    starts = rng.integers(0, length - len(motif), size=n)
    for row, s in zip(codes, starts, strict=True):
        row[s : s + len(motif)] = motif
    return codes


def test_pretraining_learns_a_planted_motif_and_keeps_fixed_filters():
    """Every sequence carries one 10-bp word: after pretraining, some filter's maximum response tells
    real sequences from their shuffles far better than before; loaded filters are not touched."""
    rng = np.random.default_rng(0)
    motif = np.array([0, 1, 2, 3, 3, 2, 0, 0, 1, 2], np.uint8)  # ACGTTGAACG
    codes = _planted(1024, 60, motif, rng)
    cfg = Config(model=ModelConfig(num_filters=8, filter_width=11, num_heads=1, head_dim=4, proj_dim=4,
                                   batch_norm=False))
    model = build_model(cfg.model, 1)
    params = init_variables(model, jax.random.PRNGKey(0), 60)["params"]

    def separation(p) -> float:
        real = _filter_max(p["conv"], one_hot(jnp.asarray(codes)), "SAME")
        fake_codes = shuffle_dinucleotide_blocks(jnp.asarray(codes), jax.random.PRNGKey(7))
        fake = _filter_max(p["conv"], one_hot(fake_codes), "SAME")
        # best filter's AUROC of real vs shuffled (probability a real max beats a shuffled one)
        r, f = np.asarray(real), np.asarray(fake)
        return max(float((r[:, k][:, None] > f[:, k][None, :]).mean()) for k in range(r.shape[1]))

    before = separation(params)
    out, info = pretrain_filters(params, codes, epochs=6, batch_size=64, learning_rate=1e-2, padding="SAME",
                                 seed=0, num_fixed=2, verbose=False, log=lambda s: None)
    after = separation(out)
    assert after > 0.95 and after > before + 0.1, (before, after)
    assert info["steps"] == 6 * 16 and info["accuracy"] > 0.55
    np.testing.assert_array_equal(np.asarray(out["conv"]["kernel"][..., :2]),
                                  np.asarray(params["conv"]["kernel"][..., :2]))
    np.testing.assert_array_equal(np.asarray(out["conv"]["bias"][:2]), np.asarray(params["conv"]["bias"][:2]))
    assert set(out) == set(params)  # the rest of the model is passed through
