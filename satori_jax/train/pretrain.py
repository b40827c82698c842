"""Motif pretraining of the first-layer filters: real sequences against shuffled copies.

Before the labels are seen, each convolution filter learns to tell the training sequences from
copies of them whose dinucleotide blocks are shuffled (motifs destroyed, base and most dinucleotide
content kept), in the spirit of discriminative motif finders (DREME, HOMER) that compare sequences
with shuffled ones. Each filter has its own one-feature logistic read-out on its maximum over
positions, so every filter is pushed towards *some* over-represented word on its own, not only the
few that one shared read-out would need.

Why: when the label depends on which motifs sit next to each other and not on which motifs are
present (the twins benchmark; bench/results/accuracy/training.md), a filter gets gradient from the
label only through a partner detector that does not exist yet, and training from random filters
stays at chance. Filters that already detect the data's motifs give the attention something to pair.
On data where motif presence is predictive, pretraining only gives the filters a head start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from satori_jax.data.encoding import one_hot


def shuffle_dinucleotide_blocks(codes: jax.Array, rng: jax.Array) -> jax.Array:
    """Permute the non-overlapping 2-bp blocks of each sequence at random.

    Parameters
    ----------
    codes
        ``(B, L)`` base codes (``0..3``; other codes, e.g. N, travel with their block).
    rng
        PRNG key.

    Returns
    -------
    ``(B, L)`` shuffled codes: the same bases and the same within-block dinucleotides; an odd last
    base stays in place.
    """
    b, length = codes.shape
    half = length // 2
    blocks = codes[:, : 2 * half].reshape(b, half, 2)
    order = jnp.argsort(jax.random.uniform(rng, (b, half)), axis=1)
    shuffled = jnp.take_along_axis(blocks, order[:, :, None], axis=1).reshape(b, 2 * half)
    return jnp.concatenate([shuffled, codes[:, 2 * half :]], axis=1)


def _filter_max(conv_params: dict, x: jax.Array, padding: str) -> jax.Array:
    """``(B, F)`` maximum over positions of the ReLU filter responses to one-hot ``x`` ``(B, L, 4)``."""
    h = jax.lax.conv_general_dilated(
        x, conv_params["kernel"], window_strides=(1,), padding=padding,
        dimension_numbers=("NWC", "WIO", "NWC"),
    )
    return jax.nn.relu(h + conv_params["bias"]).max(axis=1)


def pretrain_filters(
    params: dict,
    codes: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    padding: str,
    seed: int,
    num_fixed: int = 0,
    verbose: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[dict, dict[str, Any]]:
    """Train ``params["conv"]`` to tell ``codes`` from their dinucleotide-block shuffles.

    Parameters
    ----------
    params
        Model parameters with a ``conv`` entry (``kernel (K, 4, F)``, ``bias (F,)``).
    codes
        ``(N, L)`` uint8 training sequences (labels are not used).
    epochs, batch_size, learning_rate
        Passes over ``codes``, sequences per step (as many shuffled copies are added), Adam step.
    padding
        The model's convolution padding (``"SAME"`` or ``"VALID"``).
    seed
        Seeds the batch order and the shuffles.
    num_fixed
        The first ``num_fixed`` filters (loaded PWMs) are left as they are.

    Returns
    -------
    params
        ``params`` with the pretrained ``conv`` kernel and bias.
    info
        ``{"epochs", "steps", "loss", "accuracy"}``: the last epoch's mean per-filter loss and the
        per-filter accuracy of telling real from shuffled (0.5 = chance).
    """
    conv = {k: jnp.asarray(v) for k, v in params["conv"].items()}
    nf = conv["kernel"].shape[-1]
    keep = (jnp.arange(nf) >= num_fixed).astype(jnp.float32)
    probe = {"conv": conv, "w": jnp.ones((nf,), jnp.float32), "b": jnp.zeros((nf,), jnp.float32)}
    tx = optax.adam(learning_rate)
    opt_state = tx.init(probe)

    def loss_fn(p, x, y):
        logits = _filter_max(p["conv"], x, padding) * p["w"] + p["b"]  # (2B, F)
        losses = optax.sigmoid_binary_cross_entropy(logits, y[:, None])
        acc = ((logits > 0) == (y[:, None] > 0.5)).mean()
        return losses.mean(), acc

    @jax.jit
    def step(p, opt_state, batch, rng):
        fake = shuffle_dinucleotide_blocks(batch, rng)
        x = one_hot(jnp.concatenate([batch, fake]))
        y = jnp.concatenate([jnp.ones(batch.shape[0]), jnp.zeros(batch.shape[0])])
        (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, x, y)
        grads["conv"] = {
            "kernel": grads["conv"]["kernel"] * keep,
            "bias": grads["conv"]["bias"] * keep,
        }
        updates, opt_state = tx.update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, loss, acc

    from satori_jax.predict import progress

    n = len(codes)
    batch_size = min(batch_size, n)
    steps_per_epoch = n // batch_size  # whole batches only: one compilation
    root = jax.random.PRNGKey(seed)
    order_rng = np.random.default_rng(seed)
    loss_m = acc_m = None
    for epoch in range(epochs):
        order = order_rng.permutation(n)
        losses, accs = [], []
        batches = (codes[order[i * batch_size : (i + 1) * batch_size]] for i in range(steps_per_epoch))
        desc = f"pretrain {epoch + 1}/{epochs}"
        for i, batch in enumerate(progress(batches, verbose, desc, steps_per_epoch)):
            probe, opt_state, loss, acc = step(
                probe, opt_state, jnp.asarray(batch), jax.random.fold_in(root, epoch * steps_per_epoch + i)
            )
            losses.append(loss)
            accs.append(acc)
        loss_m, acc_m = float(np.mean(jax.device_get(losses))), float(np.mean(jax.device_get(accs)))
        log(f"pretrain {epoch + 1:3d}  filter loss {loss_m:.4f}  real-vs-shuffled accuracy {acc_m:.3f}")
    out = dict(params)
    out["conv"] = {k: probe["conv"][k].astype(params["conv"][k].dtype) for k in ("kernel", "bias")}
    info = {"epochs": epochs, "steps": epochs * steps_per_epoch, "loss": loss_m, "accuracy": acc_m}
    return out, info
