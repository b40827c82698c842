"""Streaming interpretation: test sets larger than memory, scored chunk by chunk, resumable.

``python -m satori_jax.interpret RUN --fasta F --labels T`` (or ``--data DIR``, or ``--bed B
--genome G``) interprets the model of ``RUN`` on that data instead of ``RUN/test_predictions.npz``.
The input is read ``chunk_size`` sequences at a time (:func:`iter_fasta_chunks`; BED regions are
fetched from the genome per chunk) in two passes:

1. **pass 1**, per chunk: predict, select foreground / background examples with the rules of
   :mod:`satori_jax.interpret.selection` (binary: positives ``p > prob_cutoff`` / negatives
   ``p < neg_cutoff``; multi-label: per-example precision), running per-filter maximum activation
   over the foreground (→ thresholds, exactly those of the in-memory path), the 3 most confident
   foreground examples (attention heatmaps) and a small sample of foreground / background examples;
2. between the passes each method scores the sample once to fix its histogram range (below);
3. **pass 2**, per chunk: filter K-mer counts (PWMs, summed over chunks), the background (the
   chunk's negatives, or a dinucleotide shuffle of the chunk's foreground with motifs embedded,
   seeded by ``(seed, chunk)``), and per method the :class:`~satori_jax.interpret.interactions.PairScores`
   of foreground and background, folded at once into per-(filter pair) **histograms** and dropped;
4. **final**: statistics from the histograms, then the same files as the in-memory path
   (``filters.meme``, ``filters_tomtom.tsv``, ``interactions_<method>.tsv``,
   ``tf_interactions_<method>.tsv``, plots, ``report.html``, ``summary.json`` last).

Memory
------
Nothing grows with the number of sequences except the labels table and the record ids (read once,
about 100 bytes per sequence) and one byte per sequence of selection flags per chunk file read:
one chunk's sequences and pair scores are in memory at a time. The final step holds, per method
and only for the *tested* filter pairs ``T``, ``(T, bins + 1)`` foreground and background
histograms and ``(T, D)`` distance histograms (uint32; ``T ≤ F(F−1)/2``; e.g. 200 filters, 1024
bins: at most 160 MB).

Histograms and the approximation
--------------------------------
Scores are non-negative (attention, absolute attributions). Bin 0 holds scores ``<= 0`` (exact
zeros, e.g. the zero-filled background of pairs never seen in the background); bins
``1 … bins`` are log-spaced over ``[lo, hi]`` (scores below ``lo`` go to bin 1, above ``hi`` to the
last bin). ``lo`` / ``hi`` come from the method's scores on the pass-1 sample (up to
``SAMPLE_SIZE`` foreground and background examples): ``lo = 10^(floor(log10 min) − 2)``,
``hi = 10^(ceil(log10 max) + 1)`` (``raw`` and normalised ``attr``: at most 1, attention weights
are probabilities and normalised maps peak at 1; for normalised ``attr`` the exact peaks get a bin
of their own).
With 1024 bins over 6 decades a bin spans 1.4 % of its value.

- Mann–Whitney U (:func:`mann_whitney_hist`) treats the scores inside a bin as ties (mid-ranks,
  tie-corrected normal approximation with continuity correction, as
  :func:`~satori_jax.interpret.stats.mann_whitney_greater`). It is **exact** when every score lies
  on its bin's representative value; otherwise only foreground/background pairs within one bin
  (< 1.4 % apart) are mis-ordered, so p-values differ little (tested against the exact test).
- Median scores are bin representatives (geometric bin centres; 0 for bin 0).
- Counts ``n_fg`` / ``n_bg``, the per-pair maximum (the cutoff test), the mean cutoff and the
  distances (1-bp bins for sequences up to 511 bp) are exact.

Resume
------
Every finished chunk is written atomically to ``OUT/stream/pass{1,2}_{chunk:05d}.npz``;
``OUT/stream/settings.json`` holds a hash of everything that determines the results (input
files' paths, sizes and modification times, run checkpoint, cutoffs, methods, chunk size, bins,
seed). Rerunning the same command skips finished chunks; a different hash discards the old
chunk files. ``summary.json`` is removed at the start and written last.

Several processes
-----------------
Started as one of ``P`` processes of a ``jax.distributed`` job (:func:`satori_jax.parallel.initialize`),
process ``p`` takes chunks ``p, p + P, p + 2P, …``: it parses the whole input to keep the chunk
boundaries and the id checks, but encodes (or fetches from the genome) and scores only its own
chunks, on its own devices. The chunk files are the same as one process would write, so ``OUT``
must be one directory that every process sees (checked: a clear error otherwise). The processes
meet after preparing ``OUT``, after each pass and at the end (:func:`satori_jax.parallel.first_error`);
an error in one process is raised in all of them. Process 0 fixes the histogram ranges and writes
the final results; the others return the same summary. A resumed run may use another number of
processes. Per-method ``seconds`` sum every chunk's scoring time over all processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax.data.sources import StreamSource, iter_fasta_chunks, open_source
from satori_jax.errors import InputError, input_error
from satori_jax.interpret.options import ACTIVITY_FRACTION, split_thresholds

__all__ = [
    "SAMPLE_SIZE",
    "StreamSource",
    "hist_median",
    "interpret_stream",
    "iter_fasta_chunks",
    "mann_whitney_hist",
    "open_source",
]

#: Foreground (and background) examples scored between the passes to fix the histogram ranges.
SAMPLE_SIZE = 128
#: Most-confident foreground examples kept for the attention heatmaps.
TOP_EXAMPLES = 3
_FORMAT = 3  # 2: pass-2 chunks hold per-filter presence counts (partner-conditioned test); 3: and seconds


# --------------------------------------------------------------------------------------------
# histogram statistics
# --------------------------------------------------------------------------------------------


def mann_whitney_hist(fg: np.ndarray, bg: np.ndarray, block: int = 2048, fg_zeros: np.ndarray | None = None,
                      bg_zeros: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Mann–Whitney U (foreground > background) from binned counts, every row at once.

    Scores in one bin count as ties (mid-ranks); otherwise identical to
    :func:`satori_jax.interpret.stats.mann_whitney_greater` (normal approximation, tie and continuity
    corrections), i.e. exact when all scores of a bin are equal.

    Parameters
    ----------
    fg, bg
        ``(T, K)`` counts per ordered bin.
    block
        Rows per vectorised block (bounds the float64 temporaries).
    fg_zeros, bg_zeros
        Optional ``(T,)`` extra counts added to the lowest bin (scores 0) of each row.

    Returns
    -------
    u, p
        ``(T,)`` U of the foreground and one-sided p-value (NaN where a side is empty).
    """
    t = fg.shape[0]
    u = np.full(t, np.nan)
    p = np.full(t, np.nan)
    from scipy.special import ndtr

    for s in range(0, t, block):
        f = np.array(fg[s : s + block], np.float64)
        b = np.array(bg[s : s + block], np.float64)
        if fg_zeros is not None:
            f[:, 0] += fg_zeros[s : s + block]
        if bg_zeros is not None:
            b[:, 0] += bg_zeros[s : s + block]
        n1, n2 = f.sum(1), b.sum(1)
        below = np.cumsum(b, axis=1) - b
        u1 = (f * (below + b / 2.0)).sum(1)
        tt = f + b
        tie = (tt**3 - tt).sum(1)
        n = n1 + n2
        ok = (n1 > 0) & (n2 > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.sqrt(n1 * n2 / 12.0 * ((n + 1.0) - tie / (n * (n - 1.0))))
            z = (u1 - n1 * n2 / 2.0 - 0.5) / sd
            pv = np.clip(ndtr(-z), 0.0, 1.0)
        u[s : s + block] = np.where(ok, u1, np.nan)
        p[s : s + block] = np.where(ok, pv, np.nan)
    return u, p


def hist_quantile(hist: np.ndarray, values: np.ndarray, q: float, midpoint: bool = True) -> np.ndarray:
    """Per-row quantile of binned data (NaN for empty rows).

    Parameters
    ----------
    hist
        ``(T, K)`` counts.
    values
        ``(K,)`` value of each bin.
    q
        Quantile in ``[0, 1]``.
    midpoint
        ``True``: mean of the two middle order statistics at ``q = 0.5`` (the usual median);
        in general ``numpy.percentile``'s linear interpolation between order statistics.
    """
    hist = np.atleast_2d(hist)
    n = hist.sum(1).astype(np.float64)
    cs = np.cumsum(hist, axis=1)
    h = (n - 1.0) * q
    lo, hi = np.floor(h), np.ceil(h)
    out = np.full(hist.shape[0], np.nan)
    ok = n > 0
    if not ok.any():
        return out

    def order_stat(k):  # value of the k-th (0-based) order statistic per row
        idx = (cs[ok] <= k[ok, None]).sum(1)
        return values[np.minimum(idx, len(values) - 1)].astype(np.float64)

    v_lo, v_hi = order_stat(lo), order_stat(hi)
    frac = (h - lo)[ok]
    out[ok] = v_lo + frac * (v_hi - v_lo)
    return out


def hist_median(hist: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-row median of binned data (NaN for empty rows)."""
    return hist_quantile(hist, values, 0.5)


@dataclass(frozen=True)
class _Bins:
    """Score bins of one method: bin 0 = scores <= 0, then ``n`` log-spaced bins over ``[lo, hi]``.

    With ``top`` (scores bounded by ``hi``, e.g. normalised maps whose per-example peak is
    ``hi``), scores within ``1e-6`` (relative) of ``hi`` get a last bin of their own, represented
    by ``hi`` itself: the many exact peaks then do not tie with scores just below them.
    """

    lo: float
    hi: float
    n: int
    top: bool = False

    @property
    def k(self) -> int:
        """Number of bins including bin 0 (and the ``top`` bin)."""
        return self.n + 1 + int(self.top)

    def index(self, s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = (np.log(np.maximum(s, 1e-300)) - np.log(self.lo)) / (np.log(self.hi) - np.log(self.lo))
        j = 1 + np.clip(np.floor(x * self.n), 0, self.n - 1).astype(np.int64)
        if self.top:  # the peak, to float precision (XLA may divide by multiplying with a reciprocal)
            j = np.where(s >= self.hi * (1.0 - 1e-6), self.n + 1, j)
        return np.where(s > 0, j, 0)

    def values(self) -> np.ndarray:
        r = np.log(self.hi / self.lo) / self.n
        v = [[0.0], self.lo * np.exp((np.arange(self.n) + 0.5) * r)]
        return np.concatenate(v + ([[self.hi]] if self.top else []))


def _range_from(scores: np.ndarray, bounded: bool) -> tuple[float, float]:
    """``(lo, hi)`` of the score bins (module docstring); ``bounded``: scores are at most 1."""
    s = np.asarray(scores, np.float64)
    s = s[np.isfinite(s) & (s > 0)]
    if s.size == 0:
        lo, hi = 1e-8, 1e2
    else:
        lo = 10.0 ** (np.floor(np.log10(s.min())) - 2)
        hi = 10.0 ** (np.ceil(np.log10(s.max())) + 1)
    if bounded:
        hi = min(hi, 1.0)
        lo = min(lo, 1e-3)
    return float(lo), float(hi)


# --------------------------------------------------------------------------------------------
# chunk files
# --------------------------------------------------------------------------------------------


def _save_npz(path: Path, **arrays) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _after_chunk(pass_no: int, chunk: int) -> None:
    """Hook called after a chunk file is written (tests inject failures here)."""


def _select_chunk(labels: np.ndarray, probs: np.ndarray, binary: bool, background: str, prob_cutoff: float,
                  neg_cutoff: float, precision_cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Selection rules of :func:`satori_jax.interpret.selection.select_examples` for one chunk, no errors.

    Returns ``fg (B,) bool``, ``targets (B, C) bool`` (rows of fg examples meaningful) and
    ``bg (B,) bool`` (negatives; all False for a shuffled background).
    """
    lab = np.asarray(labels).reshape(len(labels), -1) > 0.5
    p = np.asarray(probs, np.float64).reshape(lab.shape)
    if binary:
        fg = lab[:, 0] & (p[:, 0] > prob_cutoff)
        bg = (~lab[:, 0] & (p[:, 0] < neg_cutoff)) if background == "negatives" else np.zeros(len(lab), bool)
        return fg, np.ones_like(lab), bg
    pred = p > 0.5
    n_pred = pred.sum(1)
    tp = pred & lab
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp.sum(1) / np.maximum(n_pred, 1), np.nan)
    fg = (n_pred > 0) & (precision >= precision_cutoff)
    return fg, tp, np.zeros(len(lab), bool)


def _fold(scores, num_filters: int, bins: _Bins, dist_width: int, dist_bins: int) -> dict[str, np.ndarray]:
    """Fold one chunk's :class:`PairScores` into sparse histogram increments (and filter presence)."""
    from satori_jax.interpret.stats import filter_presence

    f = num_filters
    a = scores.filter_a.astype(np.int64)
    b = scores.filter_b.astype(np.int64)
    tri = a * f - a * (a + 1) // 2 + (b - a - 1)  # upper-triangle pair index
    k = bins.k
    keys, counts = np.unique(tri * k + bins.index(scores.score), return_counts=True)
    dk = tri * dist_bins + np.minimum(scores.distance.astype(np.int64) // dist_width, dist_bins - 1)
    dkeys, dcounts = np.unique(dk, return_counts=True)
    order = np.argsort(tri, kind="stable")
    t_sorted = tri[order]
    if t_sorted.size:
        starts = np.flatnonzero(np.concatenate([[True], t_sorted[1:] != t_sorted[:-1]]))
        pmax = np.maximum.reduceat(scores.score[order].astype(np.float32), starts)
        pairs = t_sorted[starts]
    else:
        pmax, pairs = np.zeros(0, np.float32), np.zeros(0, np.int64)
    return {"keys": keys.astype(np.uint64), "counts": counts.astype(np.uint32),
            "dkeys": dkeys.astype(np.uint64), "dcounts": dcounts.astype(np.uint32),
            "pairs": pairs, "pmax": pmax, "sum": np.float64(np.sum(scores.score, dtype=np.float64)),
            "count": np.int64(len(scores)), "n_examples": np.int64(scores.n_examples),
            "present": filter_presence(scores, f)}


# --------------------------------------------------------------------------------------------
# the streaming pipeline
# --------------------------------------------------------------------------------------------


def _together(name: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` here, then meet the other processes; an error in any of them stops all of them.

    One process: just ``fn()``. Several: every process calls this at the same point
    (:func:`satori_jax.parallel.first_error`), so none waits for one that failed.
    """
    from satori_jax import parallel

    err, res = None, None
    try:
        res = fn()
    except Exception as exc:  # noqa: BLE001 - handed to first_error, which re-raises it
        err = exc
    parallel.first_error(err, name)
    return res


def _check_shared(stream: Path, settings: dict) -> None:
    """Fail unless process 0's ``stream/settings.json`` (same settings) is visible here."""
    try:
        h = json.loads((stream / "settings.json").read_text()).get("hash")
    except (OSError, ValueError):
        h = None
    if h != _settings_hash(settings):
        raise input_error(stream, "process 0's partial results are not visible from this host: with "
                                  "several processes --out must be a directory every process sees "
                                  "(a shared file system)")


def _settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _prepare_stream_dir(stream: Path, settings: dict, log) -> None:
    h = _settings_hash(settings)
    sfile = stream / "settings.json"
    if stream.is_dir() and sfile.is_file():
        try:
            old = json.loads(sfile.read_text()).get("hash")
        except (OSError, ValueError):
            old = None
        if old == h:
            n1 = len(list(stream.glob("pass1_*.npz")))
            n2 = len(list(stream.glob("pass2_*.npz")))
            log(f"resuming: {n1} pass-1 and {n2} pass-2 chunk(s) already done in {stream}")
            return
        log(f"settings changed since the partial results in {stream} were written; starting over")
    if stream.exists():
        shutil.rmtree(stream)
    stream.mkdir(parents=True)
    from satori_jax.interpret.report import write_json

    write_json(sfile, {"hash": h, "settings": settings})


def _on_this_process_devices(fn: Callable) -> Callable:
    """Run ``fn`` with interpretation calls placed on this process's devices only."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from satori_jax import parallel
        from satori_jax.interpret.interactions import use_mesh

        with use_mesh(parallel.local_mesh()):
            return fn(*args, **kwargs)

    return wrapper


@_on_this_process_devices
def interpret_stream(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    data_dir: str | Path | None = None,
    fasta: str | Path | None = None,
    labels: str | Path | None = None,
    bed: str | Path | None = None,
    genome: str | Path | None = None,
    chunk_size: int = 10_000,
    hist_bins: int = 1024,
    methods: str | Sequence[str] = ("raw", "attr"),
    motif_db: str | Path = "jaspar2024",
    family_table: str | Path | None = None,
    background: str | None = None,
    truth: str | Path | None = None,
    attn_cutoff: str | float = "mean",
    prob_cutoff: float = 0.7,
    precision_cutoff: float = 0.5,
    activity_fraction: float = ACTIVITY_FRACTION,
    batch_size: int = 256,
    seed: int = 0,
    verbose: bool = True,
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
    """Interpret ``run_dir``'s model on a test set streamed from files (module docstring).

    Parameters
    ----------
    run_dir
        Trained run directory (config, data.json, checkpoints; ``test_predictions.npz`` is not used).
    out_dir
        Output directory (default ``RUN/interpret``); partial results in ``OUT/stream/``.
    data_dir, fasta, labels, bed, genome
        The test set: ``data_dir`` or ``fasta`` + ``labels`` or ``bed`` + ``genome``.
    chunk_size
        Sequences per chunk (bounds memory).
    hist_bins
        Log-spaced score bins per filter pair (module docstring).

    Other parameters are those of :func:`satori_jax.interpret.pipeline.interpret_run`.

    Returns
    -------
    dict
        The content of ``summary.json`` (``run.streaming`` describes the chunking and histograms).
    """
    import jax

    from satori_jax.interpret import motifs as motif_lib
    from satori_jax.interpret import report
    from satori_jax.interpret.pipeline import (
        ScoreContext,
        _check_test,
        _Log,
        _method_entry,
        _method_tables,
        _overlap_plot,
        _parse_cutoff,
        _write_outputs,
        available_methods,
        parse_methods,
    )

    nproc, pid = jax.process_count(), jax.process_index()
    writer = pid == 0  # process 0 prepares --out and writes the final results
    own = (lambda k: k % nproc == pid) if nproc > 1 else None  # chunks dealt out in turn
    log = _Log(verbose and writer)
    t_start = time.perf_counter()
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "interpret"
    method_list = parse_methods(methods)
    cutoff = _parse_cutoff(attn_cutoff)
    _check_test(test, null)
    if chunk_size < 1:
        raise InputError(f"--chunk-size must be >= 1, got {chunk_size}")
    if hist_bins < 16:
        raise InputError(f"--hist-bins must be >= 16, got {hist_bins}")
    if not run_dir.is_dir():
        raise input_error(run_dir, "no such run directory")
    truth_pairs = None
    if truth is not None:
        from satori_jax.interpret.evaluate import read_truth

        truth_pairs = read_truth(truth)
    source = open_source(data_dir=data_dir, fasta=fasta, labels=labels, bed=bed, genome=genome)
    t = time.perf_counter()
    db = motif_lib.load_motif_db(motif_db, family_table)
    log.step("motif_db", time.perf_counter() - t)

    from satori_jax.interpret.interactions import Placement
    from satori_jax.predict import make_predict_fn, predict_probs
    from satori_jax.runs import load_model

    cfg, model, variables, info = load_model(run_dir)
    label_names = list(info["label_names"])
    length = int(info["length"])
    if len(source.label_names) != len(label_names):
        path = source.files.get("labels", source.files.get("bed"))
        raise input_error(path, f"{len(source.label_names)} label column(s) "
                                f"({', '.join(source.label_names)}); the model of {run_dir} has "
                                f"{len(label_names)} ({', '.join(label_names)})")
    binary = len(label_names) == 1
    if background is None:
        background = "negatives" if binary else "shuffle"
    if background not in ("negatives", "shuffle"):
        raise InputError(f"background must be 'negatives' or 'shuffle', got {background!r}")
    if background == "negatives" and not binary:
        raise InputError("background 'negatives' needs a binary task; use 'shuffle' for multi-label data")
    num_filters = int(cfg.model.num_filters)
    ckpt = run_dir / "checkpoints" / "best"
    settings = {
        "format": _FORMAT, "inputs": source.stamp(), "run": str(run_dir.resolve()),
        "checkpoint": sorted((str(p.relative_to(ckpt)), p.stat().st_size, p.stat().st_mtime_ns)
                             for p in ckpt.rglob("*") if p.is_file()) if ckpt.is_dir() else None,
        "chunk_size": int(chunk_size), "hist_bins": int(hist_bins), "methods": method_list,
        "background": background, "prob_cutoff": float(prob_cutoff), "neg_cutoff": float(neg_cutoff),
        "precision_cutoff": float(precision_cutoff), "activity_fraction": float(activity_fraction),
        "motif_fraction": None if motif_fraction is None else float(motif_fraction),
        "attr_normalize": bool(attr_normalize), "seed": int(seed), "length": length,
    }
    stream = out / "stream"

    def prepare() -> None:
        if writer:
            out.mkdir(parents=True, exist_ok=True)
            stale = out / "summary.json"
            if stale.exists():
                stale.unlink()  # an interrupted re-run must not look complete
            _prepare_stream_dir(stream, settings, log)
            if nproc > 1:
                log(f"{nproc} processes: each reads and scores every {nproc}th chunk on its own devices")

    _together("preparing --out", prepare)
    _together("checking --out", lambda: None if writer else _check_shared(stream, settings))
    place = Placement()
    mesh = place.mesh
    predict_fn = make_predict_fn(model)

    # ---- pass 1: predictions, selection, running filter maxima -------------------------------
    from satori_jax.interpret.activity import filter_thresholds

    def pass1() -> int:
        t = time.perf_counter()
        n_chunks = 0
        for k, (ids, codes, lab) in enumerate(source.chunks(chunk_size, length, keep=own)):
            n_chunks = k + 1
            path = stream / f"pass1_{k:05d}.npz"
            if codes is None or path.is_file():
                continue
            probs = predict_probs(model, variables, codes, batch_size, predict_fn=predict_fn, mesh=mesh)
            fg, targets, bg = _select_chunk(lab, probs, binary, background, prob_cutoff, neg_cutoff,
                                            precision_cutoff)
            fgi = np.flatnonzero(fg)
            fmax = (filter_thresholds(model, variables, codes[fgi], 1.0, batch_size) if fgi.size
                    else np.full(num_filters, -np.inf, np.float32))
            conf = np.where(targets[fgi], probs[fgi], -np.inf).max(axis=1) if fgi.size else np.zeros(0)
            top = fgi[np.argsort(-conf, kind="stable")[:TOP_EXAMPLES]]
            bgi = np.flatnonzero(bg)
            top_conf = np.where(targets[top], probs[top], -np.inf).max(axis=1) if top.size else np.zeros(0)
            _save_npz(path, n=np.int64(len(ids)), fg=fg, bg=bg, targets=targets[fg],
                      probs=probs.astype(np.float32), labels=np.asarray(lab, np.float32),
                      fmax=np.asarray(fmax, np.float32), top_conf=top_conf,
                      top_ids=np.asarray([ids[i] for i in top], dtype=str), top_codes=codes[top],
                      top_targets=targets[top], sample_fg=codes[fgi[:SAMPLE_SIZE]],
                      sample_fg_targets=targets[fgi[:SAMPLE_SIZE]], sample_bg=codes[bgi[:SAMPLE_SIZE]])
            _after_chunk(1, k)
            log(f"pass 1: chunk {k + 1} ({len(ids)} sequences, {fgi.size} foreground, {bgi.size} background)")
        log.step("pass1", time.perf_counter() - t)
        return n_chunks

    n_chunks = _together("pass 1", pass1)

    # ---- between the passes: thresholds, exemplars, sample --------------------------------------
    n_test = n_fg = n_bg = 0
    fmax = np.full(num_filters, -np.inf, np.float32)
    tops: list[tuple[float, str, np.ndarray, np.ndarray]] = []
    samp_fg, samp_fgt, samp_bg = [], [], []
    for k in range(n_chunks):
        z = _load_npz(stream / f"pass1_{k:05d}.npz")
        n_test += int(z["n"])
        n_fg += int(z["fg"].sum())
        n_bg += int(z["bg"].sum())
        fmax = np.maximum(fmax, z["fmax"])
        tops += [(float(c), str(i), cd, tg) for c, i, cd, tg in
                 zip(z["top_conf"], z["top_ids"], z["top_codes"], z["top_targets"], strict=True)]
        tops = sorted(tops, key=lambda x: -x[0])[:TOP_EXAMPLES]
        if sum(len(s) for s in samp_fg) < SAMPLE_SIZE:
            samp_fg.append(z["sample_fg"])
            samp_fgt.append(z["sample_fg_targets"])
        if sum(len(s) for s in samp_bg) < SAMPLE_SIZE:
            samp_bg.append(z["sample_bg"])
    if n_fg == 0 or (background == "negatives" and n_bg == 0):
        from satori_jax.interpret.selection import select_examples

        parts = [_load_npz(stream / f"pass1_{k:05d}.npz") for k in range(n_chunks)]
        select_examples(np.concatenate([p["labels"] for p in parts]),
                        np.concatenate([p["probs"] for p in parts]),
                        prob_cutoff=prob_cutoff, neg_cutoff=neg_cutoff, precision_cutoff=precision_cutoff,
                        background=background)  # raises the in-memory path's error
        raise InputError("no foreground / background example selected")  # pragma: no cover
    thresholds, motif_thresholds, motif_fraction = split_thresholds(fmax, activity_fraction, motif_fraction)
    log(f"{n_test} test sequences in {n_chunks} chunk(s); foreground {n_fg}, background ({background}) "
        f"{n_bg if background == 'negatives' else n_fg}")

    ctx = ScoreContext(model, variables, cfg, np.asarray(thresholds, np.float32), int(batch_size), int(seed),
                       False, extra={"matches": [], "attr_normalize": bool(attr_normalize)})
    scorers = available_methods()
    # normalised attr maps peak at exactly 1: bounded bins with a bin of their own for the peaks
    peaked = {m: m == "attr" and bool(attr_normalize) for m in method_list}
    rfile = stream / "ranges.json"

    def score_ranges() -> None:
        """Process 0, unless a resumed run has them: score ranges from the pass-1 sample."""
        if not writer or rfile.is_file():
            return
        s_fg = np.concatenate(samp_fg)[:SAMPLE_SIZE]
        s_fgt = np.concatenate(samp_fgt)[:SAMPLE_SIZE].astype(bool)
        if background == "negatives":
            s_bg = np.concatenate(samp_bg)[:SAMPLE_SIZE]
            s_bgt = np.ones((len(s_bg), 1), bool)
        else:
            from satori_jax.data.shuffle import shuffled_background

            s_bg = shuffled_background(model, variables, s_fg, motif_thresholds,
                                       np.random.default_rng([seed, 10**6]), batch_size=batch_size)
            s_bgt = s_fgt.copy()
        t = time.perf_counter()
        ranges = {}
        for m in method_list:
            sc = [scorers[m].score(ctx, s_fg, s_fgt).score, scorers[m].score(ctx, s_bg, s_bgt).score]
            ranges[m] = _range_from(np.concatenate(sc), bounded=m == "raw" or peaked[m])
        report.write_json(rfile, ranges)
        log.step("ranges", time.perf_counter() - t)

    _together("score ranges", score_ranges)
    ranges = json.loads(rfile.read_text())
    bins = {m: _Bins(float(ranges[m][0]), float(ranges[m][1]), int(hist_bins), top=peaked[m])
            for m in method_list}
    dist_width = max(1, -(-(length + 1) // 512))
    dist_bins = -(-(length + 1) // dist_width)

    # ---- pass 2: motifs, background, per-method histograms ---------------------------------------
    from satori_jax.interpret.interactions import PairScores

    def pass2() -> None:
        t = time.perf_counter()
        for k, (_, codes, _) in enumerate(source.chunks(chunk_size, length, keep=own)):
            path = stream / f"pass2_{k:05d}.npz"
            if codes is None or path.is_file():
                continue
            z = _load_npz(stream / f"pass1_{k:05d}.npz")
            fg_codes = codes[z["fg"]]
            fg_t = z["targets"].astype(bool)
            if background == "negatives":
                bg_codes = codes[z["bg"]]
                bg_t = np.ones((len(bg_codes), 1), bool)
            elif len(fg_codes):
                from satori_jax.data.shuffle import shuffled_background

                bg_codes = shuffled_background(model, variables, fg_codes, motif_thresholds,
                                               np.random.default_rng([seed, k]), batch_size=batch_size)
                bg_t = fg_t.copy()
            else:
                bg_codes, bg_t = fg_codes, fg_t
            counts, n_sites = motif_lib.filter_pwms(model, variables, fg_codes, motif_thresholds, cfg.model,
                                                    batch_size=batch_size)
            res: dict[str, np.ndarray] = {"counts": counts, "n_sites": n_sites}
            for m in method_list:
                tm = time.perf_counter()
                for side, c, tg in (("fg", fg_codes, fg_t), ("bg", bg_codes, bg_t)):
                    ps = scorers[m].score(ctx, c, tg) if len(c) else PairScores.empty(0)
                    for key, v in _fold(ps, num_filters, bins[m], dist_width, dist_bins).items():
                        res[f"{m}/{side}/{key}"] = v
                res[f"{m}/seconds"] = np.float64(time.perf_counter() - tm)
            _save_npz(path, **res)
            _after_chunk(2, k)
            log(f"pass 2: chunk {k + 1}/{n_chunks} done")
        log.step("pass2", time.perf_counter() - t)

    _together("pass 2", pass2)
    if not writer:  # process 0 writes the results; the others wait for them and return the same summary
        _together("final", lambda: None)
        return json.loads((out / "summary.json").read_text())

    # ---- final (process 0): motifs ---------------------------------------------------------------
    def final() -> dict:
        t = time.perf_counter()
        counts = np.zeros((num_filters, int(cfg.model.filter_width), 4))
        n_sites = np.zeros(num_filters, np.int64)
        method_seconds = {m: 0.0 for m in method_list}
        for k in range(n_chunks):
            with np.load(stream / f"pass2_{k:05d}.npz") as z:
                counts += z["counts"]
                n_sites += z["n_sites"]
                for m in method_list:
                    method_seconds[m] += float(z[f"{m}/seconds"])
        pwms = motif_lib.to_pwm(counts, 0.1)
        motif_lib.write_filters_meme(out / "filters.meme", motif_lib.filter_motifs(pwms, n_sites), n_sites)
        matches = motif_lib.match_filters(pwms, n_sites, db)
        motif_lib.write_tomtom_table(out / "filters_tomtom.tsv", matches)
        n_matched = sum(m.matched for m in matches)
        ctx.extra["matches"] = matches
        log.step("motifs", time.perf_counter() - t)
        log(f"{n_matched} filters match a database motif")

        images: dict[str, Any] = {"logos": [], "attention": [], "overlap": None, "extra": []}
        top_codes = np.stack([x[2] for x in tops])
        top_targets = np.stack([x[3] for x in tops]).astype(bool)
        if plots:
            _motif_plots(out, pwms, matches, tops, thresholds, model, variables, cfg, images, max_logos, log)

        # ---- final: statistics per method ------------------------------------------------------------
        from satori_jax.interpret.stats import benjamini_hochberg, empirical_null

        summary_methods: dict[str, dict] = {}
        tables, tf_tables, top_labels = {}, {}, {}
        dist_values = np.arange(dist_bins) * dist_width + (dist_width - 1) / 2.0
        for m in method_list:
            t = time.perf_counter()
            stats, cut_value, n_obs, n_ex_fg, n_ex_bg = _method_stats(
                stream, n_chunks, m, num_filters, bins[m], dist_bins, cutoff, dist_values, test)
            centre, scale = 0.0, 1.0
            if null == "empirical":
                stats["p_value"], centre, scale = empirical_null(stats["p_value"])
            stats["q_value"] = benjamini_hochberg(stats["p_value"])
            order = np.lexsort((stats["p_value"], stats["q_value"]))
            stats = {kk: v[order] for kk, v in stats.items()}
            rows, tf_rows, sig, fam_counts, excess = _method_tables(out, m, stats, matches, num_filters,
                                                                    alpha, min_effect)
            n_sig = int(sig.sum())
            tables[m], tf_tables[m] = rows, tf_rows
            top_labels[m] = [report.pair_label(r["tf_a"], r["tf_b"]) for r in tf_rows]
            dist = None
            if sig.any():
                dh = _sig_distance_hist(stream, n_chunks, m, num_filters, dist_bins, stats["filter_a"][sig],
                                        stats["filter_b"][sig])
                dist = {k2: float(hist_quantile(dh, dist_values, q)[0]) for k2, q in
                        (("median", 0.5), ("q25", 0.25), ("q75", 0.75))}
            seconds = method_seconds[m] + time.perf_counter() - t
            entry = _method_entry(n_examples=n_ex_fg, n_background=n_ex_bg, n_observed=n_obs,
                                  cut_value=cut_value, rows=rows, tf_rows=tf_rows, n_sig=n_sig,
                                  fam_counts=fam_counts, seconds=seconds, dist=dist, truth_pairs=truth_pairs,
                                  excess=excess)
            entry["null"] = {"kind": null, "centre": centre, "scale": scale}
            summary_methods[m] = entry
            log(f"method {m}: {len(rows)} pairs tested, {n_sig} significant filter pairs, "
                f"{len(tf_rows)} TF pairs ({len(excess['tf_rows'])} beyond their filters' enrichment)")
            if plots:
                from satori_jax.interpret import plots as plot_lib

                groups = {}
                for r in tf_rows[:15]:
                    pa = [tuple(int(x.removeprefix("filter")) for x in it.split("-"))
                          for it in r["filter_pairs"].split(";") if it]
                    groups[report.pair_label(r["tf_a"], r["tf_b"])] = _expand_distances(
                        _sig_distance_hist(stream, n_chunks, m, num_filters, dist_bins,
                                           np.array([p[0] for p in pa]), np.array([p[1] for p in pa]))[0],
                        dist_values)
                images[m] = {
                    "family": plot_lib.family_barplot(fam_counts, out / f"families_{m}.png",
                                                      title=f"{m}: significant TF pairs per family pair"),
                    "distance": plot_lib.distance_boxplot(groups, out / f"distances_{m}.png",
                                                          title=f"{m}: distances of the top TF pairs"),
                }
                scorer = scorers[m]
                if scorer.plots is not None:
                    try:
                        images["extra"].extend(scorer.plots(ctx, out, top_codes, top_targets))
                    except Exception as exc:  # noqa: BLE001 - a plot must not sink the run
                        log(f"{m} plots skipped: {exc}")
        _overlap_plot(out, images, top_labels, method_list, plots)

        import satori_jax

        summary = {
            "methods": summary_methods,
            "run": {
                "run_dir": str(run_dir), "out_dir": str(out), "task": "binary" if binary else "multi-label",
                "label_names": label_names, "n_test": int(n_test), "n_foreground_selected": int(n_fg),
                "n_foreground": int(n_fg), "n_background": int(n_bg if background == "negatives" else n_fg),
                "background": background, "motif_db": str(motif_db), "n_db_motifs": len(db),
                "family_table": None if family_table is None else str(family_table),
                "num_filters": num_filters,
                "filter_width": int(cfg.model.filter_width),
                "n_filters_with_sites": int((n_sites >= motif_lib.MIN_SITES).sum()),
                "n_filters_matched": int(n_matched), "activity_fraction": float(activity_fraction),
                "motif_fraction": float(motif_fraction), "attr_normalize": bool(attr_normalize),
                "attn_cutoff": cutoff, "prob_cutoff": float(prob_cutoff), "neg_cutoff": float(neg_cutoff),
                "precision_cutoff": float(precision_cutoff), "alpha": float(alpha),
                "min_effect": float(min_effect), "test": test, "null": null, "max_examples": None,
                "batch_size": int(batch_size), "seed": int(seed),
                "truth": None if truth is None else str(truth),
                "device": str(jax.devices()[0].platform), "n_devices": int(jax.device_count()),
                "n_processes": int(nproc),
                "version": getattr(satori_jax, "__version__", ""), "step_seconds": log.steps,
                "streaming": {
                    "inputs": {k2: str(v) for k2, v in source.files.items()}, "chunk_size": int(chunk_size),
                    "n_chunks": int(n_chunks), "hist_bins": int(hist_bins),
                    "score_ranges": {m: list(ranges[m]) for m in method_list},
                    "distance_bin_bp": int(dist_width), "settings_hash": _settings_hash(settings),
                },
            },
        }
        return _write_outputs(out, summary, truth_pairs, t_start, tables, tf_tables, images, log)

    return _together("final", final)


def _expand_distances(hist: np.ndarray, values: np.ndarray, cap: int = 20_000) -> np.ndarray:
    """Distances from a distance histogram (counts scaled down to at most ``cap`` values, for plots)."""
    hist = np.asarray(hist, np.float64)
    tot = hist.sum()
    if tot > cap:
        hist = np.round(hist * cap / tot)
    return np.repeat(values, hist.astype(np.int64))


def _method_stats(stream: Path, n_chunks: int, m: str, f: int, bins: _Bins, dist_bins: int, cutoff,
                  dist_values: np.ndarray, test: str = "conditioned"):
    """Per-pair statistics of method ``m`` from the pass-2 chunk files (two reads of the files).

    The same tests as :func:`satori_jax.interpret.stats.test_pairs` (``test``), on binned scores.
    """
    p_all = f * (f - 1) // 2
    k = bins.k
    n_fg = np.zeros(p_all, np.int64)
    n_bg = np.zeros(p_all, np.int64)
    pres_fg = np.zeros(f, np.int64)
    pres_bg = np.zeros(f, np.int64)
    pmax = np.full(p_all, -np.inf, np.float32)
    tot, cnt, ex_fg, ex_bg = 0.0, 0, 0, 0
    for c in range(n_chunks):
        with np.load(stream / f"pass2_{c:05d}.npz") as z:
            pres_fg += z[f"{m}/fg/present"]
            pres_bg += z[f"{m}/bg/present"]
            n_fg += np.bincount((z[f"{m}/fg/keys"] // k).astype(np.int64), weights=z[f"{m}/fg/counts"],
                                minlength=p_all).astype(np.int64)
            n_bg += np.bincount((z[f"{m}/bg/keys"] // k).astype(np.int64), weights=z[f"{m}/bg/counts"],
                                minlength=p_all).astype(np.int64)
            pairs = z[f"{m}/fg/pairs"]
            pmax[pairs] = np.maximum(pmax[pairs], z[f"{m}/fg/pmax"])
            tot += float(z[f"{m}/fg/sum"])
            cnt += int(z[f"{m}/fg/count"])
            ex_fg += int(z[f"{m}/fg/n_examples"])
            ex_bg += int(z[f"{m}/bg/n_examples"])
    if isinstance(cutoff, str):
        cut = tot / cnt if cnt else np.inf
        cut_value = float(cut) if cnt else None
    else:
        cut = cut_value = float(cutoff)
    has = n_fg > 0
    passing = has & (pmax >= cut)
    zero_fill = passing & (n_bg == 0) & (ex_bg > 0)
    tested = passing & ((n_bg > 0) | zero_fill)
    tid = np.flatnonzero(tested)
    t = tid.size
    remap = np.full(p_all, -1, np.int64)
    remap[tid] = np.arange(t)
    hf = np.zeros((t, k), np.uint32)
    hb = np.zeros((t, k), np.uint32)
    hd = np.zeros((t, dist_bins), np.uint32)
    for c in range(n_chunks):
        with np.load(stream / f"pass2_{c:05d}.npz") as z:
            for side, h in (("fg", hf), ("bg", hb)):
                keys, counts = z[f"{m}/{side}/keys"].astype(np.int64), z[f"{m}/{side}/counts"]
                r = remap[keys // k]
                sel = r >= 0
                h[r[sel], (keys % k)[sel]] += counts[sel]  # keys are unique within a chunk
            keys, counts = z[f"{m}/fg/dkeys"].astype(np.int64), z[f"{m}/fg/dcounts"]
            r = remap[keys // dist_bins]
            sel = r >= 0
            hd[r[sel], (keys % dist_bins)[sel]] += counts[sel]
    from satori_jax.interpret.stats import conditioning_sizes, weaker_direction, zero_background_test

    ia, ib = np.triu_indices(f, 1)
    zf = np.flatnonzero(zero_fill[tid])
    n_pos = hf[zf, 1:].sum(1)  # scores in the lowest bin count as ties with 0
    if test == "observed":
        bz = np.where(zero_fill[tid], ex_bg, 0).astype(np.float64)  # "0 in every background example"
        u, p = mann_whitney_hist(hf, hb, bg_zeros=bz)
        effect = u / np.maximum(hf.sum(1).astype(np.float64) * (hb.sum(1) + bz), 1.0)
        if zf.size:  # as stats.test_pairs: zeros wherever unobserved, on both sides; exact p-value
            u[zf], p[zf], effect[zf] = zero_background_test(ex_fg, n_pos, ex_bg)
    else:  # as stats.test_pairs: given each partner, intersection-union
        m_fg, m_bg = conditioning_sizes(pres_fg, pres_bg, ex_fg, ex_bg)
        res = []
        for cf in (ia[tid], ib[tid]):
            n1, n2 = m_fg[cf], m_bg[cf]
            u1, p1 = mann_whitney_hist(hf, hb, fg_zeros=(n1 - n_fg[tid]).astype(np.float64),
                                       bg_zeros=(n2 - n_bg[tid]).astype(np.float64))
            e1 = u1 / np.maximum(n1.astype(np.float64) * n2, 1.0)
            if zf.size:
                u1[zf], p1[zf], e1[zf] = zero_background_test(n1[zf], n_pos, n2[zf])
            res.append((u1, p1, e1))
        u, p, effect, testable = weaker_direction(*([r[j] for r in res] for j in range(3)))
        p = np.where(testable, p, np.nan)
    vals = bins.values()
    med_bg = np.where(n_bg[tid] == 0, 0.0, hist_median(hb, vals))  # 0: never seen in the background
    stats = {
        "filter_a": ia[tid].astype(np.int32), "filter_b": ib[tid].astype(np.int32),
        "n_fg": n_fg[tid], "n_bg": n_bg[tid], "median_score_fg": hist_median(hf, vals),
        "median_score_bg": med_bg, "median_distance_bp": hist_median(hd, dist_values),
        "max_score_fg": pmax[tid].astype(np.float64), "u_statistic": u, "p_value": p,
        "effect_size": effect,
    }
    return stats, cut_value, int(has.sum()), ex_fg, ex_bg


def _sig_distance_hist(stream: Path, n_chunks: int, m: str, f: int, dist_bins: int, fa: np.ndarray,
                       fb: np.ndarray) -> np.ndarray:
    """``(1, D)`` foreground distance histogram pooled over the listed filter pairs."""
    fa, fb = np.asarray(fa, np.int64), np.asarray(fb, np.int64)
    lo, hi = np.minimum(fa, fb), np.maximum(fa, fb)
    want = lo * f - lo * (lo + 1) // 2 + (hi - lo - 1)
    h = np.zeros((1, dist_bins), np.int64)
    for c in range(n_chunks):
        with np.load(stream / f"pass2_{c:05d}.npz") as z:
            keys, counts = z[f"{m}/fg/dkeys"].astype(np.int64), z[f"{m}/fg/dcounts"]
            sel = np.isin(keys // dist_bins, want)
            h[0] += np.bincount(keys[sel] % dist_bins, weights=counts[sel],
                                minlength=dist_bins).astype(np.int64)
    return h


def _motif_plots(out: Path, pwms, matches, tops, thresholds, model, variables, cfg, images, max_logos, log):
    """Logos of matched filters and attention heatmaps of the most confident foreground examples."""
    import jax.numpy as jnp

    from satori_jax.data.encoding import one_hot
    from satori_jax.interpret import plots as plot_lib
    from satori_jax.interpret.activity import pooled_activity

    ranked = sorted((m for m in matches if m.matched), key=lambda m: (m.q_value, m.filter))[:max_logos]
    for m in ranked:
        p = plot_lib.logo(pwms[m.filter], out / "logos" / f"filter{m.filter}.png",
                          title=f"filter{m.filter}: {m.target} ({m.target_id}) q={m.q_value:.2g}")
        images["logos"].append((p, f"filter{m.filter} ~ {m.target}, {m.n_sites} sites"))
    try:
        codes = np.stack([x[2] for x in tops])
        _, inter = model.apply(variables, one_hot(jnp.asarray(codes)), train=False)
        attn = np.asarray(inter["attention"]).max(axis=1)
        pool = int(cfg.model.pool_size)
        active = np.asarray(pooled_activity(inter["conv"], jnp.asarray(thresholds), pool))
        lp = active.shape[1]
        c = np.asarray(inter["conv"])[:, : lp * pool].reshape(len(codes), lp, pool, -1).max(axis=2)
        names = {mm.filter: mm.target for mm in matches if mm.matched}
        for e, (_, rid, _, _) in enumerate(tops):
            marks = []
            for p_ in range(lp):
                named = [f for f in np.flatnonzero(active[e, p_]) if f in names]
                if named:
                    marks.append((p_, names[max(named, key=lambda f: c[e, p_, f])]))
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in rid)
            p = plot_lib.attention_heatmap(attn[e], marks, out / f"attention_{safe}.png",
                                           title=f"test example {rid}", pool_size=pool)
            images["attention"].append((p, f"test example {rid}: raw attention, max over heads"))
    except Exception as exc:  # noqa: BLE001 - a plot must not sink the run
        log(f"attention heatmaps skipped: {exc}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use python -m satori_jax.interpret RUN --fasta F --labels T")
