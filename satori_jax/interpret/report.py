"""Tables, JSON summary and HTML report of an interpretation run (DESIGN.md step 9).

Files (all written atomically: a temporary name, then a rename; ``summary.json`` is written last by
the pipeline, so a directory without it is an unfinished run):

- ``interactions_<method>.tsv``: every tested filter pair, columns :data:`INTERACTION_COLUMNS`.
- ``tf_interactions_<method>.tsv``: the listed TF pairs (:func:`tf_pair_table`): significant filter
  pairs (``q < alpha``) named by their filters' best TomTom hits (``q < 0.05``), self pairs dropped,
  duplicates merged (smallest q), with a TF-level q (``q_tf``) below ``alpha`` and the excess test's
  ``q_excess`` (:func:`excess_tf_pairs`: those that also stand out); columns
  :data:`TF_INTERACTION_COLUMNS`.
- ``summary.json`` (``report.html``: :mod:`satori_jax.interpret.report_html`).

Every column is documented in :data:`COLUMN_DOCS` (also printed in the HTML report).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ALPHA",
    "COLUMN_DOCS",
    "INTERACTION_COLUMNS",
    "TF_INTERACTION_COLUMNS",
    "atomic_write_text",
    "excess_tf_pairs",
    "filter_names",
    "interaction_table",
    "pair_label",
    "read_tsv",
    "tf_pair_table",
    "write_json",
    "write_tsv",
]

#: Significance level for filter pairs (BH q-value).
ALPHA = 0.05

INTERACTION_COLUMNS = (
    "filter_a", "filter_b", "tf_a", "tf_b", "family_a", "family_b", "n_fg", "n_bg", "median_score_fg",
    "median_score_bg", "median_distance_bp", "u_statistic", "p_value", "q_value", "effect_size",
    "excess_z", "q_excess",
)

TF_INTERACTION_COLUMNS = (
    "tf_a", "tf_b", "family_a", "family_b", "n_filter_pairs", "n_tested_filter_pairs", "q_tf", "q_value",
    "p_value", "median_distance_bp", "median_score_fg", "median_score_bg", "n_fg", "n_bg", "effect_size",
    "q_excess", "excess_level", "filter_pairs", "listed_by", "q_pool", "effect_pool_normalised",
    "effect_partners",
)

#: Fewest TF pairs (with p < 1) from which the excess test runs on the TF x TF matrix.
TF_EXCESS_MIN_TESTS = 20

COLUMN_DOCS: dict[str, str] = {
    "filter_a": "First filter of the pair (filterN, N = first-layer filter index); filter_a < filter_b.",
    "filter_b": "Second filter of the pair.",
    "tf_a": "TF name of filter_a's best TomTom hit when its q-value < 0.05, else empty (interactions table).",
    "tf_b": "TF name of filter_b's best TomTom hit when its q-value < 0.05, else empty.",
    "family_a": "TF family of tf_a (JASPAR family, or from --family-table).",
    "family_b": "TF family of tf_b.",
    "n_fg": "Foreground examples in which both filters are active at distinct pooled positions.",
    "n_bg": "Background examples in which the pair is observed (0: tested against a background of zeros).",
    "median_score_fg": "Median over foreground examples of the example's best score for the pair "
                       "(attention, |attention attribution|, FIS, ... depending on the method).",
    "median_score_bg": "Median background score of the pair (0 when it is never observed in the background).",
    "median_distance_bp": "Median distance in bp between the best-scoring positions of the two motifs "
                          "(foreground).",
    "u_statistic": "Mann-Whitney U of the foreground scores (one-sided: foreground > background).",
    "p_value": "One-sided Mann-Whitney p-value (normal approximation, tie and continuity corrected).",
    "q_value": "Benjamini-Hochberg adjusted p-value over all tested filter pairs of the method "
               "(TF table: smallest q over the filter pairs merged into the TF pair).",
    "effect_size": "Probability that a foreground score exceeds a background score (U / (n_fg * n_bg), "
                   "ties count 1/2; 0.5 = no difference). With --min-effect, pairs below it are not "
                   "significant.",
    "excess_z": "The pair's z-score (from p_value) minus what its two filters' effects over all their "
                "pairs predict (robust additive fit): how much more this pair is raised in the "
                "foreground than its filters' other pairs. nan when fewer than 100 pairs were tested.",
    "q_excess": "Benjamini-Hochberg q-value of excess_z against the spread of all pairs' excess. A pair "
                "with q_value < 0.05 AND q_excess < 0.05 stands out from its partners' pairs: an "
                "interaction rather than two motifs that are each enriched in the foreground. TF table: "
                "the same test on the TF x TF matrix of the TF pairs' Simes p-values (excess_level "
                "'tf'), or, with fewer than 20 tested TF pairs, the smallest over the merged filter "
                "pairs (excess_level 'filter').",
    "excess_level": "Where the TF pair's q_excess comes from: 'tf' (TF x TF matrix), 'filter' (filter x "
                    "filter matrix) or empty (too few tests for either).",
    "n_filter_pairs": "Significant filter pairs merged into this TF pair.",
    "n_tested_filter_pairs": "Tested filter pairs whose two filters are named after this TF pair.",
    "q_tf": "TF-level q-value: the Simes combination of the p-values of all tested filter pairs named "
            "after the TF pair, Benjamini-Hochberg adjusted over all TF pairs. A TF pair is listed only "
            "when q_tf < 0.05 (besides a significant filter pair): many redundant "
            "filters named by one TF give a false TF pair many chances at one significant filter pair; "
            "q_tf counts them.",
    "filter_pairs": "The merged filter pairs, 'filterA-filterB' separated by ';', best first.",
    "listed_by": "Which rule lists the TF pair: 'filter pair' (a significant filter pair and q_tf < 0.05), "
                 "'pool' (the TF-pooled test: q_pool < 0.05, pooled effect size and effect_pool_normalised "
                 ">= 0.6, and the smaller less 1.645 null standard errors >= 0.5) or 'both'. "
                 "For rows listed by the pool only, q_value, p_value, effect_size, n_fg, n_bg, the median "
                 "scores and the distance are the pooled test's.",
    "q_pool": "TF-pooled test: per example the best score over the filter pairs named after the TF pair, "
              "foreground against background (one-sided Mann-Whitney), Benjamini-Hochberg over TF pairs; "
              "nan when not tested (--no-tf-pool, or below the cutoff).",
    "effect_pool_normalised": "Effect size of the same pooled samples with each example's scores divided "
                              "by its largest score: above 0.5 when the pair is raised relative to the "
                              "example's strongest pair, not only because every score is larger in the "
                              "foreground (attributions scale with the logit).",
    "effect_partners": "Partner rule's bar: the median of min(pooled effect, effect_pool_normalised) over "
                       "each TF's other pooled pairs, the larger of the two TFs', plus one null standard "
                       "error of the pair's pooled effect, sqrt((n_fg + n_bg + 1) / (12 n_fg n_bg)). A "
                       "listed pair's own min(pooled effect, effect_pool_normalised) reaches it: it is "
                       "raised more than its TFs' pairs typically are, by more than sampling noise (a motif "
                       "enriched alone in the foreground raises all its pairs). nan where the pair has no "
                       "pooled effect (kept) or with --no-partner-rule.",
    # filters_tomtom.tsv
    "filter": "Filter name (filterN).",
    "n_sites": "Positions (over the foreground examples) where the filter activation passed its threshold.",
    "ic": "Total information content of the filter PWM (bits).",
    "target": "Best TomTom hit (TF name); empty for filters with fewer than 10 sites.",
    "target_id": "Database id of the best hit (JASPAR matrix id).",
    "offset": "TomTom alignment offset of the best hit.",
    "orientation": "Strand of the best hit relative to the filter (+ or -).",
    "family": "TF family of the best hit.",
}


# --------------------------------------------------------------------------------------------
# writing helpers
# --------------------------------------------------------------------------------------------


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to a temporary file next to ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float | np.floating):
        v = float(v)
        if math.isnan(v):
            return ""
        if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return f"{v:.6g}"
    if isinstance(v, np.integer):
        return str(int(v))
    return str(v).replace("\t", " ").replace("\n", " ")


def write_tsv(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write rows (dicts) as a TSV with exactly ``columns`` (atomically)."""
    lines = ["\t".join(columns)]
    for r in rows:
        lines.append("\t".join(_cell(r.get(c)) for c in columns))
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_tsv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a TSV with a header line."""
    import csv

    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _json_default(o: Any):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if math.isnan(float(o)) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _clean(o: Any) -> Any:
    """NaN/inf floats become None (strict JSON)."""
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    if isinstance(o, float | np.floating) and not math.isfinite(float(o)):
        return None
    return o


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Strict JSON (NaN -> null), indented, written atomically."""
    return atomic_write_text(path, json.dumps(_clean(obj), indent=2, default=_json_default,
                                              allow_nan=False) + "\n")


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


def filter_names(matches: Sequence[Any], num_filters: int) -> tuple[list[str], list[str]]:
    """Per-filter TF name (matched best hit, else "") and family, from FilterMatch-like rows."""
    tf = [""] * num_filters
    fam = [""] * num_filters
    for m in matches:
        if m.filter < num_filters and m.matched:
            tf[m.filter] = m.target
            fam[m.filter] = m.family
    return tf, fam


_OPTIONAL = ("excess_z", "q_excess")  # columns a stats table may lack (nan in the rows)


def interaction_table(stats: Mapping[str, np.ndarray], matches: Sequence[Any], num_filters: int
                      ) -> list[dict[str, Any]]:
    """Rows of ``interactions_<method>.tsv`` from a :func:`satori_jax.interpret.stats.test_pairs` table.

    Parameters
    ----------
    stats
        Columns ``filter_a``, ``filter_b``, ``n_fg``, ``n_bg``, ``median_score_fg``,
        ``median_score_bg``, ``median_distance_bp``, ``u_statistic``, ``p_value``, ``q_value``,
        ``effect_size`` and optionally ``excess_z``, ``q_excess``
        (:func:`~satori_jax.interpret.excess.excess_test`)
        (``(T,)`` each), sorted by q-value.
    matches
        Per-filter best TomTom hits (:class:`~satori_jax.interpret.motifs.FilterMatch`).
    num_filters
        ``F``.

    Returns
    -------
    One dict per tested pair with the keys :data:`INTERACTION_COLUMNS` (``filter_a`` / ``filter_b``
    as ``filterN`` strings), in the order of ``stats``.
    """
    tf, fam = filter_names(matches, num_filters)
    fa = np.asarray(stats["filter_a"], np.int64)
    fb = np.asarray(stats["filter_b"], np.int64)
    cols = {c: np.full(fa.size, np.nan) if c in _OPTIONAL and c not in stats else stats[c]
            for c in INTERACTION_COLUMNS[6:]}
    rows = []
    for i in range(fa.size):
        a, b = int(fa[i]), int(fb[i])
        row: dict[str, Any] = {"filter_a": f"filter{a}", "filter_b": f"filter{b}", "tf_a": tf[a],
                               "tf_b": tf[b], "family_a": fam[a], "family_b": fam[b]}
        for c, col in cols.items():
            v = col[i]
            row[c] = int(v) if c in ("n_fg", "n_bg") else float(v)
        rows.append(row)
    return rows


def pair_label(tf_a: str, tf_b: str) -> str:
    """``"A—B"`` label of an unordered TF pair (names sorted)."""
    a, b = sorted((tf_a, tf_b))
    return f"{a}--{b}"


def is_significant(row: Mapping[str, Any], alpha: float = ALPHA, min_effect: float = 0.0) -> bool:
    """``q_value < alpha`` and (when ``min_effect > 0``) ``effect_size >= min_effect``."""
    if not float(row["q_value"]) < alpha:
        return False
    return min_effect <= 0 or float(row.get("effect_size", float("nan"))) >= min_effect


def simes(p: np.ndarray) -> float:
    """Simes' combined p-value of ``k`` p-values: ``min_i k · p_(i) / i`` (valid under independence
    and positive dependence, e.g. filter pairs sharing filters)."""
    p = np.sort(np.asarray(p, np.float64))
    if p.size == 0:
        return float("nan")
    return float(min(1.0, np.min(p * p.size / np.arange(1, p.size + 1))))


def tf_simes(rows: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[str, str]], np.ndarray, list[int]]:
    """Every named TF pair's Simes combination of the p-values of all its tested filter pairs.

    Returns
    -------
    keys, p, n
        The TF pairs ``(tf_a, tf_b)`` (names sorted; two named filters with different names), their
        ``(P,)`` Simes p-values and their numbers of tested filter pairs.
    """
    groups: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if not (r["tf_a"] and r["tf_b"]) or r["tf_a"] == r["tf_b"]:
            continue
        key = tuple(sorted((r["tf_a"], r["tf_b"])))
        groups.setdefault(key, []).append(float(r["p_value"]))
    keys = sorted(groups)
    p = np.array([simes(np.asarray(groups[k])) for k in keys], np.float64)
    return keys, p, [len(groups[k]) for k in keys]


def tf_level_q(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], int]]:
    """TF-level q-values of every TF pair that has tested filter pairs.

    Each named TF pair (two named filters, different names; unordered) pools the p-values of *all* its
    tested filter pairs into one Simes p-value (:func:`tf_simes`); Benjamini–Hochberg runs over the TF
    pairs.

    Returns
    -------
    q
        ``{(tf_a, tf_b): q_tf}`` with names sorted.
    n
        ``{(tf_a, tf_b): number of tested filter pairs}``.
    """
    from satori_jax.interpret.stats import benjamini_hochberg

    keys, combined, n = tf_simes(rows)
    if not keys:
        return {}, {}
    q = benjamini_hochberg(np.nan_to_num(combined, nan=1.0))
    return dict(zip(keys, map(float, q), strict=True)), dict(zip(keys, n, strict=True))


def tf_excess_q(rows: Sequence[Mapping[str, Any]], min_tests: int = TF_EXCESS_MIN_TESTS
                ) -> dict[tuple[str, str], float]:
    """The excess test on the TF x TF matrix: ``{(tf_a, tf_b): q_excess}``, or ``{}`` when too few.

    The TF pairs' Simes p-values (:func:`tf_simes`) go through
    :func:`satori_jax.interpret.excess.excess_test` with the TFs as its items: a TF whose motif is
    enriched in the foreground raises all its TF pairs alike, which the TF's main effect absorbs; a
    TF pair that interacts stands out from its two TFs' other pairs. On the TF matrix, redundant
    filters of one TF count once, which the filter matrix cannot give. Fewer than ``min_tests`` TF
    pairs with p < 1 give ``{}``.
    """
    from satori_jax.interpret.excess import excess_test

    keys, p, _ = tf_simes(rows)
    if len(keys) < min_tests:
        return {}
    names = sorted({t for k in keys for t in k})
    index = {t: i for i, t in enumerate(names)}
    a = np.array([index[k[0]] for k in keys])
    b = np.array([index[k[1]] for k in keys])
    ex = excess_test(a, b, p, len(names), min_tests=min_tests)
    if not np.isfinite(ex["null_centre"]):
        return {}
    return {k: float(q) for k, q in zip(keys, ex["q_excess"], strict=True) if np.isfinite(q)}


def _pool_index(pooled: Mapping[str, Any] | None) -> dict[tuple[str, str], dict[str, float]]:
    """``{(tf_a, tf_b): pooled test's values}`` from ``{"stats": columns, "names": group names}``."""
    if not pooled:
        return {}
    from satori_jax.interpret.pooled import tf_pairs

    st = pooled["stats"]
    cols = ("q_value", "p_value", "effect_size", "effect_normalised", "n_fg", "n_bg", "median_score_fg",
            "median_score_bg", "median_distance_bp")
    return {key: {k: float(st[k][i]) for k in cols} for i, key in enumerate(tf_pairs(pooled))}


def pool_lists(v: Mapping[str, float], alpha: float = ALPHA, min_effect: float = 0.0) -> bool:
    """Whether the TF-pooled test lists a TF pair (:mod:`satori_jax.interpret.pooled`): q, both effect
    floors, and the effects' lower bound above no effect (a pool seen in a few background examples)."""
    from satori_jax.interpret.pooled import MIN_POOLED_EFFECT, MIN_POOLED_LOWER, effect_lower

    return bool(v["q_value"] < alpha and v["effect_size"] >= max(MIN_POOLED_EFFECT, min_effect)
                and v["effect_normalised"] >= MIN_POOLED_EFFECT
                and effect_lower(v["effect_size"], v["effect_normalised"], v["n_fg"], v["n_bg"])
                >= MIN_POOLED_LOWER)


def tf_pair_table(rows: Sequence[Mapping[str, Any]], alpha: float = ALPHA,
                  min_effect: float = 0.0, tf_excess: Mapping[tuple[str, str], float] | None = None,
                  pooled: Mapping[str, Any] | None = None, partners: bool = True) -> list[dict[str, Any]]:
    """Significant TF pairs from the tested filter pairs.

    A TF pair is listed when (1) its TF-level q-value ``q_tf < alpha`` (:func:`tf_level_q`: Simes over
    all its tested filter pairs, Benjamini–Hochberg over TF pairs) and (2) at least one of its filter
    pairs is significant (:func:`is_significant`). Filters must both be named (best hit q < 0.05); self
    pairs (same TF name) are dropped; each pair is ordered by name, and its significant filter pairs are
    merged keeping the statistics of the smallest q-value (then p-value). Output sorted by ``q_tf``, then
    q-value, p-value and names (a row the pool lists sorts by the smaller of ``q_tf`` and ``q_pool``).
    Keys: :data:`TF_INTERACTION_COLUMNS`. ``q_excess`` comes from the
    excess test on the TF x TF matrix (:func:`tf_excess_q`, ``excess_level = "tf"``) when at least
    :data:`TF_EXCESS_MIN_TESTS` TF pairs were tested, else it is the smallest over the merged filter
    pairs (``"filter"``), ``nan`` (and ``""``) when the rows carry none; :func:`excess_tf_pairs` keeps
    the rows that also pass the excess test. ``tf_excess``: :func:`tf_excess_q` of ``rows`` when the
    caller has it already (computed here when ``None``).

    ``pooled`` (``{"stats": columns of the TF-pooled test, "names": group names}``,
    :mod:`satori_jax.interpret.pooled`) adds the TF pairs that the pooled test lists
    (:func:`pool_lists`; ``listed_by`` says which rule listed a row) and every row's ``q_pool`` and
    ``effect_pool_normalised``. With ``pooled`` and ``partners`` (the partner rule), a listed pair whose
    pooled effect is below its bar, its TFs' partner baseline plus one null standard error
    (:func:`satori_jax.interpret.pooled.partner_baselines`, column ``effect_partners``), is dropped.
    """
    q_tf, n_tested = tf_level_q(rows)
    if tf_excess is None:
        tf_excess = tf_excess_q(rows)
    best: dict[tuple[str, str], dict[str, Any]] = {}
    members: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    excess: dict[tuple[str, str], float] = {}
    for r in rows:
        q = float(r["q_value"])
        named = r["tf_a"] and r["tf_b"] and r["tf_a"] != r["tf_b"]
        if not named or not is_significant(r, alpha, min_effect):
            continue
        if r["tf_a"] <= r["tf_b"]:
            key, fams = (r["tf_a"], r["tf_b"]), (r["family_a"], r["family_b"])
        else:
            key, fams = (r["tf_b"], r["tf_a"]), (r["family_b"], r["family_a"])
        if not q_tf.get(key, 1.0) < alpha:
            continue
        p = float(r["p_value"])
        members.setdefault(key, []).append((q, p, f"{r['filter_a']}-{r['filter_b']}"))
        qx = float(r.get("q_excess", float("nan")))
        if np.isfinite(qx) and qx < excess.get(key, np.inf):
            excess[key] = qx
        cur = best.get(key)
        if cur is None or (q, p) < (cur["q_value"], cur["p_value"]):
            best[key] = {
                "tf_a": key[0], "tf_b": key[1], "family_a": fams[0], "family_b": fams[1], "q_value": q,
                "p_value": p, "median_distance_bp": r["median_distance_bp"],
                "median_score_fg": r["median_score_fg"], "median_score_bg": r["median_score_bg"],
                "n_fg": r["n_fg"], "n_bg": r["n_bg"], "effect_size": r.get("effect_size", float("nan")),
            }
    pool = _pool_index(pooled)
    families = {}
    for r in rows:
        for t, fam in ((r["tf_a"], r["family_a"]), (r["tf_b"], r["family_b"])):
            if t:
                families.setdefault(t, fam)
    for key, v in pool.items():
        if key in best or not pool_lists(v, alpha, min_effect):
            continue
        best[key] = {"tf_a": key[0], "tf_b": key[1], "family_a": families.get(key[0], ""),
                     "family_b": families.get(key[1], ""),
                     **{k: v[k] for k in ("q_value", "p_value", "median_distance_bp", "median_score_fg",
                                          "median_score_bg", "effect_size")},
                     "n_fg": int(v["n_fg"]), "n_bg": int(v["n_bg"])}
        members[key] = []
    if pooled and partners:
        from satori_jax.interpret.pooled import partner_baselines

        base = partner_baselines(pooled)
        best = {k: r for k, r in best.items() if k not in base or base[k][0] >= base[k][1]}
    else:
        base = {}
    out = []
    for key, row in best.items():
        row["effect_partners"] = base[key][1] if key in base else float("nan")
        by_pool = key in pool and pool_lists(pool[key], alpha, min_effect)
        row["listed_by"] = ("both" if by_pool else "filter pair") if members[key] else "pool"
        row["q_pool"] = pool[key]["q_value"] if key in pool else float("nan")
        row["effect_pool_normalised"] = pool[key]["effect_normalised"] if key in pool else float("nan")
        mem = sorted(members[key])
        row["n_filter_pairs"] = len(mem)
        row["n_tested_filter_pairs"] = n_tested.get(key, 0)
        row["q_tf"] = q_tf.get(key, float("nan"))
        if tf_excess:
            row["q_excess"], row["excess_level"] = tf_excess.get(key, 1.0), "tf"
        else:
            row["q_excess"] = excess.get(key, float("nan"))
            row["excess_level"] = "filter" if key in excess else ""
        row["filter_pairs"] = ";".join(m[2] for m in mem)
        out.append(row)
    def tf_q(r: Mapping[str, Any]) -> float:  # the TF-level q of the rule(s) that list the row
        q = float(np.nan_to_num(r["q_tf"], nan=1.0)) if r["listed_by"] != "pool" else 1.0
        return min(q, float(r["q_pool"])) if r["listed_by"] != "filter pair" else q

    out.sort(key=lambda r: (tf_q(r), r["q_value"], r["p_value"], r["tf_a"], r["tf_b"]))
    return out


def excess_tf_pairs(tf_rows: Sequence[Mapping[str, Any]], alpha: float = ALPHA) -> list[dict[str, Any]]:
    """The rows of a :func:`tf_pair_table` that also stand out from their TFs' (or filters') other
    pairs (``q_excess < alpha``), in their order."""
    return [dict(r) for r in tf_rows if float(r.get("q_excess", float("nan"))) < alpha]
