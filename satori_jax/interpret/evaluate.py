"""Score inferred TF-TF interactions against the ground truth of a simulated data set.

Pairs are unordered (``frozenset({a, b})``); self pairs (``a == b``, also after aliasing) are
dropped and duplicates merged before counting. ``aliases`` maps TF names to a merged name (for
families of near-identical motifs, which TomTom cannot tell apart); it is applied to both the
predicted and the true pairs.

Conventions for empty sets: precision of an empty prediction is 0, recall with no true pairs
is 0, F1 is 0 whenever precision + recall is 0.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from satori_jax.errors import input_error

__all__ = ["read_truth", "normalize_pairs", "score_pairs", "pr_curve", "read_table_rows"]

Pair = frozenset[str]


def read_truth(path: str | os.PathLike) -> set[Pair]:
    """Read true interacting pairs (``interactions.tsv``: optional header ``tf_a<TAB>tf_b``).

    Lines hold two TF names separated by a tab (or whitespace); blank lines and ``#`` comments
    are skipped; self pairs are dropped.
    """
    path = Path(path)
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


def normalize_pairs(pairs: Iterable[Iterable[str]], aliases: Mapping[str, str] | None = None) -> set[Pair]:
    """Unordered, aliased, de-duplicated pairs without self pairs."""
    aliases = aliases or {}
    out: set[Pair] = set()
    for p in pairs:
        s = frozenset(aliases.get(x, x) for x in p)  # a self pair collapses to one element
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
        key = frozenset((aliases.get(str(a), str(a)), aliases.get(str(b), str(b))))
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
