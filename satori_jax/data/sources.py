"""Test sets read in chunks: the run's own test set, FASTA + labels, a dataset directory, BED + genome.

Every source yields ``(ids (B,), codes (B, L) uint8, labels (B, C) float32)`` chunks in file order
(:meth:`StreamSource.chunks`), so the interpretation driver reads them all the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from satori_jax.errors import InputError, input_error

__all__ = ["StreamSource", "TestSetSource", "iter_fasta_chunks", "open_source"]


def iter_fasta_chunks(path: str | Path, chunk_size: int) -> Iterator[tuple[list[str], list[str]]]:
    """Read a FASTA file ``chunk_size`` records at a time.

    Records come from :func:`satori_jax.data.io.iter_fasta`: same format and checks as
    :func:`satori_jax.data.io.read_fasta` (plain or gzipped, multi-line
    records, CRLF and blank lines tolerated; errors for a missing / empty / binary / non-UTF-8
    file, sequence before the first header, a header without an id, an empty record, a duplicated
    id), but only one chunk of sequences is in memory (plus the set of ids seen, for duplicates).

    Parameters
    ----------
    path
        FASTA file.
    chunk_size
        Records per chunk (the last chunk may be shorter).

    Yields
    ------
    ids, seqs
        ``B`` record ids and sequences, in file order.

    Raises
    ------
    InputError
        As :func:`~satori_jax.data.io.read_fasta` (an error in a later chunk is raised when that
        chunk is reached).
    """
    from satori_jax.data.io import iter_fasta

    chunk_size = max(1, int(chunk_size))
    ids: list[str] = []
    seqs: list[str] = []
    for rid, seq in iter_fasta(path):
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


@dataclass
class StreamSource:
    """A test set read in chunks.

    Attributes
    ----------
    kind
        ``"fasta"`` (FASTA + labels TSV) or ``"bed"`` (BED + genome).
    files
        Input files by role (``fasta``, ``labels`` / ``bed``, ``genome``).
    label_names
        ``C`` label names.
    n
        Number of labelled records.
    """

    kind: str
    files: dict[str, Path]
    label_names: list[str]
    n: int
    _index: dict[str, int] | None = None
    _labels: np.ndarray | None = None
    _bed: tuple | None = None
    streamed = True

    def stamp(self) -> dict:
        """Identity of the inputs (for the settings hash)."""
        return {k: _file_stamp(p) for k, p in sorted(self.files.items())}

    def chunks(self, chunk_size: int, length: int, keep: Callable[[int], bool] | None = None
               ) -> Iterator[tuple[list[str], np.ndarray | None, np.ndarray]]:
        """``(ids (B,), codes (B, length) uint8, labels (B, C) float32)`` per chunk, in file order.

        FASTA records of another length are centre-cropped / N-padded to ``length`` (as training
        does with ``data.length``); records without labels, and (after the last chunk) labels
        without records, raise :class:`InputError`. With ``keep``, a chunk ``k`` for which
        ``keep(k)`` is false comes with ``codes = None``: its sequences are neither encoded nor
        (BED) fetched from the genome, but its ids are still checked against the labels.
        """
        from satori_jax.data.encoding import encode_sequence, encode_sequences, resize_codes
        from satori_jax.data.io import fetch_regions

        if self.kind == "bed":
            chroms, starts, ends, labels, ids = self._bed
            for k, s in enumerate(range(0, self.n, chunk_size)):
                e = min(s + chunk_size, self.n)
                if keep is not None and not keep(k):
                    yield ids[s:e], None, labels[s:e]
                    continue
                codes = fetch_regions(self.files["genome"], chroms[s:e], starts[s:e], ends[s:e], length,
                                      bed_path=self.files["bed"])
                yield ids[s:e], codes, labels[s:e]
            return
        fasta, lab_path = self.files["fasta"], self.files["labels"]
        seen = np.zeros(self.n, bool)
        for k, (ids, seqs) in enumerate(iter_fasta_chunks(fasta, chunk_size)):
            rows = np.empty(len(ids), np.int64)
            for i, rid in enumerate(ids):
                r = self._index.get(rid)
                if r is None:
                    raise input_error(fasta, f"record has no labels in {lab_path}", rid)
                rows[i] = r
            seen[rows] = True
            if keep is not None and not keep(k):
                codes = None
            elif all(len(s) == length for s in seqs):
                codes = encode_sequences(seqs, path=fasta, ids=ids)
            else:
                codes = np.stack([resize_codes(encode_sequence(s, path=fasta, record=rid), length)
                                  for rid, s in zip(ids, seqs, strict=True)])
            yield ids, codes, self._labels[rows]
        if not seen.all():
            inv = {v: k for k, v in self._index.items() if not seen[v]}
            missing = [inv[r] for r in np.flatnonzero(~seen)[:5]]
            raise input_error(lab_path, f"{int((~seen).sum())} id(s) have no sequence in {fasta}: "
                              + ", ".join(missing) + (", ..." if (~seen).sum() > 5 else ""))


def open_source(*, data_dir=None, fasta=None, labels=None, bed=None, genome=None) -> StreamSource:
    """Check the arguments and read the (small) label / region table of a streamed test set.

    One of: ``data_dir`` (``sequences.fa`` + ``labels.tsv``), ``fasta`` + ``labels``, ``bed`` +
    ``genome`` (as :func:`satori_jax.data.io.load_dataset`).

    Raises
    ------
    InputError
        Wrong combination of arguments, or a problem with the label / BED file.
    """
    from satori_jax.data.io import _find_in_dir, read_bed, read_labels

    given = [n for n, v in (("data", data_dir), ("fasta", fasta), ("labels", labels), ("bed", bed),
                            ("genome", genome)) if v is not None]
    modes = [data_dir is not None, fasta is not None or labels is not None,
             bed is not None or genome is not None]
    if sum(modes) != 1:
        raise InputError("give exactly one test set: --data DIR, --fasta F with --labels T, or --bed B with "
                         f"--genome G (got: {', '.join(given) or 'nothing'})")
    if data_dir is not None:
        d = Path(data_dir)
        if not d.is_dir():
            raise input_error(d, "dataset directory not found" if not d.exists() else
                              "not a directory (expected a directory with sequences.fa and labels.tsv)")
        fasta = _find_in_dir(d, ("sequences.fa", "sequences.fa.gz", "sequences.fasta"), "sequences")
        labels = _find_in_dir(d, ("labels.tsv", "labels.tsv.gz"), "labels")
    if fasta is not None or labels is not None:
        if fasta is None or labels is None:
            raise InputError("--fasta and --labels must be given together")
        fasta, labels = Path(fasta), Path(labels)
        if not fasta.is_file():
            raise input_error(fasta, "FASTA file not found" if not fasta.exists() else
                              "expected a FASTA file, got a directory")
        ids, names, lab = read_labels(labels)
        if not ids:
            raise input_error(labels, "no labelled records (only a header)")
        return StreamSource("fasta", {"fasta": fasta, "labels": labels}, list(names), len(ids),
                            _index={rid: i for i, rid in enumerate(ids)}, _labels=lab)
    if bed is None or genome is None:
        raise InputError("--bed and --genome must be given together")
    bed, genome = Path(bed), Path(genome)
    if not genome.is_file():
        raise input_error(genome, "genome FASTA file not found")
    chroms, starts, ends, names, lab, ids = read_bed(bed)
    seen: dict[str, int] = {}
    for i, rid in enumerate(ids):
        if rid in seen:
            raise input_error(bed, f"duplicate region (entries #{seen[rid] + 1} and #{i + 1})", rid)
        seen[rid] = i
    return StreamSource("bed", {"bed": bed, "genome": genome}, list(names), len(ids),
                        _bed=(chroms, starts, ends, lab, ids))


@dataclass
class TestSetSource:
    """The test set a run saved (``RUN/test_predictions.npz``), held in memory, one chunk.

    Attributes
    ----------
    ids
        ``(N,)`` record ids.
    codes
        ``(N, L)`` uint8 sequences.
    labels, probs
        ``(N, C)`` labels and the model's predicted probabilities (not recomputed).
    """

    path: Path
    ids: np.ndarray
    codes: np.ndarray
    labels: np.ndarray
    probs: np.ndarray
    streamed = False

    @property
    def n(self) -> int:
        return int(len(self.ids))

    @classmethod
    def open(cls, run_dir: str | Path) -> TestSetSource:
        """Read ``RUN/test_predictions.npz``.

        Raises
        ------
        InputError
            No such run directory, or training has not written the predictions yet.
        """
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise input_error(run_dir, "no such run directory")
        path = run_dir / "test_predictions.npz"
        if not path.is_file():
            raise input_error(run_dir, "no test_predictions.npz (training has not finished; run "
                                       f"`python -m satori_jax.train --workdir {run_dir} --resume` first)")
        with np.load(path, allow_pickle=False) as z:
            return cls(path, z["ids"], z["codes"], z["labels"], z["probs"])

    def stamp(self) -> dict:
        """Identity of the input (for a settings hash)."""
        return {"test_predictions": _file_stamp(self.path)}

    def chunks(self, chunk_size: int, length: int, keep: Callable[[int], bool] | None = None
               ) -> Iterator[tuple[list[str], np.ndarray | None, np.ndarray]]:
        """The whole test set as one chunk (``chunk_size`` does not apply: it is in memory already)."""
        codes = self.codes if keep is None or keep(0) else None
        yield [str(i) for i in self.ids], codes, np.asarray(self.labels, np.float32)
