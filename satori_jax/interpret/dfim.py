"""DFIM: nucleotide-resolution feature interaction maps (Greenside et al. 2018; ``--methods dfim``).

DESIGN.md step 7. For a sequence ``x (L, 4)`` with attributions ``C_x (L, 4)`` (gradient × input by
default, or integrated gradients), every source position ``s`` is mutated to each of the three
other bases ``γ`` (an N position, code 4, to C, G and T), and

    ``FIS[s → t | γ] = C_x[t] − C_{x(s→γ)}[t]``,   ``C[t] = Σ_channels C[t, :]``,

    ``maxFIS[s, t] = max_γ |FIS[s → t | γ]|``

(the paper's maxFIS, taken on the magnitude since interactions may raise or lower the target's
importance; ``signed=True`` returns the signed FIS of the mutant with the largest magnitude). The
``(L, L)`` map's diagonal ``s = t`` holds the mutated base's own change and is kept in the map but
left out of the pair aggregation.

Pair scores (:func:`dfim_scores`): motif instances as in :mod:`satori_jax.interpret.fis` (the most
active filter at each active pooled position, its K-mer window); for every ordered pair of
instances with different filters at least ``P`` bp apart, the score is the maximum ``maxFIS[s, t]``
over ``s`` in the source window and ``t`` in the target window (``s ≠ t``); per sequence and
unordered filter pair the maximum (and its distance ``|c_a − c_b|`` in bp) is kept.

Batching (maps, :func:`dfim_map`): all ``3 × S`` mutants of the ``batch_size`` sequences of a chunk
go through one jit-compiled, vmapped attribution call (``mutant_batch`` at a time through
``lax.map`` to bound memory; required for IG on long sequences); ``window=(start, end)`` or
``sources=`` restricts the sources to bound cost. Pair scores (:func:`dfim_scores`) only need the
sources inside some motif instance's window (no other source reaches a pair score): a forward pass
finds each sequence's instances, and only its original and the mutants of those positions are
computed, packed across sequences in blocks of a fixed ``batch_size × ROWS_PER_BATCH_ITEM`` rows
(one compile); on the twins-40 model the windows cover 18 % of the positions, so about a fifth of the
work.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from satori_jax.data.encoding import one_hot
from satori_jax.interpret.activity import padded_batches
from satori_jax.interpret.fis import (
    _baseline_for,
    _check_baseline,
    all_instances,
    reduce_pairs,
    row_blocks,
)
from satori_jax.interpret.ig import _value_and_grad, auto_batching, gc_fraction, ig_rows
from satori_jax.interpret.interactions import PairScores, Placement, to_host

__all__ = ["dfim_map", "dfim_scores", "mutant_bases", "plot_dfim", "resolve_sources"]

METHODS = ("grad_x_input", "ig")
DEFAULT_IG_MUTANT_BATCH = 64
"""Mutants per vmapped step with ``method="ig"`` (each costs ``steps`` gradients)."""
ROWS_PER_BATCH_ITEM = 64
"""Rows (originals and mutants) per :func:`dfim_scores` call for each unit of ``batch_size``."""


def mutant_bases(codes: jax.Array) -> jax.Array:
    """``(..., L, 3)`` the three mutant bases of every position: ``(obs + k) mod 4``, ``k = 1, 2, 3``.

    An N (code 4) position is treated as A, so its mutants are C, G, T.
    """
    obs = jnp.where(codes < 4, codes, 0).astype(jnp.int32)
    return (obs[..., None] + jnp.arange(1, 4, dtype=jnp.int32)) % 4


def resolve_sources(length: int, window: tuple[int, int] | None = None, sources: Any = None) -> np.ndarray:
    """Source positions ``(S,)`` int32: all ``L``, ``arange(start, end)`` or the given positions."""
    if window is not None and sources is not None:
        raise ValueError("give either window or sources, not both")
    if window is not None:
        a, b = max(0, int(window[0])), min(length, int(window[1]))
        if b <= a:
            raise ValueError(f"empty source window {window} for length {length}")
        return np.arange(a, b, dtype=np.int32)
    if sources is not None:
        src = np.unique(np.asarray(sources, np.int64))
        if src.size == 0 or src.min() < 0 or src.max() >= length:
            raise ValueError(f"source positions must lie in [0, {length})")
        return src.astype(np.int32)
    return np.arange(length, dtype=np.int32)


def _attr_fn(model, variables, method: str, steps: int, rule: str):
    """``(x (M, L, 4), targets, base (M, L, 4)) -> (M, L)`` per-position attribution sums."""
    if method == "grad_x_input":
        def f(x, targets, base):
            return (_value_and_grad(model, variables, x, targets)[1] * x).sum(-1)
    elif method == "ig":
        def f(x, targets, base):
            rb, sb = auto_batching(steps)
            return ig_rows(model, variables, x, targets, base, steps, rule, sb, rb).sum(-1)
    else:
        raise ValueError(f"unknown attribution method {method!r} (expected one of {METHODS})")
    return f


def _dfim_core(model, variables, codes, targets, src, gc_given, base_arr, *, method, steps, rule, base_kind,
               mutant_batch, signed):
    """``(B, L)`` codes -> maxFIS ``(B, S, L)`` and the one-hot ``x`` (traceable)."""
    x = one_hot(codes)
    b, length, _ = x.shape
    s = src.shape[0]
    gc = gc_fraction(x) if gc_given is None else jnp.broadcast_to(gc_given, (b,))
    base = base_arr if base_kind == "array" else _baseline_for(base_kind, gc, x.shape)
    attr = _attr_fn(model, variables, method, steps, rule)
    c_orig = attr(x, targets, base)  # (B, L)

    alt = jnp.take_along_axis(mutant_bases(codes), jnp.broadcast_to(src[None, :, None], (b, s, 1)), axis=1)
    alt_oh = jnp.eye(4, dtype=x.dtype)[alt]  # (B, S, 3, 4)
    hit = (jnp.arange(length)[None, :] == src[:, None])  # (S, L)
    # (B, S, 3, L, 4): the source row replaced by each mutant base
    mutants = jnp.where(hit[None, :, None, :, None], alt_oh[:, :, :, None, :], x[:, None, None])
    m = b * s * 3
    flat = mutants.reshape(m, length, 4)
    rep = s * 3
    mbase = jnp.repeat(base, rep, axis=0)
    mtgt = None if targets is None else jnp.repeat(targets, rep, axis=0)
    if mutant_batch is None or mutant_batch >= m:
        c_mut = attr(flat, mtgt, mbase)
    else:
        def one(args):
            xi, bi, ti = args
            return attr(xi[None], None if ti is None else ti[None], bi[None])[0]

        c_mut = jax.lax.map(one, (flat, mbase, mtgt), batch_size=int(mutant_batch))
    fis = c_orig[:, None, None, :] - c_mut.reshape(b, s, 3, length)  # (B, S, 3, L)
    k = jnp.argmax(jnp.abs(fis), axis=2)[:, :, None]
    best = jnp.take_along_axis(fis, k, axis=2)[:, :, 0]
    return (best if signed else jnp.abs(best)), x


_STATIC = ("model", "method", "steps", "rule", "base_kind", "mutant_batch", "signed")


@partial(jax.jit, static_argnames=_STATIC)
def _dfim_chunk(model, variables, codes, targets, src, gc_given, base_arr, **kw):
    return _dfim_core(model, variables, codes, targets, src, gc_given, base_arr, **kw)[0]


@partial(jax.jit, static_argnames=("model", "method", "steps", "rule", "base_kind", "mutant_batch"))
def _dfim_rows(model, variables, codes, targets, pos, alt, gc_given, base_arr, *, method, steps, rule,
               base_kind, mutant_batch):
    """Per-position attribution sums ``(R, L)`` of ``R`` rows: sequence ``codes[r]`` with position
    ``pos[r]`` set to base ``alt[r]`` (``pos < 0``: the original), against the original's baseline."""
    x = one_hot(codes)
    r, length, _ = x.shape
    gc = gc_fraction(x) if gc_given is None else jnp.broadcast_to(gc_given, (r,))
    base = base_arr if base_kind == "array" else _baseline_for(base_kind, gc, x.shape)
    base = jnp.broadcast_to(base, x.shape)
    hit = jnp.arange(length)[None, :] == pos[:, None]  # (R, L)
    xm = jnp.where(hit[..., None], jnp.eye(4, dtype=x.dtype)[alt][:, None, :], x)
    attr = _attr_fn(model, variables, method, steps, rule)
    if mutant_batch is None or mutant_batch >= r:
        return attr(xm, targets, base)

    def one(args):
        xi, bi, ti = args
        return attr(xi[None], None if ti is None else ti[None], bi[None])[0]

    return jax.lax.map(one, (xm, base, targets), batch_size=int(mutant_batch))


def _instance_pair_max(m: np.ndarray, src: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Max of ``m (S, L)`` (rows: source positions ``src``) over source window × target window, per
    instance pair: ``(W, W)``, ``-inf`` where no source of the first window was computed."""
    w = start.size
    cols = np.full((m.shape[0], w), -np.inf, np.float32)
    for j in range(w):
        if stop[j] > start[j]:
            cols[:, j] = m[:, start[j]:stop[j]].max(axis=1)
    out = np.full((w, w), -np.inf, np.float32)
    for i in range(w):
        inside = (src >= start[i]) & (src < stop[i])
        if inside.any():
            out[i] = cols[inside].max(axis=0)
    return out


def _mutant_batch(method: str, mutant_batch: int | None) -> int | None:
    """Default: all mutants at once for gradient × input, ``DEFAULT_IG_MUTANT_BATCH`` for IG."""
    if mutant_batch is None and method == "ig":
        return DEFAULT_IG_MUTANT_BATCH
    return None if mutant_batch is None else int(mutant_batch)


def _prep(model, codes, targets, baseline, gc, method, window, sources):
    _check_baseline(baseline)
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r} (expected one of {METHODS})")
    codes = np.asarray(codes, np.uint8)
    n, length = codes.shape
    tgt = None if targets is None else np.asarray(targets, np.float32).reshape(n, -1)
    base_kind = baseline if isinstance(baseline, str) else "array"
    base_arr = None if isinstance(baseline, str) else jnp.broadcast_to(
        jnp.asarray(baseline, jnp.float32), (length, 4))
    gc_given = None if gc is None else jnp.float32(gc)
    src = resolve_sources(length, window, sources)
    return codes, n, length, tgt, base_kind, base_arr, gc_given, src


def dfim_map(
    model,
    variables,
    codes: np.ndarray,
    targets: Any = None,
    *,
    method: str = "grad_x_input",
    steps: int = 20,
    baseline: Any = "gc",
    gc: float | None = None,
    rule: str = "midpoint",
    window: tuple[int, int] | None = None,
    sources: Any = None,
    signed: bool = False,
    batch_size: int = 4,
    mutant_batch: int | None = None,
    verbose: bool = False,
) -> np.ndarray:
    """Deep feature interaction maps.

    Parameters
    ----------
    model, variables
        Trained model.
    codes
        ``(N, L)`` uint8 sequences.
    targets
        ``(N, C)`` bool target labels or ``None`` (all outputs).
    method
        ``"grad_x_input"`` (default) or ``"ig"`` (integrated gradients with ``steps``, ``rule`` and
        ``baseline`` ``"gc"``/``"zeros"``/``(L, 4)``, the GC of the original sequence or ``gc``; the
        mutants share the original's baseline).
    window, sources
        Restrict the sources to ``[start, end)`` or to the given positions (default: all ``L``).
    signed
        Return the signed FIS of the mutant with the largest ``|FIS|`` instead of ``max |FIS|``.
    batch_size
        Sequences per jit call (``3 · S`` mutants each).
    mutant_batch
        Mutants per vmapped step inside the call (``lax.map``); ``None`` = all at once for
        gradient × input, :data:`DEFAULT_IG_MUTANT_BATCH` for IG.

    Returns
    -------
    np.ndarray
        ``(N, S, L)`` float32 maxFIS; row ``i`` is source position ``sources[i]`` (``(N, L, L)`` by
        default).
    """
    codes, n, length, tgt, base_kind, base_arr, gc_given, src = _prep(
        model, codes, targets, baseline, gc, method, window, sources)
    kw = dict(method=method, steps=int(steps), rule=rule, base_kind=base_kind,
              mutant_batch=_mutant_batch(method, mutant_batch), signed=bool(signed))
    arrays = (codes,) if tgt is None else (codes, tgt)
    out = np.empty((n, src.size, length), np.float32)
    src_j = jnp.asarray(src)
    for start, nv, chunk in padded_batches(n, batch_size, *arrays, verbose=verbose, desc="dfim map"):
        c_tgt = None if tgt is None else jnp.asarray(chunk[1])
        res = _dfim_chunk(model, variables, jnp.asarray(chunk[0]), c_tgt, src_j, gc_given, base_arr, **kw)
        out[start : start + nv] = np.asarray(res)[:nv]
    return out


def dfim_scores(
    model,
    variables,
    codes: np.ndarray,
    targets: Any,
    thresholds: np.ndarray,
    *,
    method: str = "grad_x_input",
    steps: int = 20,
    baseline: Any = "gc",
    gc: float | None = None,
    rule: str = "midpoint",
    window: tuple[int, int] | None = None,
    sources: Any = None,
    batch_size: int = 4,
    mutant_batch: int | None = None,
    verbose: bool = False,
) -> PairScores:
    """DFIM pair scores aggregated over motif windows (module docstring).

    Parameters are those of :func:`dfim_map` plus ``thresholds (F,)`` (filter activity). With
    ``window``/``sources``, only source positions inside them count. A call runs ``batch_size ×``
    :data:`ROWS_PER_BATCH_ITEM` rows (originals and mutants of the sources inside instance windows,
    packed across sequences).

    Returns
    -------
    PairScores
        Per example and unordered filter pair, the maximum ``maxFIS`` over source-window ×
        target-window entries, with the instances' distance in bp.
    """
    cfg = model.cfg
    codes, n, length, tgt, base_kind, base_arr, gc_given, src = _prep(
        model, codes, targets, baseline, gc, method, window, sources)
    pool = cfg.pool_size
    kw = dict(method=method, steps=int(steps), rule=rule, base_kind=base_kind,
              mutant_batch=_mutant_batch(method, mutant_batch))
    place = Placement()  # several devices: blocks sharded, variables replicated
    thr = jnp.asarray(thresholds, jnp.float32)
    variables, thr, gc_given, base_arr = place.replicate((variables, thr, gc_given, base_arr))

    found = all_instances(model, variables, codes, thr, place)
    if found is None:
        return PairScores.empty(n)
    has, filt, cpos, start, stop = found

    # 2. rows: each original, then the 3 mutants of each allowed source inside one of its instance
    #    windows (no other source position reaches a pair score)
    allowed = np.zeros(length, bool)
    allowed[src] = True
    obs = np.where(codes < 4, codes, 0).astype(np.int64)
    seq, pos, alt, src_of = [], [], [], []
    for i in range(n):
        cover = np.zeros(length, bool)
        for a, b in zip(start[i][has[i]], stop[i][has[i]], strict=True):
            cover[a:b] = True
        p = np.flatnonzero(cover & allowed)
        src_of.append(p)
        seq.append(np.full(1 + 3 * p.size, i, np.int64))
        pos.append(np.concatenate([[-1], np.repeat(p, 3)]))
        alt.append(np.concatenate([[0], ((obs[i, p][:, None] + np.arange(1, 4)) % 4).ravel()]))
    seq, pos, alt = (np.concatenate(c).astype(np.int32) for c in (seq, pos, alt))
    last = np.zeros(n, np.int64)  # last row of each sequence
    np.maximum.at(last, seq, np.arange(seq.size))

    # 3. blocks of fixed size; a sequence is scored once its last row is in, and its rows dropped
    first = np.concatenate([[0], last[:-1] + 1])

    def pairs_of(i: int, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        p = src_of[i]
        m = np.abs(rows[0][None, None] - rows[1:].reshape(p.size, 3, length)).max(axis=1)  # maxFIS (S_i, L)
        m[np.arange(p.size), p] = -np.inf  # a mutated base's own change is no interaction
        inst = np.flatnonzero(has[i])
        r = _instance_pair_max(m, p, start[i, inst], stop[i, inst])
        f, cp = filt[i, inst], cpos[i, inst]
        dist = np.abs(cp[:, None] - cp[None, :])
        a, b = np.nonzero((f[:, None] != f[None, :]) & (dist >= pool) & np.isfinite(r))
        return np.full(a.size, i), f[a], f[b], r[a, b], dist[a, b]

    size = int(batch_size) * ROWS_PER_BATCH_ITEM
    rows_per_call = place.chunk_size(size, size)
    buf, buf0 = np.zeros((0, length), np.float32), 0  # computed rows not yet scored, from row buf0
    out = []
    done = 0
    for b0, nv, idx in row_blocks(seq.size, rows_per_call, verbose,
                                  f"dfim: {n} sequences, blocks of {rows_per_call} mutants"):
        arrays = (codes[seq[idx]], None if tgt is None else tgt[seq[idx]], pos[idx], alt[idx])
        got = to_host(_dfim_rows(model, variables, *place.put(arrays), gc_given, base_arr, **kw))[:nv]
        buf = np.concatenate([buf, np.asarray(got, np.float32)])
        while done < n and last[done] < b0 + nv:
            out.append(pairs_of(done, buf[first[done] - buf0 : last[done] + 1 - buf0]))
            done += 1
        keep = (first[done] if done < n else seq.size) - buf0
        buf, buf0 = buf[keep:], buf0 + keep
    cols = [np.concatenate(x) for x in zip(*out, strict=True)] if out else [np.zeros(0)] * 5
    return reduce_pairs(*cols, n_examples=n)


def plot_dfim(
    dfim: np.ndarray,
    path: str | Path,
    *,
    sources: Any = None,
    title: str = "",
    instances: list[tuple[int, int, str]] | None = None,
) -> Path:
    """Heat map of one sequence's DFIM, written as a PNG.

    Parameters
    ----------
    dfim
        ``(S, L)`` map (rows = source positions, columns = target positions).
    path
        Output PNG.
    sources
        ``(S,)`` source positions of the rows (default ``0 … S−1``).
    title
        Figure title.
    instances
        Optional motif windows ``(start, stop, label)`` drawn along both axes.

    Returns
    -------
    Path
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(dfim, np.float32)
    s, length = m.shape
    src = np.arange(s) if sources is None else np.asarray(sources)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    signed = bool((m < 0).any())
    finite = np.abs(m[np.isfinite(m)])
    vmax = float(finite.max()) if finite.size else 1.0  # all-NaN maps (no sources): no warning
    extent = (-0.5, length - 0.5, float(src[-1]) + 0.5, float(src[0]) - 0.5)
    im = ax.imshow(m, aspect="auto", interpolation="nearest", extent=extent,
                   cmap="RdBu_r" if signed else "viridis", vmin=-vmax if signed else 0.0, vmax=vmax or 1.0)
    for a, b, label in instances or []:
        ax.axvspan(a - 0.5, b - 0.5, color="white", alpha=0.15, lw=0)
        ax.axhspan(a - 0.5, b - 0.5, color="white", alpha=0.15, lw=0)
        ax.text(a, float(src[0]) - 0.5, label, fontsize=7, va="bottom", color="black")
    ax.set_xlabel("target position (bp)")
    ax.set_ylabel("source position (bp)")
    ax.set_title(title or "DFIM (maxFIS)")
    fig.colorbar(im, ax=ax, label="FIS" if signed else "max |FIS|")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
