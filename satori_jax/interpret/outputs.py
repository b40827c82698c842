"""What an interpretation writes: per-method tables and summary entries, figures, the report.

Shared by every test set the driver (:func:`satori_jax.interpret.driver.interpret`) reads.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

if TYPE_CHECKING:
    from satori_jax.interpret.evaluate import Truth

__all__ = ["Log", "LogoDrawer", "method_entry", "method_plots", "method_tables", "motif_plots",
           "overlap_plot", "write_outputs"]


class Log:
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.t0 = time.perf_counter()
        self.steps: dict[str, float] = {}

    def __call__(self, msg: str) -> None:
        if self.verbose:
            print(f"[{time.perf_counter() - self.t0:7.1f} s] {msg}", file=sys.stderr, flush=True)

    def step(self, name: str, seconds: float) -> None:
        self.steps[name] = round(self.steps.get(name, 0.0) + seconds, 3)



def _significant(stats: dict, alpha: float, min_effect: float) -> np.ndarray:
    """``(T,)`` bool: ``q < alpha`` and, when ``min_effect > 0``, ``effect_size >= min_effect``."""
    sig = np.asarray(stats["q_value"]) < alpha
    if min_effect > 0:
        sig &= np.asarray(stats["effect_size"]) >= min_effect
    return sig


def method_tables(out: Path, method: str, stats: dict, matches, num_filters: int, alpha: float,
                   min_effect: float = 0.0, pooled: dict | None = None, partners: bool = True):
    """Write ``interactions_{method}.tsv``, ``tf_interactions_{method}.tsv`` and (with the TF-pooled
    test) ``tf_ranking_{method}.tsv`` from tested pairs.

    Adds the excess test's columns (``excess_z``, ``p_excess``, ``q_excess``;
    :func:`satori_jax.interpret.excess.excess_test`) to ``stats`` first. The TF table holds the list
    (:func:`satori_jax.interpret.report.tf_pair_table`, with the TF-pooled test's ``pooled`` results
    when given, and then the partner rule when ``partners``), each row with its ``q_excess``.

    Returns
    -------
    rows, tf_rows, sig, fam_counts, excess
        Filter-pair and listed TF-pair table rows, the ``(T,)`` mask of significant filter pairs
        (:func:`_significant`, in the order of ``stats``), the number of listed TF pairs per family
        pair, and the excess test's summary: ``level`` (``"tf"``, ``"filter"`` or ``"none"``),
        ``tf_rows`` (the listed TF pairs that also stand out,
        :func:`satori_jax.interpret.report.excess_tf_pairs`), ``n_significant_filter_pairs`` (also
        ``q_excess < alpha`` on the filter matrix), ``null_centre`` and ``null_scale`` (of the filter
        matrix).
    """
    from satori_jax.interpret import report
    from satori_jax.interpret.excess import excess_test

    ex = excess_test(stats["filter_a"], stats["filter_b"], stats["p_value"], num_filters)
    for k in ("excess_z", "p_excess", "q_excess"):
        stats[k] = ex[k]
    rows = report.interaction_table(stats, matches, num_filters)
    tf_excess = report.tf_excess_q(rows)
    tf_rows = report.tf_pair_table(rows, alpha, min_effect, tf_excess=tf_excess, pooled=pooled,
                                   partners=partners)
    report.write_tsv(out / f"interactions_{method}.tsv", report.INTERACTION_COLUMNS, rows)
    report.write_tsv(out / f"tf_interactions_{method}.tsv", report.TF_INTERACTION_COLUMNS, tf_rows)
    if pooled is not None:  # every tested TF pair, strongest first (the ranking --truth scores)
        from satori_jax.interpret.pooled import RANKING_COLUMNS, ranking_table

        report.write_tsv(out / f"tf_ranking_{method}.tsv", RANKING_COLUMNS,
                         ranking_table(pooled, rows, tf_rows))
    sig = _significant(stats, alpha, min_effect)
    fam_counts: dict[str, int] = {}
    for r in tf_rows:
        key = report.pair_label(r["family_a"] or "unknown", r["family_b"] or "unknown")
        fam_counts[key] = fam_counts.get(key, 0) + 1
    sig_ex = sig & (np.nan_to_num(ex["q_excess"], nan=1.0) < alpha)
    # where the excess test ran, whether or not any TF pair is listed
    level = "tf" if tf_excess else ("filter" if np.isfinite(ex["null_centre"]) else "none")
    excess = {"level": level, "tf_rows": report.excess_tf_pairs(tf_rows, alpha),
              "n_significant_filter_pairs": int(sig_ex.sum()),
              "null_centre": ex["null_centre"], "null_scale": ex["null_scale"]}
    return rows, tf_rows, sig, fam_counts, excess


def method_entry(*, n_examples: int, n_background: int, n_observed: int, cut_value, rows, tf_rows,
                  n_sig: int, fam_counts: dict[str, int], seconds: float, dist,
                  truth: Truth | None, excess: dict | None = None, pooled: dict | None = None
                  ) -> dict[str, Any]:
    """The ``summary.json`` entry of one method (``dist``: median/q25/q75 bp of significant pairs or None;
    ``excess``: the last value :func:`method_tables` returns; ``truth``: with ``--truth``, adds the
    list's precision / recall / F1, ``baseline`` (calling every candidate pair) and ``truth``
    (:meth:`~satori_jax.interpret.evaluate.Truth.score`: calls and ranking against chance, exact and
    family-merged; the TF pairs of ``pooled``, the TF-pooled test's results, count as tested))."""
    entry: dict[str, Any] = {
        "n_examples": int(n_examples),
        "n_background": int(n_background),
        "n_observed_pairs_fg": int(n_observed),
        "cutoff": cut_value,
        "n_tested": int(len(rows)),
        "n_significant_filter_pairs": n_sig,
        "n_significant_tf_pairs": int(len(tf_rows)),
        "top_tf_pairs": [{"tf_a": r["tf_a"], "tf_b": r["tf_b"], "q_tf": _finite_or_none(float(r["q_tf"])),
                          "q_value": float(r["q_value"]), "listed_by": r.get("listed_by", "filter pair")}
                         for r in tf_rows[:25]],
        "n_tf_pairs_listed_by": {k: sum(r.get("listed_by", "filter pair") == k for r in tf_rows)
                                 for k in ("filter pair", "both", "pool")},
        "seconds": round(seconds, 3),
        "family_pairs": dict(sorted(fam_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "distance_bp_significant": None if dist is None else {k: dist[k] for k in ("median", "q25", "q75")},
    }
    if truth is not None:
        # the list and the ranking next to chance: calling every candidate pair, a random ranking
        from satori_jax.interpret.pooled import tf_evidence, tf_pairs

        # TF pairs the pooled test tested: candidates too; the ranking uses both tests
        pool_tested = [{"tf_a": a, "tf_b": b} for a, b in (tf_pairs(pooled) if pooled else [])]
        scored = truth.score(tf_rows, rows, pool_tested, tf_evidence(pooled, rows) if pooled else None)
        calls = scored["exact"]["calls"]
        entry.update({k: calls[k] for k in _TRUTH_KEYS})
        entry["truth"] = scored
        entry["baseline"] = {"rule": entry["truth"]["candidates"], "n_tf_pairs": calls["n_candidates"],
                             "precision": calls["chance_precision"], "recall": calls["chance_recall"],
                             "f1": calls["chance_f1"]}
    if excess is not None:
        ex_rows = excess["tf_rows"]
        sub: dict[str, Any] = {
            "level": excess["level"],
            "n_significant_tf_pairs": int(len(ex_rows)),
            "top_tf_pairs": [{"tf_a": r["tf_a"], "tf_b": r["tf_b"], "q_tf": _finite_or_none(float(r["q_tf"])),
                              "q_excess": float(r["q_excess"])} for r in ex_rows[:25]],
            "n_significant_filter_pairs": int(excess["n_significant_filter_pairs"]),
            # None (not nan) when too few pairs were tested for the excess test
            "null_centre": _finite_or_none(excess["null_centre"]),
            "null_scale": _finite_or_none(excess["null_scale"]),
        }
        if truth is not None:
            sub.update(_truth_scores(ex_rows, truth.pairs))
        entry["excess"] = sub
    return entry


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


_TRUTH_KEYS = ("precision", "recall", "f1", "tp", "fp", "fn")


def _truth_scores(tf_rows, truth_pairs) -> dict[str, Any]:
    """Precision, recall, F1, tp, fp, fn of the TF pairs of ``tf_rows``."""
    from satori_jax.interpret.evaluate import score_pairs

    sc = score_pairs([(r["tf_a"], r["tf_b"]) for r in tf_rows], truth_pairs)
    return {k: sc[k] for k in _TRUTH_KEYS}


def overlap_plot(out: Path, images: dict, top_labels: dict[str, list[str]], method_list,
                  plots: bool) -> None:
    """``method_overlap.png`` (top TF pairs per method) when plotting and at least two methods ran."""
    if plots and len(method_list) >= 2:
        from satori_jax.interpret import plots as plot_lib

        images["overlap"] = plot_lib.method_overlap(top_labels, out / "method_overlap.png",
                                                    title="top TF pairs per method")


def write_outputs(out: Path, summary: dict, truth: Truth | None, t_start: float, tables, tf_tables, images,
                   log) -> dict:
    """Finish ``summary`` (true pairs, total time), write ``report.html`` and, last, ``summary.json``."""
    from satori_jax.interpret import report, report_html

    if truth is not None:
        summary["run"]["n_true_pairs"] = len(truth.pairs)
        summary["run"]["truth_pool"] = truth.pool_source or None
    tomtom_rows = report.read_tsv(out / "filters_tomtom.tsv")
    summary["run"]["total_seconds"] = round(time.perf_counter() - t_start, 3)
    report_html.write_html(out / "report.html", summary, tomtom_rows=tomtom_rows, tables=tables,
                           tf_tables=tf_tables, images=images,
                           truth_pairs=None if truth is None else set(truth.pairs))
    report.write_json(out / "summary.json", summary)  # last: its presence marks a complete run
    log(f"done in {summary['run']['total_seconds']:.1f} s; outputs in {out}")
    return summary


class LogoDrawer:
    """Draws sequence logos (:func:`satori_jax.interpret.plots.logo`); a batch of at least
    ``background_from`` of them goes to a worker process (``python -m satori_jax.interpret.plots``,
    which imports matplotlib but not JAX) while the caller goes on with the tests and tables.

    A logo is a pure function of its PWM and title, so where it is drawn changes no byte of it.
    :meth:`wait` (before the report embeds the files) draws here whatever a worker did not (it could
    not start, or failed), so the outputs never depend on the workers.
    """

    def __init__(self, background_from: int = 8) -> None:
        self.background_from = int(background_from)
        self.paths: set[Path] = set()
        self.workers: list = []  # (process, job file, jobs)

    def draw_all(self, jobs: list[tuple[np.ndarray, Path, str]]) -> None:
        """Draw ``(pwm (K, 4), path, title)`` logos (those not drawn yet; widths may differ)."""
        from satori_jax.interpret import plots as plot_lib

        jobs = [(np.asarray(pwm, np.float64), Path(path), str(title)) for pwm, path, title in jobs
                if Path(path) not in self.paths]
        self.paths.update(path for _, path, _ in jobs)
        if len(jobs) >= self.background_from:
            worker = self._start(jobs)
            if worker is not None:
                self.workers.append(worker)
                return
        for pwm, path, title in jobs:
            plot_lib.logo(pwm, path, title=title)

    @staticmethod
    def _start(jobs):
        """The worker on ``jobs`` (``None`` when it cannot start: the caller draws them)."""
        import os
        import subprocess
        import tempfile

        import satori_jax

        fd, name = tempfile.mkstemp(prefix="satori_logos_", suffix=".npz")
        os.close(fd)
        root = str(Path(satori_jax.__file__).resolve().parent.parent)  # this satori_jax, wherever it is
        path_var = os.pathsep.join(x for x in (root, os.environ.get("PYTHONPATH")) if x)
        try:
            np.savez(name, **{f"pwm{i}": pwm for i, (pwm, _, _) in enumerate(jobs)},
                     paths=np.array([str(p) for _, p, _ in jobs]),
                     titles=np.array([title for _, _, title in jobs]))
            proc = subprocess.Popen([sys.executable, "-m", "satori_jax.interpret.plots", name],
                                    env={**os.environ, "PYTHONPATH": path_var}, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except (OSError, ValueError):
            Path(name).unlink(missing_ok=True)
            return None
        return proc, Path(name), jobs

    def drawn(self, path: Path) -> bool:
        """Drawn (or being drawn) by this drawer, or already on disk."""
        return Path(path) in self.paths or Path(path).is_file()

    def wait(self) -> None:
        """Every logo is on disk; the workers are gone (what they did not draw is drawn here)."""
        from satori_jax.interpret import plots as plot_lib

        while self.workers:
            proc, name, jobs = self.workers.pop(0)
            try:
                proc.communicate()
            finally:
                name.unlink(missing_ok=True)
            for pwm, path, title in jobs:
                if proc.returncode != 0 or not path.is_file():
                    plot_lib.logo(pwm, path, title=title)

    def close(self) -> None:
        """Stop the workers still drawing (after an error elsewhere)."""
        while self.workers:
            proc, name, _ = self.workers.pop(0)
            proc.kill()
            proc.communicate()
            name.unlink(missing_ok=True)


def pair_logos(out: Path, pwms: np.ndarray, matches, tf_tables, images: dict,
               drawer: LogoDrawer | None = None, db=None) -> None:
    """Logos of the filters behind each method's top TF pairs (named or not) into
    ``images["pair_logos"]`` (``{filter: path}``), reusing those :func:`motif_plots` drew, and with
    ``db`` (the motif database) the logo of each matched filter's database motif, turned the way it
    matched (:func:`satori_jax.interpret.motifs.matched_db_pwm`), into ``images["db_logos"]``
    (``{filter: path}``)."""
    from satori_jax.interpret.motifs import matched_db_pwm
    from satori_jax.interpret.report_html import top_filters

    drawer = drawer if drawer is not None else LogoDrawer()
    by_filter = {m.filter: m for m in matches}
    drawn = images.setdefault("pair_logos", {})
    db_drawn = images.setdefault("db_logos", {})
    jobs, db_jobs = [], []
    for f in top_filters(tf_tables):
        path = out / "logos" / f"filter{f}.png"
        m = by_filter.get(f)
        if not drawer.drawn(path):
            name = f"{m.target} q={m.q_value:.2g}" if m is not None and m.matched else "no database match"
            jobs.append((pwms[f], path, f"filter{f}: {name}"))
        drawn[f] = path
        ref = None if m is None or db is None else matched_db_pwm(m, db)
        if ref is not None:
            turned = m.orientation == "-"
            dpath = out / "logos" / f"db_{_safe_name(m.target_id)}{'_rc' if turned else ''}.png"
            if not drawer.drawn(dpath):
                db_jobs.append((ref, dpath, f"database: {m.target} ({m.target_id})"
                                            + (", reverse complement" if turned else "")))
            db_drawn[f] = dpath
    drawer.draw_all(jobs + db_jobs)


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _top_maps(model, pool: int, variables, x, thresholds):
    """Conv activations, raw attention (max over heads) and pooled activity of a few examples."""
    from satori_jax.interpret.activity import pooled_activity

    _, inter = model.apply(variables, x, train=False)
    return inter["conv"], inter["attention"].max(axis=1), pooled_activity(inter["conv"], thresholds, pool)


def motif_plots(out: Path, pwms: np.ndarray, matches, tops, thresholds: np.ndarray, model, variables, cfg,
                images: dict, max_logos: int, log: Log, drawer: LogoDrawer | None = None) -> None:
    """Logos of the matched filters and attention heatmaps of the most confident foreground examples.

    Parameters
    ----------
    pwms
        ``(F, W, 4)`` filter PWMs.
    tops
        ``[(confidence, id, codes (L,) uint8, targets (C,) bool), ...]`` the examples to draw.
    images
        The report's image lists; ``images["logos"]`` and ``images["attention"]`` are extended.
    drawer
        Where the logos are drawn (:class:`LogoDrawer`; the caller waits for it before the report);
        default: here, now.
    """
    import jax.numpy as jnp

    from satori_jax.data.encoding import one_hot
    from satori_jax.interpret import plots as plot_lib

    ranked = sorted((m for m in matches if m.matched), key=lambda m: (m.q_value, m.filter))[:max_logos]
    jobs = [(pwms[m.filter], out / "logos" / f"filter{m.filter}.png",
             f"filter{m.filter}: {m.target} ({m.target_id}) q={m.q_value:.2g}") for m in ranked]
    (drawer if drawer is not None else LogoDrawer(background_from=len(jobs) + 1)).draw_all(jobs)
    for m, (_, p, _) in zip(ranked, jobs, strict=True):
        images["logos"].append((p, f"filter{m.filter} ~ {m.target}, {m.n_sites} sites"))
    if not tops:
        return
    try:
        codes = np.stack([x[2] for x in tops])
        pool = int(cfg.model.pool_size)
        # one compiled call (op by op, each operation of the model would compile on its own)
        conv, attn, active = _top_maps(model, pool, variables, one_hot(jnp.asarray(codes)),
                                       jnp.asarray(thresholds))
        attn, active, conv = np.asarray(attn), np.asarray(active), np.asarray(conv)  # active: (n, L', F)
        lp = active.shape[1]
        c = conv[:, : lp * pool].reshape(len(codes), lp, pool, -1).max(axis=2)
        names = {mm.filter: mm.target for mm in matches if mm.matched}
        for e, (_, rid, _, _) in enumerate(tops):
            marks = []
            for p_ in range(lp):
                named = [f for f in np.flatnonzero(active[e, p_]) if f in names]
                if named:
                    marks.append((p_, names[max(named, key=lambda f: c[e, p_, f])]))
            p = plot_lib.attention_heatmap(attn[e], marks, out / f"attention_{_safe_name(rid)}.png",
                                           title=f"test example {rid}", pool_size=pool)
            images["attention"].append((p, f"test example {rid}: raw attention, max over heads"))
    except Exception as exc:  # noqa: BLE001 - a plot must not sink the run
        log(f"attention heatmaps skipped: {exc}")


def method_plots(out: Path, method: str, tf_rows: list[dict], fam_counts: dict[str, int], distances) -> dict:
    """A method's family bar plot and the distance box plots of its top TF pairs, foreground beside
    background.

    ``distances(filter_a (S,), filter_b (S,), side) -> (D,)`` gives the distances of filter pairs in the
    foreground (``side="fg"``) or the background (``"bg"``)
    (:attr:`satori_jax.interpret.accumulate.MethodTest.distances`).

    Returns
    -------
    dict
        ``family`` and ``distance`` (PNG paths) and ``distance_table``: per TF pair label (best first)
        ``median_fg`` and ``median_bg``, the median distance (bp) in the foreground and the background
        (``nan``: the pair is never observed in the background).
    """
    from satori_jax.interpret import plots as plot_lib
    from satori_jax.interpret import report

    fg, bg = {}, {}
    for r in tf_rows[:15]:
        pairs = [tuple(int(x.removeprefix("filter")) for x in it.split("-"))
                 for it in r["filter_pairs"].split(";") if it]
        fa, fb = np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)
        label = report.pair_label(r["tf_a"], r["tf_b"])
        fg[label], bg[label] = distances(fa, fb, "fg"), distances(fa, fb, "bg")
    table = {k: {"median_fg": float(np.median(fg[k])),
                 "median_bg": float(np.median(bg[k])) if len(bg[k]) else np.nan} for k in fg if len(fg[k])}
    return {
        "family": plot_lib.family_barplot(fam_counts, out / f"families_{method}.png",
                                          title=f"{method}: significant TF pairs per family pair"),
        "distance": plot_lib.distance_boxplot(fg, out / f"distances_{method}.png", background=bg,
                                              title=f"{method}: distances of the top TF pairs, foreground "
                                                    f"vs background"),
        "distance_table": table,
    }
