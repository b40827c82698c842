from __future__ import annotations

import jax
import numpy as np

from satori_jax.config import ModelConfig
from satori_jax.data.encoding import one_hot_np
from satori_jax.interpret.activity import (
    active_sites,
    conv_activations,
    filter_thresholds,
    padded_batches,
    pooled_activity,
)
from satori_jax.models import build_model, conv_offset, init_variables


def _model(padding="SAME"):
    cfg = ModelConfig(num_filters=8, filter_width=5, num_heads=2, head_dim=8, proj_dim=16, padding=padding)
    model = build_model(cfg, 1)
    return cfg, model, init_variables(model, jax.random.PRNGKey(0), 40)


def test_pooled_activity_matches_naive():
    rng = np.random.default_rng(0)
    conv = rng.random((3, 23, 5)).astype(np.float32)
    conv[:, :, 4] = 0  # dead filter: threshold 0 must not make it active
    thr = np.array([0.9, 0.5, 0.99, 0.1, 0.0], np.float32)
    got = np.asarray(pooled_activity(conv, thr, 4))
    assert got.shape == (3, 5, 5)
    want = np.zeros_like(got)
    for b in range(3):
        for p in range(5):
            for f in range(5):
                w = conv[b, 4 * p:4 * p + 4, f]
                want[b, p, f] = np.any((w >= thr[f]) & (w > 0))
    np.testing.assert_array_equal(got, want)
    assert not got[..., 4].any()


def test_conv_activations_and_thresholds():
    cfg, model, variables = _model()
    codes = np.random.default_rng(1).integers(0, 5, (11, 40)).astype(np.uint8)
    conv = conv_activations(model, variables, codes, batch_size=4)
    _, inter = model.apply(variables, one_hot_np(codes))
    np.testing.assert_allclose(conv, np.asarray(inter["conv"]), rtol=1e-5, atol=1e-6)
    thr = filter_thresholds(model, variables, codes, 0.65, batch_size=4)
    np.testing.assert_allclose(thr, 0.65 * conv.max(axis=(0, 1)), rtol=1e-6)


def test_padded_batches():
    a = np.arange(7, dtype=np.uint8)
    chunks = list(padded_batches(7, 3, a))
    assert [(s, n) for s, n, _ in chunks] == [(0, 3), (3, 3), (6, 1)]
    np.testing.assert_array_equal(chunks[-1][2][0], [6, 4, 4])


def test_active_sites_are_active_and_inside():
    for padding in ("SAME", "VALID"):
        cfg, model, variables = _model(padding)
        codes = np.random.default_rng(2).integers(0, 4, (9, 40)).astype(np.uint8)
        thr = filter_thresholds(model, variables, codes, 0.5)
        conv = conv_activations(model, variables, codes)
        off = conv_offset(cfg)
        present, has, start = active_sites(model, variables, codes, thr, np.random.default_rng(0),
                                           offset=off, width=5, batch_size=4)
        act = (conv >= thr) & (conv > 0)
        np.testing.assert_array_equal(present, act.any(axis=1))
        b, f = np.nonzero(has)
        assert b.size > 0
        assert ((start[b, f] >= 0) & (start[b, f] + 5 <= 40)).all()
        assert act[b, start[b, f] - off, f].all()
