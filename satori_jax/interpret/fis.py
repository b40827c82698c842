"""FIS: DFIM's feature interaction score at motif resolution, as SATORI implements it (``--methods fis``).

DESIGN.md step 6. Per sequence:

1. **Instances.** At every pooled position ``p`` where some filter is active
   (:func:`satori_jax.interpret.activity.pooled_activity` with the foreground thresholds), the
   instance is the active filter with the highest activation in ``p``'s pooling window (SATORI keeps
   one filter per position to bound the cost); its conv position ``c`` is where that filter peaks
   inside the window (first maximum), and it covers the input ``[c + off, c + off + K)`` clipped to
   ``[0, L)`` (``off = conv_offset``). Distances between instances are ``|c_a − c_b|`` in bp.
2. **Sources.** Every instance (at most ``max_sources`` per sequence: the first ones along the
   sequence) is mutated over its K input positions to the GC background probabilities
   ``A, T = (1 − f_GC)/2``, ``C, G = f_GC/2`` (``f_GC`` of the original sequence, or ``gc``).
3. **Attributions.** Integrated gradients on the input (:mod:`satori_jax.interpret.ig`), for the
   original once and for every mutant, against the same baseline (the original's GC background, or
   zeros).
4. **Score.** For every other instance (target) at least ``P`` bp away with a different filter,
   ``FIS = |Σ_{target's K positions, 4 channels} IG(original) − IG(mutant)|``.
5. **Pairs.** Per sequence and unordered filter pair (both directions), the maximum FIS and its
   distance (ties: the smaller distance) → :class:`~satori_jax.interpret.interactions.PairScores`.

Batching: only the variants that exist are computed. A forward pass first finds every sequence's
instances; its original and its (at most ``max_sources``) sources become rows, and the rows of all
sequences go through a jit-compiled IG call in blocks of a fixed ``batch_size × ROWS_PER_BATCH_ITEM``
rows (inside it, small blocks of rows and steps at a time through ``lax.map`` on CPU, which is faster
there than one huge batch; everything at once on accelerators), so one compile serves all and no
call computes a pooled position without an instance (``bench/results/fis-dfim-packed-2026-12-07.md``).
:func:`fis_scores_loop` is the naive per-source reference (one IG call per variant) for tests and
``bench/fis_vs_loop.py``.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from satori_jax.data.encoding import one_hot
from satori_jax.interpret.activity import conv_activations, pooled_activity
from satori_jax.interpret.ig import auto_batching, gc_background, gc_fraction, ig_rows, integrated_gradients
from satori_jax.interpret.interactions import PairScores, Placement, to_host
from satori_jax.models import conv_offset
from satori_jax.predict import progress

__all__ = [
    "all_instances",
    "fis_scores",
    "fis_scores_loop",
    "motif_instances",
    "reduce_pairs",
    "row_blocks",
]

#: Sequences per forward pass when finding the motif instances.
INSTANCE_BATCH = 64
#: IG rows (originals and sources) per call for each unit of ``batch_size``: small fixed blocks, so
#: that the last, padded block of a run wastes little, however few instances the sequences hold.
ROWS_PER_BATCH_ITEM = 16


# ----------------------------------------------------------------------------- shared helpers


def reduce_pairs(
    example: np.ndarray,
    filt_a: np.ndarray,
    filt_b: np.ndarray,
    score: np.ndarray,
    distance: np.ndarray,
    n_examples: int,
):
    """Per (example, unordered filter pair) keep the maximum score (ties: the smaller distance).

    Parameters
    ----------
    example, filt_a, filt_b, score, distance
        ``(E,)`` candidate entries (filters in either order).
    n_examples
        Number of examples scored.

    Returns
    -------
    PairScores
        Sorted by (example, filter_a, filter_b), ``filter_a < filter_b``.
    """
    example = np.asarray(example, np.int64)
    lo = np.minimum(filt_a, filt_b).astype(np.int64)
    hi = np.maximum(filt_a, filt_b).astype(np.int64)
    score = np.asarray(score, np.float32)
    distance = np.asarray(distance, np.int64)
    ps = PairScores
    if example.size == 0:
        return ps.empty(int(n_examples))
    order = np.lexsort((distance, -score, hi, lo, example))
    ex, lo, hi, sc, di = example[order], lo[order], hi[order], score[order], distance[order]
    first = np.ones(ex.size, bool)
    first[1:] = (ex[1:] != ex[:-1]) | (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return ps(
        example=ex[first].astype(np.int32),
        filter_a=lo[first].astype(np.int32),
        filter_b=hi[first].astype(np.int32),
        score=sc[first].astype(np.float32),
        distance=di[first].astype(np.int32),
        n_examples=int(n_examples),
    )


def motif_instances(
    conv: jax.Array, thresholds: jax.Array, pool_size: int, offset: int, width: int, length: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]:
    """One motif instance per active pooled position (jittable).

    Parameters
    ----------
    conv
        ``(B, L_conv, F)`` first-layer activations.
    thresholds
        ``(F,)``.
    pool_size, offset, width, length
        ``P``, ``conv_offset``, ``K`` and the input length ``L``.

    Returns
    -------
    has
        ``(B, L')`` bool: some filter is active at the pooled position.
    filt
        ``(B, L')`` int32: active filter with the highest activation in the window.
    cpos
        ``(B, L')`` int32: conv position where that filter peaks inside the window (first max).
    start, stop
        ``(B, L')`` int32: input window ``[start, stop)`` = ``[cpos + offset, cpos + offset + K)``
        clipped to ``[0, L)``.
    """
    b, lc, f = conv.shape
    lp = lc // pool_size
    active = pooled_activity(conv, thresholds, pool_size)  # (B, L', F)
    win = conv[:, : lp * pool_size].reshape(b, lp, pool_size, f)
    pmax = win.max(axis=2)  # (B, L', F)
    has = active.any(axis=-1)
    filt = jnp.argmax(jnp.where(active, pmax, -jnp.inf), axis=-1).astype(jnp.int32)
    col = jnp.take_along_axis(win, filt[:, :, None, None], axis=3)[..., 0]  # (B, L', P)
    cpos = (jnp.arange(lp, dtype=jnp.int32) * pool_size)[None, :] + jnp.argmax(col, axis=-1).astype(jnp.int32)
    start = jnp.clip(cpos + offset, 0, length)
    stop = jnp.clip(cpos + offset + width, 0, length)
    return has, filt, cpos, start, stop


def window_sums(c: jax.Array, start: jax.Array, stop: jax.Array) -> jax.Array:
    """``Σ_{l ∈ [start, stop)} c[..., l]`` via a cumulative sum.

    Parameters
    ----------
    c
        ``(..., L)`` per-position values.
    start, stop
        ``(..., W)`` int windows (same leading shape as ``c``).

    Returns
    -------
    ``(..., W)``.
    """
    cs = jnp.concatenate([jnp.zeros((*c.shape[:-1], 1), c.dtype), jnp.cumsum(c, axis=-1)], axis=-1)
    return jnp.take_along_axis(cs, stop, axis=-1) - jnp.take_along_axis(cs, start, axis=-1)


def _gc_probs(gc: jax.Array) -> jax.Array:
    """``(B, 4)`` background probabilities for ``(B,)`` GC fractions."""
    return gc_background(gc, 1)[..., 0, :]


def _check_baseline(baseline: Any) -> None:
    if isinstance(baseline, str) and baseline not in ("gc", "zeros"):
        raise ValueError(f"unknown baseline {baseline!r} (expected 'gc', 'zeros' or an (L, 4) array)")


def _baseline_for(baseline: Any, gc: jax.Array, shape: tuple[int, int, int]) -> jax.Array:
    """``(B, L, 4)`` baseline of the originals (mutants of a sequence share it)."""
    b, length, _ = shape
    if isinstance(baseline, str):
        if baseline == "zeros":
            return jnp.zeros(shape, jnp.float32)
        return gc_background(gc, length)
    return jnp.broadcast_to(jnp.asarray(baseline, jnp.float32), shape)


# ----------------------------------------------------------------------------- batched kernels


@partial(jax.jit, static_argnames=("model", "pool", "offset", "width"))
def _instances_chunk(model, variables, codes, thresholds, *, pool, offset, width):
    """:func:`motif_instances` of a chunk of ``(B, L)`` sequences (one forward pass)."""
    x = one_hot(codes)
    _, inter = model.apply(variables, x, train=False)
    return motif_instances(inter["conv"], thresholds, pool, offset, width, x.shape[1])


@partial(jax.jit, static_argnames=("model", "steps", "rule", "base_kind", "step_batch", "row_batch"))
def _fis_rows(model, variables, codes, targets, mut_start, mut_stop, t_start, t_stop, gc_given, base_arr, *,
              steps, rule, base_kind, step_batch, row_batch):
    """Attribution sums over every instance window of ``R`` variant rows, in one IG call.

    Row ``r`` is sequence ``codes[r]`` with its input ``[mut_start[r], mut_stop[r])`` set to the
    sequence's GC background (an empty window: the original); its IG runs against the original's
    baseline. Returns ``(R, L')``: ``Σ_{[t_start, t_stop)} Σ_channels IG`` per target window.
    """
    x = one_hot(codes)  # (R, L, 4): the originals
    r, length, _ = x.shape
    gc = gc_fraction(x) if gc_given is None else jnp.broadcast_to(gc_given, (r,))
    pos = jnp.arange(length)
    win = (pos >= mut_start[:, None]) & (pos < mut_stop[:, None])  # (R, L)
    xm = jnp.where(win[..., None], _gc_probs(gc)[:, None, :], x)
    base = base_arr if base_kind == "array" else _baseline_for(base_kind, gc, x.shape)
    base = jnp.broadcast_to(base, x.shape)
    attr = ig_rows(model, variables, xm, targets, base, steps, rule, step_batch, row_batch)
    return window_sums(attr.sum(-1), t_start, t_stop)


def all_instances(model, variables, codes: np.ndarray, thresholds, place: Placement
                  ) -> tuple[np.ndarray, ...] | None:
    """Every sequence's motif instances (:func:`motif_instances`), on the host.

    Parameters
    ----------
    model, variables, thresholds
        Model, and variables and ``(F,)`` thresholds already placed by ``place``.
    codes
        ``(N, L)`` uint8 sequences, :data:`INSTANCE_BATCH` per forward pass.

    Returns
    -------
    ``has, filt, cpos, start, stop``, each ``(N, L')``; ``None`` when ``N = 0``.
    """
    cfg = model.cfg
    parts = []
    for _, nv, (c_codes,) in place.batches(len(codes), INSTANCE_BATCH, codes):
        got = _instances_chunk(model, variables, place.put((c_codes,))[0], thresholds, pool=cfg.pool_size,
                               offset=conv_offset(cfg), width=cfg.filter_width)
        parts.append([to_host(a)[:nv] for a in got])
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True)) if parts else None


def row_blocks(n_rows: int, rows_per_call: int, verbose: bool = False, desc: str = ""):
    """Yield ``(first row, number of real rows, (rows_per_call,) row indices)`` over ``n_rows`` rows;
    the last block is padded by repeating its first row (computed, then dropped). ``verbose``: a
    progress bar (in blocks) labelled ``desc``."""

    def blocks():
        for b0 in range(0, n_rows, rows_per_call):
            idx = np.arange(b0, min(b0 + rows_per_call, n_rows))
            yield b0, idx.size, np.concatenate([idx, np.full(rows_per_call - idx.size, idx[0])])

    return progress(blocks(), verbose, desc, -(-n_rows // rows_per_call))


def _variant_rows(has: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Each sequence's original (slot ``-1``) then its first ``s`` instances along the sequence.

    ``has`` is ``(N, L')`` with ``N >= 1``. Returns ``seq (V,)``, ``slot (V,)`` (pooled position of
    the source, ``-1`` = original) and the number of instances left out by the cap.
    """
    n_inst = has.sum(axis=1)
    seq, slot = [], []
    for i in range(has.shape[0]):
        src = np.flatnonzero(has[i])[:s]
        seq.append(np.full(1 + src.size, i, np.int64))
        slot.append(np.concatenate([[-1], src]).astype(np.int64))
    return np.concatenate(seq), np.concatenate(slot), int(np.maximum(n_inst - s, 0).sum())


def _prep(model, codes, targets, thresholds, baseline, gc):
    cfg = model.cfg
    codes = np.asarray(codes, np.uint8)
    n, length = codes.shape
    lp = (length if cfg.padding == "SAME" else length - cfg.filter_width + 1) // cfg.pool_size
    tgt = None if targets is None else np.asarray(targets, np.float32).reshape(n, -1)
    _check_baseline(baseline)
    base_kind = baseline if isinstance(baseline, str) else "array"
    base_arr = None if isinstance(baseline, str) else jnp.broadcast_to(
        jnp.asarray(baseline, jnp.float32), (length, 4))
    gc_given = None if gc is None else jnp.float32(gc)
    return cfg, codes, n, length, lp, tgt, base_kind, base_arr, gc_given, jnp.asarray(thresholds, jnp.float32)


def fis_scores(
    model,
    variables,
    codes: np.ndarray,
    targets: Any,
    thresholds: np.ndarray,
    *,
    steps: int = 20,
    baseline: Any = "gc",
    batch_size: int = 4,
    max_sources: int | None = None,
    gc: float | None = None,
    rule: str = "midpoint",
    step_batch: int | None | str = "auto",
    row_batch: int | None | str = "auto",
    verbose: bool = False,
):
    """Motif-resolution FIS for every example (module docstring), batched.

    Parameters
    ----------
    model, variables
        Trained model.
    codes
        ``(N, L)`` uint8 sequences.
    targets
        ``(N, C)`` bool target labels (true-positive labels for multi-label), or ``None`` for all
        outputs (binary: the single logit).
    thresholds
        ``(F,)`` filter activity thresholds (foreground thresholds for foreground and background).
    steps, rule
        IG Riemann steps and rule.
    row_batch, step_batch
        Inside the one call, the ``B (1 + S)`` rows (originals and variants) are differentiated
        ``row_batch`` rows and ``step_batch`` steps at a time through ``lax.map``: ``None`` = all at
        once (best on accelerators); ``"auto"`` (:func:`~satori_jax.interpret.ig.auto_batching`) =
        about ten gradient rows at a time on CPU (cache-sized blocks are faster there than one huge
        batch) and ``None`` elsewhere. Results do not depend on them.
    baseline
        ``"gc"`` (GC background of the original sequence), ``"zeros"`` or an ``(L, 4)`` array.
    batch_size
        A call runs ``batch_size ×`` :data:`ROWS_PER_BATCH_ITEM` variant rows (originals and sources,
        packed across sequences) × ``steps`` gradients, so this bounds memory.
    max_sources
        Source slots per sequence ``S`` (default ``L'``, every pooled position); instances beyond
        the first ``S`` along the sequence are not used as sources (still as targets).
    gc
        Fixed GC fraction for the mutations and the baseline; ``None`` = each sequence's own.
    verbose
        Progress on stderr.

    Returns
    -------
    PairScores
        One row per (example, filter pair) observed, ``score`` = max FIS, ``distance`` in bp.
    """
    cfg, codes, n, length, lp, tgt, base_kind, base_arr, gc_given, thr = _prep(
        model, codes, targets, thresholds, baseline, gc)
    s = lp if max_sources is None else max(1, min(int(max_sources), lp))
    rb, sb = auto_batching(int(steps), row_batch, step_batch)
    pool = cfg.pool_size
    place = Placement()  # several devices: blocks sharded, variables replicated
    variables, thr, gc_given, base_arr = place.replicate((variables, thr, gc_given, base_arr))

    found = all_instances(model, variables, codes, thr, place)
    if found is None:
        return PairScores.empty(n)
    has, filt, cpos, start, stop = found

    # 2. the variant rows that exist (each original, then its sources), in blocks of fixed size
    seq, slot, truncated = _variant_rows(has, s)
    src = slot >= 0
    mut_start = np.where(src, start[seq, np.maximum(slot, 0)], 0).astype(np.int32)
    mut_stop = np.where(src, stop[seq, np.maximum(slot, 0)], 0).astype(np.int32)
    size = int(batch_size) * ROWS_PER_BATCH_ITEM
    rows_per_call = place.chunk_size(size, size)
    t_orig = np.zeros((n, lp), np.float32)
    rows: list[tuple[np.ndarray, ...]] = []
    for _, nv, idx in row_blocks(seq.size, rows_per_call, verbose,
                                 f"fis: {n} sequences, blocks of {rows_per_call} variants"):
        sq = seq[idx]
        arrays = (codes[sq], None if tgt is None else tgt[sq], mut_start[idx], mut_stop[idx], start[sq],
                  stop[sq])
        t = to_host(_fis_rows(model, variables, *place.put(arrays), gc_given, base_arr, steps=int(steps),
                              rule=rule, base_kind=base_kind, step_batch=sb, row_batch=rb))[:nv]
        idx, sq = idx[:nv], sq[:nv]
        is_orig = slot[idx] < 0
        t_orig[sq[is_orig]] = t[is_orig]  # a sequence's original comes before its sources
        # 3. FIS of each source on every other instance: different filter, at least P bp apart
        v = np.flatnonzero(~is_orig)
        i_r, p_r = sq[v], slot[idx[v]]
        s_filt = filt[i_r, p_r]
        dist = np.abs(cpos[i_r] - cpos[i_r, p_r][:, None])  # (V, L')
        ok = has[i_r] & (filt[i_r] != s_filt[:, None]) & (dist >= pool)
        a, tg = np.nonzero(ok)
        rows.append((i_r[a], s_filt[a], filt[i_r[a], tg], np.abs(t_orig[i_r[a], tg] - t[v[a], tg]),
                     dist[a, tg]))
    if verbose and truncated:
        print(f"  fis: {truncated} instances beyond max_sources={s} not used as sources", file=sys.stderr)
    cols = [np.concatenate(c) for c in zip(*rows, strict=True)] if rows else [np.zeros(0)] * 5
    return reduce_pairs(*cols, n_examples=n)


# ----------------------------------------------------------------------------- naive reference


def _instances_np(conv: np.ndarray, thresholds: np.ndarray, pool: int, offset: int, width: int,
                  length: int) -> list[tuple[int, int, int, int]]:
    """Python reference of :func:`motif_instances` for one sequence: ``[(filter, cpos, start, stop)]``."""
    lc, f = conv.shape
    out = []
    for p in range(lc // pool):
        w = conv[p * pool : (p + 1) * pool]  # (P, F)
        best, best_val = -1, -np.inf
        for j in range(f):
            m = w[:, j].max()
            if m >= thresholds[j] and m > 0 and m > best_val:
                best, best_val = j, m
        if best < 0:
            continue
        c = p * pool + int(np.argmax(w[:, best]))
        out.append((best, c, min(max(c + offset, 0), length), min(max(c + offset + width, 0), length)))
    return out


def fis_scores_loop(
    model,
    variables,
    codes: np.ndarray,
    targets: Any,
    thresholds: np.ndarray,
    *,
    steps: int = 20,
    baseline: Any = "gc",
    max_sources: int | None = None,
    gc: float | None = None,
    rule: str = "midpoint",
):
    """Naive reference: Python loops over sequences, sources and targets, one IG call per variant.

    Same definition and arguments as :func:`fis_scores` (no batching); every IG call goes through
    the same jit-compiled attribution function with batch 1.
    """
    cfg = model.cfg
    _check_baseline(baseline)
    codes = np.asarray(codes, np.uint8)
    n, length = codes.shape
    thr = np.asarray(thresholds, np.float32)
    off, k, pool = conv_offset(cfg), cfg.filter_width, cfg.pool_size
    lp = (length if cfg.padding == "SAME" else length - k + 1) // pool
    s_cap = lp if max_sources is None else max(1, min(int(max_sources), lp))
    tgt = None if targets is None else np.asarray(targets, np.float32).reshape(n, -1)
    ex, fa, fb, sc, di = [], [], [], [], []
    for i in range(n):
        x = np.asarray(one_hot(codes[i : i + 1]))  # (1, L, 4)
        t = None if tgt is None else tgt[i : i + 1]
        conv = conv_activations(model, variables, codes[i : i + 1])[0]  # jit-compiled, batch 1
        inst = _instances_np(conv, thr, pool, off, k, length)
        f_gc = float(x[0, :, 1].sum() + x[0, :, 2].sum()) / length if gc is None else float(gc)
        probs = np.array([(1 - f_gc) / 2, f_gc / 2, f_gc / 2, (1 - f_gc) / 2], np.float32)
        if isinstance(baseline, str):
            zeros = baseline == "zeros"
            base = np.zeros((1, length, 4), np.float32) if zeros else np.tile(probs, (1, length, 1))
        else:
            base = np.broadcast_to(np.asarray(baseline, np.float32), (1, length, 4))
        ig_args = dict(baseline=base, steps=steps, rule=rule)
        a0 = np.asarray(integrated_gradients(model, variables, x, t, **ig_args))[0]
        for sf, sp, s0, s1 in inst[:s_cap]:
            xm = x.copy()
            xm[0, s0:s1] = probs
            am = np.asarray(integrated_gradients(model, variables, xm, t, **ig_args))[0]
            for tf, tp, t0, t1 in inst:
                if tf == sf or abs(tp - sp) < pool:
                    continue
                ex.append(i)
                fa.append(sf)
                fb.append(tf)
                sc.append(abs(float(a0[t0:t1].sum()) - float(am[t0:t1].sum())))
                di.append(abs(tp - sp))
    return reduce_pairs(np.array(ex, np.int64), np.array(fa, np.int64), np.array(fb, np.int64),
                        np.array(sc, np.float32), np.array(di, np.int64), n_examples=n)
