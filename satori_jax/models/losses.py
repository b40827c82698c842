"""Loss terms: binary cross-entropy with logits and the SATORI 2.0 attention-entropy penalty."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def bce_loss(logits: jax.Array, labels: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Mean binary cross-entropy over examples and labels.

    Parameters
    ----------
    logits, labels
        ``(B, C)``; labels in {0, 1}.
    mask
        ``(B,)`` weights (0 for padded rows); ``None`` = all ones.
    """
    per = optax.sigmoid_binary_cross_entropy(logits, labels).mean(axis=-1)  # (B,)
    if mask is None:
        return per.mean()
    return (per * mask).sum() / jnp.maximum(mask.sum(), 1.0)


def attention_entropy(attention: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """``mean_batch( Σ_heads mean_rows( −Σ_j A_ij log A_ij ) )``.

    Parameters
    ----------
    attention
        ``(B, H, L', L')``, rows summing to 1.
    mask
        ``(B,)`` example weights; ``None`` = all ones.
    """
    plogp = jnp.where(attention > 0, attention * jnp.log(jnp.where(attention > 0, attention, 1.0)), 0.0)
    per_example = (-plogp.sum(-1)).mean(-1).sum(-1)  # (B,)
    if mask is None:
        return per_example.mean()
    return (per_example * mask).sum() / jnp.maximum(mask.sum(), 1.0)
