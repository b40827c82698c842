"""One input layer: sequence sources read in chunks, for interpretation and attribution.

A source is an ordered set of sequences with ids and, where the input has them, labels. Kinds:

* :class:`RunSource` (``kind = "run"``): a run's test set, ``RUN/test_predictions.npz`` (``ids``,
  ``codes``, ``labels``; label names from ``RUN/data.json``);
* :class:`FastaSource` (``kind = "fasta"``): a FASTA file, with a labels TSV (records matched by
  id) or without labels (for consumers that need none, e.g. attribution); a dataset directory
  (``sequences.fa`` [+ ``labels.tsv``]) is a FASTA source of its files;
* :class:`BedSource` (``kind = "bed"``): BED regions, with or without label columns, fetched from a
  genome FASTA per chunk.

:func:`open_source` checks a combination of inputs and opens the source. Every source has ``files``
(input files by role: ``predictions``, ``fasta``, ``labels``, ``bed``, ``genome``), ``label_names``
(``None`` without labels), ``n`` (number of sequences), :meth:`~StreamSource.stamp` (identity of the
files, for resume hashes), :meth:`~StreamSource.describe` (kind and resolved paths) and
:meth:`~StreamSource.chunks`, which yields ``(ids, codes (B, L) uint8, labels (B, C) float32 or
None)`` per chunk of ``chunk_size`` sequences in input order. Sequences of another length than
``L`` are centre-cropped / N-padded (FASTA, test sets; with ``strict`` an error instead) or
fetched as the window of ``L`` bp around the region's centre (BED); ``last_resized`` counts the
resized sequences of the chunk last yielded. ``keep(k)`` false skips chunk ``k``'s sequences
(``codes = None``: not encoded, not fetched from the genome) while its ids are still read and
checked, so that several processes can each take every ``P``-th chunk of one input.

Memory: one chunk of sequences, plus the labels table and ids of a labelled input (and the set of
ids seen, for the duplicate check). Unlabelled inputs are read as streams and their ``n`` is
counted by one extra pass on first use; their duplicate ids are not checked here (the attribution
exporter checks them with 8 bytes per record).

BED ids
-------
A BED region's id is the region *as given*, ``chrom:start-end`` (its own 0-based, half-open
coordinates; :func:`satori_jax.data.io.region_id`), not the window that is read: the sequence is
``[c − L // 2, c − L // 2 + L)`` with ``c = (start + end) // 2``. Training, interpretation and
attribution use this one convention, so one region has one id in every output. Two lines with the
same region are an error when labels are read (a labelled set must not hold a region twice).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from satori_jax.errors import InputError, input_error

__all__ = ["BedSource", "FastaSource", "RunSource", "StreamSource", "iter_fasta_chunks", "open_source"]

#: ``(ids (B,), codes (B, L) uint8 or None, labels (B, C) float32 or None)``
Chunk = tuple[list[str], np.ndarray | None, np.ndarray | None]
Keep = Callable[[int], bool] | None


def iter_fasta_chunks(
    path: str | Path, chunk_size: int, check_duplicates: bool = True
) -> Iterator[tuple[list[str], list[str]]]:
    """Read a FASTA file ``chunk_size`` records at a time.

    Records come from :func:`satori_jax.data.io.iter_fasta`: same format and checks as
    :func:`satori_jax.data.io.read_fasta` (plain or gzipped, multi-line records, CRLF and blank lines
    tolerated; errors for a missing / empty / binary / non-UTF-8 file, sequence before the first
    header, a header without an id, an empty record, a duplicated id unless ``check_duplicates`` is
    false), but only one chunk of sequences is in memory (plus the ids seen, for duplicates).

    Yields
    ------
    ids, seqs
        ``B`` record ids and sequences in file order (the last chunk may be shorter).

    Raises
    ------
    InputError
        As :func:`~satori_jax.data.io.read_fasta`, when the reader reaches the problem.
    """
    from satori_jax.data.io import iter_fasta

    chunk_size = max(1, int(chunk_size))
    ids: list[str] = []
    seqs: list[str] = []
    for rid, seq in iter_fasta(path, check_duplicates=check_duplicates):
        ids.append(rid)
        seqs.append(seq)
        if len(ids) >= chunk_size:
            yield ids, seqs
            ids, seqs = [], []
    if ids:
        yield ids, seqs


def _file_stamp(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path.resolve()), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


def _resized(codes: np.ndarray, length: int) -> np.ndarray:
    """``(B, length)`` codes centre-cropped / N-padded from ``(B, L)``."""
    from satori_jax.data.encoding import resize_codes

    if codes.shape[1] == length:
        return codes
    return np.stack([resize_codes(c, length) for c in codes]) if len(codes) else codes[:, :0]


class StreamSource:
    """A set of sequences read in chunks (the base of every source; see the module docstring).

    Attributes
    ----------
    kind
        ``"run"``, ``"fasta"`` or ``"bed"``.
    files
        Input files by role.
    label_names
        ``C`` label names, or ``None`` for an unlabelled input.
    """

    kind = ""
    #: Read chunk by chunk from files (interpretation folds pair scores into histograms); the
    #: run's own test set is held in memory instead.
    streamed = True

    def __init__(
        self, files: dict[str, Path], label_names: list[str] | None, n: int | None = None
    ) -> None:
        self.files = {k: Path(v) for k, v in files.items()}
        self.label_names = None if label_names is None else list(label_names)
        self._n = n
        #: Sequences of the chunk last yielded by :meth:`chunks` that were centre-cropped / N-padded.
        self.last_resized = 0

    @property
    def n(self) -> int:
        """Number of sequences (for an unlabelled stream: counted by one pass on first use)."""
        if self._n is None:
            self._n = sum(len(ids) for ids, _, _ in self.chunks(4096, 1, keep=lambda k: False))
        return self._n

    def stamp(self) -> dict:
        """Identity of the input files (path, size, modification time) for settings hashes."""
        return {k: _file_stamp(p) for k, p in sorted(self.files.items())}

    def describe(self) -> dict:
        """``{"kind": ..., role: resolved path, ...}`` (for manifests)."""
        return {"kind": self.kind, **{k: str(p.resolve()) for k, p in self.files.items()}}

    def chunks(self, chunk_size: int, length: int, keep: Keep = None,
               strict: str | None = None) -> Iterator[Chunk]:
        """``(ids (B,), codes (B, length) uint8 or None, labels (B, C) float32 or None)`` per chunk.

        Parameters
        ----------
        chunk_size
            Sequences per chunk (the last one may be shorter).
        length
            Sequence length ``L`` the codes are resized (FASTA, test set) or fetched (BED) to.
        keep
            ``keep(k)`` false: chunk ``k`` comes with ``codes = None`` (ids and labels still read).
        strict
            ``None``: resize FASTA records of another length (``last_resized`` counts them). A
            reason: a FASTA record of another length is an :class:`InputError` naming the record,
            both lengths and this reason (BED regions are always fetched at ``L``).

        Raises
        ------
        InputError
            Any problem with the input, when the reader reaches it.
        """
        raise NotImplementedError


class RunSource(StreamSource):
    """The test set of a finished run (``RUN/test_predictions.npz``), in its stored order, with the
    model's saved predictions (``probs (N, C)``), held in memory.

    Interpretation reads it as one chunk with exact statistics (``streamed = False``).
    """

    kind = "run"
    streamed = False

    def __init__(self, run_dir: str | Path) -> None:
        run_dir = Path(run_dir)
        pred, info = run_dir / "test_predictions.npz", run_dir / "data.json"
        if not run_dir.is_dir():
            raise input_error(run_dir, "no such run directory")
        if not pred.is_file():
            raise input_error(run_dir, "no test_predictions.npz (training has not finished; run "
                                       f"`python -m satori_jax.train --workdir {run_dir} --resume` first)")
        if not info.is_file():
            raise input_error(run_dir, "no data.json (not a finished satori_jax run)")
        with np.load(pred, allow_pickle=False) as z:
            self.ids = [str(i) for i in z["ids"]]
            self.codes = np.asarray(z["codes"], np.uint8)
            self.labels = np.asarray(z["labels"], np.float32)
            self.probs = np.asarray(z["probs"])
        super().__init__({"predictions": pred}, json.loads(info.read_text())["label_names"], len(self.ids))

    def chunks(self, chunk_size: int, length: int, keep: Keep = None,
               strict: str | None = None) -> Iterator[Chunk]:
        for k, s in enumerate(range(0, self.n, max(1, int(chunk_size)))):
            e = min(s + int(chunk_size), self.n)
            codes = None if keep is not None and not keep(k) else _resized(self.codes[s:e], length)
            self.last_resized = 0 if codes is None or self.codes.shape[1] == length else e - s
            yield self.ids[s:e], codes, self.labels[s:e]


class FastaSource(StreamSource):
    """A FASTA file, with a labels TSV (records matched by id) or without labels.

    With labels every record must have a labels row and every labels row a record (checked after
    the last chunk); labels come in the FASTA's order.
    """

    kind = "fasta"

    def __init__(self, fasta: str | Path, labels: str | Path | None = None) -> None:
        from satori_jax.data.io import read_labels

        fasta = Path(fasta)
        if not fasta.is_file():
            raise input_error(fasta, "FASTA file not found" if not fasta.exists() else
                              "expected a FASTA file, got a directory")
        self._index: dict[str, int] | None = None
        self._labels: np.ndarray | None = None
        if labels is None:
            super().__init__({"fasta": fasta}, None)
            return
        labels = Path(labels)
        ids, names, lab = read_labels(labels)
        if not ids:
            raise input_error(labels, "no labelled records (only a header)")
        self._index, self._labels = {rid: i for i, rid in enumerate(ids)}, lab
        super().__init__({"fasta": fasta, "labels": labels}, names, len(ids))

    def chunks(self, chunk_size: int, length: int, keep: Keep = None,
               strict: str | None = None) -> Iterator[Chunk]:
        from satori_jax.data.encoding import encode_sequence, encode_sequences, resize_codes

        fasta, index = self.files["fasta"], self._index
        seen = None if index is None else np.zeros(len(index), bool)
        reader = iter_fasta_chunks(fasta, chunk_size, check_duplicates=index is not None)
        for k, (ids, seqs) in enumerate(reader):
            lab = None
            if index is not None:
                rows = np.empty(len(ids), np.int64)
                for i, rid in enumerate(ids):
                    r = index.get(rid)
                    if r is None:
                        raise input_error(fasta, f"record has no labels in {self.files['labels']}", rid)
                    rows[i] = r
                seen[rows] = True
                lab = self._labels[rows]
            self.last_resized = 0
            if keep is not None and not keep(k):
                codes = None
            elif all(len(s) == length for s in seqs):
                codes = encode_sequences(seqs, path=fasta, ids=ids)
            else:
                other = [(rid, len(s)) for rid, s in zip(ids, seqs, strict=True) if len(s) != length]
                if strict is not None:
                    rid, n = other[0]
                    raise input_error(fasta, f"sequence is {n} bp, not the {length} bp the model reads: "
                                      f"{strict}", rid)
                codes = np.stack([resize_codes(encode_sequence(s, path=fasta, record=rid), length)
                                  for rid, s in zip(ids, seqs, strict=True)])
                self.last_resized = len(other)
            yield ids, codes, lab
        if seen is not None and not seen.all():
            inv = {v: rid for rid, v in index.items() if not seen[v]}
            missing = [inv[r] for r in np.flatnonzero(~seen)[:5]]
            raise input_error(self.files["labels"], f"{int((~seen).sum())} id(s) have no sequence in "
                              f"{fasta}: " + ", ".join(missing) + (", ..." if (~seen).sum() > 5 else ""))


class BedSource(StreamSource):
    """BED regions fetched from a genome FASTA; ids follow the BED id convention (module docstring).

    With ``labels`` the region table is read at once (0/1 label columns required, a region listed
    twice is an error); without, the BED file is streamed and any columns after ``end`` are ignored.
    """

    kind = "bed"

    def __init__(self, bed: str | Path, genome: str | Path, labels: bool = True) -> None:
        from satori_jax.data.io import check_unique_regions, read_bed

        bed, genome = Path(bed), Path(genome)
        if not genome.is_file():
            raise input_error(genome, "genome FASTA file not found")
        self._table = None
        if not labels:
            super().__init__({"bed": bed, "genome": genome}, None)
            return
        chroms, starts, ends, names, lab, ids = read_bed(bed)
        check_unique_regions(bed, ids)
        self._table = (chroms, starts, ends, lab, ids)
        super().__init__({"bed": bed, "genome": genome}, names, len(ids))

    def _rows(self, chunk_size: int) -> Iterator[tuple[list[str], np.ndarray, np.ndarray, np.ndarray | None]]:
        """``(chroms, starts (B,) int64, ends (B,) int64, labels (B, C) or None)`` per chunk of regions."""
        from satori_jax.data.io import iter_bed

        if self._table is not None:
            chroms, starts, ends, lab, _ = self._table
            for s in range(0, len(chroms), chunk_size):
                sl = slice(s, s + chunk_size)
                yield chroms[sl], starts[sl], ends[sl], lab[sl]
            return
        rows: list[tuple[str, int, int]] = []

        def emit():
            return [r[0] for r in rows], *(np.asarray([r[j] for r in rows], np.int64) for j in (1, 2)), None

        for _, chrom, start, end, _, _ in iter_bed(self.files["bed"], labels=False):
            rows.append((chrom, start, end))
            if len(rows) == chunk_size:
                yield emit()
                rows = []
        if rows:
            yield emit()

    def chunks(self, chunk_size: int, length: int, keep: Keep = None,
               strict: str | None = None) -> Iterator[Chunk]:
        from satori_jax.data.io import fetch_regions, region_id

        chunk_size = max(1, int(chunk_size))
        for k, (chroms, starts, ends, lab) in enumerate(self._rows(chunk_size)):
            ids = [region_id(c, s, e) for c, s, e in zip(chroms, starts.tolist(), ends.tolist(), strict=True)]
            codes = None
            if keep is None or keep(k):
                codes = fetch_regions(self.files["genome"], chroms, starts, ends, length,
                                      bed_path=self.files["bed"], first=k * chunk_size)
            yield ids, codes, lab


def open_source(
    *,
    data_dir: str | Path | None = None,
    fasta: str | Path | None = None,
    labels: str | Path | None = None,
    bed: str | Path | None = None,
    genome: str | Path | None = None,
    run_dir: str | Path | None = None,
    need_labels: bool = True,
) -> StreamSource:
    """Check a combination of inputs and open its source (the label / region table is read now).

    One of: ``data_dir`` (``sequences.fa`` [+ ``labels.tsv``]), ``fasta`` [+ ``labels``], ``bed`` +
    ``genome``, ``run_dir`` (its test set). With ``need_labels`` (interpretation) labels are required:
    ``fasta`` needs ``labels`` and BED files their label columns; without (attribution) ``labels`` is
    optional, a dataset directory's labels file is not read and BED columns after ``end`` are ignored.

    Raises
    ------
    InputError
        Wrong combination of arguments, or a problem with the label / BED file or the genome path.
    """
    from satori_jax.data.datasets import dataset_files

    given = [n for n, v in (("--data", data_dir), ("--fasta", fasta), ("--labels", labels), ("--bed", bed),
                            ("--genome", genome), ("RUN", run_dir)) if v is not None]
    modes = [data_dir is not None, fasta is not None or labels is not None,
             bed is not None or genome is not None, run_dir is not None]
    if sum(modes) != 1:
        fa = "--fasta FILE with --labels FILE" if need_labels else "--fasta FILE"
        raise InputError(f"give exactly one input: --data DIR, {fa}, or --bed FILE with --genome FILE "
                         f"(got: {', '.join(given) or 'nothing'})")
    if run_dir is not None:
        return RunSource(run_dir)
    if data_dir is not None:
        fasta, labels = dataset_files(data_dir, labels=need_labels)
    if fasta is not None or labels is not None:
        if fasta is None or (labels is None and need_labels):
            raise InputError("--fasta and --labels must be given together")
        return FastaSource(fasta, labels)
    if bed is None or genome is None:
        raise InputError("--bed and --genome must be given together (the genome FASTA the regions are "
                         "fetched from)")
    return BedSource(bed, genome, labels=need_labels)
