"""Grouped rank statistics on packed sort keys: one-sided Mann–Whitney U and medians per group.

Every group (filter pair) is tested at once: values become order-preserving ``uint32`` (:func:`_sortable`)
packed with their group (and side) into ``uint64`` keys, so one ``np.sort`` orders every group's sample;
U, the tie correction and the medians are then read off the sorted keys with cumulative counts and
binary searches, without a Python loop over groups.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["grouped_median", "mann_whitney_greater"]

_U32 = np.uint64(0xFFFFFFFF)

def _sortable(values: np.ndarray) -> np.ndarray:
    """Order-preserving map float32 -> uint32 (so (group, value) packs into one uint64 sort key)."""
    v = np.ascontiguousarray(np.asarray(values, np.float32))
    v = np.where(v == 0, np.float32(0), v)  # -0.0 == 0.0
    bits = v.view(np.uint32)
    neg = (bits >> np.uint32(31)).astype(bool)
    return np.where(neg, ~bits, bits | np.uint32(0x80000000)).astype(np.uint32)


def _unsortable(bits: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_sortable`."""
    bits = np.asarray(bits, np.uint32)
    pos = (bits >> np.uint32(31)).astype(bool)
    return np.where(pos, bits & np.uint32(0x7FFFFFFF), ~bits).astype(np.uint32).view(np.float32)


def _packed(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sorted uint64 keys ``group << 32 | sortable(value)`` (``np.sort``: much faster than argsort)."""
    key = np.asarray(groups).astype(np.uint64) << np.uint64(32)
    key |= _sortable(values).astype(np.uint64)
    key.sort()
    return key


def _medians_from_sorted(keys: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-group medians from sorted packed keys and the group sizes ``(G,)`` (NaN when empty)."""
    out = np.full(counts.shape[0], np.nan)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    lo = start[has] + (counts[has] - 1) // 2
    hi = start[has] + counts[has] // 2
    vals = lambda k: _unsortable((keys[k] & _U32).astype(np.uint32)).astype(np.float64)  # noqa: E731
    out[has] = (vals(lo) + vals(hi)) / 2.0
    return out


def mann_whitney_greater(
    fg_values: np.ndarray,
    fg_group: np.ndarray,
    bg_values: np.ndarray,
    bg_group: np.ndarray,
    n_groups: int,
    bg_zeros: np.ndarray | None = None,
    fg_zeros: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One-sided Mann–Whitney U test (foreground > background) for every group at once.

    Matches ``scipy.stats.mannwhitneyu(fg, bg, alternative="greater", method="asymptotic",
    use_continuity=True)`` per group: midranks for ties, normal approximation with tie correction
    and continuity correction. One ``np.sort`` of packed ``(group, value, side)`` keys
    (:func:`_mw_sorted`).

    Parameters
    ----------
    fg_values, fg_group
        ``(E1,)`` values and their group in ``0 … n_groups − 1``.
    bg_values, bg_group
        ``(E2,)``.
    n_groups
        ``G``.
    bg_zeros, fg_zeros
        Optional ``(G,)`` counts of extra background / foreground observations equal to 0 per group,
        or ``(D, G)``: ``D`` tests of the same observations with different zero counts (one sort).

    Returns
    -------
    u, p, n1, n2
        ``(G,)`` (or ``(D, G)``) U statistic of the foreground, one-sided p-value (NaN where a side
        is empty), and the sample sizes.
    """
    key = _joint_keys(fg_values, fg_group, bg_values, bg_group)
    key.sort()
    one_d = all(z is None or np.ndim(z) == 1 for z in (bg_zeros, fg_zeros))
    u, p, n1, n2 = _mw_sorted(key, n_groups, bg_zeros, fg_zeros)[:4]
    if one_d:
        return u[0], p[0], n1[0], n2[0]
    return u, p, n1, n2


def _joint_keys(fg_values, fg_group, bg_values, bg_group) -> np.ndarray:
    """Unsorted uint64 keys ``group << 33 | sortable(value) << 1 | side`` (side 1: foreground)."""
    g_fg = np.asarray(fg_group).astype(np.uint64)
    g_bg = np.asarray(bg_group).astype(np.uint64)
    return np.concatenate([
        (g_fg << np.uint64(33)) | (_sortable(fg_values).astype(np.uint64) << np.uint64(1)) | np.uint64(1),
        (g_bg << np.uint64(33)) | (_sortable(bg_values).astype(np.uint64) << np.uint64(1)),
    ])


def _mw_sorted(key: np.ndarray, n_groups: int, bg_zeros=None, fg_zeros=None, first_group: int = 0
               ) -> tuple[np.ndarray, ...]:
    """:func:`mann_whitney_greater` from the sorted keys of :func:`_joint_keys`.

    Without walking every run of equal values: a foreground observation is above every background
    observation of its group that sorts before it (a tied background one sorts first: side bit 0),
    so ``U = Σ_fg (background before it) − Σ_tie runs f·b/2``, and only the (few) tie runs are
    looked at; extra zeros enter in closed form (``ex_b`` zeros below every positive foreground
    value and tied with its zeros, ``ex_f`` zeros above the negative background values and tied
    with its zeros and the other extras). Every sum is of integers or halves, exact in float64, so
    the result does not depend on the order of summation.

    ``first_group``: the keys hold the groups ``first_group … first_group + n_groups − 1`` (a slice of
    a larger sorted key array).

    Returns
    -------
    u, p, n1, n2
        ``(D, G)`` each (``D = 1`` without zero counts).
    fk, bk
        The foreground's and the background's packed ``group << 32 | sortable(value)`` keys, sorted.
    n_f, n_b
        ``(G,)`` int64 foreground and background observations per group.
    """
    g_n = int(n_groups)
    ex_b = np.zeros((1, g_n)) if bg_zeros is None else np.atleast_2d(np.asarray(bg_zeros, np.float64))
    ex_f = np.zeros((1, g_n)) if fg_zeros is None else np.atleast_2d(np.asarray(fg_zeros, np.float64))
    d = max(ex_b.shape[0], ex_f.shape[0])
    ex_b, ex_f = np.broadcast_to(ex_b, (d, g_n)), np.broadcast_to(ex_f, (d, g_n))
    side = (key & np.uint64(1)).astype(bool)
    at_f = np.flatnonzero(side)
    fk = key[at_f] >> np.uint64(1)  # each side's packed (group, value) keys, sorted
    bk = key[~side] >> np.uint64(1)
    zero = np.uint64(_sortable(np.zeros(1))[0])
    groups = np.arange(first_group, first_group + g_n + 1, dtype=np.uint64) << np.uint64(32)
    zlo = groups[:-1] | zero

    def counts(k: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per group: observations, and those below / equal to / above 0 (binary searches)."""
        edge = np.searchsorted(k, groups)
        lo, hi = np.searchsorted(k, zlo, "left"), np.searchsorted(k, zlo, "right")
        return np.diff(edge), edge, lo - edge[:-1], hi - lo, edge[1:] - hi

    n_f, edge_f, _, zf, pos_f = counts(fk)
    n_b, edge_b, neg_b, zb, _ = counts(bk)
    # Σ over a group's foreground of the background sorted before it (position − foreground before)
    below = at_f - np.arange(at_f.size)
    has = n_f > 0
    u_real = np.zeros(g_n)
    u_real[has] = np.add.reduceat(below, edge_f[:-1][has]) - n_f[has] * edge_b[:-1][has]
    tie_real = np.zeros(g_n)
    rk = key >> np.uint64(1)
    eq = rk[1:] == rk[:-1]
    if eq.any():
        in_run = np.zeros(key.size, bool)
        in_run[1:] = eq
        in_run[:-1] |= eq
        idx = np.flatnonzero(in_run)
        new = np.ones(idx.size, bool)
        new[1:] = ~eq[idx[1:] - 1]
        run = np.cumsum(new) - 1
        t = np.bincount(run).astype(np.float64)
        f = np.bincount(run, weights=side[idx])
        rg = (rk[idx[new]] >> np.uint64(32)).astype(np.int64) - int(first_group)
        u_real -= np.bincount(rg, weights=f * (t - f) / 2.0, minlength=g_n)
        tie_real = np.bincount(rg, weights=t**3 - t, minlength=g_n)
    zf, zb, neg_b = zf.astype(np.float64), zb.astype(np.float64), neg_b.astype(np.float64)
    z = zf + zb
    need = (ex_b > 0).any(axis=0) | (ex_f > 0).any(axis=0)
    u1 = u_real + ex_b * (pos_f + zf / 2.0) + ex_f * (neg_b + zb / 2.0) + ex_f * ex_b / 2.0
    tz = z + ex_f + ex_b
    tie_term = tie_real + np.where(need, (tz**3 - tz) - (z**3 - z), 0.0)
    n1 = n_f + ex_f
    n2 = n_b + ex_b
    u = np.full((d, g_n), np.nan)
    p = np.full((d, g_n), np.nan)
    n = n1 + n2
    ok = (n1 > 0) & (n2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = n1 * n2 / 2.0
        sd = np.sqrt(n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0))))
        zs = (u1 - mu - 0.5) / sd
        pv = np.clip(ndtr(-zs), 0.0, 1.0)
    u[ok] = u1[ok]
    p[ok] = pv[ok]
    return u, p, n1, n2, fk, bk, n_f, n_b


def grouped_median(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` (as float32) per group (NaN for empty groups); ``(E,)`` -> ``(G,)``."""
    return _grouped_stats(np.asarray(values), groups, n_groups)[0]


def _grouped_stats(values: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-group median and maximum (NaN / -inf for empty groups) from one packed sort."""
    counts = np.bincount(np.asarray(groups, np.int64), minlength=n_groups)
    mx = np.full(n_groups, -np.inf)
    if values.size == 0:
        return np.full(n_groups, np.nan), mx
    keys = _packed(groups, values)
    has = counts > 0
    last = np.cumsum(counts)[has] - 1
    mx[has] = _unsortable((keys[last] & _U32).astype(np.uint32))
    return _medians_from_sorted(keys, counts), mx
