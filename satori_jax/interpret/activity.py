"""First-layer filter activity: activations, per-filter thresholds, activity per pooled position.

Every loop over examples goes through :func:`padded_batches`: fixed-shape chunks (the last one
padded with N codes and masked), each handled by one jit-compiled call, so nothing recompiles per
batch. Sequences are ``uint8`` codes ``(N, L)`` on the host and one-hot ``(B, L, 4)`` on the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

try:  # the data engineer's encoder (codes == 4 -> 0.25 in each channel)
    from satori_jax.data.encoding import one_hot as _one_hot
except ImportError:  # pragma: no cover - fallback while encoding.py is in flux
    _ONE_HOT_TABLE = np.concatenate([np.eye(4, dtype=np.float32), np.full((1, 4), 0.25, np.float32)])

    def _one_hot(codes: jax.Array) -> jax.Array:
        """``(..., L)`` codes -> ``(..., L, 4)`` float32 (code 4 -> 0.25 in each channel)."""
        return jnp.asarray(_ONE_HOT_TABLE)[jnp.asarray(codes).astype(jnp.int32)]


__all__ = [
    "active_sites",
    "conv_activations",
    "filter_thresholds",
    "one_hot",
    "padded_batches",
    "pooled_activity",
]

one_hot = _one_hot


def padded_batches(
    n: int, batch_size: int, *arrays: np.ndarray, verbose: bool = False, desc: str = ""
) -> Iterator[tuple[int, int, tuple[np.ndarray, ...]]]:
    """Yield fixed-shape chunks of ``arrays`` along axis 0.

    Parameters
    ----------
    n
        Number of rows (``len`` of every array).
    batch_size
        Rows per chunk; the last chunk is padded (N codes for ``uint8`` arrays, zeros / ``False``
        otherwise) up to ``batch_size`` rows (or to ``n`` when ``n < batch_size``).
    arrays
        ``(n, ...)`` arrays.
    verbose, desc
        Show a tqdm progress bar (in examples) with this label.

    Yields
    ------
    start, n_valid, chunk
        First row, number of real rows, and the padded ``(B, ...)`` arrays.
    """
    bs = max(1, min(int(batch_size), max(n, 1)))
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=desc or None, unit="ex")
    try:
        for start in range(0, n, bs):
            stop = min(start + bs, n)
            chunk = []
            for a in arrays:
                part = np.asarray(a[start:stop])
                if stop - start < bs:
                    fill = 4 if part.dtype == np.uint8 else 0
                    pad = np.full((bs - (stop - start),) + part.shape[1:], fill, dtype=part.dtype)
                    part = np.concatenate([part, pad])
                chunk.append(part)
            yield start, stop - start, tuple(chunk)
            if bar is not None:
                bar.update(stop - start)
    finally:
        if bar is not None:
            bar.close()


def _conv_fn(model, variables, x: jax.Array) -> jax.Array:
    """First-layer activations ``(B, L_conv, F)`` of one-hot ``x`` ``(B, L, 4)`` (conv only)."""
    return model.apply(variables, x, method=lambda m, x: m._conv(x, False))


@partial(jax.jit, static_argnums=0)
def _conv_codes(model, variables, codes: jax.Array) -> jax.Array:
    return _conv_fn(model, variables, _one_hot(codes))


def conv_activations(
    model, variables, codes: np.ndarray, batch_size: int = 256, verbose: bool = False
) -> np.ndarray:
    """First-layer activations after the non-linearity, before pooling.

    Parameters
    ----------
    codes
        ``(N, L)`` uint8 codes.

    Returns
    -------
    np.ndarray
        ``(N, L_conv, F)`` float32.
    """
    out = []
    for _, nv, (c,) in padded_batches(len(codes), batch_size, codes, verbose=verbose, desc="activations"):
        out.append(np.asarray(_conv_codes(model, variables, c))[:nv])
    return np.concatenate(out) if out else np.zeros((0, 0, 0), np.float32)


@partial(jax.jit, static_argnums=0)
def _chunk_max(model, variables, codes: jax.Array, mask: jax.Array) -> jax.Array:
    conv = _conv_fn(model, variables, _one_hot(codes))
    conv = jnp.where(mask[:, None, None], conv, -jnp.inf)
    return conv.max(axis=(0, 1))


def filter_thresholds(
    model,
    variables,
    codes: np.ndarray,
    fraction: float = 0.65,
    batch_size: int = 256,
    verbose: bool = False,
) -> np.ndarray:
    """``fraction`` × each filter's maximum activation over all examples and positions.

    Parameters
    ----------
    codes
        ``(N, L)`` uint8 codes of the selected examples.
    fraction
        0.5 in SATORI, 0.65 in SATORI 2.0.

    Returns
    -------
    np.ndarray
        ``(F,)`` float32 thresholds (streamed: a running maximum over the chunks).
    """
    if len(codes) == 0:
        raise ValueError("filter_thresholds needs at least one example")
    running = None
    mask_all = np.ones(len(codes), bool)
    for _, _, (c, m) in padded_batches(len(codes), batch_size, codes, mask_all, verbose=verbose,
                                       desc="thresholds"):
        mx = np.asarray(_chunk_max(model, variables, c, m))
        running = mx if running is None else np.maximum(running, mx)  # on the host: nothing to compile
    return np.asarray(running, np.float32) * np.float32(fraction)


def active_mask(conv: jax.Array, thresholds: jax.Array) -> jax.Array:
    """``(B, L_conv, F)`` bool: activation ``>= threshold`` and ``> 0``.

    The ``> 0`` guard keeps a dead filter (maximum 0, threshold 0) from counting as active
    everywhere.
    """
    thr = jnp.asarray(thresholds, conv.dtype)
    return (conv >= thr) & (conv > 0)


def pooled_activity(conv: jax.Array, thresholds: jax.Array, pool_size: int) -> jax.Array:
    """Filter activity per pooled position (jittable).

    Parameters
    ----------
    conv
        ``(B, L_conv, F)`` activations.
    thresholds
        ``(F,)``.
    pool_size
        ``P``; the remainder ``L_conv mod P`` is dropped like the model's VALID max-pool.

    Returns
    -------
    jax.Array
        ``(B, L', F)`` bool, ``L' = L_conv // P``: filter ``f`` is active at pooled position ``p``
        when its activation passes its threshold (and is positive) anywhere in window ``p``.
    """
    b, lc, f = conv.shape
    lp = lc // pool_size
    act = active_mask(conv[:, : lp * pool_size], thresholds)
    return act.reshape(b, lp, pool_size, f).any(axis=2)


@partial(jax.jit, static_argnums=(0, 5, 6))
def _chunk_sites(model, variables, codes, thresholds, key, offset: int, width: int):
    conv = _conv_fn(model, variables, _one_hot(codes))
    act = active_mask(conv, thresholds)  # (B, Lc, F)
    lc, length = conv.shape[1], codes.shape[1]
    start = jnp.arange(lc) + offset
    inside = (start >= 0) & (start + width <= length)
    present = act.any(axis=1)  # (B, F)
    act_in = act & inside[None, :, None]
    u = jax.random.uniform(key, act.shape)
    pos = jnp.argmax(jnp.where(act_in, u, -1.0), axis=1)  # (B, F) uniform among in-bounds sites
    return present, act_in.any(axis=1), pos


def active_sites(
    model,
    variables,
    codes: np.ndarray,
    thresholds: np.ndarray,
    rng: np.random.Generator,
    *,
    offset: int,
    width: int,
    batch_size: int = 256,
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One random active site per (example, filter), for embedding motifs into a background.

    Parameters
    ----------
    codes
        ``(N, L)`` uint8.
    thresholds
        ``(F,)``.
    offset, width
        Conv offset (:func:`satori_jax.models.conv_offset`) and filter width ``K``: a site at conv
        position ``p`` covers input ``[p + offset, p + offset + K)``.

    Returns
    -------
    present
        ``(N, F)`` bool, filter active anywhere in the example.
    has_site
        ``(N, F)`` bool, filter active at a position whose whole K-mer lies inside the sequence.
    start
        ``(N, F)`` int64 input index of the first base of a uniformly chosen such K-mer (valid
        where ``has_site``).
    """
    thr = jnp.asarray(thresholds, jnp.float32)
    key = jax.random.PRNGKey(int(rng.integers(2**31)))
    pres, has, pos = [], [], []
    for i, (_, nv, (c,)) in enumerate(padded_batches(len(codes), batch_size, codes, verbose=verbose,
                                                      desc="active sites")):
        p, h, s = _chunk_sites(model, variables, c, thr, jax.random.fold_in(key, i), int(offset), int(width))
        pres.append(np.asarray(p)[:nv])
        has.append(np.asarray(h)[:nv])
        pos.append(np.asarray(s)[:nv])
    return np.concatenate(pres), np.concatenate(has), np.concatenate(pos).astype(np.int64) + int(offset)
