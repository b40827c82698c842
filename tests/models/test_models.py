import jax
import jax.numpy as jnp
import numpy as np
import pytest

from satori_jax.config import ModelConfig
from satori_jax.models import (
    attention_entropy,
    build_model,
    conv_offset,
    init_variables,
    pooled_length,
    pwm_kernel,
)

TINY = dict(
    num_filters=8,
    filter_width=5,
    num_heads=2,
    head_dim=4,
    proj_dim=6,
    lstm_units=4,
    deep_channels=8,
    deep_blocks=1,
)
ARCHS = ["basic", "bilstm", "deep"]


def _setup(arch="basic", length=40, **kw):
    cfg = ModelConfig(arch=arch, **{**TINY, **kw})
    model = build_model(cfg, 2)
    variables = init_variables(model, jax.random.PRNGKey(0), length)
    x = jax.nn.one_hot(jax.random.randint(jax.random.PRNGKey(1), (6, length), 0, 4), 4)
    return cfg, model, variables, x


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes_and_attention_rows(arch):
    cfg, model, variables, x = _setup(arch, positional_encoding=True, residual=True)
    logits, inter = model.apply(variables, x)
    lp = pooled_length(cfg, 40)
    assert logits.shape == (6, 2)
    assert inter["conv"].shape == (6, 40, 8)
    assert inter["attention"].shape == (6, 2, lp, lp)
    np.testing.assert_allclose(np.asarray(inter["attention"].sum(-1)), 1.0, atol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_attention_override_reproduces_forward(arch):
    _, model, variables, x = _setup(arch)
    logits, inter = model.apply(variables, x)
    feats = model.apply(variables, x, method="features")
    again, _ = model.apply(variables, feats, attention=inter["attention"], method="head")
    np.testing.assert_allclose(np.asarray(again), np.asarray(logits), atol=1e-6)
    # a different attention changes the output
    uniform = jnp.full_like(inter["attention"], 1.0 / inter["attention"].shape[-1])
    other, _ = model.apply(variables, feats, attention=uniform, method="head")
    assert not np.allclose(np.asarray(other), np.asarray(logits))


@pytest.mark.parametrize("arch", ARCHS)
def test_predictions_independent_of_batch_mates(arch):
    _, model, variables, x = _setup(arch)
    full, _ = model.apply(variables, x)
    for i in range(x.shape[0]):
        alone, _ = model.apply(variables, x[i : i + 1])
        np.testing.assert_allclose(np.asarray(alone[0]), np.asarray(full[i]), atol=1e-5)


def test_entropy_by_hand():
    a = np.array([[[[0.5, 0.5], [1.0, 0.0]], [[0.25, 0.75], [0.9, 0.1]]]], np.float32)  # (1, 2, 2, 2)
    h = lambda p: -sum(q * np.log(q) for q in p if q > 0)  # noqa: E731
    expected = (h([0.5, 0.5]) + h([1.0, 0.0])) / 2 + (h([0.25, 0.75]) + h([0.9, 0.1])) / 2
    assert float(attention_entropy(jnp.asarray(a))) == pytest.approx(expected, rel=1e-6)
    two = jnp.concatenate([jnp.asarray(a), jnp.full_like(jnp.asarray(a), 0.5)])
    mask = jnp.array([1.0, 0.0])
    assert float(attention_entropy(two, mask)) == pytest.approx(expected, rel=1e-6)


def test_pwm_kernel_and_offset():
    pwm = np.array([[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], float)  # ATG
    kernel = pwm_kernel([pwm], np.zeros((5, 4, 3), np.float32), pseudocount=0.0 + 1e-9)
    best = kernel[:, :, 0].argmax(1)
    assert list(best[1:4]) == [0, 3, 2]
    assert np.all(kernel[0, :, 0] == 0) and np.all(kernel[:, :, 1:] == 0)
    assert conv_offset(ModelConfig(filter_width=13)) == -6
    assert conv_offset(ModelConfig(filter_width=13, padding="VALID")) == 0


def test_pwm_filter_detects_planted_motif():
    cfg = ModelConfig(**{**TINY, "filter_width": 3, "batch_norm": False})
    model = build_model(cfg, 1)
    pwm = np.array([[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], float)
    variables = init_variables(model, jax.random.PRNGKey(0), 20, pwms=[pwm])
    codes = np.full(20, 1)  # all C
    codes[10:13] = [0, 3, 2]  # ATG at 10..12
    _, inter = model.apply(variables, jax.nn.one_hot(codes[None], 4))
    centre = 11 + 0  # SAME padding, width 3: position p sees p-1..p+1
    assert int(jnp.argmax(inter["conv"][0, :, 0])) == centre


def test_max_pool_matches_flax_values_and_gradient_with_ties():
    import flax.linen as fnn

    from satori_jax.models.satori import max_pool

    rng = np.random.default_rng(0)
    h = rng.normal(size=(2, 14, 3)).astype(np.float32)
    h[0, 0:4, 0] = 1.5  # a window of four equal maxima
    h[1, 5, 1] = h[1, 6, 1] = 9.0  # two tied maxima
    h[0, 8:12, 2] = 0.0  # an all-zero window (as after a ReLU)
    h = jnp.asarray(h)

    def ref(x):
        return fnn.max_pool(x, (4,), strides=(4,), padding="VALID")

    np.testing.assert_array_equal(np.asarray(max_pool(h, 4)), np.asarray(ref(h)))
    cot = jnp.asarray(rng.normal(size=(2, 3, 3)).astype(np.float32))
    g_ours = jax.grad(lambda x: jnp.sum(max_pool(x, 4) * cot))(h)
    g_ref = jax.grad(lambda x: jnp.sum(ref(x) * cot))(h)
    np.testing.assert_array_equal(np.asarray(g_ours), np.asarray(g_ref))  # first maximum takes it all
    assert np.isnan(np.asarray(max_pool(h.at[1, 2, 0].set(jnp.nan), 4))[1, 0, 0])


def test_uniform16_covers_the_range_evenly():
    from satori_jax.models.layers import uniform16

    u = np.asarray(uniform16(jax.random.PRNGKey(3), (257, 401)))  # odd size: the last word is halved
    assert u.shape == (257, 401) and u.min() >= 0 and u.max() < 65536
    assert abs(u.mean() - 32767.5) < 4 * 18918 / np.sqrt(u.size)  # sd of U{0..65535} is 18918
    counts = np.bincount(u.ravel() >> 12, minlength=16)  # 16 equal bins
    expected = u.size / 16
    assert ((counts - expected) ** 2 / expected).sum() < 45  # chi-square, 15 dof: p < 1e-4
    lo, hi = u.ravel()[: u.size // 2], u.ravel()[u.size // 2 : 2 * (u.size // 2)]
    assert abs(np.corrcoef(lo, hi)[0, 1]) < 0.02  # the two halves of a word are not related
    np.testing.assert_array_equal(u, np.asarray(uniform16(jax.random.PRNGKey(3), (257, 401))))


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5])
def test_dropout_keeps_the_expected_fraction_and_the_mean(rate):
    from satori_jax.models.layers import Dropout

    x = jnp.asarray(np.random.default_rng(0).uniform(1.0, 2.0, (64, 75, 75)).astype(np.float32))
    drop = Dropout(rate)
    assert drop.apply({}, x, deterministic=True) is x
    y = np.asarray(drop.apply({}, x, deterministic=False, rngs={"dropout": jax.random.PRNGKey(1)}))
    kept = y != 0
    n = kept.size
    assert abs(kept.mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / n)
    q = round((1 - rate) * 65536) / 65536  # the exact keep probability
    np.testing.assert_allclose(y[kept], np.asarray(x)[kept] / q, rtol=1e-6)
    # E[y] = x: the mean of y / x over many elements is 1 within its standard error.
    ratio = (y / np.asarray(x)).ravel()
    assert abs(ratio.mean() - 1.0) < 5 * ratio.std() / np.sqrt(n)
    y2 = drop.apply({}, x, deterministic=False, rngs={"dropout": jax.random.PRNGKey(2)})
    assert (np.asarray(y2) != y).any()  # another key, another mask
    assert (np.asarray(Dropout(0.0).apply({}, x, deterministic=False)) == np.asarray(x)).all()


def _attention_layer(relative_bias, bias_init="alibi", heads=4, length=12, width=6):
    from satori_jax.models.layers import MultiHeadSelfAttention

    layer = MultiHeadSelfAttention(heads, 4, relative_bias=relative_bias, bias_init=bias_init)
    x = jax.random.normal(jax.random.PRNGKey(2), (2, length, width))
    return layer, layer.init(jax.random.PRNGKey(0), x), x


def test_relative_bias_alibi_start_and_clipping():
    layer, variables, _ = _attention_layer(3)
    r = np.asarray(variables["params"]["rel_bias"])  # (H, 2R + 1)
    slopes = 2.0 ** (-8.0 * np.arange(1, 5) / 4)  # 1/4, 1/16, 1/64, 1/256
    np.testing.assert_allclose(r, -slopes[:, None] * np.abs(np.arange(-3, 4))[None, :], rtol=1e-6)
    bias = np.asarray(layer.apply(variables, 12, method="position_bias"))  # (H, L', L')
    assert bias.shape == (4, 12, 12)
    np.testing.assert_allclose(bias[:, 5, 7], r[:, 3 + 2])  # offset +2
    np.testing.assert_allclose(bias[:, 7, 5], r[:, 3 - 2])  # offset -2
    np.testing.assert_allclose(bias[:, 0, 11], r[:, 6])  # offset +11 shares the bias of +3
    np.testing.assert_allclose(bias[:, 11, 0], r[:, 0])
    _, zeros, _ = _attention_layer(3, "zeros")
    assert not np.any(np.asarray(zeros["params"]["rel_bias"]))


def test_relative_bias_makes_attention_position_aware():
    """Without the bias, permuting positions permutes the attention map (content only); with it, not."""
    perm = np.random.default_rng(0).permutation(12)
    for radius, equivariant in ((0, True), (3, False)):
        layer, variables, x = _attention_layer(radius)
        a = np.asarray(layer.apply(variables, x, method="weights"))
        ap = np.asarray(layer.apply(variables, x[:, perm], method="weights"))
        assert np.allclose(ap, a[:, :, perm][:, :, :, perm], atol=1e-6) == equivariant
        np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)


def test_model_with_relative_bias_overrides_and_counts():
    cfg, model, variables, x = _setup("basic", relative_bias=4)
    assert variables["params"]["attention"]["rel_bias"].shape == (TINY["num_heads"], 9)
    logits, inter = model.apply(variables, x)
    feats = model.apply(variables, x, method="features")
    again, _ = model.apply(variables, feats, attention=inter["attention"], method="head")
    np.testing.assert_allclose(np.asarray(again), np.asarray(logits), atol=1e-6)


def test_attention_window_masks_far_positions():
    from satori_jax.models.layers import MultiHeadSelfAttention

    x = jax.random.normal(jax.random.PRNGKey(2), (2, 12, 6))
    layer = MultiHeadSelfAttention(2, 4, window=3)
    a = np.asarray(layer.apply(layer.init(jax.random.PRNGKey(0), x), x, method="weights"))
    far = np.abs(np.arange(12)[None, :] - np.arange(12)[:, None]) > 3
    assert np.all(a[:, :, far] == 0.0) and np.all(a[:, :, ~far] > 0.0)
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)


def test_window_heads_leave_the_other_heads_global():
    from satori_jax.models.layers import MultiHeadSelfAttention

    x = jax.random.normal(jax.random.PRNGKey(2), (2, 12, 6))
    layer = MultiHeadSelfAttention(3, 4, window=2, window_heads=1)
    a = np.asarray(layer.apply(layer.init(jax.random.PRNGKey(0), x), x, method="weights"))
    far = np.abs(np.arange(12)[None, :] - np.arange(12)[:, None]) > 2
    assert np.all(a[:, 0][:, far] == 0.0) and np.all(a[:, 1:][:, :, far] > 0.0)


def test_gradient_is_finite_when_an_example_has_no_active_feature():
    """The basic model standardizes its summed features per example. An example whose features are
    all 0 (here dropout removes every unit that fires) has variance 0, where d sqrt(var) is inf; the
    cotangent 0 · inf = NaN passed through dropout's multiplication to every firing unit and turned
    every parameter into NaN (seen in training with k-mer-seeded filters). Gradients stay finite."""
    cfg, model, variables, x = _setup("basic", batch_norm=False, dropout=0.999)
    params = jax.tree_util.tree_map(lambda a: a, variables["params"])
    params["proj"]["bias"] = jnp.ones_like(params["proj"]["bias"])  # every unit fires, dropout drops it

    def loss(p):
        logits, _ = model.apply({"params": p}, x, train=True, rngs={"dropout": jax.random.PRNGKey(3)})
        return jnp.sum(logits**2)

    grads = jax.grad(loss)(params)
    assert all(bool(jnp.isfinite(g).all()) for g in jax.tree_util.tree_leaves(grads))
