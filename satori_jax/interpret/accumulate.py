"""Where the driver keeps per-chunk results, and how pair scores become tested pairs.

Two stores of chunk results:

- :class:`MemoryStore`: in memory, for a test set read in one go (the run's test set);
- :class:`DirStore`: ``OUT/stream/pass{1,2,3}_{chunk:05d}.npz`` (pass 3: the motifs pass), each
  written atomically, with
  ``OUT/stream/settings.json`` holding a hash of everything that decides the results (input files'
  paths, sizes and modification times, the run's checkpoint, the settings of
  :meth:`~satori_jax.interpret.options.InterpretOptions.resume_fields`). Rerunning the same command
  skips finished chunks; a different hash discards the old chunk files.

Two accumulators of pair scores, both ending in the same tables:

- :class:`ExactAccumulator` keeps every :class:`~satori_jax.interpret.interactions.PairScores` and
  tests with :func:`satori_jax.interpret.stats.test_pairs` (exact Mann–Whitney U);
- :class:`HistAccumulator` folds them at once into per-(filter pair) histograms
  (:mod:`satori_jax.interpret.histogram`), so memory does not grow with the number of sequences.

Both apply the same decisions (cutoff, zero-filled background, conditioned / observed test) and
finish with :func:`satori_jax.interpret.stats.finish_tests` (null, Benjamini–Hochberg, order).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax.errors import input_error

__all__ = ["DirStore", "ExactAccumulator", "HistAccumulator", "MemoryStore", "MethodTest", "settings_hash"]

#: Chunk file format (2: pass-2 chunks hold per-filter presence counts; 3: and seconds; 4: the
#: filters' K-mer counts in pass-3 chunks (naming before pass 2), the TF-pooled scores in pass 2).
FORMAT = 4


def settings_hash(settings: dict) -> str:
    """Short hash of a JSON-able settings dict (the resume key of a :class:`DirStore`)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def after_chunk(pass_no: int, chunk: int) -> None:
    """Hook called after a chunk's results are stored (tests inject failures here)."""


# --------------------------------------------------------------------------------------------
# stores
# --------------------------------------------------------------------------------------------


class MemoryStore:
    """Chunk results in a dict (nothing on disk, nothing to resume)."""

    persistent = False

    def __init__(self) -> None:
        self._items: dict[tuple[int, int], dict] = {}

    def has(self, pass_no: int, k: int) -> bool:
        return (pass_no, k) in self._items

    def put(self, pass_no: int, k: int, arrays: dict) -> None:
        self._items[(pass_no, k)] = arrays
        after_chunk(pass_no, k)

    def get(self, pass_no: int, k: int) -> Mapping[str, Any]:
        return self._items[(pass_no, k)]

    def reader(self, pass_no: int, n_chunks: int) -> Callable[[], Iterator[Mapping[str, Any]]]:
        """A callable yielding the ``n_chunks`` results of ``pass_no`` in order (every time it is called)."""
        return lambda: (self._items[(pass_no, k)] for k in range(n_chunks))


class DirStore:
    """Chunk results as ``.npz`` files in ``root`` (``OUT/stream``), resumable."""

    persistent = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, pass_no: int, k: int) -> Path:
        return self.root / f"pass{pass_no}_{k:05d}.npz"

    def has(self, pass_no: int, k: int) -> bool:
        return self._path(pass_no, k).is_file()

    def put(self, pass_no: int, k: int, arrays: dict) -> None:
        path = self._path(pass_no, k)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        after_chunk(pass_no, k)

    def get(self, pass_no: int, k: int) -> dict[str, np.ndarray]:
        with np.load(self._path(pass_no, k), allow_pickle=False) as z:
            return {key: z[key] for key in z.files}

    def reader(self, pass_no: int, n_chunks: int) -> Callable[[], Iterator[Mapping[str, Any]]]:
        """A callable yielding the ``n_chunks`` files of ``pass_no``, each opened lazily."""

        def chunks() -> Iterator[Mapping[str, Any]]:
            for k in range(n_chunks):
                with np.load(self._path(pass_no, k), allow_pickle=False) as z:
                    yield z

        return chunks

    def prepare(self, settings: dict, log: Callable[[str], None]) -> None:
        """Keep finished chunks made with the same ``settings``; otherwise start an empty directory."""
        h = settings_hash(settings)
        sfile = self.root / "settings.json"
        if self.root.is_dir() and sfile.is_file():
            try:
                old = json.loads(sfile.read_text()).get("hash")
            except (OSError, ValueError):
                old = None
            if old == h:
                n1 = len(list(self.root.glob("pass1_*.npz")))
                n2 = len(list(self.root.glob("pass2_*.npz")))
                log(f"resuming: {n1} pass-1 and {n2} pass-2 chunk(s) already done in {self.root}")
                return
            log(f"settings changed since the partial results in {self.root} were written; starting over")
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        from satori_jax.interpret.report import write_json

        write_json(sfile, {"hash": h, "settings": settings})

    def check_shared(self, settings: dict) -> None:
        """Fail unless process 0's ``settings.json`` (same settings) is visible here."""
        try:
            h = json.loads((self.root / "settings.json").read_text()).get("hash")
        except (OSError, ValueError):
            h = None
        if h != settings_hash(settings):
            raise input_error(self.root, "process 0's partial results are not visible from this host: with "
                                         "several processes --out must be a directory every process sees "
                                         "(a shared file system)")


# --------------------------------------------------------------------------------------------
# accumulators
# --------------------------------------------------------------------------------------------


@dataclass
class MethodTest:
    """One method's tested pairs and what the summary and plots need besides them.

    Attributes
    ----------
    stats
        Columns of :func:`satori_jax.interpret.stats.test_pairs`, sorted by q-value then p-value.
    cut_value
        The score cutoff used (``None``: ``"mean"`` over no foreground pair).
    n_observed, n_examples, n_background
        Observed foreground pairs; foreground and background example counts.
    null_centre, null_scale
        The null of the p-values (0 and 1 for the theoretical null).
    distance_summary
        ``(filter_a (S,), filter_b (S,)) -> {"median", "q25", "q75"}`` (bp) over those pairs'
        foreground observations.
    distances
        ``(filter_a (S,), filter_b (S,), side="fg") -> (D,)`` distances (bp) of those pairs in the
        foreground (``side="fg"``) or the background (``"bg"``), for plots.
    """

    stats: dict[str, np.ndarray]
    cut_value: float | None
    n_observed: int
    n_examples: int
    n_background: int
    null_centre: float
    null_scale: float
    distance_summary: Callable[[np.ndarray, np.ndarray], dict]
    distances: Callable[[np.ndarray, np.ndarray], np.ndarray]


class ExactAccumulator:
    """Keeps the pair scores; exact tests (:func:`satori_jax.interpret.stats.test_pairs`)."""

    kind = "exact"

    def fold(self, method: str, scores, num_filters: int) -> dict[str, Any]:
        """One chunk's :class:`PairScores` as stored (as is: only a :class:`MemoryStore` holds them)."""
        return {"scores": scores}

    def test(self, chunks: Callable[[], Iterator[Mapping]], method: str, num_filters: int,
             opts) -> MethodTest:
        from satori_jax.interpret.interactions import PairScores
        from satori_jax.interpret.stats import distance_summary, pair_index, test_pairs

        fg = PairScores.concat([z[f"{method}/fg/scores"] for z in chunks()])
        bg = PairScores.concat([z[f"{method}/bg/scores"] for z in chunks()])
        info: dict = {}
        stats = test_pairs(fg, bg, opts.attn_cutoff, num_filters, test=opts.test, null=opts.null, info=info)
        cut = opts.attn_cutoff
        cut_value = (float(np.mean(fg.score, dtype=np.float64)) if len(fg) else None) if cut == "mean" \
            else float(cut)

        scores = {"fg": fg, "bg": bg}
        index: dict = {}  # pair_index per side, built at its first query (plots ask for many)

        def select(fa: np.ndarray, fb: np.ndarray, side: str = "fg") -> dict:
            if side not in index:
                index[side] = pair_index(scores[side], num_filters)
            return distance_summary(scores[side], (fa, fb), num_filters, index=index[side])

        def summary(fa: np.ndarray, fb: np.ndarray) -> dict:
            d = select(fa, fb)
            return {k: d[k] for k in ("median", "q25", "q75")}

        def distances(fa: np.ndarray, fb: np.ndarray, side: str = "fg") -> np.ndarray:
            if len(fa) == 0 or len(scores[side]) == 0:
                return np.zeros(0)
            return select(np.minimum(fa, fb), np.maximum(fa, fb), side)["distances"]

        return MethodTest(stats, cut_value, fg.num_pairs(), fg.n_examples, bg.n_examples,
                          info["null_centre"], info["null_scale"], summary, distances)


class HistAccumulator:
    """Folds pair scores into per-pair histograms at once (:mod:`satori_jax.interpret.histogram`).

    Parameters
    ----------
    bins
        Score bins per method (:class:`~satori_jax.interpret.histogram.Bins`).
    length
        Sequence length (distances get 1-bp bins up to 511 bp, wider beyond).
    """

    kind = "histogram"

    def __init__(self, bins: dict, length: int) -> None:
        self.bins = bins
        self.dist_width = max(1, -(-(length + 1) // 512))
        self.dist_bins = -(-(length + 1) // self.dist_width)

    def fold(self, method: str, scores, num_filters: int) -> dict[str, np.ndarray]:
        """One chunk's :class:`PairScores` as sparse histogram increments (and filter presence)."""
        from satori_jax.interpret.histogram import fold

        return fold(scores, num_filters, self.bins[method], self.dist_width, self.dist_bins)

    def test(self, chunks: Callable[[], Iterator[Mapping]], method: str, num_filters: int,
             opts) -> MethodTest:
        from satori_jax.interpret import histogram as H
        from satori_jax.interpret.stats import finish_tests

        values = np.arange(self.dist_bins) * self.dist_width + (self.dist_width - 1) / 2.0
        stats, cut_value, n_obs, n_fg, n_bg = H.hist_method_stats(
            chunks, method, num_filters, self.bins[method], self.dist_bins, opts.attn_cutoff, values,
            opts.test)
        stats, centre, scale = finish_tests(stats, opts.null)

        def hist(fa: np.ndarray, fb: np.ndarray, side: str = "fg") -> np.ndarray:
            return H.hist_pair_distances(chunks, method, num_filters, self.dist_bins, fa, fb, side)

        def summary(fa: np.ndarray, fb: np.ndarray) -> dict:
            dh = hist(fa, fb)
            return {k: float(H.hist_quantile(dh, values, q)[0]) for k, q in
                    (("median", 0.5), ("q25", 0.25), ("q75", 0.75))}

        def distances(fa: np.ndarray, fb: np.ndarray, side: str = "fg") -> np.ndarray:
            return H.expand_distances(hist(np.asarray(fa), np.asarray(fb), side)[0], values)

        return MethodTest(stats, cut_value, n_obs, n_fg, n_bg, centre, scale, summary, distances)
