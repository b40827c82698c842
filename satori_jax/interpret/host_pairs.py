"""Pair maxima on the host over the active entries only (the CPU path of pair scoring).

:func:`satori_jax.interpret.interactions.pair_maxima` computes, per example, the best score of every
ordered filter pair with two dense running maxima over positions: ``O(F·L'² + F²·L')`` work, most of
it on filters that are not active anywhere in the example. On a CPU that dense work is what pair
scoring costs. Here the same two maxima run over the *active* entries only, one compiled loop per
example (numba, a dependency of memelite):

1. for every active filter ``a`` and position ``j``: ``m1[a, j] = max {S[i, j] : i != j, a active at
   i}``, over ``a``'s active positions ``i`` in ascending order (``O(K·L')`` for ``K`` active
   (position, filter) entries);
2. for every pair of active filters: ``best[a, c] = max {m1[a, j] : c active at j}``, over ``c``'s
   active positions ``j`` in ascending order (``O(n_active² · positions per filter)``);
3. the unordered pairs ``lo < hi``, symmetrised like
   :func:`~satori_jax.interpret.interactions.symmetrize`, the finite ones written out.

Every maximum is a strict running maximum from ``-inf`` with the arg-max starting at 0, exactly as
in the dense scans, so scores, maximiser distances (ties: smallest ``j``, then smallest ``i``) and
the order of the entries (example, then ``filter_a < filter_b``) are the same, bit for bit, for any
input (NaN and infinities included); ``tests/test_interactions.py`` checks it against the dense
path.
"""

from __future__ import annotations

import numpy as np

__all__ = ["available", "pair_entries"]

_KERNEL = None


def _build():
    import numba

    @numba.njit(cache=True, nogil=True)
    def kernel(s, act, start, ex_out, fa_out, fb_out, sc_out, d_out):  # pragma: no cover - compiled
        b, lp, f = act.shape
        n_out = 0
        cnt = np.zeros(f, np.int64)
        pos = np.empty((f, lp), np.int64)
        alist = np.empty(f, np.int64)
        m1 = np.empty((f, lp), np.float32)  # m1[ka, j] (ka: index among the active filters)
        i1 = np.empty((f, lp), np.int64)
        m1t = np.empty((lp, f), np.float32)  # m1t[j, ka]
        best = np.empty((f, f), np.float32)  # best[kc, ka] = max S[i, j], filter ka at i, kc at j
        jbest = np.empty((f, f), np.int64)
        neg = np.float32(-np.inf)
        for e in range(b):
            cnt[:] = 0
            for i in range(lp):
                for a in range(f):
                    if act[e, i, a]:
                        pos[a, cnt[a]] = i
                        cnt[a] += 1
            na = 0
            for a in range(f):
                if cnt[a] > 0:
                    alist[na] = a
                    na += 1
            # 1) m1[a, j], i1[a, j] over a's active positions i (ascending), i != j
            for ka in range(na):
                a = alist[ka]
                for j in range(lp):
                    m1[ka, j] = neg
                    i1[ka, j] = 0
                for p in range(cnt[a]):
                    i = pos[a, p]
                    for j in range(lp):
                        v = s[e, i, j] if i != j else neg
                        if v > m1[ka, j]:
                            m1[ka, j] = v
                            i1[ka, j] = i
                for j in range(lp):
                    m1t[j, ka] = m1[ka, j]
            # 2) best[c, a], jbest[c, a] over c's active positions j (ascending); the diagonal is
            # computed but never read
            for kc in range(na):
                c = alist[kc]
                for ka in range(na):
                    best[kc, ka] = neg
                    jbest[kc, ka] = 0
                for p in range(cnt[c]):
                    j = pos[c, p]
                    for ka in range(na):
                        v = m1t[j, ka]
                        if v > best[kc, ka]:
                            best[kc, ka] = v
                            jbest[kc, ka] = j
            # 3) unordered pairs lo < hi: the larger direction (ties keep (lo, hi)), finite only
            for klo in range(na):
                for khi in range(klo + 1, na):
                    v_lh = best[khi, klo]  # lo at i, hi at j
                    v_hl = best[klo, khi]
                    if v_lh >= v_hl:
                        v = v_lh
                        jb = jbest[khi, klo]
                        d = abs(i1[klo, jb] - jb)
                    else:
                        v = v_hl
                        jb = jbest[klo, khi]
                        d = abs(i1[khi, jb] - jb)
                    if np.isfinite(v):
                        ex_out[n_out] = start + e
                        fa_out[n_out] = alist[klo]
                        fb_out[n_out] = alist[khi]
                        sc_out[n_out] = v
                        d_out[n_out] = d
                        n_out += 1
        return n_out

    return kernel


def available() -> bool:
    """Whether the compiled host path can run (numba imports)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def pair_entries(score_maps: np.ndarray, active: np.ndarray, start: int = 0) -> tuple[np.ndarray, ...]:
    """The observed unordered filter pairs of a batch (module docstring).

    Parameters
    ----------
    score_maps
        ``(B, L', L')`` score maps (cast to float32).
    active
        ``(B, L', F)`` bool filter activity per pooled position.
    start
        Added to the example indices.

    Returns
    -------
    example, filter_a, filter_b, score, distance
        ``(E,)`` int32, int32, int32, float32, int32: one entry per (example, pair ``filter_a <
        filter_b``) with a finite best score, sorted by example then pair; ``distance`` is ``|i − j|``
        of the maximising positions, in pooled units.
    """
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _build()
    s = np.ascontiguousarray(score_maps, np.float32)
    act = np.ascontiguousarray(active, np.bool_)
    b, _, f = act.shape
    n_act = act.any(axis=1).sum(axis=1, dtype=np.int64)  # (B,) active filters per example
    cap = int((n_act * (n_act - 1) // 2).sum())
    out = (np.empty(cap, np.int32), np.empty(cap, np.int32), np.empty(cap, np.int32),
           np.empty(cap, np.float32), np.empty(cap, np.int32))
    n = _KERNEL(s, act, int(start), *out)
    return tuple(o[:n] for o in out)
