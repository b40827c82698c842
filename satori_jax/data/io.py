"""Readers for user data: FASTA + labels TSV, BED-like TSV + genome FASTA, dataset directories.

Every problem with the input raises :class:`~satori_jax.errors.InputError` whose message names
the file, the record (id or line) and the problem.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from satori_jax.data.encoding import encode_sequences
from satori_jax.errors import InputError, input_error

_GZIP_MAGIC = b"\x1f\x8b"
_REGION_RE = re.compile(r"^([^:\s]+):(\d+)-(\d+)")
_LABEL_VALUES = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0}
_MAX_LISTED = 5


def open_error(path: str | Path, what: str, exc: OSError) -> InputError:
    """The user error for a file that cannot be opened: missing, a directory, or unreadable."""
    if isinstance(exc, FileNotFoundError):
        return input_error(path, f"{what} file not found")
    if isinstance(exc, IsADirectoryError):
        return input_error(path, f"expected a {what} file, got a directory")
    return input_error(path, f"cannot read {what} file ({exc.strerror})")


def _read_text(path: str | Path, what: str) -> str:
    """Read a plain or gzip-compressed (detected by magic bytes) text file.

    Raises
    ------
    InputError
        If the file is missing or unreadable, empty, not valid gzip, or binary / not UTF-8 text.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise open_error(path, what, exc) from None
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise input_error(path, f"corrupt gzip {what} file ({exc})") from None
    if not data.strip():
        raise input_error(path, f"empty {what} file")
    if b"\x00" in data:
        raise input_error(path, f"not a text {what} file (contains NUL bytes; binary data?)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise input_error(path, f"not a text {what} file (undecodable byte at offset {exc.start})",
                          line) from None


def _iter_text_lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a plain or gzipped (magic bytes) text file, read line by line.

    The errors are those of :func:`_read_text` (missing / directory / unreadable file, corrupt gzip,
    NUL bytes, undecodable bytes with their offset), raised when the offending line is reached; the
    check for an empty file is left to the caller.
    """
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
        fh = gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise open_error(path, what, exc) from None
    offset = 0
    lineno = 0
    with fh:
        while True:
            try:
                raw = fh.readline()
            except (OSError, EOFError, zlib.error) as exc:
                raise input_error(path, f"corrupt gzip {what} file ({exc})") from None
            if not raw:
                return
            lineno += 1
            if b"\x00" in raw:
                raise input_error(path, f"not a text {what} file (contains NUL bytes; binary data?)")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise input_error(path, f"not a text {what} file (undecodable byte at offset "
                                        f"{offset + exc.start})", lineno) from None
            offset += len(raw)
            for sub in text.splitlines() or [""]:
                yield lineno, sub


def _parse_fasta(
    path: str | Path,
    lines: Iterable[tuple[int, str]],
    check_duplicates: bool = True,
    blank_is_empty: bool = True,
) -> Iterator[tuple[str, str]]:
    """``(id, sequence)`` records from ``(line number, line)`` pairs (the one FASTA record parser).

    A record is yielded when the next header (or the end) is reached, before that header is
    checked. ``blank_is_empty``: a file with only blank lines is an "empty FASTA file" (otherwise
    "no FASTA records found"; for callers that checked emptiness themselves).
    """
    seen: dict[str, int] = {}
    rid: str | None = None
    header_line = 0
    parts: list[str] = []
    any_content = False
    for lineno, line in lines:
        line = line.strip()
        if not line:
            continue
        any_content = True
        if line[0] == ">":
            if rid is not None:
                if not parts:
                    raise input_error(path, f"empty sequence (header on line {header_line})", rid)
                yield rid, "".join(parts)
            words = line[1:].split()
            if not words:
                raise input_error(path, "FASTA header without a sequence id", lineno)
            rid = words[0]
            if check_duplicates:
                if rid in seen:
                    raise input_error(path, f"duplicate sequence id (line {lineno}; first on line "
                                            f"{seen[rid]})", rid)
                seen[rid] = lineno
            header_line, parts = lineno, []
        else:
            if rid is None:
                raise input_error(path, "sequence data before the first '>' header (not a FASTA file?)",
                                  lineno)
            parts.append(line)
    if rid is None:
        raise input_error(path, "empty FASTA file" if blank_is_empty and not any_content
                          else "no FASTA records found")
    if not parts:
        raise input_error(path, f"empty sequence (header on line {header_line})", rid)
    yield rid, "".join(parts)


def iter_fasta(
    path: str | Path,
    check_duplicates: bool = True,
    lines: Iterable[tuple[int, str]] | None = None,
) -> Iterator[tuple[str, str]]:
    """Stream ``(id, sequence)`` records from a FASTA file without loading it.

    Same format and checks as :func:`read_fasta` (plain or gzipped by magic bytes, multi-line
    records, CRLF and blank lines tolerated; errors for a missing / empty / binary / non-UTF-8 file,
    sequence before the first header, a header without an id, an empty record, a duplicated id),
    but only the current record is in memory (plus the ids seen, for the duplicate check). An error
    is raised when the reader reaches it.

    Parameters
    ----------
    path
        FASTA file (named in error messages).
    check_duplicates
        Raise on a duplicated id (keeps a dict of the ids seen; callers that check duplicates
        another way pass ``False``).
    lines
        ``(line number, line)`` source to parse instead of reading ``path`` with this module's
        streaming reader (for callers with their own I/O error messages).

    Yields
    ------
    id, sequence
        Record id (first word of the header) and sequence, in file order.

    Raises
    ------
    InputError
        As :func:`read_fasta`.
    """
    path = Path(path)
    if lines is None:
        lines = _iter_text_lines(path, "FASTA")
    return _parse_fasta(path, lines, check_duplicates=check_duplicates)


def read_fasta(path: str | Path) -> tuple[list[str], list[str]]:
    """Read a FASTA file (plain or gzipped; multi-line records; CRLF and blank lines tolerated).

    The whole file is checked (empty, gzip, NUL, UTF-8) before records are parsed; the records are
    parsed by the same parser as :func:`iter_fasta`.

    Parameters
    ----------
    path
        FASTA file.

    Returns
    -------
    ids, seqs
        Record ids (first word of each header) and sequences, in file order. Sequences are not
        validated here (see :func:`~satori_jax.data.encoding.encode_sequences`).

    Raises
    ------
    InputError
        Missing/unreadable/empty/binary file, sequence before the first ``>`` header, a header
        without an id, a record with an empty sequence, or a duplicated id.
    """
    text = _read_text(path, "FASTA")
    ids: list[str] = []
    seqs: list[str] = []
    for rid, seq in _parse_fasta(path, enumerate(text.splitlines(), start=1), blank_is_empty=False):
        ids.append(rid)
        seqs.append(seq)
    return ids, seqs


def _split_fields(line: str) -> list[str]:
    return [f.strip() for f in line.split("\t")] if "\t" in line else line.split()


def _parse_label_row(path, fields: list[str], lineno: int, rid: str, names: list[str]) -> list[float]:
    row = []
    for name, value in zip(names, fields, strict=True):
        try:
            row.append(_LABEL_VALUES[value])
        except KeyError:
            raise input_error(
                path, f"label {name!r} on line {lineno} is {value!r}; labels must be 0 or 1", rid
            ) from None
    return row


def read_labels(path: str | Path) -> tuple[list[str], list[str], np.ndarray]:
    """Read a labels TSV: a header row (id column, then label names), then ``id 0/1 0/1 ...``.

    Parameters
    ----------
    path
        Tab-separated labels file (plain or gzipped).

    Returns
    -------
    ids, label_names, labels
        Record ids in file order, the ``C`` label names and the ``(N, C)`` float32 labels.

    Raises
    ------
    InputError
        Empty file, no label columns, wrong column count, a value other than 0/1, duplicate ids.
    """
    text = _read_text(path, "labels")
    lines = text.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.strip())
    header = _split_fields(lines[header_at])
    names = header[1:]
    if not names:
        raise input_error(path, "header has no label columns (expected: id<TAB>label1<TAB>label2 ...)",
                          header_at + 1)
    ncol = len(header)
    ids: list[str] = []
    rows: list[list[float]] = []
    seen: dict[str, int] = {}
    for i in range(header_at + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        lineno = i + 1
        fields = _split_fields(line)
        rid = fields[0]
        if len(fields) != ncol:
            raise input_error(path, f"line {lineno} has {len(fields)} columns, the header has {ncol}", rid)
        if rid in seen:
            raise input_error(path, f"duplicate id (line {lineno}; first on line {seen[rid]})", rid)
        seen[rid] = lineno
        rows.append(_parse_label_row(path, fields[1:], lineno, rid, names))
        ids.append(rid)
    labels = np.asarray(rows, dtype=np.float32).reshape(len(ids), len(names))
    return ids, names, labels


def _parse_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def iter_bed(
    path: str | Path, labels: bool = True
) -> Iterator[tuple[int, str, int, int, list[float] | None, list[str] | None]]:
    """Stream a BED-like file (0-based, half-open), one region at a time.

    ``chrom start end [label1 label2 ...]``. An optional header row (its second field is not an
    integer) gives the label names (otherwise ``label_0``, ``label_1``, ...); ``track``/``browser``
    lines and ``#`` comment lines after the first line are skipped.

    Parameters
    ----------
    path
        BED-like file (plain or gzipped).
    labels
        Read the 0/1 label columns (at least one, the same number on every line). ``False``: three
        columns suffice and any further columns are ignored (``row`` and ``names`` are ``None``).

    Yields
    ------
    line, chrom, start, end, row, names
        Line number, region, its ``C`` labels and the ``C`` label names (one list for every region).

    Raises
    ------
    InputError
        Empty file, no regions, no label columns, wrong column count, non-integer or negative start,
        ``end <= start``, a label other than 0/1 (raised when the reader reaches it).
    """
    path = Path(path)
    names: list[str] | None = None
    ncol = None
    first = True
    any_content = any_region = False
    for lineno, line in _iter_text_lines(path, "BED"):
        if not line.strip():
            continue
        any_content = True
        if line.startswith(("track", "browser")):
            continue
        fields = _split_fields(line)
        if line.startswith("#") and (not first or len(fields) < 4):
            continue
        if first:
            first = False
            if len(fields) < 2 or _parse_int(fields[1]) is None:
                if not labels:
                    continue
                if len(fields) < 4:
                    raise input_error(path, "header has no label columns "
                                      "(expected: chrom start end label1 ...)", lineno)
                names = fields[3:]
                ncol = len(fields)
                continue
        if not labels:
            if len(fields) < 3:
                raise input_error(path, f"{len(fields)} column(s); expected at least chrom, start, end",
                                  lineno)
        elif ncol is None:
            ncol = len(fields)
            if ncol < 4:
                raise input_error(path, f"{ncol} columns; expected chrom, start, end and at least one "
                                  "0/1 label column", lineno)
            names = [f"label_{j}" for j in range(ncol - 3)]
        elif len(fields) != ncol:
            raise input_error(path, f"{len(fields)} columns, expected {ncol}", lineno)
        chrom, s_text, e_text = fields[:3]
        start, end = _parse_int(s_text), _parse_int(e_text)
        if start is None or end is None:
            raise input_error(path, f"start/end must be integers, got {s_text!r}, {e_text!r}", lineno)
        if start < 0:
            raise input_error(path, f"negative start {start}", lineno)
        if end <= start:
            raise input_error(path, f"end {end} <= start {start}", lineno)
        row = None
        if labels:
            assert names is not None
            row = _parse_label_row(path, fields[3:], lineno, f"{chrom}:{start}-{end} (line {lineno})", names)
        any_region = True
        yield lineno, chrom, start, end, row, names
    if not any_content:
        raise input_error(path, "empty BED file")
    if not any_region:
        raise input_error(path, "no regions found")


def region_id(chrom: str, start: int, end: int) -> str:
    """The id of a BED region: the region as given, ``chrom:start-end`` (not the resized window)."""
    return f"{chrom}:{start}-{end}"


def read_bed(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str], np.ndarray, list[str]]:
    """Read a BED-like TSV with labels: ``chrom start end label1 label2 ...`` (see :func:`iter_bed`).

    Returns
    -------
    chroms, starts, ends, label_names, labels, ids
        ``N`` chromosome names, ``(N,)`` int64 starts and ends, ``C`` label names, ``(N, C)``
        float32 labels and ids ``"chrom:start-end"`` (:func:`region_id`).

    Raises
    ------
    InputError
        As :func:`iter_bed`.
    """
    recs = list(iter_bed(path))
    names = list(recs[0][5])
    labels = np.asarray([r[4] for r in recs], dtype=np.float32).reshape(len(recs), len(names))
    return ([r[1] for r in recs], np.asarray([r[2] for r in recs], dtype=np.int64),
            np.asarray([r[3] for r in recs], dtype=np.int64), names, labels,
            [region_id(r[1], r[2], r[3]) for r in recs])


def check_unique_regions(path: str | Path, ids: list[str]) -> None:
    """Raise :class:`InputError` naming the first region listed twice in the BED file ``path``."""
    seen: dict[str, int] = {}
    for i, rid in enumerate(ids):
        if rid in seen:
            raise input_error(path, f"duplicate region (entries #{seen[rid] + 1} and #{i + 1})", rid)
        seen[rid] = i


def fetch_regions(
    genome_path: str | Path,
    chroms: list[str],
    starts: np.ndarray,
    ends: np.ndarray,
    length: int,
    bed_path: str | Path | None = None,
    first: int = 0,
) -> np.ndarray:
    """Fetch genome regions resized around their centre to ``length`` bp.

    The resized region is ``[c - length // 2, c - length // 2 + length)`` with
    ``c = (start + end) // 2``.

    Parameters
    ----------
    genome_path
        Genome FASTA (plain or bgzipped, read through pyfaidx; a ``.fai`` index is created if missing).
    chroms, starts, ends
        ``N`` regions (0-based, half-open).
    length
        Output length in bp (> 0).
    bed_path
        File named in error messages about regions.
    first
        Index of the first region in the BED file (regions are named ``#first + i + 1`` in errors).

    Returns
    -------
    np.ndarray
        ``(N, length)`` uint8 codes.

    Raises
    ------
    InputError
        Unreadable genome, a chromosome missing from the genome, a resized region outside its
        chromosome, or a non-IUPAC character in the genome.
    """
    import pyfaidx

    if length <= 0:
        raise input_error(bed_path, "BED input needs a fixed region length (data.length > 0)")
    genome_path = Path(genome_path)
    if not genome_path.is_file():
        raise input_error(genome_path, "genome FASTA file not found")
    try:
        genome = pyfaidx.Fasta(str(genome_path), as_raw=True, sequence_always_upper=True)
    except Exception as exc:  # pyfaidx raises many types (indexing, bgzf, permissions)
        fai = Path(f"{genome_path}.fai")
        hint = f"; if its index {fai} is stale or damaged, delete it so that it is rebuilt" \
            if fai.exists() else ""
        raise input_error(genome_path, f"cannot index genome FASTA ({type(exc).__name__}: {exc}){hint}") \
            from None
    with genome:
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        new_starts = (starts + ends) // 2 - length // 2
        sizes = {}
        for i, chrom in enumerate(chroms):
            if chrom not in sizes:
                if chrom not in genome:
                    known = list(genome.keys())
                    shown = ", ".join(known[:_MAX_LISTED]) + (" ..." if len(known) > _MAX_LISTED else "")
                    raise input_error(
                        bed_path,
                        f"chromosome {chrom!r} is not in genome {genome_path} (it has: {shown})",
                        f"{chrom}:{starts[i]}-{ends[i]} (#{first + i + 1})",
                    )
                sizes[chrom] = len(genome[chrom])
        chrom_len = np.asarray([sizes[c] for c in chroms], dtype=np.int64)
        bad = (new_starts < 0) | (new_starts + length > chrom_len)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise input_error(
                bed_path,
                f"region resized to {length} bp ({chroms[i]}:{new_starts[i]}-{new_starts[i] + length}) "
                f"extends beyond chromosome {chroms[i]} (length {chrom_len[i]}) in {genome_path}; "
                f"{int(bad.sum())} region(s) affected",
                f"{chroms[i]}:{starts[i]}-{ends[i]} (#{first + i + 1})",
            )
        try:
            seqs = [str(genome[c][int(s):int(s) + length]) for c, s in zip(chroms, new_starts, strict=True)]
        except Exception as exc:
            raise input_error(genome_path, f"cannot read genome sequence ({type(exc).__name__}: {exc})") \
                from None
        if any(len(q) != length or "\n" in q or "\r" in q or ">" in q for q in seqs):
            raise input_error(genome_path, f"its index {genome_path}.fai does not match the FASTA (stale, or "
                              "made for another file): delete the .fai so that it is rebuilt")
    ids = [f"{c}:{s}-{s + length}" for c, s in zip(chroms, new_starts.tolist(), strict=True)]
    return encode_sequences(seqs, path=genome_path, ids=ids)
