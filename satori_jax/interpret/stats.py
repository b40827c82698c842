"""Statistics of filter-pair scores: grouped one-sided Mann–Whitney U, Benjamini–Hochberg.

All tests run at once for every filter pair (a group) with one sort per block of pairs on the host; no
Python loop over pairs.

Choices (SATORI 2.0 procedure, DESIGN step 8, with a partner-conditioned sample):

- A pair's observations are the per-example best scores of the examples where the pair was
  observed (both filters active at distinct pooled positions). Scores are non-negative (attention,
  absolute attributions or FIS), and a pair scores 0 in an example where it was not observed.
- The pair is tested when its maximum foreground score is ``>= cutoff`` (``"mean"``: the mean of
  all observed foreground scores, as in SATORI 2.0; or a fixed value, 0.10 in SATORI).
- ``test="conditioned"``: the pair {a, b} is tested twice, once on the examples that
  contain a (a takes part in some observed pair there; :func:`filter_presence`) and once on those
  that contain b, foreground against background, with 0 where the pair was not observed. It is
  significant only if both tests are (intersection–union: the reported p-value, U and effect
  size are those of the weaker direction). This removes the confound of a pair whose *one*
  partner is enriched in the foreground: in the DFIM-style benchmark every positive carries the
  key motif B and half the negatives do, so a distractor X paired with B scores higher in the
  foreground given X (B is more often there) but not given B (X is equally often there). A filter
  never seen in the background cannot be conditioned on; that direction compares all foreground
  with all background examples (as ``"observed"`` does for a pair never seen in the background).
  It is blind to pairings when both classes hold the same motifs (the twins benchmark: given a,
  b's presence is the same in both classes), so it is not the default; the excess test
  (:mod:`satori_jax.interpret.excess`) flags the listed pairs that stand out beyond enrichment.
- ``test="observed"`` (default; SATORI's profile): the foreground profile is the observed scores only, and
  likewise the background; a pair never observed in the background is handled by ``missing_bg``:
  ``"zero"`` scores it 0 wherever it is not observed, on both sides (its ``n_fg`` observed
  foreground scores plus ``fg.n_examples − n_fg`` zeros against ``bg.n_examples`` zeros), ``"skip"``
  leaves it untested.
- Whenever the background sample is all zeros the p-value is exact (:func:`p_greater_than_zeros`;
  the normal approximation is far off with so many ties).
- ``null="empirical"`` re-calibrates the p-values of all tested pairs against an empirical null
  (:func:`empirical_null`) before Benjamini–Hochberg; ``"theoretical"`` (default) keeps them.
- :mod:`satori_jax.interpret.excess` asks a second question of the same p-values: does the pair
  stand out from its two filters' other pairs?
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
from scipy.special import ndtr

from satori_jax.interpret.interactions import PairScores
from satori_jax.interpret.options import NULLS, TESTS
from satori_jax.interpret.ranks import (  # noqa: F401 - re-exported
    _U32,
    _joint_keys,
    _medians_from_sorted,
    _mw_sorted,
    _packed,
    _unsortable,
    grouped_median,
    mann_whitney_greater,
)

__all__ = [
    "benjamini_hochberg",
    "conditioning_sizes",
    "distance_summary",
    "pair_index",
    "empirical_null",
    "filter_presence",
    "grouped_median",
    "mann_whitney_greater",
    "p_greater_than_zeros",
    "test_pairs",
    "weaker_direction",
]


EMPIRICAL_MIN_TESTS = 100  # fewest tested pairs from which empirical_null estimates a null
_BLOCK_OBSERVATIONS = 2_000_000  # per block of pairs in test_pairs (foreground + background)


def p_greater_than_zeros(n_fg: np.ndarray, n_positive: np.ndarray, n_zeros: np.ndarray) -> np.ndarray:
    """Exact one-sided Mann–Whitney p-value of a foreground against a background of zeros only.

    With every background value tied at 0 and foreground values ``>= 0``, the observed U is the
    largest any relabelling can reach, and it is reached exactly when all ``k`` positive values of
    the pooled sample land in the foreground: ``p = C(n_fg, k) / C(n_fg + n_zeros, k)`` (a
    hypergeometric tail). The normal approximation is far too small here (the tie correction
    shrinks the variance: two positive values against 100 zeros give 1e-23 instead of 2e-4).

    Parameters
    ----------
    n_fg, n_positive, n_zeros
        ``(T,)`` foreground size, its number of values ``> 0`` and the number of background zeros.
    """
    from scipy.stats import hypergeom

    n_fg = np.asarray(n_fg, np.int64)
    k = np.asarray(n_positive, np.int64)
    n_zeros = np.asarray(n_zeros, np.int64)
    return np.asarray(hypergeom.sf(k - 1, n_fg + n_zeros, k, n_fg), np.float64)


def zero_background_test(n_fg_examples: int | np.ndarray, n_positive: np.ndarray,
                         n_bg_examples: int | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """U, exact p-value and effect size of pairs never observed in the background.

    The pair scores 0 wherever it is not observed, on both sides: ``n_positive`` foreground values
    above 0 and zeros for the other ``n_fg_examples − n_positive`` foreground examples, against
    ``n_bg_examples`` zeros (see :func:`p_greater_than_zeros`; zeros tie, counting ½ in U).

    Returns
    -------
    u, p, effect
        ``(T,)`` each, for ``(T,)`` ``n_positive``.
    """
    k = np.asarray(n_positive, np.float64)
    n1 = np.broadcast_to(np.asarray(n_fg_examples, np.float64), k.shape)
    n2 = np.broadcast_to(np.asarray(n_bg_examples, np.float64), k.shape)
    p = p_greater_than_zeros(n1.astype(np.int64), k, n2.astype(np.int64))
    u = k * n2 + (n1 - k) * n2 / 2.0
    return u, p, u / np.maximum(n1 * n2, 1.0)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values (``statsmodels ... multipletests(method="fdr_bh")``).

    Parameters
    ----------
    p
        ``(T,)`` p-values.

    Returns
    -------
    np.ndarray
        ``(T,)`` adjusted p-values, capped at 1.
    """
    p = np.asarray(p, np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="mergesort")
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


def _block_bounds(weight: np.ndarray, target: int) -> np.ndarray:
    """Edges ``[0, …, G]`` of contiguous group blocks holding about ``target`` observations each."""
    g = weight.shape[0]
    total = int(weight.sum())
    k = max(1, min(g, -(-total // max(1, target))))
    if k == 1:
        return np.array([0, g])
    cum = np.cumsum(weight)
    inner = np.searchsorted(cum, np.arange(1, k) * (total / k), side="left") + 1
    return np.unique(np.concatenate([[0], np.clip(inner, 0, g), [g]]))


def _pair_block(key, dkey, n_fg, g0, g1, zeros):
    """All per-pair statistics of the pairs ``g0 … g1 − 1`` (one block; runs in a worker thread).

    ``key``: the sorted joint keys of every observation (:func:`~satori_jax.interpret.ranks._joint_keys`),
    ``dkey`` the sorted ``(pair, distance)`` keys of the foreground: the block's are slices of them.
    ``zeros``: one ``(fg_zeros, bg_zeros)`` of ``(G,)`` arrays per conditioning direction; the
    Mann–Whitney U and p-value come back per direction.
    """
    n = g1 - g0
    cut = np.array([g0, g1], np.uint64)
    ks = key[slice(*np.searchsorted(key, cut << np.uint64(33)))]
    ds = dkey[slice(*np.searchsorted(dkey, cut << np.uint64(32)))]
    u, p, n1, n2, fg_keys, bg_keys, n_f, n_b = _mw_sorted(
        ks, n, bg_zeros=np.stack([bz[g0:g1] for _, bz in zeros]),
        fg_zeros=np.stack([fz[g0:g1] for fz, _ in zeros]), first_group=g0)
    med_fg = _medians_from_sorted(fg_keys, n_f)  # from the test's sort: no second one
    max_fg = np.full(n, -np.inf)
    has = n_f > 0
    max_fg[has] = _unsortable((fg_keys[np.cumsum(n_f)[has] - 1] & _U32).astype(np.uint32))
    med_bg = _medians_from_sorted(bg_keys, n_b)
    return (list(u), list(p), list(n1), list(n2), med_fg, max_fg, med_bg,
            _medians_from_sorted(ds, n_fg[g0:g1]))


def filter_presence(scores: PairScores, num_filters: int) -> np.ndarray:
    """``(F,)`` number of examples in which each filter takes part in at least one observed pair.

    This is the set a partner-conditioned test (:func:`test_pairs`, ``test="conditioned"``) conditions
    on: a filter active in an example takes part in a pair whenever any other filter is active at
    another pooled position of it.
    """
    f = int(num_filters)
    if len(scores) == 0:
        return np.zeros(f, np.int64)
    seen = np.zeros((scores.n_examples, f), bool)  # (examples, F) marks: cheaper than a unique sort
    seen[scores.example, scores.filter_a] = True
    seen[scores.example, scores.filter_b] = True
    return seen.sum(axis=0, dtype=np.int64)


def empirical_null(p: np.ndarray, min_tests: int | None = None) -> tuple[np.ndarray, float, float]:
    """Re-calibrate one-sided p-values against an empirical null (Efron 2004), never more liberally.

    With thousands of filter pairs scored on the same examples, the theoretical null fails in a
    systematic way: a small class-wide shift of the scores (attention slightly more peaked in
    positives, say) makes almost every pair "significant" once the samples are large. Following
    Efron (*Large-scale simultaneous hypothesis testing: the choice of a null hypothesis*, JASA
    2004), the p-values become z-scores ``z = Φ⁻¹(1 − p)``, the null's centre and spread are
    estimated robustly from all tests (median and 1.4826 × median absolute deviation, most pairs
    being null), and ``p = 1 − Φ((z − centre) / scale)``. The centre is floored at 0 and the scale
    at 1, so the adjustment can only make a test more conservative.

    Degenerate tests are handled explicitly, without floating-point warnings: ``p = 1`` (a
    foreground never above its background, e.g. every score tied) is ``z = −∞``; it ranks lowest
    in the median and the median absolute deviation, and stays ``p = 1``. When half or more of the
    tests have ``p = 1`` the centre is ``−∞`` and nothing is re-calibrated (centre 0, scale 1).
    NaN p-values (untested) stay NaN and take no part in the estimate.

    Parameters
    ----------
    p
        ``(T,)`` one-sided p-values of all tested pairs.
    min_tests
        Fewer (non-NaN) tests than this (default :data:`EMPIRICAL_MIN_TESTS`) leave the p-values
        unchanged (centre 0, scale 1): a spread cannot be estimated from a handful of values.

    Returns
    -------
    p_adjusted, centre, scale
        ``(T,)`` p-values and the null parameters applied.
    """
    from scipy.special import ndtri

    p = np.asarray(p, np.float64)
    known = ~np.isnan(p)
    if int(known.sum()) < (EMPIRICAL_MIN_TESTS if min_tests is None else int(min_tests)):
        return p.copy(), 0.0, 1.0
    z = -ndtri(np.clip(p[known], np.finfo(np.float64).tiny, 1.0))  # p = 1 -> -inf, never +inf or NaN
    centre = float(np.median(z))
    if not np.isfinite(centre):  # half or more at p = 1: no null to estimate
        return p.copy(), 0.0, 1.0
    scale = float(1.4826 * np.median(np.abs(z - centre)))  # -inf -> +inf deviations, ranked last
    centre, scale = max(centre, 0.0), max(scale, 1.0) if np.isfinite(scale) else 1.0
    out = np.full(p.shape, np.nan)
    out[known] = ndtr(-(z - centre) / scale)  # z = -inf -> ndtr(+inf) = 1
    return out, centre, scale


def conditioning_sizes(pres_fg: np.ndarray, pres_bg: np.ndarray, n_fg_examples: int,
                       n_bg_examples: int) -> tuple[np.ndarray, np.ndarray]:
    """``(F,)`` foreground and background sample sizes of the test conditioned on each filter.

    The examples where the filter takes part in a pair (:func:`filter_presence`); a filter never
    seen in the background cannot be conditioned on, and its direction takes all examples of both
    sides.
    """
    seen = np.asarray(pres_bg) > 0
    return (np.where(seen, pres_fg, n_fg_examples).astype(np.int64),
            np.where(seen, pres_bg, n_bg_examples).astype(np.int64))


def weaker_direction(us: list[np.ndarray], ps: list[np.ndarray], effects: list[np.ndarray]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Intersection–union of the two conditioned tests: U, p-value and effect of the weaker one.

    Returns ``u, p, effect, testable`` (``(T,)`` each; ``testable`` is False where either direction
    has no p-value).
    """
    p_stack = np.stack([np.nan_to_num(x, nan=np.inf) for x in ps])
    pick = np.argmax(p_stack, axis=0)
    u, p, effect = (np.choose(pick, x) for x in (us, ps, effects))
    return u, p, effect, np.isfinite(p_stack).all(axis=0)


def test_pairs(
    fg: PairScores,
    bg: PairScores,
    cutoff: str | float = "mean",
    num_filters: int | None = None,
    *,
    missing_bg: str = "zero",
    test: str = "observed",
    null: str = "theoretical",
    info: dict | None = None,
) -> dict[str, np.ndarray]:
    """Test every filter pair: foreground scores greater than background scores.

    Parameters
    ----------
    fg, bg
        Foreground and background :class:`PairScores` (same scorer).
    cutoff
        ``"mean"`` (mean of all observed foreground scores) or a number: a pair is tested only when
        its maximum foreground score is ``>= cutoff``.
    num_filters
        ``F`` (default: inferred from the largest filter index seen).
    missing_bg
        ``"zero"`` or ``"skip"``; see the module docstring.
    test
        ``"observed"`` (default) or ``"conditioned"``; see the module docstring.
    null
        ``"theoretical"`` (default) or ``"empirical"`` (:func:`empirical_null` on the p-values of all
        tested pairs before Benjamini–Hochberg).
    info
        Optional dict that receives ``null_centre`` and ``null_scale`` (0 and 1 for the theoretical null).

    Returns
    -------
    dict[str, np.ndarray]
        Columns, one row per tested pair sorted by q-value then p-value: ``filter_a``, ``filter_b``
        (int), ``n_fg``, ``n_bg`` (examples where the pair was observed), ``median_score_fg``,
        ``median_score_bg`` (of the observed scores; 0 for a pair never observed in the background),
        ``median_distance_bp`` (fg), ``max_score_fg``, ``u_statistic``, ``p_value``, ``q_value``,
        ``effect_size`` (``U / (n1·n2)``, the probability that a foreground score exceeds a background
        one, ties counting ½, over the samples actually compared: for ``"conditioned"`` those of the
        deciding direction, zeros included).
    """
    if missing_bg not in ("zero", "skip"):
        raise ValueError(f"missing_bg must be 'zero' or 'skip', got {missing_bg!r}")
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    if null not in NULLS:
        raise ValueError(f"null must be one of {NULLS}, got {null!r}")
    if num_filters is None:
        hi = [int(x.max()) for x in (fg.filter_b, bg.filter_b) if len(x)]
        num_filters = (max(hi) + 1) if hi else 0
    f = int(num_filters)
    g = f * f
    gf = fg.pair_id(f)
    gb = bg.pair_id(f)
    n_fg = np.bincount(gf, minlength=g)
    n_bg = np.bincount(gb, minlength=g)
    has = n_fg > 0
    zero_ok = (missing_bg == "zero") & (bg.n_examples > 0)
    if test == "observed":
        bg_zeros = np.where(has & (n_bg == 0) & zero_ok, float(bg.n_examples), 0.0)
        sizes = [(np.zeros(g), bg_zeros)]
        cond_fg = cond_bg = None
    else:
        # sample of direction c in {a, b}: the examples where filter c takes part in a pair; the
        # pair scores 0 in those where it was not observed
        m_fg, m_bg = conditioning_sizes(filter_presence(fg, f), filter_presence(bg, f), fg.n_examples,
                                        bg.n_examples)
        ids = np.arange(g)
        cond_fg = [m_fg[ids // f], m_fg[ids % f]]
        cond_bg = [m_bg[ids // f], m_bg[ids % f]]
        sizes = []
        for cf, cb in zip(cond_fg, cond_bg, strict=True):
            sizes.append((np.where(has, cf - n_fg, 0).astype(np.float64),
                          np.where(has, cb - n_bg, 0).astype(np.float64)))
    # independent blocks of pairs, a few million observations each, on a thread pool (numpy
    # releases the GIL in sorts and large element-wise operations; smaller temporaries also help)
    # one sort of every observation (and of the foreground distances): a block is a slice of it
    key = _joint_keys(fg.score, gf, bg.score, gb)
    key.sort()
    dkey = _packed(gf, np.asarray(fg.distance, np.float32))
    n_pos = np.bincount(gf[fg.score > 0], minlength=g)
    edges = _block_bounds(n_fg + n_bg, _BLOCK_OBSERVATIONS)
    blocks = list(zip(edges[:-1], edges[1:], strict=True))
    work = partial(_pair_block, key, dkey, n_fg, zeros=sizes)
    workers = min(len(blocks), os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda e: work(int(e[0]), int(e[1])), blocks))
    else:
        parts = [work(int(a), int(b)) for a, b in blocks]
    nd = len(sizes)
    us = [np.concatenate([pt[0][d] for pt in parts]) for d in range(nd)]
    ps = [np.concatenate([pt[1][d] for pt in parts]) for d in range(nd)]
    n1s = [np.concatenate([pt[2][d] for pt in parts]) for d in range(nd)]
    n2s = [np.concatenate([pt[3][d] for pt in parts]) for d in range(nd)]
    med_fg, max_fg, med_bg, med_d = (np.concatenate([pt[k] for pt in parts]) for k in range(4, 8))
    if isinstance(cutoff, str):
        if cutoff != "mean":
            raise ValueError(f"cutoff must be 'mean' or a number, got {cutoff!r}")
        cut = float(np.mean(fg.score, dtype=np.float64)) if len(fg) else np.inf
    else:
        cut = float(cutoff)
    passing = has & (max_fg >= cut)
    never_bg = passing & (n_bg == 0) & zero_ok  # background sample all zeros: exact p-value
    tested = passing & ((n_bg > 0) | never_bg)
    with np.errstate(divide="ignore", invalid="ignore"):
        effects = [u / (a * b) for u, a, b in zip(us, n1s, n2s, strict=True)]
    if never_bg.any():
        zf = np.flatnonzero(never_bg)
        for d in range(nd):
            n1 = np.full(zf.size, fg.n_examples) if cond_fg is None else cond_fg[d][zf]
            n2 = np.full(zf.size, bg.n_examples) if cond_bg is None else cond_bg[d][zf]
            u, pv, eff = zero_background_test(n1, n_pos[zf], n2)
            us[d][zf], ps[d][zf], effects[d][zf] = u, pv, eff
    if nd == 1:
        u, p, effect = us[0], ps[0], effects[0]
    else:  # intersection-union: significant only if significant given either partner
        u, p, effect, testable = weaker_direction(us, ps, effects)
        tested &= testable
    tid = np.flatnonzero(tested)
    med_bg = np.where(n_bg == 0, 0.0, med_bg)
    cols = {
        "filter_a": (tid // f).astype(np.int32),
        "filter_b": (tid % f).astype(np.int32),
        "n_fg": n_fg[tid].astype(np.int64),
        "n_bg": n_bg[tid].astype(np.int64),
        "median_score_fg": med_fg[tid],
        "median_score_bg": med_bg[tid],
        "median_distance_bp": med_d[tid],
        "max_score_fg": max_fg[tid],
        "u_statistic": u[tid],
        "p_value": p[tid],
        "effect_size": effect[tid],
    }
    cols, centre, scale = finish_tests(cols, null)
    if info is not None:
        info.update(null_centre=centre, null_scale=scale)
    return cols


def finish_tests(cols: dict[str, np.ndarray], null: str = "theoretical"
                 ) -> tuple[dict[str, np.ndarray], float, float]:
    """The last step of every pair test, exact (:func:`test_pairs`) or binned
    (:func:`satori_jax.interpret.histogram.hist_method_stats`): the null, Benjamini–Hochberg, the order.

    Parameters
    ----------
    cols
        ``(T,)`` columns of the tested pairs with ``p_value`` (raw).
    null
        ``"theoretical"`` or ``"empirical"`` (:func:`empirical_null` over all tested pairs).

    Returns
    -------
    cols, centre, scale
        The columns with ``p_value`` re-calibrated (empirical null) and ``q_value`` added after it,
        sorted by q-value then p-value; the null's centre and scale (0 and 1 when theoretical).
    """
    p = cols["p_value"]
    centre, scale = 0.0, 1.0
    if null == "empirical":
        p, centre, scale = empirical_null(p)
    q = benjamini_hochberg(p)
    out: dict[str, np.ndarray] = {}
    for k, v in cols.items():
        out[k] = p if k == "p_value" else v
        if k == "p_value":
            out["q_value"] = q
    order = np.lexsort((p, q))
    return {k: v[order] for k, v in out.items()}, centre, scale


test_pairs.__test__ = False  # not a pytest test


def pair_index(scores: PairScores, num_filters: int) -> tuple[np.ndarray, np.ndarray]:
    """``(sorted pair ids (E,), order (E,))`` of ``scores``: the observations of given pairs by binary
    search (:func:`distance_summary`'s ``index``) instead of a pass over all of them per query."""
    pid = scores.pair_id(int(num_filters))
    order = np.argsort(pid, kind="stable")
    return pid[order], order


def distance_summary(
    scores: PairScores,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
    num_filters: int | None = None,
    bins: np.ndarray | None = None,
    index: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Distance distribution of observed pairs (all, or the listed ``(filter_a, filter_b)`` pairs).

    Parameters
    ----------
    scores
        :class:`PairScores`.
    pairs
        Optional ``(filter_a (T,), filter_b (T,))`` with ``filter_a < filter_b`` (e.g. the
        significant pairs) to restrict to.
    bins
        Bin edges in bp (default: width-10 bins up to the largest distance).
    index
        Optional :func:`pair_index` of ``scores`` with ``num_filters`` (for many queries on the same
        scores); the same result.

    Returns
    -------
    dict
        ``distances`` (the selected distances, bp, in the order of ``scores``), ``bin_edges``,
        ``counts``, ``median``, ``q25``, ``q75``.
    """
    d = scores.distance
    if pairs is not None and len(scores):
        f = int(num_filters or max(int(scores.filter_b.max()), int(np.max(pairs[1], initial=0))) + 1)
        want = np.asarray(pairs[0], np.int64) * f + np.asarray(pairs[1], np.int64)
        if index is not None:
            spid, order = index
            want = np.unique(want)
            lo, hi = np.searchsorted(spid, want, "left"), np.searchsorted(spid, want, "right")
            n = hi - lo
            start = np.repeat(lo - np.concatenate([[0], np.cumsum(n)[:-1]]), n)
            d = d[np.sort(order[start + np.arange(int(n.sum()))])]
        else:
            d = d[np.isin(scores.pair_id(f), want)]
    if bins is None:
        top = int(d.max()) if d.size else 0
        bins = np.arange(0, top + 11, 10)
    counts, edges = np.histogram(d, bins=bins)
    qs = np.percentile(d, [25, 50, 75]) if d.size else np.full(3, np.nan)
    return {"distances": d, "bin_edges": edges, "counts": counts, "median": float(qs[1]),
            "q25": float(qs[0]), "q75": float(qs[2])}
