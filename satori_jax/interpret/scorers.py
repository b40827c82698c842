"""Interaction methods: a :class:`Scorer` per ``--methods`` name and the context it is given.

``raw`` and ``attr`` are built in; ``fis`` / ``dfim`` are found when their modules import (a
module can also expose ``pipeline_scorer() -> Scorer``, which wins).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax.errors import InputError

#: Most examples per raw / attr pair-scoring call, and per FIS / DFIM call (their default before
#: ``--batch-size`` reached them).
PAIR_BATCH_CAP = 64
GRADIENT_BATCH_CAP = 4

__all__ = ["SCORERS", "ScoreContext", "Scorer", "available_methods", "parse_methods", "register_scorer"]


@dataclass
class ScoreContext:
    """What a scorer needs besides the sequences.

    Attributes
    ----------
    model, variables
        The trained model.
    cfg
        The run's :class:`satori_jax.config.Config`.
    thresholds
        ``(F,)`` filter activity thresholds for pairing (``activity_fraction`` of each filter's
        foreground maximum; used for fg and bg alike).
    batch_size
        The user's batch size (``--batch-size``); each scorer uses at most its
        :attr:`Scorer.batch_cap` of it per call (:meth:`batch_for`).
    """

    model: Any
    variables: Any
    cfg: Any
    thresholds: np.ndarray
    batch_size: int = 256
    seed: int = 0
    verbose: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def pair_batch_size(self) -> int:
        """Examples per raw / attr pair-scoring call (a call holds ``(B, F, L', L')`` intermediates)."""
        return self.batch_for(PAIR_BATCH_CAP)

    def batch_for(self, cap: int) -> int:
        """``--batch-size``, at most ``cap`` (a scorer's :attr:`Scorer.batch_cap`)."""
        return int(max(1, min(self.batch_size, cap)))


@dataclass(frozen=True)
class Scorer:
    """One interaction method.

    Attributes
    ----------
    name
        The ``--methods`` name.
    score
        ``(ctx, codes (N, L) uint8, targets (N, C) bool) -> PairScores``; called once for the
        foreground and once for the background.
    plots
        Optional ``(ctx, out_dir, fg_codes, fg_targets) -> [(png path, caption), ...]`` for
        method-specific figures (e.g. DFIM's map of one sequence through
        :func:`satori_jax.interpret.plots.heatmap`); they are added to the report.
    description
        One line for ``--help`` and the report.
    batch_cap
        Most examples per device call: the scorer uses ``min(--batch-size, batch_cap)``
        (raw / attr hold ``(B, F, L', L')`` pair intermediates, FIS / DFIM one IG path per source).
    normalised_test
        The scores scale with the logit they explain (FIS's ``|ΔIG|``): unless
        ``--no-fis-normalize``, the filter-pair test sees each example's scores divided by its
        largest (:func:`satori_jax.interpret.pooled.method_folds`).
    """

    name: str
    score: Callable[[ScoreContext, np.ndarray, np.ndarray], Any]
    plots: Callable[[ScoreContext, Path, np.ndarray, np.ndarray], list] | None = None
    description: str = ""
    batch_cap: int = 64
    normalised_test: bool = False


SCORERS: dict[str, Scorer] = {}


def register_scorer(scorer: Scorer) -> Scorer:
    """Add (or replace) a method in :data:`SCORERS`."""
    SCORERS[scorer.name] = scorer
    return scorer


def _raw_score(ctx: ScoreContext, codes: np.ndarray, targets: np.ndarray):
    from satori_jax.interpret.attention import raw_scorer
    from satori_jax.interpret.interactions import score_examples

    return score_examples(raw_scorer(ctx.model), ctx.model, ctx.variables, codes, targets, ctx.thresholds,
                          batch_size=ctx.pair_batch_size, verbose=ctx.verbose, desc="raw attention pairs")


def _attr_score(ctx: ScoreContext, codes: np.ndarray, targets: np.ndarray):
    from satori_jax.interpret.attention import attr_scorer
    from satori_jax.interpret.interactions import score_examples

    normalize = bool(ctx.extra.get("attr_normalize", True))
    sign = str(ctx.extra.get("attr_sign", "positive"))
    return score_examples(attr_scorer(ctx.model, steps=20, normalize=normalize, sign=sign), ctx.model,
                          ctx.variables, codes, targets, ctx.thresholds, batch_size=ctx.pair_batch_size,
                          verbose=ctx.verbose, desc="attention attribution pairs")


register_scorer(Scorer("raw", _raw_score, description="raw attention, max over heads (SATORI)"))
register_scorer(Scorer("attr", _attr_score,
                       description="attention attribution (integrated gradients over attention, 20 steps; "
                                   "the entries that raise the class logit)"))

#: Optional methods: name -> (module, function called as fn(model, variables, codes, targets,
#: thresholds, verbose=...)).
_OPTIONAL = {
    "fis": ("satori_jax.interpret.fis", "fis_scores", "feature interaction score (DFIM, motif resolution)"),
    "dfim": ("satori_jax.interpret.dfim", "dfim_scores", "DFIM, nucleotide resolution"),
}


def _optional_scorer(name: str) -> Scorer | None:
    mod_name, fn_name, desc = _OPTIONAL[name]
    try:
        mod = importlib.import_module(mod_name)
    except ImportError:
        return None
    hook = getattr(mod, "pipeline_scorer", None)
    if callable(hook):
        return hook()
    fn = getattr(mod, fn_name, None)
    if fn is None:
        return None

    def score(ctx: ScoreContext, codes: np.ndarray, targets: np.ndarray):
        return fn(ctx.model, ctx.variables, codes, targets, ctx.thresholds,
                  batch_size=ctx.batch_for(GRADIENT_BATCH_CAP), verbose=ctx.verbose)

    plots = getattr(mod, "pipeline_plots", None)
    if plots is None and name == "dfim" and hasattr(mod, "dfim_map") and hasattr(mod, "plot_dfim"):
        plots = _dfim_plots
    # FIS's filter pairs are tested normalised; DFIM's are not: measured on the accuracy suite,
    # normalising only cost DFIM true pairs (bench/results/accuracy/fis-normalised-2026-12-07.md)
    return Scorer(name, score, plots, desc, batch_cap=GRADIENT_BATCH_CAP, normalised_test=name == "fis")


def _motif_windows(ctx: ScoreContext, codes: np.ndarray) -> list[tuple[int, int, str]]:
    """``(start, stop, TF name)`` input windows of matched filters active in one sequence ``(1, L)``."""
    import jax.numpy as jnp

    from satori_jax.data.encoding import one_hot
    from satori_jax.interpret.activity import pooled_activity
    from satori_jax.models import conv_offset

    names = {m.filter: m.target for m in ctx.extra.get("matches", []) if m.matched}
    _, inter = ctx.model.apply(ctx.variables, one_hot(jnp.asarray(codes)), train=False)
    pool, width = int(ctx.cfg.model.pool_size), int(ctx.cfg.model.filter_width)
    active = np.asarray(pooled_activity(inter["conv"], jnp.asarray(ctx.thresholds), pool))[0]  # (L', F)
    off = conv_offset(ctx.cfg.model)
    length = codes.shape[1]
    out = []
    for p, f in zip(*np.nonzero(active), strict=True):
        if int(f) in names:
            start = max(0, int(p) * pool + off)
            out.append((start, min(length, start + pool + width - 1), names[int(f)]))
    return out


def _dfim_plots(ctx: ScoreContext, out_dir: Path, fg_codes: np.ndarray, fg_targets: np.ndarray) -> list:
    """DFIM map of the first foreground sequence (``dfim_example.png``)."""
    from satori_jax.interpret import dfim

    codes = np.asarray(fg_codes[:1])
    m = dfim.dfim_map(ctx.model, ctx.variables, codes, np.asarray(fg_targets[:1]), batch_size=1)[0]
    path = dfim.plot_dfim(m, Path(out_dir) / "dfim_example.png",
                          title="DFIM (maxFIS), first foreground example",
                          instances=_motif_windows(ctx, codes))
    return [(path, "DFIM map (max |FIS| over mutant bases) of the first foreground example")]


def available_methods() -> dict[str, Scorer]:
    """All usable methods (built in, registered, and the optional ones whose module imports)."""
    for name in _OPTIONAL:
        if name not in SCORERS:
            s = _optional_scorer(name)
            if s is not None:
                SCORERS[name] = s
    return dict(SCORERS)


def parse_methods(methods: str | Sequence[str]) -> list[str]:
    """``"raw,attr"`` or a sequence -> validated, de-duplicated list.

    Raises
    ------
    InputError
        For an unknown method (listing the known ones).
    """
    raw = methods.split(",") if isinstance(methods, str) else [str(m) for m in methods]
    items = [m.strip() for m in raw]
    items = [m for m in dict.fromkeys(items) if m]
    if not items:
        raise InputError("--methods: no method given (known: " + ", ".join(available_methods()) + ")")
    known = available_methods()
    for m in items:
        if m not in known:
            missing = [n for n in _OPTIONAL if n not in known]
            hint = f"; not available in this installation: {', '.join(missing)}" if missing else ""
            raise InputError(f"--methods: unknown method {m!r} (known: {', '.join(known)}{hint})")
    return items
