"""Building blocks of the SATORI family: explicit multi-head self-attention, positional
encoding and the residual convolution blocks of the deep variant."""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention written out so the weights can be read and replaced.

    Per head ``h``: ``A_h = softmax(Q_h K_hᵀ / √d)`` and ``Z_h = A_h V_h``; heads are concatenated.

    Attributes
    ----------
    num_heads, head_dim
        ``H`` heads of width ``d``.
    dropout
        Dropout rate on the attention weights (training only).
    """

    num_heads: int
    head_dim: int
    dropout: float = 0.0

    def setup(self) -> None:
        shape = (self.num_heads, self.head_dim)
        self.query = nn.DenseGeneral(shape, name="query")
        self.key = nn.DenseGeneral(shape, name="key")
        self.value = nn.DenseGeneral(shape, name="value")
        self.drop = nn.Dropout(self.dropout)

    def values(self, x: jax.Array) -> jax.Array:
        """``V``: ``(B, L', H, d)`` for inputs ``(B, L', D)``."""
        return self.value(x)

    def weights(self, x: jax.Array) -> jax.Array:
        """Attention weights ``(B, H, L', L')`` for inputs ``(B, L', D)``; rows sum to 1."""
        scores = jnp.einsum("blhd,bmhd->bhlm", self.query(x), self.key(x)) / math.sqrt(self.head_dim)
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
        z = jnp.einsum("bhlm,bmhd->blhd", weights, value)
        return z.reshape(z.shape[:-2] + (self.num_heads * self.head_dim,)), attention


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
        return nn.Dropout(self.dropout)(x, deterministic=not train)
