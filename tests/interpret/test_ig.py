"""Input attributions: IG completeness, baselines, hypothetical contributions, streaming driver."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from satori_jax.config import ModelConfig
from satori_jax.data.encoding import one_hot_np
from satori_jax.interpret import ig
from satori_jax.models import build_model, init_variables

CFG = ModelConfig(num_filters=8, filter_width=5, num_heads=2, head_dim=4, proj_dim=8, pool_size=2)
L = 32


def _with_random_biases(variables, seed):
    """Fresh models have zero biases, which makes them positively homogeneous: with per-example
    standardization the output is then constant along the IG path from a zero baseline except for a
    jump at the baseline itself, which no Riemann sum sees. Random biases give a generic model."""
    rng = np.random.default_rng(seed)
    params = jax.tree_util.tree_map_with_path(
        lambda p, a: a + 0.3 * rng.standard_normal(a.shape).astype(a.dtype)
        if getattr(p[-1], "key", "") == "bias" else a, variables["params"])
    return {**variables, "params": params}


@pytest.fixture(scope="module")
def binary():
    model = build_model(CFG, 1)
    return model, _with_random_biases(init_variables(model, jax.random.PRNGKey(0), L), 0)


@pytest.fixture(scope="module")
def multi():
    model = build_model(CFG, 3)
    return model, _with_random_biases(init_variables(model, jax.random.PRNGKey(1), L), 1)


@pytest.fixture(scope="module")
def codes():
    c = np.random.default_rng(0).integers(0, 4, (6, L)).astype(np.uint8)
    c[2, 5] = 4  # an N
    return c


def _completeness_gap(model, variables, x, targets, baseline, steps, rule="midpoint"):
    attr = ig.integrated_gradients(model, variables, x, targets, baseline=baseline, steps=steps, rule=rule)
    base = ig.resolve_baseline(jnp.asarray(x), baseline)
    delta = ig.target_values(model, variables, x, targets) - ig.target_values(model, variables, base, targets)
    return np.abs(np.asarray(attr.sum(axis=(1, 2)) - delta)), np.abs(np.asarray(delta))


@pytest.mark.parametrize("baseline", ["zeros", "gc"])
def test_ig_completeness_shrinks_with_steps(binary, codes, baseline):
    model, variables = binary
    x = one_hot_np(codes)
    gaps = [_completeness_gap(model, variables, x, None, baseline, m)[0].max() for m in (2, 8, 64)]
    _, delta = _completeness_gap(model, variables, x, None, baseline, 2)
    assert gaps[2] < gaps[0]
    assert gaps[2] <= 0.02 * max(delta.max(), 1e-3)


def test_ig_right_rule_converges(binary, codes):
    model, variables = binary
    x = one_hot_np(codes)
    g_small = _completeness_gap(model, variables, x, None, "zeros", 4, "right")[0].max()
    g_big = _completeness_gap(model, variables, x, None, "zeros", 128, "right")[0].max()
    assert g_big < g_small


def test_gc_background_and_fraction(codes):
    x = one_hot_np(codes)
    f = np.asarray(ig.gc_fraction(jnp.asarray(x)))
    expect = ((codes == 1) | (codes == 2)).mean(axis=1) + 0.5 * (codes == 4).mean(axis=1)
    np.testing.assert_allclose(f, expect, atol=1e-6)
    bg = np.asarray(ig.resolve_baseline(jnp.asarray(x), "gc"))
    np.testing.assert_allclose(bg[:, :, 1], np.broadcast_to(f[:, None] / 2, bg.shape[:2]), atol=1e-6)
    np.testing.assert_allclose(bg[:, :, 0], np.broadcast_to((1 - f[:, None]) / 2, bg.shape[:2]), atol=1e-6)
    np.testing.assert_allclose(bg.sum(-1), 1.0, atol=1e-6)
    fixed = np.asarray(ig.resolve_baseline(jnp.asarray(x), "gc", gc=0.46))
    np.testing.assert_allclose(fixed[0, 0], [0.27, 0.23, 0.23, 0.27], atol=1e-6)


def test_ig_rows_independent_and_array_baseline(binary, codes):
    model, variables = binary
    x = one_hot_np(codes)
    full = np.asarray(ig.integrated_gradients(model, variables, x, steps=5))
    one = np.asarray(ig.integrated_gradients(model, variables, x[3:4], steps=5))
    np.testing.assert_allclose(full[3:4], one, atol=1e-5)
    base = np.asarray(ig.resolve_baseline(jnp.asarray(x), "gc"))
    arr = np.asarray(ig.integrated_gradients(model, variables, x, baseline=base, steps=5))
    np.testing.assert_allclose(arr, full, atol=1e-6)


@pytest.mark.parametrize("row_batch,step_batch", [(1, 3), (4, None), (None, 2), (5, 7)])
def test_row_and_step_blocks_do_not_change_ig(multi, codes, row_batch, step_batch):
    """The cache-sized blocks used on CPU (lax.map over rows and steps, remainders included) give
    the all-at-once result; multi-label targets are carried row by row."""
    model, variables = multi
    x = one_hot_np(codes)
    t = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 1], [0, 0, 1], [1, 0, 0], [0, 1, 1]], bool)
    whole = np.asarray(ig.integrated_gradients(model, variables, x, t, steps=7, row_batch=None,
                                               step_batch=None))
    blocks = np.asarray(ig.integrated_gradients(model, variables, x, t, steps=7, row_batch=row_batch,
                                                step_batch=step_batch))
    np.testing.assert_allclose(blocks, whole, rtol=1e-5, atol=1e-6)
    assert ig.auto_batching(20, "auto", "auto") == ((None, None) if jax.default_backend() != "cpu"
                                                   else (1, ig.CPU_ROWS))


def test_multilabel_target_is_sum_of_labels(multi, codes):
    model, variables = multi
    x = one_hot_np(codes)
    t = np.zeros((len(codes), 3), bool)
    t[:, 0] = t[:, 2] = True
    both = np.asarray(ig.integrated_gradients(model, variables, x, t, steps=4))
    parts = 0
    for c in (0, 2):
        tc = np.zeros_like(t)
        tc[:, c] = True
        parts = parts + np.asarray(ig.integrated_gradients(model, variables, x, tc, steps=4))
    np.testing.assert_allclose(both, parts, atol=1e-5)
    logits, _ = model.apply(variables, jnp.asarray(x))
    expect = logits[:, 0] + logits[:, 2]
    np.testing.assert_allclose(ig.target_values(model, variables, x, t), expect, atol=1e-5)


def test_hypothetical_identity(binary, codes):
    model, variables = binary
    x = one_hot_np(codes[[0, 1, 3]])  # pure one-hot rows
    hyp = np.asarray(ig.hypothetical_contributions(model, variables, x))
    np.testing.assert_allclose(hyp.mean(-1), 0.0, atol=1e-6)
    centred = np.asarray(ig.gradient_x_input(model, variables, x, center=True))
    np.testing.assert_allclose(hyp * x, centred, atol=1e-6)
    raw = np.asarray(ig.gradient_x_input(model, variables, x))
    grad = raw.sum(-1, keepdims=True)  # gradient at the observed base (x one-hot)
    np.testing.assert_allclose(raw, grad * x, atol=1e-6)
    np.testing.assert_allclose(raw - hyp * x, (raw - centred), atol=1e-6)
    assert np.abs(hyp).sum() > 0


def test_batched_matches_direct_and_compiles_once(binary, codes):
    model, variables = binary
    traces = []

    def fn(x, targets, v):
        traces.append(x.shape)
        return ig.integrated_gradients(model, v, x, targets, steps=6)

    direct = np.asarray(ig.integrated_gradients(model, variables, one_hot_np(codes), steps=6))
    for bs in (4, 6, 100):  # 100 -> one chunk of 6
        traces.clear()
        out = ig.batched(fn, codes, None, batch_size=bs, args=(variables,))
        assert out.shape == (len(codes), L, 4)
        np.testing.assert_allclose(out, direct, atol=1e-5)
        assert len(traces) == 1, f"recompiled across chunks (batch_size={bs}): {traces}"


def test_batched_targets_padding_and_pytrees(multi, codes):
    model, variables = multi
    t = np.random.default_rng(3).random((len(codes), 3)) > 0.5

    def fn(x, targets, v):
        return {"hyp": ig.hypothetical_contributions(model, v, x, targets),
                "val": ig.target_values(model, v, x, targets)}

    out = ig.batched(fn, codes, t, batch_size=4, args=(variables,))
    x = one_hot_np(codes)
    np.testing.assert_allclose(out["hyp"], ig.hypothetical_contributions(model, variables, x, t), atol=1e-6)
    np.testing.assert_allclose(out["val"], ig.target_values(model, variables, x, t), atol=1e-5)
    spans = [(a, b) for a, b, _ in ig.iter_batches(fn, codes, t, batch_size=4, args=(variables,))]
    assert spans == [(0, 4), (4, 6)]
