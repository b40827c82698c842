from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from satori_jax.config import ModelConfig
from satori_jax.data.encoding import one_hot
from satori_jax.interpret.attention import (
    attention_attribution,
    attr_maps,
    attr_scorer,
    normalize_maps,
    raw_attention_maps,
    step_loop,
    target_logit_sum,
)
from satori_jax.models import build_model, init_variables

CFG = ModelConfig(num_filters=8, filter_width=5, num_heads=2, head_dim=8, proj_dim=16)


def _setup(c=1, arch="basic", **extra):
    cfg = ModelConfig(
        **{**CFG.__dict__, "arch": arch, "deep_blocks": 1, "deep_channels": 8, "lstm_units": 4, **extra}
    )
    model = build_model(cfg, c)
    variables = init_variables(model, jax.random.PRNGKey(3), 40)
    # Non-zero biases: with the zero biases of a fresh init the basic head is scale invariant in the
    # attention for alpha > 0 (ReLU(alpha·Wz) = alpha·ReLU(Wz), then per-example standardization),
    # so F jumps at alpha = 0 and IG completeness cannot hold.
    key = jax.random.PRNGKey(7)
    leaves, tree = jax.tree_util.tree_flatten_with_path(variables["params"])
    new = []
    for i, (path, leaf) in enumerate(leaves):
        if "bias" in jax.tree_util.keystr(path):
            leaf = leaf + 0.3 * jax.random.normal(jax.random.fold_in(key, i), leaf.shape)
        new.append(leaf)
    variables = {**variables, "params": jax.tree_util.tree_unflatten(tree, new)}
    codes = np.random.default_rng(0).integers(0, 5, (4, 40)).astype(np.uint8)
    x = one_hot(codes)
    targets = np.random.default_rng(1).random((4, c)) < 0.6
    targets[:, 0] = True
    return model, variables, x, jnp.asarray(targets)


def _loop_attr(model, variables, x, targets, steps, ks):
    feats = model.apply(variables, x, method="features")
    _, inter = model.apply(variables, feats, method="head")
    a = inter["attention"]

    def f(att):
        logits, _ = model.apply(variables, feats, attention=att, method="head")
        return target_logit_sum(logits, targets)

    total = jnp.zeros_like(a)
    for k in ks:
        total = total + jax.grad(f)(k / steps * a)
    return a / steps * total, a, f


@pytest.mark.parametrize("method", ["fast", "vmap"])
@pytest.mark.parametrize("riemann", ["right", "left"])
def test_vmapped_equals_per_step_loop(riemann, method):
    model, variables, x, targets = _setup(c=3)
    steps = 7
    ks = range(1, steps + 1) if riemann == "right" else range(steps)
    want, _, _ = _loop_attr(model, variables, x, targets, steps, ks)
    got = attention_attribution(model, variables, x, targets, steps=steps, riemann=riemann, method=method)
    assert got.shape == want.shape == (4, 2, 10, 10)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "arch, extra",
    [("basic", {"residual": True}), ("bilstm", {}), ("deep", {}), ("basic", {"positional_encoding": True})],
)
def test_fast_path_equals_loop_for_every_variant(arch, extra):
    model, variables, x, targets = _setup(c=2, arch=arch, **extra)
    want, _, _ = _loop_attr(model, variables, x, targets, 5, range(1, 6))
    got = {
        loop: np.asarray(attention_attribution(model, variables, x, targets, steps=5, loop=loop))
        for loop in ("auto", "scan", "vmap")
    }
    for loop in got:
        np.testing.assert_allclose(got[loop], np.asarray(want), atol=1e-5, rtol=1e-5)
    # the step sum as a scan or as one vmap: same numbers (only the order of m additions may differ)
    np.testing.assert_allclose(got["scan"], got["vmap"], rtol=1e-6, atol=1e-7)


def test_step_loop_choice_and_bad_loop():
    assert step_loop(_setup(arch="deep")[0]) == "vmap"
    assert step_loop(_setup(arch="basic")[0]) == step_loop(_setup(arch="bilstm")[0]) == "scan"
    model, variables, x, targets = _setup()
    with pytest.raises(ValueError, match="loop"):
        attention_attribution(model, variables, x, targets, steps=2, loop="bogus")


@pytest.mark.parametrize("arch", ["basic", "deep"])
def test_ig_completeness(arch):
    model, variables, x, targets = _setup(c=2, arch=arch)
    _, a, f = _loop_attr(model, variables, x, targets, 1, [])
    gap = float(f(a) - f(jnp.zeros_like(a)))
    errs = []
    for steps in (10, 100):
        attr = attention_attribution(model, variables, x, targets, steps=steps)
        errs.append(abs(float(attr.sum()) - gap))
    assert errs[1] < errs[0] or errs[1] < 1e-4
    assert errs[1] < 0.02 * abs(gap) + 1e-3


def test_maps_shapes_and_values():
    model, variables, x, targets = _setup()
    conv, raw = raw_attention_maps(model, variables, x)
    _, inter = model.apply(variables, x)
    np.testing.assert_allclose(np.asarray(raw), np.asarray(inter["attention"].max(axis=1)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(conv), np.asarray(inter["conv"]), rtol=1e-6)
    conv2, am = attr_maps(model, variables, x, targets, steps=5)
    np.testing.assert_allclose(np.asarray(conv2), np.asarray(conv), rtol=1e-5, atol=1e-6)
    full = np.asarray(attention_attribution(model, variables, x, targets, steps=5))
    assert (full < 0).any() and (full > 0).any()  # both signs occur, so the two maps differ
    np.testing.assert_allclose(np.asarray(am), np.maximum(full, 0).max(axis=1), rtol=1e-5, atol=1e-7)
    _, ab = attr_maps(model, variables, x, targets, steps=5, sign="absolute")
    np.testing.assert_allclose(np.asarray(ab), np.abs(full).max(axis=1), rtol=1e-5, atol=1e-7)
    assert not np.allclose(np.asarray(ab), np.asarray(am))
    assert attr_scorer(model) == attr_scorer(model)  # hashable / equal -> one jit compile
    assert attr_scorer(model, sign="absolute") != attr_scorer(model)
    with pytest.raises(ValueError, match="sign"):
        attr_scorer(model, sign="negative")


def test_attr_signs_of_the_options_are_those_the_maps_accept():
    from satori_jax.interpret import attention, options

    assert options.ATTR_SIGNS == attention.SIGNS


def test_normalized_attr_maps():
    model, variables, x, targets = _setup()
    _, am = attr_maps(model, variables, x, targets, steps=5)
    _, nm = attr_maps(model, variables, x, targets, steps=5, normalize=True)
    am, nm = np.asarray(am), np.asarray(nm)
    np.testing.assert_allclose(nm, am / am.max(axis=(1, 2), keepdims=True), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(nm.max(axis=(1, 2)), 1.0, rtol=1e-6)
    assert attr_scorer(model, normalize=True) != attr_scorer(model)


def test_normalize_maps_removes_scale():
    """A background whose maps are the foreground's scaled down scores the same after normalisation."""
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(0)
    maps = jnp.asarray(rng.random((40, 6, 6)), jnp.float32)
    fg, bg = 3.0 * maps[:20], maps[20:]
    raw_p = mannwhitneyu(np.asarray(fg[:, 1, 2]), np.asarray(bg[:, 1, 2]), alternative="greater").pvalue
    norm_p = mannwhitneyu(np.asarray(normalize_maps(fg)[:, 1, 2]), np.asarray(normalize_maps(bg)[:, 1, 2]),
                          alternative="greater").pvalue
    assert raw_p < 1e-4 and norm_p > 0.05
    z = normalize_maps(jnp.zeros((2, 3, 3)))
    assert np.all(np.asarray(z) == 0) and np.all(np.isfinite(np.asarray(z)))
