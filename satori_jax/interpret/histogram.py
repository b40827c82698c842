"""Histogram statistics: a filter pair's scores folded into fixed-size log-spaced bins.

The streamed accumulator of :mod:`satori_jax.interpret.accumulate` keeps, per chunk and method,
sparse per-(filter pair, bin) counts instead of the scores, so memory does not grow with the
number of sequences. The tests read the same decisions as :func:`satori_jax.interpret.stats.test_pairs`
from them.

Histograms and the approximation
--------------------------------
Scores are non-negative (attention, absolute attributions). Bin 0 holds scores ``<= 0`` (exact
zeros, e.g. the zero-filled background of pairs never seen in the background); bins
``1 … bins`` are log-spaced over ``[lo, hi]`` (scores below ``lo`` go to bin 1, above ``hi`` to the
last bin). ``lo`` / ``hi`` come from the method's scores on the pass-1 sample (up to
``SAMPLE_SIZE`` foreground and background examples): ``lo = 10^(floor(log10 min) − 2)``,
``hi = 10^(ceil(log10 max) + 1)`` (``raw`` and normalised ``attr``: at most 1, attention weights
are probabilities and normalised maps peak at 1; for normalised ``attr`` the exact peaks get a bin
of their own).
With 1024 bins over 6 decades a bin spans 1.4 % of its value.

- Mann–Whitney U (:func:`mann_whitney_hist`) treats the scores inside a bin as ties (mid-ranks,
  tie-corrected normal approximation with continuity correction, as
  :func:`~satori_jax.interpret.stats.mann_whitney_greater`). It is **exact** when every score lies
  on its bin's representative value; otherwise only foreground/background pairs within one bin
  (< 1.4 % apart) are mis-ordered, so p-values differ little (tested against the exact test).
- Median scores are bin representatives (geometric bin centres; 0 for bin 0).
- Counts ``n_fg`` / ``n_bg``, the per-pair maximum (the cutoff test), the mean cutoff and the
  distances (1-bp bins for sequences up to 511 bp) are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Bins", "fold", "hist_median", "hist_quantile", "hist_method_stats", "hist_pair_distances",
           "mann_whitney_hist", "range_from"]


def mann_whitney_hist(fg: np.ndarray, bg: np.ndarray, block: int = 2048, fg_zeros: np.ndarray | None = None,
                      bg_zeros: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Mann–Whitney U (foreground > background) from binned counts, every row at once.

    Scores in one bin count as ties (mid-ranks); otherwise identical to
    :func:`satori_jax.interpret.stats.mann_whitney_greater` (normal approximation, tie and continuity
    corrections), i.e. exact when all scores of a bin are equal.

    Parameters
    ----------
    fg, bg
        ``(T, K)`` counts per ordered bin.
    block
        Rows per vectorised block (bounds the float64 temporaries).
    fg_zeros, bg_zeros
        Optional ``(T,)`` extra counts added to the lowest bin (scores 0) of each row.

    Returns
    -------
    u, p
        ``(T,)`` U of the foreground and one-sided p-value (NaN where a side is empty).
    """
    t = fg.shape[0]
    u = np.full(t, np.nan)
    p = np.full(t, np.nan)
    from scipy.special import ndtr

    for s in range(0, t, block):
        f = np.array(fg[s : s + block], np.float64)
        b = np.array(bg[s : s + block], np.float64)
        if fg_zeros is not None:
            f[:, 0] += fg_zeros[s : s + block]
        if bg_zeros is not None:
            b[:, 0] += bg_zeros[s : s + block]
        n1, n2 = f.sum(1), b.sum(1)
        below = np.cumsum(b, axis=1) - b
        u1 = (f * (below + b / 2.0)).sum(1)
        tt = f + b
        tie = (tt**3 - tt).sum(1)
        n = n1 + n2
        ok = (n1 > 0) & (n2 > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.sqrt(n1 * n2 / 12.0 * ((n + 1.0) - tie / (n * (n - 1.0))))
            z = (u1 - n1 * n2 / 2.0 - 0.5) / sd
            pv = np.clip(ndtr(-z), 0.0, 1.0)
        u[s : s + block] = np.where(ok, u1, np.nan)
        p[s : s + block] = np.where(ok, pv, np.nan)
    return u, p


def hist_quantile(hist: np.ndarray, values: np.ndarray, q: float, midpoint: bool = True) -> np.ndarray:
    """Per-row quantile of binned data (NaN for empty rows).

    Parameters
    ----------
    hist
        ``(T, K)`` counts.
    values
        ``(K,)`` value of each bin.
    q
        Quantile in ``[0, 1]``.
    midpoint
        ``True``: mean of the two middle order statistics at ``q = 0.5`` (the usual median);
        in general ``numpy.percentile``'s linear interpolation between order statistics.
    """
    hist = np.atleast_2d(hist)
    n = hist.sum(1).astype(np.float64)
    cs = np.cumsum(hist, axis=1)
    h = (n - 1.0) * q
    lo, hi = np.floor(h), np.ceil(h)
    out = np.full(hist.shape[0], np.nan)
    ok = n > 0
    if not ok.any():
        return out

    def order_stat(k):  # value of the k-th (0-based) order statistic per row
        idx = (cs[ok] <= k[ok, None]).sum(1)
        return values[np.minimum(idx, len(values) - 1)].astype(np.float64)

    v_lo, v_hi = order_stat(lo), order_stat(hi)
    frac = (h - lo)[ok]
    out[ok] = v_lo + frac * (v_hi - v_lo)
    return out


def hist_median(hist: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-row median of binned data (NaN for empty rows)."""
    return hist_quantile(hist, values, 0.5)


@dataclass(frozen=True)
class Bins:
    """Score bins of one method: bin 0 = scores <= 0, then ``n`` log-spaced bins over ``[lo, hi]``.

    With ``top`` (scores bounded by ``hi``, e.g. normalised maps whose per-example peak is
    ``hi``), scores within ``1e-6`` (relative) of ``hi`` get a last bin of their own, represented
    by ``hi`` itself: the many exact peaks then do not tie with scores just below them.
    """

    lo: float
    hi: float
    n: int
    top: bool = False

    @property
    def k(self) -> int:
        """Number of bins including bin 0 (and the ``top`` bin)."""
        return self.n + 1 + int(self.top)

    def index(self, s: np.ndarray) -> np.ndarray:
        """``(E,)`` bin of each score: 0 for ``s <= 0`` and NaN, the last (or ``top``) bin for ``+inf``."""
        s = np.asarray(s, np.float64)
        pos = s > 0  # False for NaN
        x = (np.log(np.where(pos, s, 1.0)) - np.log(self.lo)) / (np.log(self.hi) - np.log(self.lo))
        x = np.where(np.isfinite(x), x, 1.0)  # +inf: the last bin
        j = 1 + np.clip(np.floor(x * self.n), 0, self.n - 1).astype(np.int64)
        if self.top:  # the peak, to float precision (XLA may divide by multiplying with a reciprocal)
            j = np.where(s >= self.hi * (1.0 - 1e-6), self.n + 1, j)
        return np.where(pos, j, 0)

    def values(self) -> np.ndarray:
        r = np.log(self.hi / self.lo) / self.n
        v = [[0.0], self.lo * np.exp((np.arange(self.n) + 0.5) * r)]
        return np.concatenate(v + ([[self.hi]] if self.top else []))


def range_from(scores: np.ndarray, bounded: bool) -> tuple[float, float]:
    """``(lo, hi)`` of the score bins (module docstring); ``bounded``: scores are at most 1."""
    s = np.asarray(scores, np.float64)
    s = s[np.isfinite(s) & (s > 0)]
    if s.size == 0:
        lo, hi = 1e-8, 1e2
    else:
        lo = 10.0 ** (np.floor(np.log10(s.min())) - 2)
        hi = 10.0 ** (np.ceil(np.log10(s.max())) + 1)
    if bounded:
        hi = min(hi, 1.0)
        lo = min(lo, 1e-3)
    return float(lo), float(hi)



def fold(scores, num_filters: int, bins: Bins, dist_width: int, dist_bins: int) -> dict[str, np.ndarray]:
    """Fold one chunk's :class:`PairScores` into sparse histogram increments (and filter presence)."""
    from satori_jax.interpret.stats import filter_presence

    f = num_filters
    a = scores.filter_a.astype(np.int64)
    b = scores.filter_b.astype(np.int64)
    tri = a * f - a * (a + 1) // 2 + (b - a - 1)  # upper-triangle pair index
    k = bins.k
    keys, counts = np.unique(tri * k + bins.index(scores.score), return_counts=True)
    dk = tri * dist_bins + np.minimum(scores.distance.astype(np.int64) // dist_width, dist_bins - 1)
    dkeys, dcounts = np.unique(dk, return_counts=True)
    order = np.argsort(tri, kind="stable")
    t_sorted = tri[order]
    if t_sorted.size:
        starts = np.flatnonzero(np.concatenate([[True], t_sorted[1:] != t_sorted[:-1]]))
        pmax = np.maximum.reduceat(scores.score[order].astype(np.float32), starts)
        pairs = t_sorted[starts]
    else:
        pmax, pairs = np.zeros(0, np.float32), np.zeros(0, np.int64)
    return {"keys": keys.astype(np.uint64), "counts": counts.astype(np.uint32),
            "dkeys": dkeys.astype(np.uint64), "dcounts": dcounts.astype(np.uint32),
            "pairs": pairs, "pmax": pmax, "sum": np.float64(np.sum(scores.score, dtype=np.float64)),
            "count": np.int64(len(scores)), "n_examples": np.int64(scores.n_examples),
            "present": filter_presence(scores, f)}



def expand_distances(hist: np.ndarray, values: np.ndarray, cap: int = 20_000) -> np.ndarray:
    """Distances from a distance histogram (counts scaled down to at most ``cap`` values, for plots)."""
    hist = np.asarray(hist, np.float64)
    tot = hist.sum()
    if tot > cap:
        hist = np.round(hist * cap / tot)
    return np.repeat(values, hist.astype(np.int64))


def hist_method_stats(chunks: Callable[[], Iterable[Mapping]], m: str, f: int, bins: Bins, dist_bins: int,
                      cutoff, dist_values: np.ndarray, test: str = "observed"):
    """Per-pair statistics of method ``m`` from the folded chunks (two reads of them).

    The same tests as :func:`satori_jax.interpret.stats.test_pairs` (``test``), on binned scores.

    Parameters
    ----------
    chunks
        Called twice; yields each chunk's folded results (keys ``"{m}/{fg,bg}/{field}"`` of :func:`fold`).

    Returns
    -------
    stats, cut_value, n_observed, n_examples, n_background
        Unsorted columns of the tested pairs (no ``q_value`` yet), the cutoff used, the number of
        observed foreground pairs and the foreground / background example counts.
    """
    p_all = f * (f - 1) // 2
    k = bins.k
    n_fg = np.zeros(p_all, np.int64)
    n_bg = np.zeros(p_all, np.int64)
    pres_fg = np.zeros(f, np.int64)
    pres_bg = np.zeros(f, np.int64)
    pmax = np.full(p_all, -np.inf, np.float32)
    tot, cnt, ex_fg, ex_bg = 0.0, 0, 0, 0
    for z in chunks():
        pres_fg += z[f"{m}/fg/present"]
        pres_bg += z[f"{m}/bg/present"]
        n_fg += np.bincount((z[f"{m}/fg/keys"] // k).astype(np.int64), weights=z[f"{m}/fg/counts"],
                            minlength=p_all).astype(np.int64)
        n_bg += np.bincount((z[f"{m}/bg/keys"] // k).astype(np.int64), weights=z[f"{m}/bg/counts"],
                            minlength=p_all).astype(np.int64)
        pairs = z[f"{m}/fg/pairs"]
        pmax[pairs] = np.maximum(pmax[pairs], z[f"{m}/fg/pmax"])
        tot += float(z[f"{m}/fg/sum"])
        cnt += int(z[f"{m}/fg/count"])
        ex_fg += int(z[f"{m}/fg/n_examples"])
        ex_bg += int(z[f"{m}/bg/n_examples"])
    if isinstance(cutoff, str):
        cut = tot / cnt if cnt else np.inf
        cut_value = float(cut) if cnt else None
    else:
        cut = cut_value = float(cutoff)
    has = n_fg > 0
    passing = has & (pmax >= cut)
    zero_fill = passing & (n_bg == 0) & (ex_bg > 0)
    tested = passing & ((n_bg > 0) | zero_fill)
    tid = np.flatnonzero(tested)
    t = tid.size
    remap = np.full(p_all, -1, np.int64)
    remap[tid] = np.arange(t)
    hf = np.zeros((t, k), np.uint32)
    hb = np.zeros((t, k), np.uint32)
    hd = np.zeros((t, dist_bins), np.uint32)
    for z in chunks():
        for side, h in (("fg", hf), ("bg", hb)):
            keys, counts = z[f"{m}/{side}/keys"].astype(np.int64), z[f"{m}/{side}/counts"]
            r = remap[keys // k]
            sel = r >= 0
            h[r[sel], (keys % k)[sel]] += counts[sel]  # keys are unique within a chunk
        keys, counts = z[f"{m}/fg/dkeys"].astype(np.int64), z[f"{m}/fg/dcounts"]
        r = remap[keys // dist_bins]
        sel = r >= 0
        hd[r[sel], (keys % dist_bins)[sel]] += counts[sel]
    from satori_jax.interpret.stats import conditioning_sizes, weaker_direction, zero_background_test

    ia, ib = np.triu_indices(f, 1)
    zf = np.flatnonzero(zero_fill[tid])
    n_pos = hf[zf, 1:].sum(1)  # scores in the lowest bin count as ties with 0
    if test == "observed":
        bz = np.where(zero_fill[tid], ex_bg, 0).astype(np.float64)  # "0 in every background example"
        u, p = mann_whitney_hist(hf, hb, bg_zeros=bz)
        effect = u / np.maximum(hf.sum(1).astype(np.float64) * (hb.sum(1) + bz), 1.0)
        if zf.size:  # as stats.test_pairs: zeros wherever unobserved, on both sides; exact p-value
            u[zf], p[zf], effect[zf] = zero_background_test(ex_fg, n_pos, ex_bg)
    else:  # as stats.test_pairs: given each partner, intersection-union
        m_fg, m_bg = conditioning_sizes(pres_fg, pres_bg, ex_fg, ex_bg)
        res = []
        for cf in (ia[tid], ib[tid]):
            n1, n2 = m_fg[cf], m_bg[cf]
            u1, p1 = mann_whitney_hist(hf, hb, fg_zeros=(n1 - n_fg[tid]).astype(np.float64),
                                       bg_zeros=(n2 - n_bg[tid]).astype(np.float64))
            e1 = u1 / np.maximum(n1.astype(np.float64) * n2, 1.0)
            if zf.size:
                u1[zf], p1[zf], e1[zf] = zero_background_test(n1[zf], n_pos, n2[zf])
            res.append((u1, p1, e1))
        u, p, effect, testable = weaker_direction(*([r[j] for r in res] for j in range(3)))
        p = np.where(testable, p, np.nan)
    vals = bins.values()
    med_bg = np.where(n_bg[tid] == 0, 0.0, hist_median(hb, vals))  # 0: never seen in the background
    stats = {
        "filter_a": ia[tid].astype(np.int32), "filter_b": ib[tid].astype(np.int32),
        "n_fg": n_fg[tid], "n_bg": n_bg[tid], "median_score_fg": hist_median(hf, vals),
        "median_score_bg": med_bg, "median_distance_bp": hist_median(hd, dist_values),
        "max_score_fg": pmax[tid].astype(np.float64), "u_statistic": u, "p_value": p,
        "effect_size": effect,
    }
    return stats, cut_value, int(has.sum()), ex_fg, ex_bg


def hist_pair_distances(chunks: Callable[[], Iterable[Mapping]], m: str, f: int, dist_bins: int,
                        fa: np.ndarray, fb: np.ndarray, side: str = "fg") -> np.ndarray:
    """``(1, D)`` distance histogram pooled over the listed filter pairs, of the foreground
    (``side="fg"``) or the background (``"bg"``)."""
    fa, fb = np.asarray(fa, np.int64), np.asarray(fb, np.int64)
    lo, hi = np.minimum(fa, fb), np.maximum(fa, fb)
    want = lo * f - lo * (lo + 1) // 2 + (hi - lo - 1)
    h = np.zeros((1, dist_bins), np.int64)
    for z in chunks():
        keys, counts = z[f"{m}/{side}/dkeys"].astype(np.int64), z[f"{m}/{side}/dcounts"]
        sel = np.isin(keys // dist_bins, want)
        h[0] += np.bincount(keys[sel] % dist_bins, weights=counts[sel],
                            minlength=dist_bins).astype(np.int64)
    return h
