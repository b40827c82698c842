"""Per-label AUROC and AUPRC (average precision), in numpy."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of one label (ties count one half); NaN if one class is absent.

    Parameters
    ----------
    labels, scores
        ``(N,)`` 0/1 labels and real-valued scores.
    """
    labels = np.asarray(labels).astype(bool)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (step-wise area under the precision–recall curve); NaN without positives.

    Tied scores are treated as one threshold, as in scikit-learn's ``average_precision_score``.
    """
    labels = np.asarray(labels).astype(bool)
    n_pos = int(labels.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    s = np.asarray(scores, dtype=np.float64)[order]
    y = labels[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]  # last index of each distinct threshold
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def classification_metrics(labels: np.ndarray, probs: np.ndarray, names: list[str] | None = None) -> dict:
    """AUROC and AUPRC per label and their means over labels where defined.

    Parameters
    ----------
    labels, probs
        ``(N, C)``.
    names
        Label names for the per-label dicts (default ``label_0 …``).

    Returns
    -------
    ``{"auroc_mean", "auprc_mean", "auroc": {name: value}, "auprc": {name: value}}``
    """
    labels = np.asarray(labels)
    probs = np.asarray(probs)
    names = names or [f"label_{i}" for i in range(labels.shape[1])]
    roc = {n: auroc(labels[:, i], probs[:, i]) for i, n in enumerate(names)}
    prc = {n: auprc(labels[:, i], probs[:, i]) for i, n in enumerate(names)}

    def mean(d: dict) -> float:
        vals = [v for v in d.values() if not np.isnan(v)]
        return float(np.mean(vals)) if vals else float("nan")

    return {"auroc_mean": mean(roc), "auprc_mean": mean(prc), "auroc": roc, "auprc": prc}
