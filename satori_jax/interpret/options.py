"""Interpretation settings: one frozen :class:`InterpretOptions` for the CLI, the driver, the resume
hash of streamed runs and ``summary["run"]``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from satori_jax.errors import InputError

__all__ = ["ACTIVITY_FRACTION", "InterpretOptions", "split_thresholds"]

#: Default fraction of a filter's foreground maximum at which the filter counts as active in
#: interpretation (pairing, FIS / DFIM sources and targets, and by default the PWM sites).
#: SATORI uses 0.5, SATORI 2.0 0.65. The README ("Two settings decide ...") shows how strongly
#: the results depend on it.
ACTIVITY_FRACTION = 0.65

#: Statistical tests and nulls of :func:`satori_jax.interpret.stats.test_pairs`.
TESTS = ("observed", "conditioned")
NULLS = ("theoretical", "empirical")
#: What the ``attr`` maps keep of the attribution (:func:`satori_jax.interpret.attention.attr_maps`).
ATTR_SIGNS = ("positive", "absolute")


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


def _stamp(path: str | Path) -> list:
    """A motif database as the resume hash sees it: its name, and for a file its size and mtime (an
    edited file can name the filters otherwise, and pass 2 folds the TF-pooled scores by name)."""
    p = Path(path)
    return [str(path), *((p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else ())]


def _parse_cutoff(attn_cutoff: str | float) -> str | float:
    if isinstance(attn_cutoff, str):
        if attn_cutoff.strip().lower() == "mean":
            return "mean"
        try:
            return float(attn_cutoff)
        except ValueError:
            raise InputError(f"--attn-cutoff must be 'mean' or a number, got {attn_cutoff!r}") from None
    return float(attn_cutoff)


@dataclass(frozen=True)
class InterpretOptions:
    """Everything that decides an interpretation besides the run and the test set.

    Attributes
    ----------
    out
        Output directory (default ``RUN/interpret``).
    methods
        Interaction methods, e.g. ``("raw", "attr")`` or ``"raw,attr,fis"``
        (:data:`satori_jax.interpret.scorers.SCORERS`); normalised to a tuple.
    motif_db
        ``"jaspar2024"`` (JASPAR CORE vertebrates, offline) or a MEME file.
    family_table
        Optional TSV ``name<TAB>family`` for the database motifs' TF families.
    background
        ``"negatives"`` (binary default: test negatives predicted below ``neg_cutoff``) or
        ``"shuffle"`` (multi-label default: dinucleotide-shuffled foreground with motifs embedded).
    truth
        Optional true interacting TF pairs (``tf_a<TAB>tf_b``); adds precision / recall / F1.
    max_examples
        Cap on foreground (and background) examples, drawn at random with ``seed`` (a test set
        read in one chunk only).
    attn_cutoff
        ``"mean"`` (mean of all foreground pair scores of the method) or a fixed value, applied to
        every method: a filter pair is tested when its maximum foreground score reaches it.
    prob_cutoff, neg_cutoff, precision_cutoff
        Example selection (binary positives / negatives, multi-label per-example precision).
    activity_fraction
        A filter is *active* at a position (pairing, FIS / DFIM sources and targets) where its
        activation reaches this fraction of its maximum over the foreground.
    motif_fraction
        The same for the sites that build each filter's PWM (and the motif rates of the shuffled
        background); default: ``activity_fraction``.
    attr_normalize
        Divide each example's ``attr`` map by its maximum (attributions scale with the logit,
        which is larger in every positive).
    fis_normalize
        ``fis``: the filter-pair test sees each example's pair scores divided by its largest
        (``|ΔIG|`` scales with the explained logit, as ``attr``'s maps do); the TF-pooled test keeps
        the scores as they are besides its normalised comparison (:mod:`satori_jax.interpret.pooled`).
        ``dfim`` is tested as scored (normalising only cost it true pairs on the accuracy suite).
    attr_sign
        What ``attr`` keeps of the attribution: ``"positive"`` (default; the attention entries
        that raise the explained logit) or ``"absolute"`` (``|Attr|``, which also scores the
        entries that lower it); see :mod:`satori_jax.interpret.attention`.
    batch_size
        Examples per device call, for every scorer (pair scoring uses at most 64 at a time).
    seed
        Seed of the sub-sampling and of the shuffled background (chunk ``k`` of the background
        is shuffled with ``numpy.random.default_rng([seed, k])``, in memory and streamed alike).
    alpha, min_effect
        Significant filter pairs: ``q < alpha`` and, when ``min_effect > 0``, effect size
        ``U / (n_fg·n_bg) >= min_effect``.
    tf_pool
        Also list the TF pairs that the TF-pooled test lists (:mod:`satori_jax.interpret.pooled`: the
        filter pairs named after a TF pair tested as one sample, gated by its effect size as scored
        and per-example normalised); ``False`` = the filter-level list only.
    partner_rule
        With the TF-pooled test: a listed TF pair must be raised more than each of its TFs' other pairs
        typically are, by one null standard error
        (:func:`satori_jax.interpret.pooled.partner_baselines`); ``False`` keeps every pair the two
        rules list.
    test, null
        Pair test (``"observed"``, default / ``"conditioned"``) and null (``"theoretical"`` /
        ``"empirical"``); see :mod:`satori_jax.interpret.stats`.
    max_logos, plots
        Logos drawn at most; ``plots=False`` skips every figure.
    chunk_size, hist_bins
        Streamed test sets: sequences per chunk and log-spaced score bins per filter pair
        (:mod:`satori_jax.interpret.histogram`).
    verbose
        Progress messages and bars on stderr.
    """

    out: str | Path | None = None
    methods: tuple[str, ...] | str = ("raw", "attr")
    motif_db: str | Path = "jaspar2024"
    family_table: str | Path | None = None
    background: str | None = None
    truth: str | Path | None = None
    max_examples: int | None = None
    attn_cutoff: str | float = "mean"
    prob_cutoff: float = 0.7
    neg_cutoff: float = 0.3
    precision_cutoff: float = 0.5
    activity_fraction: float = ACTIVITY_FRACTION
    motif_fraction: float | None = None
    attr_normalize: bool = True
    fis_normalize: bool = True
    attr_sign: str = "positive"
    batch_size: int = 256
    seed: int = 0
    alpha: float = 0.05
    min_effect: float = 0.0
    tf_pool: bool = True
    partner_rule: bool = True
    test: str = "observed"
    null: str = "theoretical"
    max_logos: int = 60
    plots: bool = True
    chunk_size: int = 10_000
    hist_bins: int = 1024
    verbose: bool = True

    def __post_init__(self) -> None:
        from satori_jax.interpret.scorers import parse_methods

        set_ = object.__setattr__
        set_(self, "methods", tuple(parse_methods(self.methods)))
        set_(self, "attn_cutoff", _parse_cutoff(self.attn_cutoff))
        if self.test not in TESTS:
            raise InputError(f"--test must be one of {', '.join(TESTS)}, got {self.test!r}")
        if self.attr_sign not in ATTR_SIGNS:
            raise InputError(f"--attr-sign must be one of {', '.join(ATTR_SIGNS)}, got {self.attr_sign!r}")
        if self.null not in NULLS:
            raise InputError(f"--null must be one of {', '.join(NULLS)}, got {self.null!r}")
        if self.background is not None and self.background not in ("negatives", "shuffle"):
            raise InputError(f"background must be 'negatives' or 'shuffle', got {self.background!r}")
        if self.max_examples is not None and self.max_examples < 1:
            raise InputError(f"--max-examples must be >= 1, got {self.max_examples}")
        if self.chunk_size < 1:
            raise InputError(f"--chunk-size must be >= 1, got {self.chunk_size}")
        if self.hist_bins < 16:
            raise InputError(f"--hist-bins must be >= 16, got {self.hist_bins}")
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be >= 1, got {self.batch_size}")

    def replace(self, **changes) -> InterpretOptions:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def summary_fields(self) -> dict:
        """The settings ``summary["run"]`` reports (JSON-ready, in its order)."""
        return {
            "activity_fraction": float(self.activity_fraction),
            "motif_fraction": float(self.activity_fraction if self.motif_fraction is None
                                    else self.motif_fraction),
            "attr_normalize": bool(self.attr_normalize),
            "fis_normalize": bool(self.fis_normalize),
            "attr_sign": self.attr_sign,
            "attn_cutoff": self.attn_cutoff,
            "prob_cutoff": float(self.prob_cutoff),
            "neg_cutoff": float(self.neg_cutoff),
            "precision_cutoff": float(self.precision_cutoff),
            "alpha": float(self.alpha),
            "min_effect": float(self.min_effect),
            "tf_pool": bool(self.tf_pool),
            "partner_rule": bool(self.partner_rule),
            "test": self.test,
            "null": self.null,
            "max_examples": self.max_examples,
            "batch_size": int(self.batch_size),
            "seed": int(self.seed),
            "truth": None if self.truth is None else str(self.truth),
        }

    def resume_fields(self) -> dict:
        """The settings that decide a streamed run's chunk files (its resume hash)."""
        return {
            "chunk_size": int(self.chunk_size), "hist_bins": int(self.hist_bins),
            "methods": list(self.methods),
            "prob_cutoff": float(self.prob_cutoff), "neg_cutoff": float(self.neg_cutoff),
            "precision_cutoff": float(self.precision_cutoff),
            "activity_fraction": float(self.activity_fraction),
            "motif_fraction": None if self.motif_fraction is None else float(self.motif_fraction),
            "attr_normalize": bool(self.attr_normalize), "attr_sign": self.attr_sign, "seed": int(self.seed),
            "fis_normalize": bool(self.fis_normalize),
            # pass 2 folds TF-pooled scores by the filters' names
            "tf_pool": bool(self.tf_pool), "motif_db": _stamp(self.motif_db),
        }
