"""Which test examples are interpreted (DESIGN step 1, SATORI / SATORI 2.0).

- Binary (``C == 1``): foreground = true positives predicted ``> prob_cutoff`` (0.7);
  background = true negatives predicted ``< neg_cutoff`` (0.3, i.e. ``1 − p``).
- Multi-label: foreground = examples whose per-example precision at 0.5 (true-positive labels /
  predicted labels) is ``>= precision_cutoff``; examples with no predicted label have no precision
  and are excluded. The background is made by shuffling (``bg_idx is None``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from satori_jax.errors import InputError

__all__ = ["Selection", "select_examples"]


@dataclass
class Selection:
    """Selected examples.

    Attributes
    ----------
    fg_idx
        ``(n_fg,)`` int64 indices of the foreground examples.
    bg_idx
        ``(n_bg,)`` int64 indices of the background examples, or ``None`` when the background is
        made by shuffling the foreground.
    targets
        ``(n_fg, C)`` bool labels whose logits attribution methods explain (binary: the single
        logit; multi-label: the true-positive labels ``label & prob > 0.5``).
    bg_targets
        ``(n_bg, C)`` bool (binary: the single logit), or, for a shuffled background, the
        foreground ``targets`` (one shuffled copy per foreground example).
    """

    fg_idx: np.ndarray
    bg_idx: np.ndarray | None
    targets: np.ndarray
    bg_targets: np.ndarray


def _close(values: np.ndarray, cutoff: float, width: float, above: bool) -> str:
    if values.size == 0:
        return "none"
    near = (values > cutoff - width) & (values <= cutoff) if above else (values < cutoff + width) & (
        values >= cutoff)
    best = values.max() if above else values.min()
    return f"{int(near.sum())} within {width:g} of it (best {best:.3f})"


def select_examples(
    labels: np.ndarray,
    probs: np.ndarray,
    *,
    prob_cutoff: float = 0.7,
    neg_cutoff: float = 0.3,
    precision_cutoff: float = 0.5,
    background: str | None = None,
    near: float = 0.1,
) -> Selection:
    """Select foreground (and background) examples from test predictions.

    Parameters
    ----------
    labels
        ``(N, C)`` 0/1 labels (``(N,)`` is read as ``C = 1``).
    probs
        ``(N, C)`` predicted probabilities.
    prob_cutoff, neg_cutoff
        Binary: foreground positives need ``prob > prob_cutoff``, background negatives
        ``prob < neg_cutoff``.
    precision_cutoff
        Multi-label: per-example precision at 0.5 must be ``>= precision_cutoff``.
    background
        ``"negatives"`` (binary default) or ``"shuffle"`` (multi-label default; also allowed for
        binary tasks, then ``bg_idx`` is ``None``).
    near
        Width of the "how many were close" count in error messages.

    Raises
    ------
    InputError
        When no example passes a cutoff (naming the cutoff and how many were close).
    """
    labels = np.asarray(labels)
    probs = np.asarray(probs, np.float64)
    if labels.ndim == 1:
        labels = labels[:, None]
    if probs.ndim == 1:
        probs = probs[:, None]
    if labels.shape != probs.shape:
        raise InputError(f"labels {labels.shape} and probabilities {probs.shape} differ in shape")
    lab = labels > 0.5
    n, c = lab.shape
    binary = c == 1
    if background is None:
        background = "negatives" if binary else "shuffle"
    if background not in ("negatives", "shuffle"):
        raise InputError(f"background must be 'negatives' or 'shuffle', got {background!r}")
    if background == "negatives" and not binary:
        raise InputError("background 'negatives' needs a binary task; use 'shuffle' for multi-label data")

    fg_mask, tp, bg_mask = select_masks(lab, probs, binary, background, prob_cutoff, neg_cutoff,
                                        precision_cutoff)
    fg = np.flatnonzero(fg_mask)
    if binary:
        pos = lab[:, 0]
        p = probs[:, 0]
        if fg.size == 0:
            raise InputError(
                f"no positive example has predicted probability > {prob_cutoff:g} (prob cutoff); "
                f"{int(pos.sum())} positives, {_close(p[pos], prob_cutoff, near, True)}; "
                "lower the prob cutoff"
            )
        targets = np.ones((fg.size, 1), bool)
        if background == "shuffle":
            return Selection(fg, None, targets, targets.copy())
        bg = np.flatnonzero(bg_mask)
        if bg.size == 0:
            raise InputError(
                f"no negative example has predicted probability < {neg_cutoff:g} (negative cutoff); "
                f"{int((~pos).sum())} negatives, {_close(p[~pos], neg_cutoff, near, False)}; "
                "raise the cutoff or use the shuffled background"
            )
        return Selection(fg, bg, targets, np.ones((bg.size, 1), bool))

    if fg.size == 0:
        has, _, precision = _example_precision(lab, probs)
        raise InputError(
            f"no example has per-example precision >= {precision_cutoff:g} at 0.5 (precision cutoff); "
            f"{int(has.sum())} of {n} examples have a predicted label, "
            f"{_close(precision[has], precision_cutoff, near, True)}; lower the precision cutoff"
        )
    targets = tp[fg]
    return Selection(fg, None, targets, targets.copy())


def select_masks(labels: np.ndarray, probs: np.ndarray, binary: bool, background: str, prob_cutoff: float,
                  neg_cutoff: float, precision_cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rules of :func:`select_examples` as masks over one chunk of a test set, raising nothing.

    Returns ``fg (B,) bool``, ``targets (B, C) bool`` (rows of fg examples meaningful) and
    ``bg (B,) bool`` (negatives; all False for a shuffled background).
    """
    lab = np.asarray(labels).reshape(len(labels), -1) > 0.5
    p = np.asarray(probs, np.float64).reshape(lab.shape)
    if binary:
        fg = lab[:, 0] & (p[:, 0] > prob_cutoff)
        bg = (~lab[:, 0] & (p[:, 0] < neg_cutoff)) if background == "negatives" else np.zeros(len(lab), bool)
        return fg, np.ones_like(lab), bg
    has, tp, precision = _example_precision(lab, p)
    fg = has & (precision >= precision_cutoff)
    return fg, tp, np.zeros(len(lab), bool)


def _example_precision(lab: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multi-label: ``(N,)`` has a predicted label, ``(N, C)`` true positives at 0.5, ``(N,)`` precision
    (NaN without a predicted label)."""
    pred = probs > 0.5
    n_pred = pred.sum(axis=1)
    tp = pred & lab
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp.sum(axis=1) / np.maximum(n_pred, 1), np.nan)
    return n_pred > 0, tp, precision


def raise_empty_selection(parts, opts, background: str, n_resized: int = 0, n_test: int = 0,
                          length: int = 0) -> None:
    """Raise the selection's error for pass-1 chunk results (``labels``, ``probs``) that selected no
    foreground (or no negative background), naming resized sequences when there were any."""
    try:
        select_examples(np.concatenate([p["labels"] for p in parts]),
                        np.concatenate([p["probs"] for p in parts]), prob_cutoff=opts.prob_cutoff,
                        neg_cutoff=opts.neg_cutoff, precision_cutoff=opts.precision_cutoff,
                        background=background)
    except InputError as exc:
        if not n_resized:
            raise
        raise InputError(f"{exc} ({n_resized} of {n_test} test sequences are not {length} bp and were "
                         "centre-cropped / N-padded to it)") from None
    raise InputError("no foreground / background example selected")  # pragma: no cover
