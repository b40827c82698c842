"""Dinucleotide shuffling (Altschul & Erickson 1985), vectorized across sequences, and motif embedding.

A sequence is an Eulerian path in the multigraph whose vertices are letters (A, C, G, T and N,
code 4, as a fifth letter) and whose edges are its dinucleotides. A uniformly random path with the
same first letter (and hence the same last letter ``z``) and the same edge multiset is drawn as
follows, for all sequences at once:

1. For every vertex ``v != z`` with outgoing edges pick a *last edge* with probability proportional
   to the edge counts; accept when these last edges form a tree rooted at ``z`` (rejection: the
   failing sequences redraw, with masked array operations on ``(N, 5)`` arrays).
2. Order every vertex's remaining outgoing edges by random sort keys, with the last edge at the end.
3. Walk ``L − 1`` steps from the first letter, always taking the next unused edge of the current
   vertex (one vectorized step over all sequences per position).

Dinucleotide counts, first and last letter are preserved exactly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dinucleotide_counts", "dinucleotide_shuffle", "embed_instances", "shuffled_background"]

_A = 5  # alphabet: A C G T N


def dinucleotide_counts(codes: np.ndarray) -> np.ndarray:
    """``(N, L)`` codes -> ``(N, 5, 5)`` int64 counts of each dinucleotide (code >= 4 counted as N)."""
    c = np.minimum(np.asarray(codes, np.int64), 4)
    n = c.shape[0]
    flat = (np.arange(n)[:, None] * _A * _A + c[:, :-1] * _A + c[:, 1:]).ravel()
    return np.bincount(flat, minlength=n * _A * _A).reshape(n, _A, _A)


def dinucleotide_shuffle(codes: np.ndarray, rng: np.random.Generator, max_rounds: int = 10_000) -> np.ndarray:
    """Shuffle every sequence preserving its dinucleotide counts exactly.

    Parameters
    ----------
    codes
        ``(N, L)`` uint8 codes (A0 C1 G2 T3, 4 = N; values > 4 are treated as 4).
    rng
        NumPy generator.

    Returns
    -------
    np.ndarray
        ``(N, L)`` uint8, same first and last letter and the same ``(N, 5, 5)`` dinucleotide counts.
    """
    codes = np.minimum(np.asarray(codes), 4).astype(np.uint8)
    n, length = codes.shape
    if n == 0 or length < 3:
        return codes.copy()
    c = codes.astype(np.int64)
    src, dst = c[:, :-1], c[:, 1:]  # (N, E) edges, E = L - 1
    counts = dinucleotide_counts(c)  # (N, 5, 5)
    out_deg = counts.sum(axis=2)  # (N, 5)
    last = c[:, -1]
    rows = np.arange(n)
    verts = np.arange(_A)

    # 1) last edges forming an arborescence rooted at the last letter (rejection, masked)
    cum = np.cumsum(counts, axis=2)  # (N, 5, 5)
    parent = np.zeros((n, _A), np.int64)
    todo = np.arange(n)
    needs = (out_deg > 0) & (verts[None, :] != last[:, None])  # vertices that need a last edge
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        u = rng.random((todo.size, _A)) * np.maximum(out_deg[todo], 1)
        par = (cum[todo] <= u[:, :, None]).sum(axis=2)  # weighted choice of the target letter
        par = np.where(needs[todo], np.minimum(par, _A - 1), verts[None, :])
        z = last[todo]
        par[np.arange(todo.size), z] = z  # root points to itself
        node = np.broadcast_to(verts, par.shape).copy()
        for _ in range(_A):
            node = np.take_along_axis(par, node, axis=1)
        ok = np.all(~needs[todo] | (node == z[:, None]), axis=1)
        parent[todo[ok]] = par[ok]
        todo = todo[~ok]
    else:  # pragma: no cover - practically unreachable
        raise RuntimeError("dinucleotide_shuffle: arborescence sampling did not converge")

    # 2) random order of each vertex's edges, the chosen last edge at the end
    keys = rng.random(src.shape)
    is_last_type = (dst == parent[rows[:, None], src]) & (src != last[:, None])
    # which copy of the last edge type goes last: an independent draw (using ``keys`` here would
    # push the other copies of that type towards the front of the order)
    cand = np.where(is_last_type, rng.random(src.shape), -1.0)
    best = np.full((n, _A), -1.0)
    np.maximum.at(best, (np.broadcast_to(rows[:, None], src.shape), src), cand)
    chosen = is_last_type & (cand == best[rows[:, None], src])
    sort_key = src + np.where(chosen, 0.999999, keys * 0.99)
    order = np.argsort(sort_key, axis=1, kind="stable")
    targets = np.take_along_axis(dst, order, axis=1)  # (N, E) grouped by source vertex

    # 3) the walk
    ptr = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(out_deg, axis=1)[:, :-1]], axis=1)
    out = np.empty((n, length), np.uint8)
    cur = c[:, 0].copy()
    out[:, 0] = cur
    for t in range(1, length):
        p = ptr[rows, cur]
        nxt = targets[rows, p]
        ptr[rows, cur] = p + 1
        out[:, t] = nxt
        cur = nxt
    return out


def embed_instances(
    shuffled: np.ndarray,
    fg_codes: np.ndarray,
    present: np.ndarray,
    has_site: np.ndarray,
    site_start: np.ndarray,
    width: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Embed real filter instances into background sequences at the foreground rates.

    Filter ``f`` is active in a fraction ``r_f`` of the foreground sequences (``present``); every
    background sequence receives, with probability ``r_f`` and independently per filter, one K-mer
    copied from a random foreground site of ``f`` (a random foreground sequence with a site, and
    the site drawn in it) at a uniformly random position. Embeddings are written in random filter
    order; later ones may overwrite earlier ones.

    Parameters
    ----------
    shuffled
        ``(M, L)`` uint8 background sequences.
    fg_codes
        ``(N, L)`` uint8 foreground sequences.
    present
        ``(N, F)`` bool: filter active anywhere in the foreground sequence (gives ``r_f``).
    has_site, site_start
        ``(N, F)``: whether the sequence has a site whose K-mer lies inside it, and the input index
        of that K-mer's first base (see :func:`satori_jax.interpret.activity.active_sites`).
    width
        ``K``.

    Returns
    -------
    np.ndarray
        ``(M, L)`` uint8 with the instances embedded.
    """
    out = np.array(shuffled, dtype=np.uint8, copy=True)
    m, length = out.shape
    n, f = present.shape
    if m == 0 or n == 0 or width > length:
        return out
    rate = present.mean(axis=0)  # (F,)
    n_sites = has_site.sum(axis=0)  # (F,)
    emb = (rng.random((m, f)) < rate[None, :]) & (n_sites[None, :] > 0)
    bi, fi = np.nonzero(emb)
    if bi.size == 0:
        return out
    perm = rng.permutation(bi.size)
    bi, fi = bi[perm], fi[perm]
    # pick the k-th foreground sequence with a site for f, k uniform
    order = np.argsort(~has_site, axis=0, kind="stable")  # (N, F) sequences with a site first, per column
    k = np.floor(rng.random(bi.size) * n_sites[fi]).astype(np.int64)
    src_seq = order[k, fi]
    start = site_start[src_seq, fi]
    kmer = fg_codes[src_seq[:, None], start[:, None] + np.arange(width)[None, :]]  # (E, K)
    pos = rng.integers(0, length - width + 1, size=bi.size)
    out[bi[:, None], pos[:, None] + np.arange(width)[None, :]] = kmer
    return out


def shuffled_background(
    model,
    variables,
    fg_codes: np.ndarray,
    thresholds: np.ndarray,
    rng: np.random.Generator,
    batch_size: int = 256,
    verbose: bool = False,
) -> np.ndarray:
    """Background for multi-label tasks: shuffled foreground with filter instances embedded.

    Parameters
    ----------
    model, variables
        The trained model (its filters define the instances).
    fg_codes
        ``(N, L)`` uint8 foreground sequences.
    thresholds
        ``(F,)`` filter activity thresholds (the ones used for motifs).

    Returns
    -------
    np.ndarray
        ``(N, L)`` uint8: one dinucleotide-shuffled copy of each foreground sequence with motif
        instances embedded at the foreground rates (:func:`embed_instances`).
    """
    from satori_jax.interpret.activity import active_sites
    from satori_jax.models import conv_offset

    width = int(model.cfg.filter_width)
    present, has_site, start = active_sites(
        model, variables, fg_codes, thresholds, rng, offset=conv_offset(model.cfg), width=width,
        batch_size=batch_size, verbose=verbose,
    )
    shuffled = dinucleotide_shuffle(fg_codes, rng)
    return embed_instances(shuffled, fg_codes, present, has_site, start, width, rng)
