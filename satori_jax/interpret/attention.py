"""Raw attention and attention attribution (integrated gradients over the attention weights).

Attention attribution (SATORI 2.0, after Hao et al. 2021), zero baseline, ``m`` Riemann steps::

    Attr(A_h) = A_h / m ⊙ Σ_{k=1..m} ∂F(k/m · A) / ∂A_h          (riemann="right", the default)

``F`` is the sum of the logits of the target labels (binary: the single logit; multi-label: the
true-positive labels). ``riemann="left"`` uses ``k = 0 … m−1`` instead (what issue 4 calls
left-Riemann); both converge to the integral, the right sum is the published formula. The
attention input is computed once (``method="features"``); since the projection after the heads is
affine in the attention, the ``m`` steps run only the readout after it, summed in a ``lax.scan``
(basic, BiLSTM) or one ``vmap`` (deep); see :func:`attribution_from_features`.

The ``attr`` method's maps keep, by default, the *positive part* of the attribution: the attention
entries that raise the explained logit (``sign="positive"``). ``sign="absolute"`` takes
``|Attr|`` instead, which also counts entries that lower it: in a negative that holds the same
motifs as a positive, re-paired (the twins benchmark), the model's evidence *against* the class
sits on the wrong pairings, and ``|Attr|`` scores it as high as the true pairings' evidence for the
class in a positive.

Scorers (:class:`RawScorer`, :class:`AttrScorer`) plug into
:func:`satori_jax.interpret.interactions.score_examples`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from satori_jax.models.layers import attend, heads_first

__all__ = [
    "AttrScorer",
    "RawScorer",
    "SIGNS",
    "attention_attribution",
    "attr_maps",
    "attr_scorer",
    "conv_and_features",
    "raw_attention_maps",
    "raw_scorer",
    "target_logit_sum",
]


def conv_and_features(model, variables, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """First-layer activations ``(B, L_conv, F)`` and attention input ``(B, L', D)`` in one pass."""

    def fn(m, x):
        conv = m._conv(x, False)
        return conv, m._pool(conv, False)

    return model.apply(variables, x, method=fn)


def raw_attention_maps(model, variables, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Conv activations and raw attention, max over heads.

    Parameters
    ----------
    x
        ``(B, L, 4)`` one-hot.

    Returns
    -------
    conv
        ``(B, L_conv, F)``.
    attention
        ``(B, L', L')`` ``max_h A_h``.
    """
    _, inter = model.apply(variables, x, train=False)
    return inter["conv"], inter["attention"].max(axis=1)


def target_logit_sum(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """``Σ_b Σ_c targets[b, c] · logits[b, c]`` (examples are independent, so its gradient is per example)."""
    return jnp.sum(jnp.where(targets, logits, 0.0))


def _alphas(steps: int, riemann: str) -> jax.Array:
    if riemann == "right":
        k = jnp.arange(1, steps + 1)
    elif riemann == "left":
        k = jnp.arange(0, steps)
    else:
        raise ValueError(f"riemann must be 'right' or 'left', got {riemann!r}")
    return k.astype(jnp.float32) / steps


def step_loop(model) -> str:
    """``"vmap"`` for the deep model (convolutions after the attention), ``"scan"`` otherwise."""
    return "vmap" if getattr(getattr(model, "cfg", None), "arch", "") == "deep" else "scan"


def _summed_grad(f, zw: jax.Array, bias: jax.Array, alphas: jax.Array, loop: str) -> jax.Array:
    """``Σ_k ∇f(α_k · zw + bias)`` over the ``(m,)`` ``alphas``, as a scan or one vmap (same sum)."""
    grad = jax.grad(f)
    if loop == "scan":
        def body(total, alpha):
            return total + grad(alpha * zw + bias), None

        return jax.lax.scan(body, jnp.zeros(jnp.broadcast_shapes(zw.shape, bias.shape), zw.dtype), alphas)[0]
    if loop != "vmap":
        raise ValueError(f"loop must be 'auto', 'scan' or 'vmap', got {loop!r}")
    return jax.vmap(lambda al: grad(al * zw + bias))(alphas).sum(axis=0)


def attribution_from_features(
    model,
    variables,
    feats: jax.Array,
    attention: jax.Array,
    targets: jax.Array,
    steps: int = 20,
    riemann: str = "right",
    method: str = "fast",
    loop: str = "auto",
) -> jax.Array:
    """Integrated gradients over ``attention`` given the attention input ``feats``.

    ``Attr(A_h) = A_h / m ⊙ Σ_k ∂F(α_k A) / ∂A_h`` with ``α_k = k/m`` (``riemann="right"``,
    k = 1..m, Hao et al. / SATORI 2.0) or ``(k−1)/m`` (``"left"``).

    Two exact ways to get the gradient sum:

    ``"fast"`` (default)
        With ``Z = A·V`` (``V`` fixed by the input) and the affine projection ``u = Z W + b``,
        the model after the attention is ``F = readout(u)`` and ``u(α A) = α Z W + b``. So
        ``Σ_k ∂F/∂A_h = (Σ_k ∂readout/∂u |_{α_k Z W + b}) Wᵀ V_hᵀ``: the ``m`` steps only run the
        readout (cheap, per position), then one matmul maps the summed gradient back to the
        attention. Same numbers as ``"vmap"`` up to float rounding, several times faster.
    ``"vmap"``
        The ``m`` scaled attentions go through one ``vmap``'d gradient of the whole head.

    ``loop`` (``"fast"`` only) says how the ``m`` readout gradients are summed: ``"scan"`` one
    step after the other in a ``lax.scan`` (running sum), ``"vmap"`` all steps as one batch, then
    summed; ``"auto"`` (:func:`step_loop`) picks ``"scan"`` for readouts that are cheap per step
    (basic, BiLSTM: ReLU, sum over positions, dense) and ``"vmap"`` for the deep model's
    convolution blocks. Both give the same sums up to the order of the float additions (equal in
    the tests); on the 2-core CPU the scan is ~20× faster for the basic readout (XLA's code for
    the batched ``(m, B, L', P)`` reduction is slow) and ~2× slower for the deep one.

    Parameters
    ----------
    feats
        ``(B, L', D)`` attention input.
    attention
        ``(B, H, L', L')`` attention weights of the example.
    targets
        ``(B, C)`` bool.

    Returns
    -------
    jax.Array
        ``(B, H, L', L')`` attribution.
    """
    targets = jnp.asarray(targets, bool)
    alphas = _alphas(steps, riemann)
    if method == "vmap":

        def f(a):
            logits, _ = model.apply(variables, feats, attention=a, method="head")
            return target_logit_sum(logits, targets)

        grad = jax.grad(f)
        grads = jax.vmap(lambda al: grad(al * attention))(alphas)  # (m, B, H, L', L')
        return attention / steps * grads.sum(axis=0)
    if method != "fast":
        raise ValueError(f"method must be 'fast' or 'vmap', got {method!r}")

    value = model.apply(variables, feats, method="attention_values")  # (B, L', H, d)
    b, lp, h, d = value.shape
    z = attend(attention, value)  # (B, L', H·d)
    project = lambda z_: model.apply(variables, z_, method="project")  # noqa: E731
    u, project_vjp = jax.vjp(project, z)  # u = z W + bias
    bias = project(jnp.zeros_like(z[:, :1]))  # (B, 1, P)
    zw = u - bias

    def f(u_):
        return target_logit_sum(model.apply(variables, u_, feats, method="readout"), targets)

    grad_u = _summed_grad(f, zw, bias, alphas, step_loop(model) if loop == "auto" else loop)  # (B, L', P)
    (grad_z,) = project_vjp(grad_u)  # Σ_k ∂F/∂Z
    grad_a = jnp.einsum("bhld,bhmd->bhlm", heads_first(grad_z.reshape(b, lp, h, d)), heads_first(value))
    return attention / steps * grad_a


def attention_attribution(
    model,
    variables,
    x: jax.Array,
    targets: jax.Array,
    steps: int = 20,
    riemann: str = "right",
    method: str = "fast",
    loop: str = "auto",
) -> jax.Array:
    """Attention attribution of one-hot ``x`` ``(B, L, 4)`` for ``targets`` ``(B, C)`` bool.

    Returns
    -------
    jax.Array
        ``(B, H, L', L')``; the attention input is computed once, and only what follows the
        attention is recomputed for the ``steps`` (see :func:`attribution_from_features`).
    """
    feats = model.apply(variables, x, method="features")
    _, inter = model.apply(variables, feats, method="head")
    return attribution_from_features(
        model, variables, feats, inter["attention"], targets, steps, riemann, method, loop
    )


def normalize_maps(maps: jax.Array) -> jax.Array:
    """Divide each example's non-negative map ``(B, L', L')`` by its maximum (all-zero maps stay 0)."""
    peak = maps.max(axis=(1, 2), keepdims=True)
    scaled = maps / jnp.where(peak > 0, peak, 1.0)
    # the peak is exactly 1 (XLA may divide by multiplying with a reciprocal: x / x = 0.99999994)
    return jnp.where(peak > 0, jnp.where(maps >= peak, 1.0, scaled), 0.0)


#: What :func:`attr_maps` keeps of the attribution. ``options.ATTR_SIGNS`` restates it without importing
#: JAX (the CLI's ``--help`` builds its choices from it); a test holds the two equal.
SIGNS = ("positive", "absolute")


def _check_sign(sign: str) -> None:
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {SIGNS}, got {sign!r}")


def attr_maps(
    model,
    variables,
    x: jax.Array,
    targets: jax.Array,
    steps: int = 20,
    riemann: str = "right",
    normalize: bool = False,
    sign: str = "positive",
) -> tuple[jax.Array, jax.Array]:
    """Conv activations ``(B, L_conv, F)`` and the attribution map, max over heads ``(B, L', L')``.

    ``sign="positive"``: ``max(Attr, 0)``, the attention entries that raise the target logit;
    ``"absolute"``: ``|Attr|``. With ``normalize``, each example's map is divided by its maximum
    (:func:`normalize_maps`): scores become shares of the example's strongest attribution,
    comparable between examples whose logits (and so whose attributions) differ in scale; a map
    with no positive entry stays 0.
    """
    _check_sign(sign)
    conv, feats = conv_and_features(model, variables, x)
    _, inter = model.apply(variables, feats, method="head")
    attr = attribution_from_features(model, variables, feats, inter["attention"], targets, steps, riemann)
    maps = (jnp.maximum(attr, 0.0) if sign == "positive" else jnp.abs(attr)).max(axis=1)
    return conv, normalize_maps(maps) if normalize else maps


@dataclass(frozen=True)
class RawScorer:
    """Scorer ``(variables, x, targets) -> (conv, max-over-heads attention)`` (hashable for jit)."""

    model: object

    def __call__(self, variables, x, targets):
        return raw_attention_maps(self.model, variables, x)


@dataclass(frozen=True)
class AttrScorer:
    """Scorer ``(variables, x, targets) -> (conv, attention attribution map)`` (:func:`attr_maps`)."""

    model: object
    steps: int = 20
    riemann: str = "right"
    normalize: bool = False
    sign: str = "positive"

    def __call__(self, variables, x, targets):
        return attr_maps(self.model, variables, x, targets, self.steps, self.riemann, self.normalize,
                         self.sign)


def raw_scorer(model) -> RawScorer:
    """The ``raw`` method's scorer for :func:`~satori_jax.interpret.interactions.score_examples`."""
    return RawScorer(model)


def attr_scorer(model, steps: int = 20, riemann: str = "right", normalize: bool = False,
                sign: str = "positive") -> AttrScorer:
    """The ``attr`` method's scorer for :func:`~satori_jax.interpret.interactions.score_examples`.

    ``normalize``: per-example maximum normalisation of the maps; ``sign``: ``"positive"`` or
    ``"absolute"`` (see :func:`attr_maps`).
    """
    _check_sign(sign)
    return AttrScorer(model, int(steps), riemann, bool(normalize), sign)
