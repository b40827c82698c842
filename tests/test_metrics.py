import numpy as np
import pytest

from satori_jax.metrics import auprc, auroc, classification_metrics


def _auroc_naive(y, s):
    pos, neg = s[y == 1], s[y == 0]
    wins = (pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()
    return wins / (len(pos) * len(neg))


def _ap_naive(y, s):
    thresholds = np.unique(s)[::-1]
    ap, prev_r = 0.0, 0.0
    for t in thresholds:
        pred = s >= t
        tp = (pred & (y == 1)).sum()
        p, r = tp / pred.sum(), tp / (y == 1).sum()
        ap += (r - prev_r) * p
        prev_r = r
    return ap


def test_against_naive():
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.integers(0, 2, 200)
        s = np.round(rng.random(200) + 0.3 * y, 2)  # ties
        assert auroc(y, s) == pytest.approx(_auroc_naive(y, s))
        assert auprc(y, s) == pytest.approx(_ap_naive(y, s))


def test_hand_values_and_nan():
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auprc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(auroc([1, 1], [0.2, 0.3]))
    m = classification_metrics(
        np.array([[0, 1], [1, 1], [0, 1]]), np.array([[0.1, 0.2], [0.9, 0.3], [0.2, 0.4]]), ["a", "b"]
    )
    assert m["auroc"]["a"] == 1.0 and np.isnan(m["auroc"]["b"]) and m["auroc_mean"] == 1.0
