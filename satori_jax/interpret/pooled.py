"""The TF-pooled test: the filter pairs named after one TF pair, tested as one sample.

Why. A trained model often learns one motif in several filters, so a TF pair's evidence is spread
over many filter pairs, each seen in few examples. The filter-level test
(:func:`satori_jax.interpret.stats.test_pairs`) then has little power per filter pair, and
Benjamini–Hochberg over all of them passes none: on the twins benchmark ``fis`` on 300 examples a
side listed nothing, although its best TF pairs were all true.

What. The filters are named before pass 2 (best TomTom hit, q < 0.05); filters of one name form a
group (:func:`filter_groups`). For every method, besides its filter-pair scores:

1. **Pooled scores.** Per example and TF pair, the best score over the filter pairs between the two
   TFs' filters (:func:`group_max`): one observation per example, as for a filter pair, so the
   test's examples stay independent. They are tested like filter pairs, with TFs in the place of
   filters (the run's ``--test``, ``observed`` by default or ``conditioned`` on each TF's presence;
   the method's cutoff rule over these scores; zero-filled background for a pair never seen there;
   Benjamini–Hochberg over TF pairs) → ``q_pool``.
2. **Direction under normalisation.** The same with each example's scores first divided by its
   largest score of the method (:func:`normalise_per_example`), no cutoff →
   ``effect_pool_normalised``. Attribution-like scores (``attr``, ``fis``, ``dfim``) scale with the
   logit they explain, which is larger in every positive; a TF pair that only rides that scale is not
   raised *relative to the example's strongest pair*.
3. **Listed** (:func:`satori_jax.interpret.report.tf_pair_table`): the pooled test lists a TF pair
   when ``q_pool < alpha`` and both its pooled effect size and ``effect_pool_normalised`` reach
   :data:`MIN_POOLED_EFFECT` (and ``min_effect``), and the smaller of the two less 1.645 null standard
   errors (:func:`effect_lower`, the ranking's ``effect_pool_lower``) is above 0.5
   (:data:`MIN_POOLED_LOWER`), besides the pairs the filter-level rule lists. A
   pooled sample is large (every example holding both TFs), so a small shift is already
   significant; the effect floor asks for a foreground that beats the background in at least 60 %
   of comparisons, both as scored and relative to each example's strongest pair. On the DFIM-style
   benchmark, ``attr``'s pooled test finds the key TF paired with each distractor slightly raised in
   the positives (effects 0.60 and 0.57 as scored, 0.57 and 0.50 normalised: the key motif's
   partner enrichment), which the floor keeps out; on twins-40/60/80 the true pairs that only the
   pool finds have effects of 0.66 and more.

4. **Partner rule** (:func:`partner_baselines`; on by default, ``--no-partner-rule``): a pair that
   either rule lists stays only if its pooled effect (the smaller of as scored and normalised)
   exceeds the median of each of its TFs' other pooled pairs by one null standard error of its own
   effect (:data:`PARTNER_Z`). A TF pair listed from co-occurrence alone (a filter pair seen in a few
   foreground examples and never in the background, tested against zeros) usually has a pooled
   effect below its TFs' typical pair, and so does a pair that only shares a TF with an enriched
   motif; a pair the model uses stands out by more than sampling noise. Pairs without a pooled
   effect are kept.

Both accumulators (exact and histograms) see the pooled scores as two more "methods" (``m@tf``,
``m@tfn``) with the TF pairs as their pairs, so the streamed and in-memory paths test them alike.

Not a single error rate: the list is the union of the filter-level rule (Benjamini–Hochberg over
filter pairs, then over TF pairs) and the pool (Benjamini–Hochberg over TF pairs), so its false
discovery rate can reach about twice ``alpha``; the effect floor, not the q-value, is what kept the
pool's calls precise on the benchmarks.
The gate's value and what the rule changes, data set by data set, are in
``bench/results/accuracy/tf-pooled-*.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from satori_jax.interpret.interactions import PairScores

__all__ = [
    "EVIDENCE_Z",
    "MIN_POOLED_LOWER",
    "effect_lower",
    "RANKING_COLUMNS",
    "RANKING_DOCS",
    "ranking_table",
    "MIN_POOLED_EFFECT",
    "PARTNER_Z",
    "POOLED",
    "POOLED_NORMALISED",
    "method_bins",
    "method_folds",
    "null_se",
    "partner_baselines",
    "pooled_effect",
    "pooled_test",
    "filter_groups",
    "group_max",
    "normalise_per_example",
    "pooled_stats",
    "tf_pairs",
    "tf_evidence",
]

#: Suffixes of a method's TF-pooled scores in the chunk results (two more "methods" to the accumulators).
POOLED, POOLED_NORMALISED = "@tf", "@tfn"

#: Null standard errors taken off a TF pair's pooled effect when ranking (:func:`tf_evidence`).
EVIDENCE_Z = 1.645

#: Null standard errors by which a listed pair's pooled effect must clear its TFs' partner baseline
#: (:func:`partner_baselines`): one, since 1.645 halved data-40's lists
#: (``bench/results/accuracy/partner-margin-2026-12-08.md``).
PARTNER_Z = 1.0

#: Columns of ``tf_ranking_<method>.tsv`` (:func:`ranking_table`), documented in :data:`RANKING_DOCS`.
RANKING_COLUMNS = ("rank", "tf_a", "tf_b", "listed_by", "rank_filter", "rank_pool", "p_filter_min",
                   "effect_pool", "effect_pool_normalised", "effect_pool_lower", "q_pool", "n_fg_pool",
                   "n_bg_pool")
RANKING_DOCS = {
    "rank": "Position in the ranking (1 = strongest): the better of rank_filter and rank_pool, ties "
            "broken by the other.",
    "listed_by": "Which rule lists the pair in tf_interactions_<method>.tsv ('filter pair', 'pool', "
                 "'both'); empty when it is not listed.",
    "rank_filter": "Rank by the smallest p-value of the pair's named filter pairs (one past the last "
                   "when no filter pair was tested).",
    "rank_pool": "Rank by effect_pool_lower (one past the last when the pooled test did not see the "
                 "pair, or saw it only in the foreground: then effect_pool_lower is empty).",
    "p_filter_min": "Smallest p-value of the pair's named filter pairs.",
    "effect_pool": "TF-pooled effect size U/(n1 n2): each example's best score over the pair's filter "
                   "pairs, foreground against background.",
    "effect_pool_normalised": "The same with each example's scores divided by its largest.",
    "effect_pool_lower": "min(effect_pool, effect_pool_normalised) less 1.645 null standard errors "
                         "sqrt((n_fg + n_bg + 1) / (12 n_fg n_bg)).",
    "q_pool": "Benjamini-Hochberg q-value of the TF-pooled test.",
    "n_fg_pool": "Foreground examples holding the pair (pooled test).",
    "n_bg_pool": "Background examples holding the pair (pooled test).",
}

#: A pooled TF pair is listed only when its effect size ``U / (n_fg·n_bg)``, of the scores and of the
#: per-example normalised scores, reaches this.
MIN_POOLED_EFFECT = 0.6

#: ... and its :func:`effect_lower` (both effects less 1.645 null standard errors) is above no effect,
#: so that a pool seen in a handful of background examples cannot reach the floor by chance.
MIN_POOLED_LOWER = 0.5


def pooled_effect(effect, effect_normalised) -> np.ndarray:
    """A pooled pair's effect: the smaller of its effect sizes as scored and normalised (scalars or
    arrays; a NaN normalised effect counts 0). Used by :func:`effect_lower` and :func:`partner_baselines`."""
    return np.minimum(np.asarray(effect, np.float64),
                      np.nan_to_num(np.asarray(effect_normalised, np.float64), nan=0.0))


def null_se(n_fg, n_bg) -> np.ndarray:
    """Standard error of an effect size ``U / (n_fg·n_bg)`` under the null,
    ``sqrt((n_fg + n_bg + 1) / (12 n_fg n_bg))`` (scalars or arrays; counts below 1 count 1). Used by
    :func:`effect_lower` and :func:`partner_baselines`."""
    n1, n2 = (np.maximum(np.asarray(c, np.float64), 1.0) for c in (n_fg, n_bg))
    return np.sqrt((n1 + n2 + 1.0) / (12.0 * n1 * n2))


def effect_lower(effect, effect_normalised, n_fg, n_bg, z: float = EVIDENCE_Z):
    """:func:`pooled_effect` less ``z`` null standard errors (:func:`null_se`): ``effect_pool_lower`` of
    the ranking, and the pool's small-sample guard."""
    return pooled_effect(effect, effect_normalised) - z * null_se(n_fg, n_bg)


def filter_groups(names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Group the filters by name.

    Parameters
    ----------
    names
        ``(F,)`` each filter's TF name (``""``: unnamed).

    Returns
    -------
    groups, group_names
        ``(F,)`` int64 group index of each filter (-1 for unnamed) and the sorted names.
    """
    group_names = sorted({n for n in names if n})
    index = {n: i for i, n in enumerate(group_names)}
    return np.array([index.get(n, -1) for n in names], np.int64), group_names


def normalise_per_example(scores: PairScores) -> PairScores:
    """Each example's scores divided by its largest (examples whose largest score is <= 0 get 0s)."""
    if len(scores) == 0:
        return scores
    peak = np.zeros(scores.n_examples, np.float64)
    np.maximum.at(peak, scores.example, scores.score.astype(np.float64))
    den = peak[scores.example]
    norm = np.where(den > 0, scores.score / np.where(den > 0, den, 1.0), 0.0)
    return PairScores(scores.example, scores.filter_a, scores.filter_b, norm.astype(np.float32),
                      scores.distance, scores.n_examples)


def group_max(scores: PairScores, groups: np.ndarray) -> PairScores:
    """Per example and group pair, the best score over the filter pairs between the two groups.

    Parameters
    ----------
    scores
        Filter-pair scores.
    groups
        ``(F,)`` group of each filter (-1: none). Pairs with an ungrouped filter or two filters of one
        group are dropped.

    Returns
    -------
    PairScores
        ``filter_a < filter_b`` are group indices; one row per (example, group pair) observed, its
        score the largest (distance: of the largest, ties the smaller distance).
    """
    from satori_jax.interpret.fis import reduce_pairs  # FIS's per-(example, pair) maximum, on groups

    groups = np.asarray(groups, np.int64)
    a, b = groups[scores.filter_a], groups[scores.filter_b]
    keep = (a >= 0) & (b >= 0) & (a != b)
    return reduce_pairs(scores.example[keep], a[keep], b[keep], scores.score[keep], scores.distance[keep],
                        scores.n_examples)


def pooled_stats(stats: dict[str, np.ndarray], normalised: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The pooled test's columns with ``effect_normalised`` added (NaN where the normalised scores
    were not tested).

    Parameters
    ----------
    stats, normalised
        Columns of the pooled test of the scores and of the normalised scores (``filter_a`` /
        ``filter_b`` are group indices).
    """
    key = {(int(a), int(b)): float(e) for a, b, e in
           zip(normalised["filter_a"], normalised["filter_b"], normalised["effect_size"], strict=True)}
    out = dict(stats)
    out["effect_normalised"] = np.array([key.get((int(a), int(b)), np.nan) for a, b in
                                         zip(stats["filter_a"], stats["filter_b"], strict=True)], np.float64)
    return out


def tf_pairs(pooled: dict) -> list[tuple[str, str]]:
    """The TF pairs (names sorted) of the rows of a :func:`pooled_test` result, in their order."""
    names = pooled["names"]
    return [tuple(sorted((names[int(a)], names[int(b)])))
            for a, b in zip(pooled["stats"]["filter_a"], pooled["stats"]["filter_b"], strict=True)]


def method_folds(method: str, scores: PairScores, num_filters: int, groups: np.ndarray | None,
                 n_groups: int, normalise: bool = False) -> list[tuple[str, PairScores, int]]:
    """``(name, scores, number of items)`` of everything the accumulators fold for one method's
    scores of one chunk side.

    The filter-pair scores (each example's divided by its largest when ``normalise``: FIS, whose
    ``|ΔIG|`` scales with the explained logit, so that a pair is not called because every score of a
    positive is larger); then, when ``groups`` is given, the TF-pooled scores ``m@tf`` (from the scores
    as they are) and ``m@tfn`` (from the normalised ones; the pool compares both ways itself).
    """
    normed = normalise_per_example(scores) if normalise or groups is not None else None
    folds = [(method, normed if normalise else scores, num_filters)]
    if groups is not None:
        folds += [(method + POOLED, group_max(scores, groups), n_groups),
                  (method + POOLED_NORMALISED, group_max(normed, groups), n_groups)]
    return folds


def method_bins(ranges: dict, normalised: dict, peaked: dict, n: int) -> dict:
    """The streamed histograms' bins of every fold :func:`method_folds` makes.

    Parameters
    ----------
    ranges
        ``{method: (lo, hi)}``: each method's score range, from the pass-1 sample.
    normalised
        ``{method: bool}``: the method's filter pairs are tested on normalised scores (fis).
    peaked
        ``{method: bool}``: the method's scores themselves peak at ``hi`` (normalised attr maps).
    n
        Log-spaced bins per fold.

    Returns
    -------
    dict
        ``{fold: Bins}``. The scores as scored use the method's range; every normalised fold peaks at
        exactly 1, so it gets bins up to 1 with a bin of its own for the peaks, whatever the range of
        the method's own scores (raw FIS can stay far below 1).
    """
    from satori_jax.interpret.histogram import Bins

    bins = {}
    for m, (lo, hi) in ranges.items():
        own = Bins(float(lo), float(hi), int(n), top=bool(peaked[m]))
        peak = Bins(1e-6, 1.0, int(n), top=True)
        bins[m + POOLED], bins[m + POOLED_NORMALISED] = own, peak
        bins[m] = peak if normalised[m] else own
    return bins


def partner_baselines(pooled: dict, z: float | None = None) -> dict[tuple[str, str], tuple[float, float]]:
    """Each pooled TF pair's effect and the bar the partner rule sets it.

    A pair's effect here is :func:`pooled_effect` (as in the ranking). A TF's baseline for the pair is
    the median effect of the TF's *other* pooled pairs (0.5 when it has none); the pair's bar is the
    larger of its two TFs' baselines plus ``z`` null standard errors of the pair's effect
    (:func:`null_se`). A motif enriched alone in the foreground raises every
    pair it takes part in (its partners are more often present there, and attention to it shifts), and
    in a design whose positives hold more motifs every TF does; a pair the model uses stands out from
    its TFs' other pairs by more than the sampling noise of its own effect. Measured in
    ``bench/results/accuracy/partner-rule-2026-12-07.md`` (margin 0) and
    ``partner-margin-2026-12-08.md`` (the standard-error margin).

    Parameters
    ----------
    pooled
        The pooled test's result (:func:`pooled_test`).
    z
        Null standard errors the effect must clear its TFs' baseline by (default :data:`PARTNER_Z`;
        0: reach the baseline).

    Returns
    -------
    ``{(tf_a, tf_b): (effect, bar)}`` with names sorted, for the pairs with a finite pooled effect.
    """
    st = pooled["stats"]
    eff = pooled_effect(st["effect_size"], st["effect_normalised"])
    margin = (PARTNER_Z if z is None else z) * null_se(st["n_fg"], st["n_bg"])
    pairs = [(k, float(v), float(d)) for k, v, d in zip(tf_pairs(pooled), eff.tolist(), margin.tolist(),
                                                         strict=True) if np.isfinite(v)]
    per_tf: dict[str, list[float]] = {}
    for (a, b), v, _ in pairs:
        per_tf.setdefault(a, []).append(v)
        per_tf.setdefault(b, []).append(v)

    def baseline(tf: str, own: float) -> float:
        others = list(per_tf[tf])
        others.remove(own)
        return float(np.median(others)) if others else 0.5

    return {k: (v, max(baseline(k[0], v), baseline(k[1], v)) + d) for k, v, d in pairs}


def pooled_test(acc, chunks, method: str, names: Sequence[str], opts) -> dict:
    """The pooled test of ``method`` from an accumulator's chunks: ``{"stats", "names"}`` for
    :func:`satori_jax.interpret.report.tf_pair_table` (the run's test, ``observed`` or
    ``conditioned``, with TFs in the place of filters; the normalised scores with no cutoff)."""
    pt = acc.test(chunks, method + POOLED, len(names), opts)
    nt = acc.test(chunks, method + POOLED_NORMALISED, len(names), opts.replace(attn_cutoff=0.0))
    return {"stats": pooled_stats(pt.stats, nt.stats), "names": list(names)}


def tf_evidence(pooled: dict, rows: Sequence[dict] = (), z: float = EVIDENCE_Z
                ) -> dict[tuple[str, str], float]:
    """Each TF pair's evidence for ranking: the better of its two ranks, by the filter-level test and
    by the TF-pooled test (the list is the union of the two rules).

    - **Filter rank**: by the smallest p-value of its named filter pairs (``rows``).
    - **Pool rank**: by its pooled effect size, the smaller of as scored and per-example normalised
      (both ``U / (n_fg·n_bg)``; a NaN normalised effect counts 0), less ``z`` standard errors of an
      effect under the null, ``sqrt((n_fg + n_bg + 1) / (12·n_fg·n_bg))``. A p-value mixes how strongly
      a pair is raised with how often it occurs (a frequent TF pair gets a small p-value from a small
      shift); the effect does not, and the lower bound keeps a pair seen in a handful of examples
      from outranking one seen in a hundred. A pair never seen in the background is not ranked here:
      there are no background scores to beat, and its effect against zeros only measures how often
      it occurs in the foreground (co-occurrence, which any enriched pair has).

    A pair's evidence orders the pairs by their better rank, then the other (ranks from 1, ties share
    the smaller; a pair one test did not rank gets one past its last), higher first. Measured against
    either rank alone in ``bench/results/accuracy/ranking-2026-12-07.md``.

    Parameters
    ----------
    pooled
        The pooled test's result (:func:`pooled_test`).
    rows
        Filter-pair table rows (``tf_a``, ``tf_b``, ``p_value``), unnamed and same-name ones skipped.
    z
        Standard errors taken off the pooled effect.

    Returns
    -------
    ``{(tf_a, tf_b): evidence}`` with names sorted, higher = stronger.
    """
    return {k: v["evidence"] for k, v in _ranks(pooled, rows, z).items()}


def _ranks(pooled: dict, rows: Sequence[dict], z: float) -> dict[tuple[str, str], dict]:
    """Per TF pair: both ranks, their inputs and the evidence of :func:`tf_evidence`.

    Ranks start at 1; tied scores share the smaller rank; a pair one test did not rank (not seen, a
    NaN statistic, or for the pool never seen in the background) gets one past that test's last.
    """
    from scipy.stats import rankdata

    st = pooled["stats"]
    e = np.asarray(st["effect_size"], np.float64)
    lower = effect_lower(e, st["effect_normalised"], st["n_fg"], st["n_bg"], z)
    names = tf_pairs(pooled)
    # a pair never seen in the background has no background scores to beat: its effect (against
    # zeros) only says how often it occurs in the foreground, so the pool does not rank it
    seen_bg = np.asarray(st["n_bg"]) > 0
    pool = {k: v for k, v, s in zip(names, lower.tolist(), seen_bg, strict=True) if s and np.isfinite(v)}
    row_of = {k: i for i, k in enumerate(names)}
    smallest_p: dict[tuple[str, str], float] = {}
    for r in rows:
        p = float(r["p_value"])
        if r["tf_a"] and r["tf_b"] and r["tf_a"] != r["tf_b"] and np.isfinite(p):
            k = tuple(sorted((r["tf_a"], r["tf_b"])))
            smallest_p[k] = min(smallest_p.get(k, np.inf), p)
    keys = sorted(set(names) | set(smallest_p))

    def ranks(score: dict, sign: float) -> dict:
        seen = list(score)
        r = rankdata([sign * score[k] for k in seen], method="min") if seen else []
        got = {k: int(x) for k, x in zip(seen, r, strict=True)}
        return {k: got.get(k, len(seen) + 1) for k in keys}

    by_pool, by_filter = ranks(pool, -1.0), ranks(smallest_p, 1.0)
    scale = len(keys) + 2  # ranks are <= len(keys) + 1: order by the better rank, then the other
    nan = float("nan")
    out = {}
    for k in keys:
        i = row_of.get(k)
        best, other = sorted((by_pool[k], by_filter[k]))
        out[k] = {"rank_pool": by_pool[k], "rank_filter": by_filter[k],
                  "p_filter_min": smallest_p.get(k, nan),
                  "effect_pool": float(e[i]) if i is not None else nan,
                  "effect_pool_normalised": float(st["effect_normalised"][i]) if i is not None else nan,
                  "effect_pool_lower": pool.get(k, nan),
                  "q_pool": float(st["q_value"][i]) if i is not None else nan,
                  "n_fg_pool": int(st["n_fg"][i]) if i is not None else 0,
                  "n_bg_pool": int(st["n_bg"][i]) if i is not None else 0,
                  "evidence": -float(best * scale + other)}
    return out


def ranking_table(pooled: dict, rows: Sequence[dict], tf_rows: Sequence[dict], z: float = EVIDENCE_Z
                  ) -> list[dict]:
    """Every tested TF pair in the order of :func:`tf_evidence` (``tf_ranking_<method>.tsv``).

    Parameters
    ----------
    pooled, rows, z
        As for :func:`tf_evidence`.
    tf_rows
        The listed TF pairs (:func:`satori_jax.interpret.report.tf_pair_table`): their ``listed_by``.

    Returns
    -------
    Rows with the keys of :data:`RANKING_COLUMNS` (``rank`` from 1; ``rank_filter`` / ``rank_pool``
    from 1, one past the last for a pair that test did not see; ``listed_by`` empty when not listed).
    """
    listed = {(r["tf_a"], r["tf_b"]): r.get("listed_by", "filter pair") for r in tf_rows}
    ranked = sorted(_ranks(pooled, rows, z).items(), key=lambda kv: (-kv[1]["evidence"], kv[0]))
    return [{"rank": i + 1, "tf_a": k[0], "tf_b": k[1], "listed_by": listed.get(k, ""),
             **{c: v[c] for c in RANKING_COLUMNS[4:]}} for i, (k, v) in enumerate(ranked)]
