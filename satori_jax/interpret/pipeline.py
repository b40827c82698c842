"""The interpretation pipeline: trained run directory -> motifs, tested interactions, tables, plots, report.

DESIGN.md steps 1-9, in order:

1. select foreground (and background) examples from ``RUN/test_predictions.npz``
   (:mod:`satori_jax.interpret.selection`);
2. per-filter thresholds over the foreground (:mod:`~satori_jax.interpret.activity`), filter PWMs
   from aligned K-mers, ``filters.meme``, TomTom against the motif database, ``filters_tomtom.tsv``,
   logos (:mod:`~satori_jax.interpret.motifs`);
3. background: test-set negatives (binary default) or dinucleotide-shuffled foreground with motifs
   embedded (:func:`satori_jax.data.shuffle.shuffled_background`, multi-label default);
4. per method, a registered :class:`Scorer` gives :class:`~satori_jax.interpret.interactions.PairScores`
   for the foreground and the background; :func:`~satori_jax.interpret.stats.test_pairs` tests every
   filter pair; filter pairs are named by their best TomTom hits and merged into TF pairs;
5. tables, plots, ``report.html`` and, last, ``summary.json``.

Methods are pluggable: :data:`SCORERS` maps a method name to a :class:`Scorer`; ``raw`` and ``attr``
are built in, ``fis`` / ``dfim`` are registered when :mod:`satori_jax.interpret.fis` /
``dfim`` import (a module can also expose ``pipeline_scorer() -> Scorer``, which wins).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax.errors import InputError, input_error
from satori_jax.interpret.options import ACTIVITY_FRACTION, split_thresholds
from satori_jax.interpret.scorers import (
    SCORERS,
    ScoreContext,
    Scorer,
    available_methods,
    parse_methods,
    register_scorer,
)

__all__ = [
    "SCORERS",
    "ScoreContext",
    "Scorer",
    "available_methods",
    "interpret_run",
    "parse_methods",
    "register_scorer",
]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


class _Log:
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.t0 = time.perf_counter()
        self.steps: dict[str, float] = {}

    def __call__(self, msg: str) -> None:
        if self.verbose:
            print(f"[{time.perf_counter() - self.t0:7.1f} s] {msg}", file=sys.stderr, flush=True)

    def step(self, name: str, seconds: float) -> None:
        self.steps[name] = round(self.steps.get(name, 0.0) + seconds, 3)


def _subsample(idx: np.ndarray, n: int | None, rng: np.random.Generator) -> np.ndarray:
    if n is None or len(idx) <= n:
        return idx
    return np.sort(rng.choice(idx, size=int(n), replace=False))


def _parse_cutoff(attn_cutoff: str | float) -> str | float:
    if isinstance(attn_cutoff, str):
        if attn_cutoff.strip().lower() == "mean":
            return "mean"
        try:
            return float(attn_cutoff)
        except ValueError:
            raise InputError(f"--attn-cutoff must be 'mean' or a number, got {attn_cutoff!r}") from None
    return float(attn_cutoff)


def _check_test(test: str, null: str) -> None:
    from satori_jax.interpret.stats import NULLS, TESTS

    if test not in TESTS:
        raise InputError(f"--test must be one of {', '.join(TESTS)}, got {test!r}")
    if null not in NULLS:
        raise InputError(f"--null must be one of {', '.join(NULLS)}, got {null!r}")


def _pair_distances(scores, pair_strings: str, num_filters: int) -> np.ndarray:
    """Foreground distances of the filter pairs listed as ``"filterA-filterB;..."``."""
    ids = []
    for item in pair_strings.split(";"):
        if not item:
            continue
        a, b = (int(x.removeprefix("filter")) for x in item.split("-"))
        ids.append(min(a, b) * num_filters + max(a, b))
    if not ids or len(scores) == 0:
        return np.zeros(0)
    return scores.distance[np.isin(scores.pair_id(num_filters), np.asarray(ids))]


def _attention_examples(run, sel_fg: np.ndarray, fg_targets: np.ndarray, thresholds: np.ndarray,
                        matches, n: int = 3):
    """Raw attention (max over heads) and marks for the ``n`` most confident foreground examples."""
    import jax.numpy as jnp

    from satori_jax.data.encoding import one_hot
    from satori_jax.interpret.activity import pooled_activity

    probs = np.asarray(run.probs, np.float64)[sel_fg]
    conf = np.where(fg_targets, probs, -np.inf).max(axis=1)
    top = np.argsort(-conf, kind="stable")[:n]
    codes = np.asarray(run.codes)[sel_fg[top]]
    _, inter = run.model.apply(run.variables, one_hot(jnp.asarray(codes)), train=False)
    attn = np.asarray(inter["attention"]).max(axis=1)
    conv = inter["conv"]
    pool = int(run.cfg.model.pool_size)
    active = np.asarray(pooled_activity(conv, jnp.asarray(thresholds), pool))  # (n, L', F)
    lp = active.shape[1]
    c = np.asarray(conv)[:, : lp * pool].reshape(len(top), lp, pool, -1).max(axis=2)  # (n, L', F)
    names = {m.filter: m.target for m in matches if m.matched}
    out = []
    for e in range(len(top)):
        marks = []
        for p in range(lp):
            act = np.flatnonzero(active[e, p])
            named = [f for f in act if f in names]
            if named:
                best = max(named, key=lambda f: c[e, p, f])
                marks.append((p, names[best]))
        out.append((int(sel_fg[top[e]]), attn[e], marks))
    return out


def _significant(stats: dict, alpha: float, min_effect: float) -> np.ndarray:
    """``(T,)`` bool: ``q < alpha`` and, when ``min_effect > 0``, ``effect_size >= min_effect``."""
    sig = np.asarray(stats["q_value"]) < alpha
    if min_effect > 0:
        sig &= np.asarray(stats["effect_size"]) >= min_effect
    return sig


def _method_tables(out: Path, method: str, stats: dict, matches, num_filters: int, alpha: float,
                   min_effect: float = 0.0):
    """Write ``interactions_{method}.tsv`` and ``tf_interactions_{method}.tsv`` from tested pairs.

    Adds the excess test's columns (``excess_z``, ``p_excess``, ``q_excess``;
    :func:`satori_jax.interpret.stats.excess_test`) to ``stats`` first.

    Returns
    -------
    rows, tf_rows, sig, fam_counts, excess
        Filter-pair and TF-pair table rows, the ``(T,)`` mask of significant filter pairs
        (:func:`_significant`, in the order of ``stats``), the number of significant TF pairs
        per family pair, and the excess test's summary: ``n_significant_filter_pairs`` (also
        ``q_excess < alpha``), ``tf_rows`` (:func:`satori_jax.interpret.report.excess_tf_pairs`),
        ``null_centre`` and ``null_scale``.
    """
    from satori_jax.interpret import report
    from satori_jax.interpret.stats import excess_test

    ex = excess_test(stats["filter_a"], stats["filter_b"], stats["p_value"], num_filters)
    for k in ("excess_z", "p_excess", "q_excess"):
        stats[k] = ex[k]
    rows = report.interaction_table(stats, matches, num_filters)
    tf_rows = report.tf_pair_table(rows, alpha, min_effect)
    report.write_tsv(out / f"interactions_{method}.tsv", report.INTERACTION_COLUMNS, rows)
    report.write_tsv(out / f"tf_interactions_{method}.tsv", report.TF_INTERACTION_COLUMNS, tf_rows)
    sig = _significant(stats, alpha, min_effect)
    fam_counts: dict[str, int] = {}
    for r in tf_rows:
        key = report.pair_label(r["family_a"] or "unknown", r["family_b"] or "unknown")
        fam_counts[key] = fam_counts.get(key, 0) + 1
    sig_ex = sig & (np.nan_to_num(ex["q_excess"], nan=1.0) < alpha)
    excess = {"n_significant_filter_pairs": int(sig_ex.sum()),
              "tf_rows": report.excess_tf_pairs(tf_rows, alpha),
              "null_centre": ex["null_centre"], "null_scale": ex["null_scale"]}
    return rows, tf_rows, sig, fam_counts, excess


def _method_entry(*, n_examples: int, n_background: int, n_observed: int, cut_value, rows, tf_rows,
                  n_sig: int, fam_counts: dict[str, int], seconds: float, dist,
                  truth_pairs, excess: dict | None = None) -> dict[str, Any]:
    """The ``summary.json`` entry of one method (``dist``: median/q25/q75 bp of significant pairs or None;
    ``excess``: the last value :func:`_method_tables` returns)."""
    entry: dict[str, Any] = {
        "n_examples": int(n_examples),
        "n_background": int(n_background),
        "n_observed_pairs_fg": int(n_observed),
        "cutoff": cut_value,
        "n_tested": int(len(rows)),
        "n_significant_filter_pairs": n_sig,
        "n_significant_tf_pairs": int(len(tf_rows)),
        "top_tf_pairs": [{"tf_a": r["tf_a"], "tf_b": r["tf_b"], "q_value": float(r["q_value"])}
                         for r in tf_rows[:25]],
        "seconds": round(seconds, 3),
        "family_pairs": dict(sorted(fam_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "distance_bp_significant": None if dist is None else {k: dist[k] for k in ("median", "q25", "q75")},
    }
    if truth_pairs is not None:
        entry.update(_truth_scores(tf_rows, truth_pairs))
        # what calling every candidate would score: the bar a method's F1 must clear to mean anything
        # (score_pairs drops self pairs and duplicates; unnamed filters have no TF pair)
        every = _truth_scores([r for r in rows if r["tf_a"] and r["tf_b"]], truth_pairs, ("n_predicted",))
        entry["baseline"] = {"rule": "every TF pair with a tested filter pair",
                             "n_tf_pairs": every.pop("n_predicted"), **every}
    if excess is not None:
        ex_rows = excess["tf_rows"]
        sub: dict[str, Any] = {
            "n_significant_filter_pairs": int(excess["n_significant_filter_pairs"]),
            "n_significant_tf_pairs": int(len(ex_rows)),
            "top_tf_pairs": [{"tf_a": r["tf_a"], "tf_b": r["tf_b"], "q_value": float(r["q_value"]),
                              "q_excess": float(r["q_excess"])} for r in ex_rows[:25]],
            # None (not nan) when too few pairs were tested for the excess test
            "null_centre": _finite_or_none(excess["null_centre"]),
            "null_scale": _finite_or_none(excess["null_scale"]),
        }
        if truth_pairs is not None:
            sub.update(_truth_scores(ex_rows, truth_pairs))
        entry["excess"] = sub
    return entry


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _truth_scores(tf_rows, truth_pairs, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Precision, recall, F1, tp, fp, fn (and the ``extra`` keys of
    :func:`~satori_jax.interpret.evaluate.score_pairs`) of the TF pairs of ``tf_rows``."""
    from satori_jax.interpret.evaluate import score_pairs

    sc = score_pairs([(r["tf_a"], r["tf_b"]) for r in tf_rows], truth_pairs)
    return {k: sc[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn", *extra)}


def _overlap_plot(out: Path, images: dict, top_labels: dict[str, list[str]], method_list,
                  plots: bool) -> None:
    """``method_overlap.png`` (top TF pairs per method) when plotting and at least two methods ran."""
    if plots and len(method_list) >= 2:
        from satori_jax.interpret import plots as plot_lib

        images["overlap"] = plot_lib.method_overlap(top_labels, out / "method_overlap.png",
                                                    title="top TF pairs per method")


def _write_outputs(out: Path, summary: dict, truth_pairs, t_start: float, tables, tf_tables, images,
                   log) -> dict:
    """Finish ``summary`` (true pairs, total time), write ``report.html`` and, last, ``summary.json``."""
    from satori_jax.interpret import report

    if truth_pairs is not None:
        summary["run"]["n_true_pairs"] = len(truth_pairs)
    tomtom_rows = report.read_tsv(out / "filters_tomtom.tsv")
    summary["run"]["total_seconds"] = round(time.perf_counter() - t_start, 3)
    report.write_html(out / "report.html", summary, tomtom_rows=tomtom_rows, tables=tables,
                      tf_tables=tf_tables, images=images)
    report.write_json(out / "summary.json", summary)  # last: its presence marks a complete run
    log(f"done in {summary['run']['total_seconds']:.1f} s; outputs in {out}")
    return summary


# --------------------------------------------------------------------------------------------
# the pipeline
# --------------------------------------------------------------------------------------------


def _process_zero_writes(fn: Callable) -> Callable:
    """:func:`satori_jax.parallel.process_zero_writes`, imported at call time (no jax for ``--help``)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from satori_jax import parallel

        return parallel.process_zero_writes()(fn)(*args, **kwargs)

    return wrapper


@_process_zero_writes
def interpret_run(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    methods: str | Sequence[str] = ("raw", "attr"),
    motif_db: str | Path = "jaspar2024",
    family_table: str | Path | None = None,
    background: str | None = None,
    truth: str | Path | None = None,
    max_examples: int | None = None,
    attn_cutoff: str | float = "mean",
    prob_cutoff: float = 0.7,
    precision_cutoff: float = 0.5,
    activity_fraction: float = ACTIVITY_FRACTION,
    batch_size: int = 256,
    seed: int = 0,
    verbose: bool = True,
    *,
    neg_cutoff: float = 0.3,
    alpha: float = 0.05,
    min_effect: float = 0.0,
    max_logos: int = 60,
    plots: bool = True,
    motif_fraction: float | None = None,
    attr_normalize: bool = True,
    test: str = "conditioned",
    null: str = "theoretical",
) -> dict:
    """Interpret a trained run: motifs, tested filter / TF interactions per method, tables, plots, report.

    Parameters
    ----------
    run_dir
        Run directory written by :mod:`satori_jax.train` (needs ``test_predictions.npz``).
    out_dir
        Output directory (default ``RUN/interpret``).
    methods
        Interaction methods, e.g. ``("raw", "attr")`` or ``"raw,attr,fis"`` (see :data:`SCORERS`).
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
        Cap on foreground (and background) examples, drawn at random with ``seed``.
    attn_cutoff
        ``"mean"`` (mean of all foreground pair scores of the method) or a fixed value, applied
        to every method: a filter pair is tested when its maximum foreground score reaches it.
    prob_cutoff, precision_cutoff
        Example selection (binary / multi-label), DESIGN step 1.
    activity_fraction
        A filter is *active* at a position (for pairing, FIS / DFIM sources and targets) where its
        activation reaches this fraction of its maximum over the foreground. Higher is stricter:
        a filter that partly resembles another motif then counts only at its strongest sites
        (fewer false pairs), but too high a value leaves too few sites to test (see the README).
    motif_fraction
        The same for the sites that build each filter's PWM (and the motif rates of the
        shuffled background); default: ``activity_fraction``. SATORI uses 0.5 for PWMs; on the
        simulated benchmarks stronger sites gave cleaner PWMs and better TomTom matches.
    batch_size
        Examples per device call for activations (pair scoring uses at most 64).
    seed
        Seed of the sub-sampling and of the shuffled background.
    verbose
        Progress messages and bars on stderr.
    alpha
        q-value level for significant filter pairs.
    attr_normalize
        Divide each example's ``attr`` map by its maximum, so that ``attr`` scores are shares of
        the example's strongest attribution. Attributions scale with the logit being explained,
        which is larger in every positive than in any negative; without this, any pair present in
        both classes tends to score higher in the foreground.
    min_effect
        Optional floor on the effect size (``U / (n_fg·n_bg)``, the probability that a foreground
        score beats a background one): significant pairs need ``q < alpha`` and an effect size at
        least this (0 = off, SATORI's rule). With a few hundred examples per side, small systematic
        shifts between foreground and background (e.g. larger attributions in every positive) are
        significant; a floor keeps only pairs that separate the two sides well.
    test
        ``"conditioned"`` (default: each pair tested on the examples containing either partner,
        significant only if both tests are) or ``"observed"`` (SATORI: the examples where the pair
        was observed); see :mod:`satori_jax.interpret.stats`.
    null
        ``"theoretical"`` (default) or ``"empirical"``: p-values re-calibrated against a null
        estimated from all tested pairs (:func:`satori_jax.interpret.stats.empirical_null`).

    Returns
    -------
    dict
        The content of ``summary.json``.

    Raises
    ------
    InputError
        Run directory without predictions, missing motif database / family table / truth file,
        unknown method, no example passing the selection cutoffs.
    """
    from satori_jax.interpret import motifs as motif_lib
    from satori_jax.interpret import report

    log = _Log(verbose)
    t_start = time.perf_counter()
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "interpret"
    method_list = parse_methods(methods)
    cutoff = _parse_cutoff(attn_cutoff)
    _check_test(test, null)
    if not run_dir.is_dir():
        raise input_error(run_dir, "no such run directory")
    if not (run_dir / "test_predictions.npz").is_file():
        raise input_error(run_dir, "no test_predictions.npz (training has not finished; run "
                                   f"`python -m satori_jax.train --workdir {run_dir} --resume` first)")
    if max_examples is not None and max_examples < 1:
        raise InputError(f"--max-examples must be >= 1, got {max_examples}")
    truth_pairs = None
    if truth is not None:
        from satori_jax.interpret.evaluate import read_truth

        truth_pairs = read_truth(truth)
    t = time.perf_counter()
    db = motif_lib.load_motif_db(motif_db, family_table)
    log.step("motif_db", time.perf_counter() - t)
    log(f"motif database {motif_db}: {len(db)} motifs")

    # ---- run and example selection -------------------------------------------------------------
    from satori_jax.interpret.selection import select_examples
    from satori_jax.runs import load_run

    t = time.perf_counter()
    run = load_run(run_dir)
    log.step("load_run", time.perf_counter() - t)
    sel = select_examples(run.labels, run.probs, prob_cutoff=prob_cutoff, neg_cutoff=neg_cutoff,
                          precision_cutoff=precision_cutoff, background=background)
    binary = np.asarray(run.labels).reshape(len(run.labels), -1).shape[1] == 1
    bg_kind = "shuffle" if sel.bg_idx is None else "negatives"
    rng = np.random.default_rng(seed)
    fg_keep = _subsample(np.arange(len(sel.fg_idx)), max_examples, rng)
    fg_idx = sel.fg_idx[fg_keep]
    fg_targets = np.asarray(sel.targets, bool)[fg_keep]
    fg_codes = np.asarray(run.codes)[fg_idx]
    log(f"{len(run.ids)} test examples; foreground {len(fg_idx)} (of {len(sel.fg_idx)} selected)")

    out.mkdir(parents=True, exist_ok=True)
    stale = out / "summary.json"
    if stale.exists():
        stale.unlink()  # an interrupted re-run must not look complete

    # ---- thresholds and motifs ----------------------------------------------------------------
    from satori_jax.interpret.activity import filter_thresholds

    cfg_m = run.cfg.model
    t = time.perf_counter()
    fmax = filter_thresholds(run.model, run.variables, fg_codes, 1.0, batch_size, verbose=verbose)
    thresholds, motif_thresholds, motif_fraction = split_thresholds(fmax, activity_fraction, motif_fraction)
    counts, n_sites = motif_lib.filter_pwms(run.model, run.variables, fg_codes, motif_thresholds, cfg_m,
                                            batch_size=batch_size, verbose=verbose)
    pwms = motif_lib.to_pwm(counts, 0.1)
    num_filters = int(pwms.shape[0])
    motif_lib.write_filters_meme(out / "filters.meme", motif_lib.filter_motifs(pwms, n_sites), n_sites)
    log.step("filter_pwms", time.perf_counter() - t)
    log(f"{int((n_sites >= motif_lib.MIN_SITES).sum())} of {num_filters} filters have >= "
        f"{motif_lib.MIN_SITES} sites; running TomTom")
    t = time.perf_counter()
    matches = motif_lib.match_filters(pwms, n_sites, db)
    motif_lib.write_tomtom_table(out / "filters_tomtom.tsv", matches)
    n_matched = sum(m.matched for m in matches)
    log.step("tomtom", time.perf_counter() - t)
    log(f"{n_matched} filters match a database motif (q < {motif_lib.MATCH_Q})")

    images: dict[str, Any] = {"logos": [], "attention": [], "overlap": None, "extra": []}
    if plots:
        from satori_jax.interpret import plots as plot_lib

        t = time.perf_counter()
        logo_dir = out / "logos"
        ranked = sorted((m for m in matches if m.matched), key=lambda m: (m.q_value, m.filter))[:max_logos]
        for m in ranked:
            p = plot_lib.logo(pwms[m.filter], logo_dir / f"filter{m.filter}.png",
                              title=f"filter{m.filter}: {m.target} ({m.target_id}) q={m.q_value:.2g}")
            images["logos"].append((p, f"filter{m.filter} ~ {m.target}, {m.n_sites} sites"))
        try:
            for ex, attn, marks in _attention_examples(run, fg_idx, fg_targets, thresholds, matches):
                p = plot_lib.attention_heatmap(attn, marks, out / f"attention_example{ex}.png",
                                               title=f"test example {run.ids[ex]}",
                                               pool_size=int(cfg_m.pool_size))
                images["attention"].append((p, f"test example {run.ids[ex]}: raw attention, max over heads"))
        except Exception as exc:  # noqa: BLE001 - a plot must not sink the run
            log(f"attention heatmaps skipped: {exc}")
        log.step("motif_plots", time.perf_counter() - t)

    # ---- background ---------------------------------------------------------------------------
    t = time.perf_counter()
    if sel.bg_idx is not None:
        bg_keep = _subsample(np.arange(len(sel.bg_idx)), max_examples, rng)
        bg_codes = np.asarray(run.codes)[sel.bg_idx[bg_keep]]
        bg_targets = np.asarray(sel.bg_targets, bool)[bg_keep]
    else:
        from satori_jax.data.shuffle import shuffled_background

        bg_codes = shuffled_background(run.model, run.variables, fg_codes, motif_thresholds, rng,
                                       batch_size=batch_size, verbose=verbose)
        bg_targets = fg_targets.copy()
    log.step("background", time.perf_counter() - t)
    log(f"background ({bg_kind}): {len(bg_codes)} examples")

    # ---- methods ------------------------------------------------------------------------------
    from satori_jax.interpret.stats import distance_summary, test_pairs

    ctx = ScoreContext(run.model, run.variables, run.cfg, np.asarray(thresholds, np.float32), int(batch_size),
                       int(seed), verbose, extra={"matches": matches, "attr_normalize": bool(attr_normalize)})
    scorers = available_methods()
    summary_methods: dict[str, dict] = {}
    tables: dict[str, list] = {}
    tf_tables: dict[str, list] = {}
    top_labels: dict[str, list[str]] = {}
    for method in method_list:
        scorer = scorers[method]
        log(f"method {method}: scoring {len(fg_codes)} foreground + {len(bg_codes)} background examples")
        t = time.perf_counter()
        fg_scores = scorer.score(ctx, fg_codes, fg_targets)
        bg_scores = scorer.score(ctx, bg_codes, bg_targets)
        null_info: dict = {}
        stats = test_pairs(fg_scores, bg_scores, cutoff, num_filters, test=test, null=null, info=null_info)
        seconds = time.perf_counter() - t
        cut_value = (float(np.mean(fg_scores.score, dtype=np.float64)) if len(fg_scores) else None) \
            if cutoff == "mean" else float(cutoff)
        rows, tf_rows, sig, fam_counts, excess = _method_tables(out, method, stats, matches, num_filters,
                                                                alpha, min_effect)
        n_sig = int(sig.sum())
        tables[method], tf_tables[method] = rows, tf_rows
        top_labels[method] = [report.pair_label(r["tf_a"], r["tf_b"]) for r in tf_rows]
        sig_pairs = (np.asarray(stats["filter_a"])[sig], np.asarray(stats["filter_b"])[sig])
        dist = distance_summary(fg_scores, sig_pairs, num_filters) if sig.any() else None
        entry = _method_entry(n_examples=len(fg_codes), n_background=len(bg_codes),
                              n_observed=fg_scores.num_pairs(), cut_value=cut_value, rows=rows,
                              tf_rows=tf_rows, n_sig=n_sig, fam_counts=fam_counts, seconds=seconds,
                              dist=dist, truth_pairs=truth_pairs, excess=excess)
        entry["null"] = {"kind": null, "centre": null_info["null_centre"], "scale": null_info["null_scale"]}
        summary_methods[method] = entry
        log(f"method {method}: {len(rows)} pairs tested, {n_sig} significant filter pairs, "
            f"{len(tf_rows)} TF pairs ({len(excess['tf_rows'])} beyond their filters' enrichment), "
            f"{seconds:.1f} s")
        if plots:
            from satori_jax.interpret import plots as plot_lib

            t = time.perf_counter()
            images[method] = {
                "family": plot_lib.family_barplot(fam_counts, out / f"families_{method}.png",
                                                  title=f"{method}: significant TF pairs per family pair"),
                "distance": plot_lib.distance_boxplot(
                    {report.pair_label(r["tf_a"], r["tf_b"]): _pair_distances(fg_scores, r["filter_pairs"],
                                                                             num_filters)
                     for r in tf_rows[:15]},
                    out / f"distances_{method}.png", title=f"{method}: distances of the top TF pairs"),
            }
            if scorer.plots is not None:
                try:
                    images["extra"].extend(scorer.plots(ctx, out, fg_codes, fg_targets))
                except Exception as exc:  # noqa: BLE001
                    log(f"{method} plots skipped: {exc}")
            log.step(f"plots_{method}", time.perf_counter() - t)

    _overlap_plot(out, images, top_labels, method_list, plots)

    # ---- summary and report -------------------------------------------------------------------
    import jax

    import satori_jax

    labels2 = np.asarray(run.labels).reshape(len(run.labels), -1)
    summary = {
        "methods": summary_methods,
        "run": {
            "run_dir": str(run_dir),
            "out_dir": str(out),
            "task": "binary" if binary else "multi-label",
            "label_names": list(run.label_names),
            "n_test": int(labels2.shape[0]),
            "n_foreground_selected": int(len(sel.fg_idx)),
            "n_foreground": int(len(fg_codes)),
            "n_background": int(len(bg_codes)),
            "background": bg_kind,
            "motif_db": str(motif_db),
            "n_db_motifs": len(db),
            "family_table": None if family_table is None else str(family_table),
            "num_filters": num_filters,
            "filter_width": int(cfg_m.filter_width),
            "n_filters_with_sites": int((n_sites >= motif_lib.MIN_SITES).sum()),
            "n_filters_matched": int(n_matched),
            "activity_fraction": float(activity_fraction),
            "motif_fraction": float(motif_fraction),
            "attr_normalize": bool(attr_normalize),
            "attn_cutoff": cutoff,
            "prob_cutoff": float(prob_cutoff),
            "neg_cutoff": float(neg_cutoff),
            "precision_cutoff": float(precision_cutoff),
            "alpha": float(alpha),
            "min_effect": float(min_effect),
            "test": test,
            "null": null,
            "max_examples": max_examples,
            "batch_size": int(batch_size),
            "seed": int(seed),
            "truth": None if truth is None else str(truth),
            "device": str(jax.devices()[0].platform),
            "version": getattr(satori_jax, "__version__", ""),
            "step_seconds": log.steps,
        },
    }
    return _write_outputs(out, summary, truth_pairs, t_start, tables, tf_tables, images, log)
