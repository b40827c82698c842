"""The interpretation driver: a trained run and a test set -> motifs, tested interactions, tables, report.

:func:`interpret` reads any source of :mod:`satori_jax.data.sources` chunk by chunk, in three passes:

1. **pass 1**, per chunk: predictions (the run's test set has them already), foreground /
   background selection (:func:`satori_jax.interpret.selection.select_masks`; with
   ``max_examples`` a random subset), running per-filter maximum activation over the foreground
   (-> the thresholds), the most confident foreground examples (attention heatmaps) and a small
   sample (the histogram ranges of a streamed run);
2. **motifs**, per chunk: the filters' K-mer counts over its foreground; then PWMs and TomTom
   names (before pass 2: the TF-pooled test pools by name, :mod:`satori_jax.interpret.pooled`);
3. **pass 2**, per chunk: the background (the chunk's negatives, or its foreground
   dinucleotide-shuffled with motifs embedded, seeded by ``(seed, chunk)``), and per method the
   :class:`~satori_jax.interpret.interactions.PairScores` of foreground and background (and their
   TF-pooled forms), handed to the accumulator;
4. **final**: per-method tests (:mod:`satori_jax.interpret.accumulate`), tables, plots,
   ``report.html`` and, last, ``summary.json`` (:mod:`satori_jax.interpret.outputs`).

The run's own test set is one chunk in a :class:`~satori_jax.interpret.accumulate.MemoryStore`
with the exact accumulator; a streamed test set keeps its chunk results in ``OUT/stream/``
(resumable) and folds pair scores into histograms, so memory does not grow with its size.

Several processes: on the run's test set every process computes everything with the devices of
all processes (each call is global) and process 0 writes ``--out``; on a streamed test set process
``p`` of ``P`` takes chunks ``p, p + P, …`` on its own devices, the processes meet after each pass
(an error in one is raised in all), ``--out`` must be one directory they all see, and process 0
writes the results.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax.errors import InputError, input_error
from satori_jax.interpret.options import InterpretOptions, split_thresholds

__all__ = ["SAMPLE_SIZE", "TOP_EXAMPLES", "interpret"]

#: Foreground (and background) examples of pass 1 that fix a streamed run's histogram ranges.
SAMPLE_SIZE = 128
#: Most confident foreground examples kept for the attention heatmaps.
TOP_EXAMPLES = 3


def _subsample(idx: np.ndarray, n: int | None, rng: np.random.Generator) -> np.ndarray:
    if n is None or len(idx) <= n:
        return idx
    return np.sort(rng.choice(idx, size=int(n), replace=False))


def interpret(run_dir: str | Path, options: InterpretOptions | None = None, source=None) -> dict:
    """Interpret a trained run: motifs, tested filter / TF interactions per method, tables, plots, report.

    Parameters
    ----------
    run_dir
        Run directory written by :mod:`satori_jax.train`.
    options
        :class:`~satori_jax.interpret.options.InterpretOptions` (default: all defaults).
    source
        The test set: ``None`` for the run's own (``RUN/test_predictions.npz``, in memory, exact
        statistics), or a streamed source from :func:`satori_jax.data.sources.open_source`
        (chunked, histogram statistics, resumable in ``OUT/stream/``).

    Returns
    -------
    dict
        The content of ``summary.json``.

    Raises
    ------
    InputError
        Missing run directory / predictions / motif database / family table / truth file, a test
        set that does not fit the model, no example passing the selection cutoffs.
    """
    import jax

    from satori_jax import parallel

    opts = options if options is not None else InterpretOptions()
    run_dir = Path(run_dir)
    if source is None:
        from satori_jax.data.sources import RunSource

        source = RunSource(run_dir)
    if getattr(source, "streamed", False):
        if opts.max_examples is not None:
            raise InputError("--max-examples is not available with a streamed test set "
                             "(--fasta/--data/--bed); every selected example is used")
        from satori_jax.interpret.interactions import use_mesh

        with use_mesh(parallel.local_mesh()):  # chunks are dealt out; each process uses its own devices
            return _Driver(run_dir, opts, source, streamed=True).run()
    if jax.process_count() > 1 and not parallel.is_writer():  # every process computes, process 0 writes
        with tempfile.TemporaryDirectory(prefix=f"satori_p{jax.process_index()}_") as scratch:
            return _Driver(run_dir, opts.replace(out=scratch, verbose=False), source, streamed=False).run()
    return _Driver(run_dir, opts, source, streamed=False).run()


class _Driver:
    """One interpretation: the passes of the module docstring over ``source``'s chunks."""

    def __init__(self, run_dir: Path, opts: InterpretOptions, source, streamed: bool) -> None:
        import jax

        from satori_jax.interpret.outputs import Log

        self.run_dir, self.opts, self.source, self.streamed = run_dir, opts, source, streamed
        self.nproc, self.pid = (jax.process_count(), jax.process_index()) if streamed else (1, 0)
        self.writer = self.pid == 0
        self.own = (lambda k: k % self.nproc == self.pid) if self.nproc > 1 else None
        self.log = Log(opts.verbose and self.writer)
        self.out = Path(opts.out) if opts.out is not None else run_dir / "interpret"
        # a source held in memory is one chunk (exact statistics over all of it)
        self.chunk_size = int(opts.chunk_size) if streamed else max(1, int(source.n))

    # ---- helpers -------------------------------------------------------------------------------

    def together(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn``, then (streamed, several processes) meet the others; an error in any stops all."""
        if not self.streamed:
            return fn()
        from satori_jax import parallel

        err, res = None, None
        try:
            res = fn()
        except Exception as exc:  # noqa: BLE001 - handed to first_error, which re-raises it
            err = exc
        parallel.first_error(err, name)
        return res

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        res = fn()
        self.log.step(name, time.perf_counter() - t)
        return res

    # ---- set-up --------------------------------------------------------------------------------

    def setup(self) -> None:
        from satori_jax.interpret import motifs as motif_lib
        from satori_jax.runs import load_model

        o = self.opts
        if not self.run_dir.is_dir():
            raise input_error(self.run_dir, "no such run directory")
        self.truth = None
        if o.truth is not None:
            from satori_jax.interpret.evaluate import read_truth

            read_truth(o.truth)  # a bad truth file fails before the motif database loads
        self.db = self.timed("motif_db", lambda: motif_lib.load_motif_db(o.motif_db, o.family_table))
        if o.truth is not None:
            from satori_jax.interpret.evaluate import load_truth

            self.truth = load_truth(o.truth, {m.name: m.family for m in self.db if m.family})
        self.log(f"motif database {o.motif_db}: {len(self.db)} motifs")
        self.unknown_truth: list[str] = []
        if self.truth is not None:
            from satori_jax.interpret.evaluate import unknown_names

            self.unknown_truth = unknown_names(self.truth, self.db, o.truth, o.motif_db, warn=self.writer)
        loaded = self.timed("load_model", lambda: load_model(self.run_dir))
        self.cfg, self.model, self.variables, info = loaded
        self.label_names = list(info["label_names"])
        self.length = int(info["length"])
        if self.streamed and len(self.source.label_names) != len(self.label_names):
            path = self.source.files.get("labels", self.source.files.get("bed"))
            raise input_error(path, f"{len(self.source.label_names)} label column(s) "
                                    f"({', '.join(self.source.label_names)}); "
                                    f"the model of {self.run_dir} has "
                                    f"{len(self.label_names)} ({', '.join(self.label_names)})")
        # FASTA records of another length: resized as training did (data.length > 0), else an error
        self.strict = None
        if self.streamed and int(self.cfg.data.length) <= 0:
            self.strict = (f"the model of {self.run_dir} was trained on sequences as given (data.length = "
                           f"0), so interpret does not resize them; give {self.length} bp sequences, or "
                           f"regions with --bed/--genome (read as {self.length} bp around their centre)")
        self.binary = len(self.label_names) == 1
        bg = o.background if o.background is not None else ("negatives" if self.binary else "shuffle")
        if bg == "negatives" and not self.binary:
            raise InputError("background 'negatives' needs a binary task; use 'shuffle' for multi-label data")
        self.background = bg
        self.num_filters = int(self.cfg.model.num_filters)

    def prepare_out(self) -> None:
        """``--out`` exists, an old ``summary.json`` is gone; a streamed run's chunk store is ready."""
        from satori_jax.interpret.accumulate import FORMAT, DirStore, MemoryStore

        def clear_out() -> None:
            self.out.mkdir(parents=True, exist_ok=True)
            stale = self.out / "summary.json"
            if stale.exists():
                stale.unlink()  # an interrupted re-run must not look complete

        if not self.streamed:
            self.store = MemoryStore()
            clear_out()
            return
        ckpt = self.run_dir / "checkpoints" / "best"
        self.settings = {
            "format": FORMAT, "inputs": self.source.stamp(), "run": str(self.run_dir.resolve()),
            "checkpoint": sorted((str(p.relative_to(ckpt)), p.stat().st_size, p.stat().st_mtime_ns)
                                 for p in ckpt.rglob("*") if p.is_file()) if ckpt.is_dir() else None,
            "background": self.background, "length": self.length, **self.opts.resume_fields(),
        }
        self.store = DirStore(self.out / "stream")

        def prepare() -> None:
            if self.writer:
                clear_out()
                self.store.prepare(self.settings, self.log)
                if self.nproc > 1:
                    self.log(f"{self.nproc} processes: each reads and scores every {self.nproc}th chunk "
                             "on its own devices")

        self.together("preparing --out", prepare)
        self.together("checking --out",
                      lambda: None if self.writer else self.store.check_shared(self.settings))

    # ---- pass 1 --------------------------------------------------------------------------------

    def pass1(self) -> int:
        from satori_jax.interpret.activity import filter_thresholds
        from satori_jax.interpret.interactions import Placement
        from satori_jax.interpret.selection import select_masks
        from satori_jax.predict import make_predict_fn, predict_probs

        o = self.opts
        t = time.perf_counter()
        mesh = Placement().mesh
        predict_fn = make_predict_fn(self.model)
        rng = np.random.default_rng(o.seed)  # max_examples: a test set of one chunk only
        n_chunks = 0
        offset = 0
        chunks = self.source.chunks(self.chunk_size, self.length, keep=self.own, strict=self.strict)
        for k, (ids, codes, lab) in enumerate(chunks):
            n_chunks = k + 1
            start, offset = offset, offset + len(ids)
            if codes is None or self.store.has(1, k):
                continue
            n_resized = int(getattr(self.source, "last_resized", 0))
            if getattr(self.source, "probs", None) is not None:
                probs = np.asarray(self.source.probs[start:offset])
            else:
                tp = time.perf_counter()
                probs = predict_probs(self.model, self.variables, codes, o.batch_size, predict_fn=predict_fn,
                                      mesh=mesh)
                self.log.step("pass1_predict", time.perf_counter() - tp)  # (part of pass1)
            fg, targets, bg = select_masks(lab, probs, self.binary, self.background, o.prob_cutoff,
                                           o.neg_cutoff, o.precision_cutoff)
            n_selected = int(fg.sum())
            fgi = _subsample(np.flatnonzero(fg), o.max_examples, rng)
            bgi = _subsample(np.flatnonzero(bg), o.max_examples, rng)
            fg, bg = np.isin(np.arange(len(ids)), fgi), np.isin(np.arange(len(ids)), bgi)
            fmax = (filter_thresholds(self.model, self.variables, codes[fgi], 1.0, o.batch_size,
                                      verbose=o.verbose and not self.streamed) if fgi.size
                    else np.full(self.num_filters, -np.inf, np.float32))
            conf = (np.where(targets[fgi], np.asarray(probs, np.float64)[fgi], -np.inf).max(axis=1)
                    if fgi.size else np.zeros(0))
            order = np.argsort(-conf, kind="stable")[:TOP_EXAMPLES]
            top = fgi[order]
            self.store.put(1, k, {
                "n": np.int64(len(ids)), "n_selected": np.int64(n_selected), "n_resized": np.int64(n_resized),
                "fg": fg, "bg": bg,
                "targets": targets[fg], "probs": np.asarray(probs, np.float32),
                "labels": np.asarray(lab, np.float32), "fmax": np.asarray(fmax, np.float32),
                "top_conf": conf[order], "top_ids": np.asarray([ids[i] for i in top], dtype=str),
                "top_codes": codes[top], "top_targets": targets[top],
                "sample_fg": codes[fgi[:SAMPLE_SIZE]], "sample_fg_targets": targets[fgi[:SAMPLE_SIZE]],
                "sample_bg": codes[bgi[:SAMPLE_SIZE]]})
            self.log(f"pass 1: chunk {k + 1} ({len(ids)} sequences, {fgi.size} foreground, "
                     f"{bgi.size} background)")
        self.log.step("pass1", time.perf_counter() - t)
        return n_chunks

    def between(self) -> None:
        """Totals, thresholds, exemplars and the sample, from every chunk's pass-1 results."""
        o = self.opts
        self.n_test = self.n_fg = self.n_bg = self.n_selected = self.n_resized = 0
        fmax = np.full(self.num_filters, -np.inf, np.float32)
        tops: list[tuple[float, str, np.ndarray, np.ndarray]] = []
        samp_fg, samp_fgt, samp_bg = [], [], []
        for k in range(self.n_chunks):
            z = self.store.get(1, k)
            self.n_test += int(z["n"])
            self.n_fg += int(z["fg"].sum())
            self.n_bg += int(z["bg"].sum())
            self.n_selected += int(z["n_selected"]) if "n_selected" in z else int(z["fg"].sum())
            self.n_resized += int(z["n_resized"]) if "n_resized" in z else 0
            fmax = np.maximum(fmax, z["fmax"])
            tops += [(float(c), str(i), cd, tg) for c, i, cd, tg in
                     zip(z["top_conf"], z["top_ids"], z["top_codes"], z["top_targets"], strict=True)]
            tops = sorted(tops, key=lambda x: -x[0])[:TOP_EXAMPLES]
            if sum(len(s) for s in samp_fg) < SAMPLE_SIZE:
                samp_fg.append(z["sample_fg"])
                samp_fgt.append(z["sample_fg_targets"])
            if sum(len(s) for s in samp_bg) < SAMPLE_SIZE:
                samp_bg.append(z["sample_bg"])
        if self.n_resized:
            self.log(f"{self.n_resized} of {self.n_test} test sequences are not {self.length} bp: "
                     f"centre-cropped / N-padded to {self.length} bp, as in training (data.length = "
                     f"{self.cfg.data.length})")
        if self.n_fg == 0 or (self.background == "negatives" and self.n_bg == 0):
            from satori_jax.interpret.selection import raise_empty_selection

            raise_empty_selection([self.store.get(1, k) for k in range(self.n_chunks)], o, self.background,
                                  self.n_resized, self.n_test, self.length)
        self.thresholds, self.motif_thresholds, self.motif_fraction = split_thresholds(
            fmax, o.activity_fraction, o.motif_fraction)
        self.tops = tops
        self.sample = samp_fg, samp_fgt, samp_bg
        n_bg = self.n_bg if self.background == "negatives" else self.n_fg
        self.log(f"{self.n_test} test sequences in {self.n_chunks} chunk(s); foreground {self.n_fg} "
                 f"(of {self.n_selected} selected), background ({self.background}) {n_bg}")

    def accumulator(self):
        """Exact for the run's test set; histograms (ranges from the pass-1 sample) when streamed."""
        from satori_jax.interpret.accumulate import ExactAccumulator, HistAccumulator

        if not self.streamed:
            return ExactAccumulator()
        from satori_jax.interpret.histogram import range_from
        from satori_jax.interpret.pooled import method_bins

        o = self.opts
        # normalised attr maps peak at exactly 1: bounded bins with a bin of their own for the peaks
        peaked = {m: m == "attr" and bool(o.attr_normalize) for m in o.methods}
        rfile = self.store.root / "ranges.json"

        def score_ranges() -> None:
            """Process 0, unless a resumed run has them: score ranges from the pass-1 sample."""
            if not self.writer or rfile.is_file():
                return
            samp_fg, samp_fgt, samp_bg = self.sample
            s_fg = np.concatenate(samp_fg)[:SAMPLE_SIZE]
            s_fgt = np.concatenate(samp_fgt)[:SAMPLE_SIZE].astype(bool)
            if self.background == "negatives":
                s_bg = np.concatenate(samp_bg)[:SAMPLE_SIZE]
                s_bgt = np.ones((len(s_bg), 1), bool)
            else:
                from satori_jax.data.shuffle import shuffled_background

                s_bg = shuffled_background(self.model, self.variables, s_fg, self.motif_thresholds,
                                           np.random.default_rng([o.seed, 10**6]), batch_size=o.batch_size)
                s_bgt = s_fgt.copy()
            from satori_jax.interpret.report import write_json

            sides = ((s_fg, s_fgt), (s_bg, s_bgt))
            write_json(rfile, {m: range_from(np.concatenate([self.scorers[m].score(self.ctx, c, tg).score
                                                             for c, tg in sides]),
                                             bounded=m == "raw" or peaked[m]) for m in o.methods})

        self.together("score ranges", lambda: self.timed("ranges", score_ranges))
        self.ranges = json.loads(rfile.read_text())
        bins = method_bins({m: self.ranges[m] for m in o.methods}, self.normalised, peaked, o.hist_bins)
        return HistAccumulator(bins, self.length)

    # ---- motifs: counts, PWMs and names before pass 2 -------------------------------------------

    def motif_pass(self) -> None:
        """Per chunk: the filters' K-mer counts over its foreground (motif thresholds of pass 1)."""
        from satori_jax.interpret import motifs as motif_lib

        o = self.opts
        t = time.perf_counter()
        chunks = self.source.chunks(self.chunk_size, self.length, keep=self.own, strict=self.strict)
        for k, (_, codes, _) in enumerate(chunks):
            if codes is None or self.store.has(3, k):
                continue
            counts, n_sites = motif_lib.filter_pwms(
                self.model, self.variables, codes[self.store.get(1, k)["fg"]], self.motif_thresholds,
                self.cfg.model, batch_size=o.batch_size, verbose=o.verbose and not self.streamed)
            self.store.put(3, k, {"counts": counts, "n_sites": n_sites})
        self.log.step("filter_pwms", time.perf_counter() - t)

    def name_filters(self) -> None:
        """PWMs from every chunk's counts, TomTom names, and the filter groups of the pooled test."""
        from satori_jax.interpret import motifs as motif_lib
        from satori_jax.interpret.pooled import filter_groups
        from satori_jax.interpret.report import filter_names

        self.pwms, self.n_sites = motif_lib.pwms_from_counts(self.store.reader(3, self.n_chunks)())
        self.matches = self.timed("tomtom", lambda: motif_lib.match_filters(self.pwms, self.n_sites, self.db))
        self.log(f"{int((self.n_sites >= motif_lib.MIN_SITES).sum())} of {self.num_filters} filters have >= "
                 f"{motif_lib.MIN_SITES} sites; TomTom: {sum(m.matched for m in self.matches)} match a "
                 f"database motif (q < {motif_lib.MATCH_Q})")
        groups, self.group_names = filter_groups(filter_names(self.matches, self.num_filters)[0])
        self.groups = groups if self.opts.tf_pool and len(self.group_names) >= 2 else None

    # ---- pass 2 --------------------------------------------------------------------------------

    def pass2(self) -> None:
        from satori_jax.interpret.interactions import PairScores
        from satori_jax.interpret.pooled import method_folds

        o = self.opts
        t = time.perf_counter()
        verbose = o.verbose and not self.streamed
        chunks = self.source.chunks(self.chunk_size, self.length, keep=self.own, strict=self.strict)
        for k, (_, codes, _) in enumerate(chunks):
            if codes is None or self.store.has(2, k):
                continue
            z = self.store.get(1, k)
            fg_codes = codes[z["fg"]]
            fg_t = np.asarray(z["targets"]).astype(bool)
            if self.background == "negatives":
                bg_codes = codes[z["bg"]]
                bg_t = np.ones((len(bg_codes), 1), bool)
            elif len(fg_codes):
                from satori_jax.data.shuffle import shuffled_background

                bg_codes = shuffled_background(self.model, self.variables, fg_codes, self.motif_thresholds,
                                               np.random.default_rng([o.seed, k]), batch_size=o.batch_size,
                                               verbose=verbose)
                bg_t = fg_t.copy()
            else:
                bg_codes, bg_t = fg_codes, fg_t
            res: dict[str, Any] = {}
            for m in o.methods:
                tm = time.perf_counter()
                self.log(f"method {m}: scoring {len(fg_codes)} foreground + {len(bg_codes)} background "
                         f"examples (chunk {k + 1})")
                for side, c, tg in (("fg", fg_codes, fg_t), ("bg", bg_codes, bg_t)):
                    ps = self.scorers[m].score(self.ctx, c, tg) if len(c) else PairScores.empty(0)
                    for name, scores, nf in method_folds(m, ps, self.num_filters, self.groups,
                                                         len(self.group_names), self.normalised[m]):
                        for key, v in self.acc.fold(name, scores, nf).items():
                            res[f"{name}/{side}/{key}"] = v
                res[f"{m}/seconds"] = np.float64(time.perf_counter() - tm)
            self.store.put(2, k, res)
            self.log(f"pass 2: chunk {k + 1}/{self.n_chunks} done")
        self.log.step("pass2", time.perf_counter() - t)

    # ---- final ---------------------------------------------------------------------------------

    def final(self) -> dict:
        from satori_jax.interpret import motifs as motif_lib
        from satori_jax.interpret import outputs, report
        from satori_jax.interpret.pooled import pooled_test

        o, out, log = self.opts, self.out, self.log
        method_seconds = {m: 0.0 for m in o.methods}
        for z in self.store.reader(2, self.n_chunks)():
            for m in o.methods:
                method_seconds[m] += float(z[f"{m}/seconds"])
        pwms, n_sites, matches = self.pwms, self.n_sites, self.matches
        motif_lib.write_filters_meme(out / "filters.meme", motif_lib.filter_motifs(pwms, n_sites), n_sites)
        motif_lib.write_tomtom_table(out / "filters_tomtom.tsv", matches)
        n_matched = sum(m.matched for m in matches)

        images: dict[str, Any] = {"logos": [], "attention": [], "overlap": None, "extra": []}
        top_codes = np.stack([x[2] for x in self.tops])
        top_targets = np.stack([x[3] for x in self.tops]).astype(bool)
        drawer = outputs.LogoDrawer()  # logos in a worker process while the tests and tables go on
        try:
            if o.plots:
                self.timed("motif_plots", lambda: outputs.motif_plots(
                    out, pwms, matches, self.tops, self.thresholds, self.model, self.variables, self.cfg,
                    images, o.max_logos, log, drawer))

            summary_methods: dict[str, dict] = {}
            tables, tf_tables, top_labels = {}, {}, {}
            chunks = self.store.reader(2, self.n_chunks)
            for m in o.methods:
                t = time.perf_counter()
                res = self.acc.test(chunks, m, self.num_filters, o)
                stats = res.stats
                pooled = (None if self.groups is None  # the TF-pooled test (interpret/pooled.py)
                          else pooled_test(self.acc, chunks, m, self.group_names, o))
                rows, tf_rows, sig, fam_counts, excess = outputs.method_tables(
                    out, m, stats, matches, self.num_filters, o.alpha, o.min_effect, pooled, o.partner_rule)
                n_sig = int(sig.sum())
                tables[m], tf_tables[m] = rows, tf_rows
                top_labels[m] = [report.pair_label(r["tf_a"], r["tf_b"]) for r in tf_rows]
                dist = (res.distance_summary(stats["filter_a"][sig], stats["filter_b"][sig]) if sig.any()
                        else None)
                seconds = method_seconds[m] + time.perf_counter() - t
                entry = outputs.method_entry(
                    n_examples=res.n_examples, n_background=res.n_background, n_observed=res.n_observed,
                    cut_value=res.cut_value, rows=rows, tf_rows=tf_rows, n_sig=n_sig, fam_counts=fam_counts,
                    seconds=seconds, dist=dist, truth=self.truth, excess=excess, pooled=pooled)
                entry["null"] = {"kind": o.null, "centre": res.null_centre, "scale": res.null_scale}
                summary_methods[m] = entry
                log(f"method {m}: {len(rows)} pairs tested, {n_sig} significant filter pairs, "
                    f"{len(tf_rows)} TF pairs ({len(excess['tf_rows'])} stand out beyond their "
                    f"{'TFs' if excess['level'] == 'tf' else 'filters'}' other pairs), "
                    f"{seconds:.1f} s")
                if o.plots:
                    t = time.perf_counter()
                    images[m] = outputs.method_plots(out, m, tf_rows, fam_counts, res.distances)
                    scorer = self.scorers[m]
                    if scorer.plots is not None:
                        try:
                            images["extra"].extend(scorer.plots(self.ctx, out, top_codes, top_targets))
                        except Exception as exc:  # noqa: BLE001 - a plot must not sink the run
                            log(f"{m} plots skipped: {exc}")
                    log.step(f"plots_{m}", time.perf_counter() - t)
            outputs.overlap_plot(out, images, top_labels, list(o.methods), o.plots)
            if o.plots:
                self.timed("pair_logos",
                           lambda: outputs.pair_logos(out, pwms, matches, tf_tables, images, drawer, self.db))
                self.timed("logos_wait", drawer.wait)  # the report embeds them
        finally:
            drawer.close()
        summary = {"methods": summary_methods, "run": self.run_summary(n_sites, n_matched)}
        return outputs.write_outputs(out, summary, self.truth, self.t_start, tables, tf_tables, images,
                                     log)

    def run_summary(self, n_sites: np.ndarray, n_matched: int) -> dict:
        """``summary["run"]``: the run, the test set, the settings (:class:`InterpretOptions`), the device."""
        import jax

        import satori_jax
        from satori_jax.interpret import motifs as motif_lib

        o = self.opts
        fields = {**o.summary_fields(), "motif_fraction": float(self.motif_fraction)}
        run = {
            "run_dir": str(self.run_dir), "out_dir": str(self.out),
            "task": "binary" if self.binary else "multi-label", "label_names": self.label_names,
            "n_test": int(self.n_test), "n_foreground_selected": int(self.n_selected),
            "n_foreground": int(self.n_fg),
            "n_background": int(self.n_bg if self.background == "negatives" else self.n_fg),
            "background": self.background, "motif_db": str(o.motif_db), "n_db_motifs": len(self.db),
            "family_table": None if o.family_table is None else str(o.family_table),
            "num_filters": self.num_filters, "filter_width": int(self.cfg.model.filter_width),
            "n_filters_with_sites": int((n_sites >= motif_lib.MIN_SITES).sum()),
            "n_filters_matched": int(n_matched), **fields,
            "device": str(jax.devices()[0].platform),
        }
        if self.streamed:
            run.update({"n_devices": int(jax.device_count()), "n_processes": int(self.nproc),
                        "n_resized": int(self.n_resized)})
        if self.unknown_truth:
            run["truth_unknown_names"] = self.unknown_truth
        run.update({"version": getattr(satori_jax, "__version__", ""), "step_seconds": self.log.steps})
        if self.streamed:
            from satori_jax.interpret.accumulate import settings_hash

            run["streaming"] = {
                "inputs": {k: str(v) for k, v in self.source.files.items()}, "chunk_size": int(o.chunk_size),
                "n_chunks": int(self.n_chunks), "hist_bins": int(o.hist_bins),
                "score_ranges": {m: list(self.ranges[m]) for m in o.methods},
                "distance_bin_bp": int(self.acc.dist_width), "settings_hash": settings_hash(self.settings),
            }
        return run

    # ---- the whole ---------------------------------------------------------------------------

    def run(self) -> dict:
        """The whole interpretation (see the module docstring)."""
        self.t_start = time.perf_counter()
        self.setup()
        created = not self.out.exists()
        try:
            return self.passes()
        except InputError:
            if created and self.writer:  # a refused input leaves no --out behind that this call made
                import shutil

                shutil.rmtree(self.out, ignore_errors=True)
            raise

    def passes(self) -> dict:
        """``--out`` prepared, pass 1, pass 2, final; returns the summary."""
        from satori_jax.interpret.scorers import ScoreContext, available_methods

        self.prepare_out()
        self.n_chunks = self.together("pass 1", self.pass1)
        self.between()
        o = self.opts
        self.ctx = ScoreContext(self.model, self.variables, self.cfg, np.asarray(self.thresholds, np.float32),
                                int(o.batch_size), int(o.seed), o.verbose and not self.streamed,
                                extra={"matches": [], "attr_normalize": bool(o.attr_normalize),
                                       "attr_sign": o.attr_sign})
        self.scorers = available_methods()
        self.normalised = {m: self.scorers[m].normalised_test and o.fis_normalize for m in o.methods}
        self.together("motifs", self.motif_pass)
        self.together("naming", self.name_filters)
        self.ctx.extra["matches"] = self.matches
        self.acc = self.accumulator()
        self.together("pass 2", self.pass2)
        if not self.writer:  # process 0 writes the results; the others wait for them and return the same
            self.together("final", lambda: None)
            return json.loads((self.out / "summary.json").read_text())
        return self.together("final", self.final)
