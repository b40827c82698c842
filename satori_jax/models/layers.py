"""Building blocks of the SATORI family: explicit multi-head self-attention, positional
encoding and the residual convolution blocks of the deep variant."""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


def uniform16(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Independent uniform integers in ``[0, 65536)`` (uint32 array of ``shape``).

    Each random 32-bit word gives two 16-bit draws, so half the words of
    ``jax.random.uniform`` are generated; on the CPU the counter-based generator dominates the
    cost of dropout on the ``(B, H, L', L')`` attention maps.
    """
    n = math.prod(shape)
    words = jax.random.bits(key, ((n + 1) // 2,), jnp.uint32)
    halves = jnp.concatenate([words & 0xFFFF, words >> 16])
    return halves[:n].reshape(shape)


class Dropout(nn.Module):
    """Inverted dropout drawing 16-bit uniforms (see :func:`uniform16`).

    An element is kept when its draw is below ``t = round((1 − rate)·65536)``, i.e. with
    probability ``q = t / 65536`` (within 1/131072 of ``1 − rate``), and kept elements are scaled by
    ``1 / q`` exactly, so ``E[output] = input``. Uses the ``"dropout"`` RNG stream, like
    ``flax.linen.Dropout``; the identity when ``deterministic`` or ``rate == 0``.
    """

    rate: float

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool) -> jax.Array:
        if deterministic or self.rate == 0.0:
            return x
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {self.rate}")
        threshold = max(1, min(65536, round((1.0 - self.rate) * 65536)))
        keep = uniform16(self.make_rng("dropout"), x.shape) < threshold
        return x * (keep.astype(x.dtype) * (65536.0 / threshold))


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention written out so the weights can be read and replaced.

    Per head ``h``: ``A_h = softmax(Q_h K_hᵀ / √d + R_h)`` and ``Z_h = A_h V_h``; heads are
    concatenated. ``R_h[i, j] = r_h[clip(j − i, −R, R)]`` is a learned relative-position bias
    (``R = relative_bias``; ``R_h = 0`` when ``R = 0``): one scalar per head and offset, offsets
    beyond ``±R`` share the bias of ``±R``. It lets attention tell "B next to A" from "B
    anywhere", which content alone cannot: without it the attention output, summed over positions,
    is a function of the multiset of positions' features only.

    Attributes
    ----------
    num_heads, head_dim
        ``H`` heads of width ``d``.
    dropout
        Dropout rate on the attention weights (training only).
    relative_bias
        ``R``: offsets (in attention positions) with their own bias; 0: no bias.
    bias_init
        ``alibi`` (:func:`alibi_init`: head ``h`` starts at ``−m_h·|offset|``, from local to
        nearly global heads) or ``zeros`` (no initial preference).
    window
        ``W``: each position attends only to positions at most ``W`` away (weights beyond are
        exactly 0); 0: no window.
    window_heads
        The window applies to the first this many heads, the others attend everywhere; 0: all.
    """

    num_heads: int
    head_dim: int
    dropout: float = 0.0
    relative_bias: int = 0
    bias_init: str = "alibi"
    window: int = 0
    window_heads: int = 0

    def setup(self) -> None:
        shape = (self.num_heads, self.head_dim)
        self.query = nn.DenseGeneral(shape, name="query")
        self.key = nn.DenseGeneral(shape, name="key")
        self.value = nn.DenseGeneral(shape, name="value")
        self.drop = Dropout(self.dropout)
        if self.relative_bias > 0:
            init = alibi_init if self.bias_init == "alibi" else nn.initializers.zeros
            self.rel_bias = self.param("rel_bias", init, (self.num_heads, 2 * self.relative_bias + 1))

    def position_bias(self, length: int) -> jax.Array:
        """``(H, L', L')`` relative-position bias ``R`` for ``L' = length`` (zeros when off)."""
        if self.relative_bias <= 0:
            return jnp.zeros((self.num_heads, length, length), jnp.float32)
        pos = jnp.arange(length)
        offset = jnp.clip(pos[None, :] - pos[:, None], -self.relative_bias, self.relative_bias)
        return self.rel_bias[:, offset + self.relative_bias]

    def values(self, x: jax.Array) -> jax.Array:
        """``V``: ``(B, L', H, d)`` for inputs ``(B, L', D)``."""
        return self.value(x)

    def weights(self, x: jax.Array) -> jax.Array:
        """Attention weights ``(B, H, L', L')`` for inputs ``(B, L', D)``; rows sum to 1."""
        # Scale Q rather than the (B, H, L', L') scores: XLA's CPU backend materializes the
        # scalar as a full-size operand of the fused matmul (about 5 % of a training step).
        q = heads_first(self.query(x)) * (1.0 / math.sqrt(self.head_dim))
        scores = jnp.einsum("bhld,bhmd->bhlm", q, heads_first(self.key(x)))
        if self.relative_bias > 0:
            scores = scores + self.position_bias(x.shape[-2])
        if self.window > 0:
            pos = jnp.arange(x.shape[-2])
            near = jnp.abs(pos[None, :] - pos[:, None]) <= self.window  # (L', L')
            local = self.window_heads if 0 < self.window_heads < self.num_heads else self.num_heads
            near = near[None] | (jnp.arange(self.num_heads) >= local)[:, None, None]  # (H, L', L')
            scores = jnp.where(near, scores, -1e9)
        return jax.nn.softmax(scores, axis=-1)

    def __call__(
        self, x: jax.Array, attention: jax.Array | None = None, *, train: bool = False
    ) -> tuple[jax.Array, jax.Array]:
        """Attend.

        Parameters
        ----------
        x
            ``(B, L', D)`` inputs.
        attention
            Optional ``(B, H, L', L')`` attention to use instead of the computed one (the values
            ``V`` are still computed from ``x``).
        train
            Apply attention dropout.

        Returns
        -------
        z
            ``(B, L', H·d)`` concatenated head outputs.
        attention
            ``(B, H, L', L')`` attention weights used (before dropout); rows sum to 1.
        """
        value = self.values(x)  # (B, L, H, d)
        if attention is None:
            attention = self.weights(x)
        weights = self.drop(attention, deterministic=not train)
        return attend(weights, value), attention


def alibi_init(key: jax.Array, shape: tuple[int, int], dtype=jnp.float32) -> jax.Array:
    """ALiBi-style start for a relative-position bias ``(H, 2R + 1)``: ``r_h[Δ] = −m_h·|Δ|``.

    Slopes ``m_h = 2^(−8(h+1)/H)`` (Press et al. 2022): the first head prefers its neighbours
    (0.5 per attention position), the last one is nearly position-blind. Deterministic (``key``
    unused); the bias is learned from there.
    """
    del key
    heads, width = shape
    radius = (width - 1) // 2
    slopes = 2.0 ** (-8.0 * jnp.arange(1, heads + 1, dtype=jnp.float32) / heads)
    distance = jnp.abs(jnp.arange(-radius, radius + 1, dtype=jnp.float32))
    return (-slopes[:, None] * distance[None, :]).astype(dtype)


def heads_first(t: jax.Array) -> jax.Array:
    """``(B, L', H, d) -> (B, H, L', d)``.

    The attention products are written with the heads in front (batch axes leading, as in a
    batched matmul): XLA's CPU backend runs ``einsum("blhd,bmhd->bhlm")`` about 2× slower than
    the same product after this explicit transpose (which itself costs well under 1 %).
    """
    return jnp.swapaxes(t, -3, -2)


def attend(weights: jax.Array, value: jax.Array) -> jax.Array:
    """Concatenated head outputs ``Z = A·V``: ``(B, H, L', L')`` × ``(B, L', H, d)`` -> ``(B, L', H·d)``."""
    z = jnp.einsum("bhlm,bhmd->bhld", weights, heads_first(value))
    z = jnp.swapaxes(z, -3, -2)  # (B, L', H, d)
    return z.reshape(z.shape[:-2] + (z.shape[-2] * z.shape[-1],))


def sinusoidal_encoding(length: int, dim: int) -> jax.Array:
    """Transformer sinusoidal positional encoding, ``(length, dim)``."""
    pos = jnp.arange(length, dtype=jnp.float32)[:, None]
    i = jnp.arange(dim, dtype=jnp.float32)[None, :]
    angle = pos / jnp.power(10000.0, (2 * (i // 2)) / dim)
    return jnp.where(i % 2 == 0, jnp.sin(angle), jnp.cos(angle))


class DeepBlock(nn.Module):
    """SEI-inspired residual block: two linear-then-ReLU convolutions, then a dilated one.

    Input and output ``(B, L', C)``.
    """

    channels: int
    dilation: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        y = nn.Conv(self.channels, (9,), padding="SAME", name="conv_a")(x)
        y = nn.Conv(self.channels, (9,), padding="SAME", name="conv_b")(nn.relu(y))
        x = x + y
        y = nn.Conv(self.channels, (3,), padding="SAME", kernel_dilation=(self.dilation,), name="dilated")(
            nn.relu(x)
        )
        x = x + nn.relu(y)
        return Dropout(self.dropout)(x, deterministic=not train)
