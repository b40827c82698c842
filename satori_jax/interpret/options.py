"""Interpretation settings shared by the driver and the scorers."""

from __future__ import annotations

import numpy as np

#: Default fraction of a filter's foreground maximum at which the filter counts as active in
#: interpretation (pairing, FIS / DFIM sources and targets, and by default the PWM sites).
#: SATORI uses 0.5, SATORI 2.0 0.65. The README ("Two settings decide ...") shows how strongly
#: the results depend on it.
ACTIVITY_FRACTION = 0.65


def split_thresholds(
    fmax: np.ndarray, activity_fraction: float, motif_fraction: float | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Pairing and motif thresholds from the per-filter foreground maxima ``fmax`` ``(F,)``.

    Returns ``(thresholds, motif_thresholds, motif_fraction)``: ``activity_fraction × fmax`` for
    pairing and FIS / DFIM, ``motif_fraction × fmax`` for the PWM sites and the shuffled-background
    motif rates (``motif_fraction`` defaults to ``activity_fraction``).
    """
    motif_fraction = activity_fraction if motif_fraction is None else motif_fraction
    fmax = np.asarray(fmax, np.float32)
    return fmax * np.float32(activity_fraction), fmax * np.float32(motif_fraction), float(motif_fraction)
