"""Score inferred TF-TF interactions against the ground truth of a simulated data set.

Pairs are unordered (``frozenset({a, b})``); self pairs (``a == b``, also after aliasing) are
dropped and duplicates merged before counting. Names match regardless of case (gene symbols differ
in case between species only: JASPAR's mouse ``Nrf1`` is ``NRF1``). ``aliases`` maps TF names to a
merged name (for families of near-identical motifs, which TomTom cannot tell apart); it is applied to
both the predicted and the true pairs.

Conventions for empty sets: precision of an empty prediction is 0, recall with no true pairs
is 0, F1 is 0 whenever precision + recall is 0.

Beating chance. The candidates are the TF pairs a method could call: ``C(T, 2)`` over a TF pool
or the pairs it tested (:func:`candidate_pairs`). :func:`score_calls` puts a call list next to
the chance level of calling every candidate; :func:`score_ranking` scores a ranking of the
candidates without a threshold (average precision and AUROC; pairs never scored rank last) next
to its chance AUPRC, the fraction of true pairs among the candidates. :func:`family_aliases`
maps TF names to families (JASPAR family annotation or a family table) so that ELF1 / GABPA / EHF
count as one ETS call; :func:`evaluate_interactions` scores exact and family-merged pairs.
scikit-learn is not a dependency; the few lines of ranking metrics are numpy (and
:func:`satori_jax.metrics.auroc`).
"""

from __future__ import annotations

import csv
import itertools
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from satori_jax.errors import InputError, input_error
from satori_jax.metrics import auroc

__all__ = [
    "read_truth",
    "normalize_pairs",
    "score_pairs",
    "pr_curve",
    "read_table_rows",
    "candidate_pairs",
    "score_calls",
    "average_precision",
    "score_ranking",
    "family_aliases",
    "evaluate_interactions",
    "Truth",
    "truth_pool",
    "load_truth",
    "against_chance",
]

Pair = frozenset[str]


def read_truth(path: str | os.PathLike) -> set[Pair]:
    """Read true interacting pairs (``interactions.tsv``: optional header ``tf_a<TAB>tf_b``).

    Lines hold two TF names separated by a tab (or whitespace); blank lines and ``#`` comments
    are skipped; self pairs are dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "truth file not found" if not path.exists() else "truth file is not a file")
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error(path, f"cannot read truth file ({exc})") from None
    out: set[Pair] = set()
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        toks = [t.strip() for t in (line.split("\t") if "\t" in line else line.split()) if t.strip()]
        if len(toks) != 2:
            raise input_error(path, f"expected two TF names, got {len(toks)} fields", lineno)
        if [t.lower() for t in toks] == ["tf_a", "tf_b"]:
            continue
        if toks[0] != toks[1]:
            out.add(frozenset(toks))
    return out


def merged_name(name: str, aliases: Mapping[str, str]) -> str:
    """A TF name as pairs are compared: its alias (e.g. family) when it has one, looked up as given
    and then upper-cased, else the name upper-cased. Gene symbols differ in case between species
    only (JASPAR's mouse ``Nrf1``, ``Sox17`` are ``NRF1``, ``SOX17``), so names match regardless of case."""
    s = str(name)
    hit = aliases.get(s)
    if hit is None:
        hit = aliases.get(s.upper())
    return s.upper() if hit is None else hit


def normalize_pairs(pairs: Iterable[Iterable[str]], aliases: Mapping[str, str] | None = None) -> set[Pair]:
    """Unordered, aliased (:func:`merged_name`), de-duplicated pairs without self pairs."""
    aliases = aliases or {}
    out: set[Pair] = set()
    for p in pairs:
        s = frozenset(merged_name(x, aliases) for x in p)  # a self pair collapses to one element
        if len(s) == 2:
            out.add(s)
    return out


def score_pairs(
    predicted: Iterable[Iterable[str]],
    truth: Iterable[Iterable[str]],
    aliases: Mapping[str, str] | None = None,
) -> dict:
    """Precision, recall and F1 of predicted TF pairs against the true pairs.

    Parameters
    ----------
    predicted, truth
        Pairs of TF names (tuples, lists or frozensets), order and duplicates irrelevant.
    aliases
        Optional ``name -> merged name`` map applied to both sides.

    Returns
    -------
    ``{"precision", "recall", "f1", "tp", "fp", "fn", "n_predicted", "n_true"}`` (counts after
    normalization; precision is 0 for an empty prediction).
    """
    pred = normalize_pairs(predicted, aliases)
    true = normalize_pairs(truth, aliases)
    tp = len(pred & true)
    fp = len(pred - true)
    fn = len(true - pred)
    precision = tp / len(pred) if pred else 0.0
    recall = tp / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn,
            "n_predicted": len(pred), "n_true": len(true)}


def pr_curve(
    rows: Iterable[Mapping],
    truth: Iterable[Iterable[str]],
    thresholds: Sequence[float] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> list[dict]:
    """Precision / recall / F1 of the pairs with ``q_value <= threshold``, per threshold.

    Parameters
    ----------
    rows
        Table rows with keys ``tf_a``, ``tf_b``, ``q_value`` (e.g. read from the interactions
        TSV with :class:`csv.DictReader`; strings are converted). Rows with a missing TF name or
        non-numeric q-value are ignored. A TF pair found several times counts once, at its
        smallest q-value.
    truth
        True pairs.
    thresholds
        q-value cut-offs; default: every distinct q-value in ``rows`` (ascending).

    Returns
    -------
    One dict per threshold, ascending: ``threshold, precision, recall, f1, n_predicted``
    (plus ``tp``).
    """
    best: dict[Pair, float] = {}
    aliases = aliases or {}
    for r in rows:
        a, b = r.get("tf_a"), r.get("tf_b")
        if not a or not b:
            continue
        try:
            q = float(r.get("q_value"))
        except (TypeError, ValueError):
            continue
        if q != q:  # NaN
            continue
        key = frozenset((merged_name(a, aliases), merged_name(b, aliases)))
        if len(key) != 2:
            continue
        best[key] = min(q, best.get(key, float("inf")))
    true = normalize_pairs(truth, aliases)
    ths = sorted(set(best.values())) if thresholds is None else sorted(float(t) for t in thresholds)
    out = []
    for t in ths:
        pred = [p for p, q in best.items() if q <= t]
        s = score_pairs(pred, true)
        out.append({"threshold": t, "precision": s["precision"], "recall": s["recall"], "f1": s["f1"],
                    "n_predicted": s["n_predicted"], "tp": s["tp"]})
    return out


def read_table_rows(path: str | os.PathLike) -> list[dict]:
    """Rows of a TSV with a header (helper for :func:`pr_curve`)."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh, delimiter="\t"))
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error(path, f"cannot read table ({exc})") from None


# ----------------------------------------------------------------------------------------------
# beating chance: candidates, calls against chance, rankings, families


def candidate_pairs(
    tfs: Iterable[str] | None = None,
    tested: Iterable[Iterable[str]] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> set[Pair]:
    """The TF pairs a method could call: all ``C(T, 2)`` pairs of a TF pool, or the tested pairs.

    Parameters
    ----------
    tfs
        TF pool (e.g. the names of ``motifs.meme``); after aliasing, every unordered pair of
        distinct names.
    tested
        Pairs actually tested (normalized as by :func:`normalize_pairs`). Give ``tfs`` or ``tested``.
    aliases
        Optional ``name -> merged name`` map (e.g. :func:`family_aliases`).
    """
    if (tfs is None) == (tested is None):
        raise InputError("candidate_pairs: give a TF pool (tfs) or the tested pairs (tested), not both")
    if tested is not None:
        return normalize_pairs(tested, aliases)
    aliases = aliases or {}
    names = sorted({merged_name(t, aliases) for t in tfs})
    return {frozenset(p) for p in itertools.combinations(names, 2)}


def score_calls(
    predicted: Iterable[Iterable[str]],
    truth: Iterable[Iterable[str]],
    candidates: Iterable[Iterable[str]],
    aliases: Mapping[str, str] | None = None,
) -> dict:
    """:func:`score_pairs` of a call list, with the chance level of calling every candidate.

    Returns
    -------
    The keys of :func:`score_pairs` plus ``n_candidates``, ``n_true_candidates`` (true pairs among
    the candidates), ``chance_precision`` (= ``n_true_candidates / n_candidates``),
    ``chance_recall`` and ``chance_f1`` (all candidates called; recall against all true pairs,
    so a true pair that is no candidate lowers both).
    """
    out = score_pairs(predicted, truth, aliases)
    cand = normalize_pairs(candidates, aliases)
    chance = score_pairs(cand, truth, aliases)
    out.update(n_candidates=len(cand), n_true_candidates=chance["tp"], chance_precision=chance["precision"],
               chance_recall=chance["recall"], chance_f1=chance["f1"])
    return out


def average_precision(labels: Sequence | np.ndarray, scores: Sequence | np.ndarray) -> float:
    """Average precision, exact expectation over random orders of tied scores; NaN without positives.

    ``AP = (1 / P) * sum over positives of precision at its rank``. Inside a group of ``n`` tied
    items with ``m`` positives, after ``a`` positives in ``r`` items ranked above, slot ``k`` holds
    a positive with probability ``m / n`` and then ``1 + (k - 1)(m - 1)/(n - 1)`` positives of
    the group up to it on average, so the group adds
    ``sum_k (m / n) (a + 1 + (k - 1)(m - 1)/(n - 1)) / (r + k)`` (exact: ranks are fixed per slot).
    Without ties this is the usual step-wise AP.

    Parameters
    ----------
    labels, scores
        ``(N,)`` 0/1 and real scores (higher = ranked first; ``-inf`` allowed).
    """
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    bounds = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1, s.size]
    total, above_pos = 0.0, 0
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):  # loop over distinct scores
        n, m = int(hi - lo), int(y[lo:hi].sum())
        if m:
            k = np.arange(1, n + 1)
            within = 1 + (k - 1) * ((m - 1) / (n - 1) if n > 1 else 0.0)
            total += float(np.sum((m / n) * (above_pos + within) / (lo + k)))
        above_pos += m
    return total / n_pos


def _best_scores(scores, aliases: Mapping[str, str], higher_is_better: bool) -> dict[Pair, float]:
    items = scores.items() if isinstance(scores, Mapping) else ((r[:2], r[2]) for r in scores)
    best: dict[Pair, float] = {}
    for pair, value in items:
        key = frozenset(merged_name(x, aliases) for x in pair)
        v = float(value)
        if len(key) != 2 or v != v:  # self pair (also after merging) or NaN
            continue
        v = v if higher_is_better else -v
        best[key] = max(v, best.get(key, -np.inf))
    return best


def score_ranking(
    scores: Mapping[Iterable[str], float] | Iterable[tuple[str, str, float]],
    truth: Iterable[Iterable[str]],
    candidates: Iterable[Iterable[str]],
    aliases: Mapping[str, str] | None = None,
    higher_is_better: bool = True,
) -> dict:
    """Threshold-free quality of a ranking of candidate TF pairs.

    Every candidate (plus every scored pair and every true pair, so a true pair never scored is a
    miss, not left out) is ranked by its score; pairs without a score rank last, tied. A pair
    scored several times (both orders, or several members of a merged family) keeps its best
    score. Ties count as their expectation over random orders: AUROC with ties one half
    (:func:`satori_jax.metrics.auroc`), AUPRC by :func:`average_precision`.

    Parameters
    ----------
    scores
        ``{(tf_a, tf_b): score}`` or rows ``(tf_a, tf_b, score)``; NaN scores count as missing.
    truth, candidates
        True pairs and candidate pairs (e.g. :func:`candidate_pairs`).
    higher_is_better
        ``False`` for scores such as q-values (smaller ranks first).

    Returns
    -------
    ``auprc``, ``auroc``, ``chance_auprc`` (exact expected AP of a random ranking: all pairs
    tied), ``prevalence`` (fraction of true pairs among the ranked pairs, which the chance AUPRC
    approaches for many pairs and exceeds for few), ``n_ranked``, ``n_true``, ``n_scored``,
    ``n_true_scored``.
    """
    aliases = aliases or {}
    best = _best_scores(scores, aliases, higher_is_better)
    true = normalize_pairs(truth, aliases)
    ranked = sorted(normalize_pairs(candidates, aliases) | true | set(best), key=sorted)
    y = np.array([p in true for p in ranked], dtype=bool)
    s = np.array([best.get(p, -np.inf) for p in ranked], dtype=np.float64)
    n = len(ranked)
    finite = np.where(np.isfinite(s), s, np.nan)
    lowest = np.nanmin(finite) if np.isfinite(finite).any() else 0.0
    s_auc = np.where(np.isfinite(s), s, lowest - 1.0)  # rankdata-safe "last"
    return {
        "auprc": average_precision(y, s) if n else float("nan"),
        "auroc": auroc(y, s_auc) if n else float("nan"),
        "chance_auprc": average_precision(y, np.zeros(n)) if n else float("nan"),
        "prevalence": float(y.mean()) if n else float("nan"),
        "n_ranked": n,
        "n_true": int(y.sum()),
        "n_scored": len(best),
        "n_true_scored": int(sum(p in true for p in best)),
    }


def family_aliases(families: Mapping[str, str] | Iterable) -> dict[str, str]:
    """TF name -> family label, for merging pairs by family.

    Parameters
    ----------
    families
        ``{tf_name: family}`` (e.g. :func:`satori_jax.data.jaspar.jaspar_families` or
        :func:`satori_jax.interpret.motifs.read_family_table`), or motifs / records with ``name``
        and ``family`` (:class:`~satori_jax.data.meme.Motif`, or the ``"motifs"`` list of a
        simulated ``dataset.json``). JASPAR families of heterodimers stay ``"::"``-joined.

    Returns
    -------
    ``{tf_name: "family:<family>"}`` for TFs with a family, also keyed by the upper-cased name; TFs
    without one are left out (they keep their own name, upper-cased). The prefix keeps a family label
    from colliding with a TF name.
    """
    if isinstance(families, Mapping):
        items = families.items()
    else:
        items = ((r["name"], r.get("family", "")) if isinstance(r, Mapping) else (r.name, r.family)
                 for r in families)
    out = {str(name): f"family:{fam}" for name, fam in items if fam and str(fam).strip()}
    return {**{k.upper(): v for k, v in out.items()}, **out}


def evaluate_interactions(
    truth: Iterable[Iterable[str]],
    candidates: Iterable[Iterable[str]],
    *,
    predicted: Iterable[Iterable[str]] | None = None,
    scores: Mapping[Iterable[str], float] | Iterable[tuple[str, str, float]] | None = None,
    families: Mapping[str, str] | Iterable | None = None,
    higher_is_better: bool = True,
) -> dict:
    """Calls and/or a ranking scored against chance, exactly and with TF families merged.

    Returns
    -------
    ``{"exact": {...}, "family": {...}}`` (``"family"`` only with ``families``); each holds
    ``"calls"`` (:func:`score_calls`, with ``predicted``) and/or ``"ranking"``
    (:func:`score_ranking`, with ``scores``). Under family merging a true pair of two TFs of
    one family becomes a self pair and drops out.
    """
    truth, candidates = list(truth), list(candidates)
    predicted = None if predicted is None else list(predicted)
    scores = None if scores is None else (scores if isinstance(scores, Mapping) else list(scores))
    views = {"exact": {}}
    if families is not None:
        views["family"] = family_aliases(families)
    out: dict = {}
    for view, aliases in views.items():
        res: dict = {}
        if predicted is not None:
            res["calls"] = score_calls(predicted, truth, candidates, aliases)
        if scores is not None:
            res["ranking"] = score_ranking(scores, truth, candidates, aliases, higher_is_better)
        out[view] = res
    return out


# ----------------------------------------------------------------------------------------------
# a run's ground truth: true pairs, the pool they were drawn from, families


@dataclass(frozen=True)
class Truth:
    """The ground truth an interpretation is scored against (``interpret --truth``).

    Attributes
    ----------
    pairs
        True TF pairs (:func:`read_truth`).
    pool
        The TFs the truth was drawn from (a simulated data set's motifs), or ``None``. With a pool
        the candidates (and so the chance level) are all ``C(T, 2)`` pairs of it; without one, every
        TF pair the method tested.
    families
        ``{tf_name: family}`` from the motif database and the pool, for the family-merged view
        (empty: no family view).
    pool_source
        Where the pool came from (shown in the summary).
    """

    pairs: frozenset[Pair]
    pool: tuple[str, ...] | None = None
    families: Mapping[str, str] = field(default_factory=dict)
    pool_source: str = ""

    def candidates(self, tested: Iterable[Iterable[str]]) -> tuple[set[Pair], str]:
        """The candidate pairs (before family merging) and the rule that made them."""
        if self.pool is not None:
            n = len(self.pool)
            return (candidate_pairs(tfs=self.pool),
                    f"every pair of the {n} TFs of {self.pool_source}: C({n}, 2) = {n * (n - 1) // 2}")
        return candidate_pairs(tested=tested), "every tested TF pair (a filter pair, the pool) or listed one"

    def score(self, called: Sequence[Mapping], tested: Sequence[Mapping],
              also_tested: Sequence[Mapping] = (), evidence: Mapping[Pair, float] | None = None) -> dict:
        """Calls and ranking of one method against the truth and chance, exact and family-merged.

        Parameters
        ----------
        called
            Rows of the method's called TF pairs (``tf_a``, ``tf_b``).
        tested
            Rows of every tested filter pair (``tf_a``, ``tf_b``, ``p_value``; unnamed filters have
            empty names and are skipped). Without ``evidence``, a TF pair is ranked by its smallest
            p-value; pairs never tested rank last.
        also_tested
            Rows (``tf_a``, ``tf_b``) of TF pairs tested otherwise (the TF-pooled test): candidates
            when there is no data-set pool.
        evidence
            ``{(tf_a, tf_b): score}``, higher ranks first
            (:func:`~satori_jax.interpret.pooled.tf_evidence`: the better of a pair's ranks by the
            filter-level and the TF-pooled test): the ranking instead of the p-values alone; pairs
            without a score rank last.

        Returns
        -------
        ``{"candidates": rule, "ranked_by": ..., "exact": {"calls", "ranking"}, "family": {...}}``
        (``"family"`` only with families): :func:`evaluate_interactions`, with ``None`` for undefined
        values (an AUROC without false pairs).
        """
        named = [r for r in tested if r["tf_a"] and r["tf_b"]]
        # a pair listed by the TF-pooled test was tested there, whether or not a filter pair was
        cand, rule = self.candidates([(r["tf_a"], r["tf_b"]) for r in (*named, *also_tested, *called)])
        if evidence is None:
            ranked = [(r["tf_a"], r["tf_b"], float(r["p_value"])) for r in named]
            by, higher = "smallest filter-pair p-value", False
        else:
            ranked = [(a, b, float(v)) for (a, b), v in evidence.items()]
            by, higher = ("better of two ranks: smallest filter-pair p-value, TF-pooled effect size "
                          "(lower bound)"), True
        out = evaluate_interactions(self.pairs, cand, predicted=[(r["tf_a"], r["tf_b"]) for r in called],
                                    scores=ranked, families=dict(self.families) or None,
                                    higher_is_better=higher)
        return _json_safe({"candidates": rule, "ranked_by": by, **out})


def _json_safe(obj):
    """NaN / inf (e.g. AUROC without a false pair) -> ``None``, so the summary stays strict JSON."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def truth_pool(truth_path: str | os.PathLike) -> tuple[tuple[str, ...], dict[str, str], str] | None:
    """The TF pool of a simulated data set's truth: ``dataset.json``'s motifs beside the truth file,
    else the names in ``motifs.meme`` beside it; ``None`` when neither is there.

    Returns
    -------
    ``(names, {name: family}, source)``.
    """
    import json

    here = Path(truth_path).parent
    meta = here / "dataset.json"
    if meta.is_file():
        try:
            motifs = json.loads(meta.read_text()).get("motifs") or []
        except (OSError, ValueError):
            motifs = []
        names = tuple(str(m["name"]) for m in motifs if isinstance(m, Mapping) and m.get("name"))
        if names:
            fams = {str(m["name"]): str(m["family"]) for m in motifs
                    if isinstance(m, Mapping) and m.get("name") and m.get("family")}
            return names, fams, str(meta)
    meme = here / "motifs.meme"
    if meme.is_file():
        from satori_jax.data.meme import read_meme

        try:
            motifs = read_meme(meme)
        except InputError:
            return None
        return tuple(m.name for m in motifs), {m.name: m.family for m in motifs if m.family}, str(meme)
    return None


def unknown_names(truth: Truth, db, path, db_name, warn: bool = True) -> list[str]:
    """The truth's TF names that no motif of ``db`` carries (no filter can be named after them, so
    their pairs cannot be found); with ``warn``, one warning line on stderr naming them."""
    unknown = sorted({tf for pair in truth.pairs for tf in pair} - {m.name for m in db})
    if unknown and warn:
        shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        print(f"warning: {path}: {len(unknown)} TF name(s) are not in the motif database {db_name}, so no "
              f"filter can be named after them and their pairs cannot be found: {shown}", file=sys.stderr,
              flush=True)
    return unknown


def load_truth(path: str | os.PathLike, db_families: Mapping[str, str] | None = None) -> Truth:
    """:class:`Truth` of ``path`` (:func:`read_truth`), its pool (:func:`truth_pool`) and families
    (the pool's, overridden by ``db_families``: the motif database names the filters)."""
    pairs = frozenset(read_truth(path))
    pool = truth_pool(path)
    families = dict(pool[1]) if pool else {}
    families.update({k: v for k, v in (db_families or {}).items() if v})
    if pool is None:
        return Truth(pairs, None, families, "")
    return Truth(pairs, pool[0], families, pool[2])


def against_chance(truth: Mapping, digits: int = 3) -> str:
    """One line of text for a ``summary.json`` ``methods.<m>.truth`` entry (:meth:`Truth.score`):
    the list's precision, recall and F1 beside chance F1, the ranking's AUPRC beside chance and its
    AUROC; exact names, then (when present) families merged. Undefined values read ``n/a``."""
    def num(x: float | None, d: int = digits) -> str:
        return "n/a" if x is None or x != x else f"{x:.{d}f}"

    def one(view: Mapping) -> str:
        c, r = view["calls"], view["ranking"]
        return (f"P {num(c['precision'], 2)} R {num(c['recall'], 2)} F1 {num(c['f1'])} "
                f"(chance {num(c['chance_f1'])}), AUPRC {num(r['auprc'])} (chance {num(r['chance_auprc'])}), "
                f"AUROC {num(r['auroc'])}")

    text = one(truth["exact"])
    if "family" in truth:
        text += f"; families merged: {one(truth['family'])}"
    return text
