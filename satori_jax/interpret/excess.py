"""The excess test: does a filter pair stand out from its two filters' other pairs?

Each tested pair's p-value becomes a z-score; the symmetric filter × filter matrix of z is fitted
as ``centre + e_a + e_b`` by a symmetric median polish (:func:`pair_main_effects`); the remainder is
the pair's *excess* (:func:`excess_test`). A filter whose motif is merely enriched in the
foreground raises all its pairs alike, which the excess discounts; an interaction raises one pair
above its partners'. (About thirty lines of numpy; no library offers a symmetric median polish.)
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from satori_jax.interpret import stats
from satori_jax.interpret.stats import benjamini_hochberg

__all__ = ["excess_test", "pair_main_effects"]


def pair_main_effects(z: np.ndarray, max_iter: int = 100, tol: float = 1e-9
                      ) -> tuple[float, np.ndarray, np.ndarray]:
    """Robust additive fit of a symmetric pair matrix: ``z[a, b] ≈ centre + effect[a] + effect[b]``.

    Tukey's median polish, made symmetric: every sweep moves each filter's effect by half the
    median of its row of residuals (rows and columns are the same here), until no effect moves by
    more than ``tol``. Like any median polish it stops at one of several fixed points: on an
    exactly additive matrix a small remainder (a fraction of the spacing between neighbouring
    effects) can stay in the residuals.

    Parameters
    ----------
    z
        ``(F, F)`` symmetric, ``nan`` where a pair was not tested (the diagonal included).
    max_iter, tol
        Sweep limit and convergence tolerance.

    Returns
    -------
    centre, effect, residual
        The overall median, ``(F,)`` filter effects (0 for a filter without tested pairs) and the
        ``(F, F)`` residuals (``nan`` where ``z`` is).
    """
    z = np.asarray(z, np.float64)
    tested = np.isfinite(z)
    f = z.shape[0]
    effect = np.zeros(f)
    if not tested.any():
        return 0.0, effect, np.full_like(z, np.nan)
    centre = float(np.median(z[tested]))
    has_row = tested.any(axis=1)
    res = z - centre
    for _ in range(max_iter):
        step = np.zeros(f)
        step[has_row] = 0.5 * np.nanmedian(res[has_row], axis=1)
        effect += step
        res = z - centre - effect[:, None] - effect[None, :]
        if np.max(np.abs(step)) <= tol:
            break
    return centre, effect, res


def excess_test(filter_a: np.ndarray, filter_b: np.ndarray, p_value: np.ndarray, num_filters: int,
                min_tests: int | None = None) -> dict[str, np.ndarray]:
    """Test whether each pair's foreground shift exceeds what its two filters' main effects predict.

    The one-sided p-values become z-scores ``z = Φ⁻¹(1 − p)`` (p clipped at the smallest float),
    the symmetric filter-by-filter matrix of z is fitted as ``centre + e_a + e_b``
    (:func:`pair_main_effects`), and each pair's residual is its *excess*. Most pairs being
    null, the residuals' median and spread (1.4826 × median absolute deviation, floored at 1 so
    that the test is never more liberal than a standard normal) give the null; the one-sided
    p-value of the excess is ``1 − Φ((r − median) / spread)``, and Benjamini–Hochberg gives
    ``q_excess`` over all tested pairs.

    Why: with foreground and background drawn from different classes, any filter whose motif (or
    whose attention key) is enriched in the foreground makes *all* its pairs significant. In the
    DFIM-style benchmark every positive holds motifs A and B, so distractor–B and distractor–A
    pairs pass the pair test as well as A–B; only A–B stands out from its row and column.

    Parameters
    ----------
    filter_a, filter_b
        ``(T,)`` filter indices of the tested pairs.
    p_value
        ``(T,)`` their one-sided p-values (``nan`` = untested; ignored). ``p = 1`` (``z = −∞``,
        a foreground never above its background) gets ``excess_z = −∞`` and ``p_excess = 1``, takes
        no part in the fit and ranks lowest in the null's median and spread.
    num_filters
        ``F``.
    min_tests
        Fewer p-values below 1 than this (default
        :data:`satori_jax.interpret.stats.EMPIRICAL_MIN_TESTS`), or half or more of them at 1,
        give ``nan`` throughout: main effects and a null cannot be estimated.

    Returns
    -------
    dict
        ``excess_z`` (``(T,)`` residual z-score), ``p_excess`` and ``q_excess`` (``(T,)`` each),
        and ``null_centre``, ``null_scale`` (floats).
    """
    from scipy.special import ndtri

    fa = np.asarray(filter_a, np.int64)
    fb = np.asarray(filter_b, np.int64)
    p = np.asarray(p_value, np.float64)
    t = p.size
    nan = np.full(t, np.nan)
    ok = np.isfinite(p)
    # p = 1 (foreground never above background, e.g. tied scores) is z = -inf: no part in the fit,
    # the lowest rank in the null's median and MAD, p_excess 1 (and no inf - inf arithmetic)
    z = np.full(t, np.nan)
    z[ok] = -ndtri(np.clip(p[ok], np.finfo(np.float64).tiny, 1.0))
    fit = ok & np.isfinite(z)
    need = stats.EMPIRICAL_MIN_TESTS if min_tests is None else int(min_tests)
    empty = {"excess_z": nan, "p_excess": nan.copy(), "q_excess": nan.copy(),
             "null_centre": float("nan"), "null_scale": float("nan")}
    if int(fit.sum()) < max(need, 1):
        return empty
    f = int(num_filters)
    mat = np.full((f, f), np.nan)
    mat[fa[fit], fb[fit]] = z[fit]
    mat[fb[fit], fa[fit]] = z[fit]
    _, _, res = pair_main_effects(mat)
    r = np.where(fit, res[fa, fb], z)  # -inf where p = 1, NaN where untested
    centre = float(np.median(r[ok]))
    if not np.isfinite(centre):  # half or more of the pairs at p = 1: no null to estimate
        return empty
    scale = max(float(1.4826 * np.median(np.abs(r[ok] - centre))), 1.0)
    p_ex = np.where(ok, 1.0, np.nan)
    p_ex[fit] = ndtr(-(r[fit] - centre) / scale)
    q_ex = nan.copy()
    q_ex[ok] = benjamini_hochberg(p_ex[ok])
    return {"excess_z": r, "p_excess": p_ex, "q_excess": q_ex, "null_centre": centre, "null_scale": scale}
