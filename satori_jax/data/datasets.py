"""Data sets for training: FASTA + labels, a dataset directory, or BED + genome, as one :class:`Dataset`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from satori_jax.data.encoding import encode_sequence, encode_sequences, resize_codes
from satori_jax.data.io import (
    _MAX_LISTED,
    _REGION_RE,
    check_unique_regions,
    fetch_regions,
    read_bed,
    read_fasta,
    read_labels,
)
from satori_jax.errors import InputError, input_error

__all__ = ["Dataset", "chroms_from_ids", "dataset_files", "load_dataset"]


@dataclass
class Dataset:
    """Sequences and labels ready for training.

    Attributes
    ----------
    ids
        ``N`` record ids.
    codes
        ``(N, L)`` uint8 sequence codes.
    labels
        ``(N, C)`` float32 0/1 labels.
    label_names
        ``C`` label names.
    chroms
        ``(N,)`` str array of chromosomes (from BED, or from ids like ``chr1:100-400``), or ``None``.
    source
        The input files, e.g. ``{"fasta": ..., "labels": ...}`` or ``{"bed": ..., "genome": ...}``.
    groups
        ``(N,)`` str group of each example (a dataset directory's ``groups.tsv``), or ``None``;
        random splits keep groups whole.
    """

    ids: list[str]
    codes: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    chroms: np.ndarray | None = None
    source: dict[str, str] = field(default_factory=dict)
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def length(self) -> int:
        """Sequence length ``L``."""
        return int(self.codes.shape[1])

    @property
    def num_labels(self) -> int:
        """Number of labels ``C``."""
        return int(self.labels.shape[1])


def chroms_from_ids(ids: list[str]) -> np.ndarray | None:
    """Chromosomes parsed from ids like ``chr1:100-400`` (``None`` unless every id matches)."""
    chroms = []
    for rid in ids:
        m = _REGION_RE.match(rid)
        if m is None:
            return None
        chroms.append(m.group(1))
    return np.asarray(chroms, dtype=str)


def _listed(items: list[str]) -> str:
    return ", ".join(items[:_MAX_LISTED]) + (", ..." if len(items) > _MAX_LISTED else "")


def _find_in_dir(data_dir: Path, stems: tuple[str, ...], what: str) -> Path:
    for name in stems:
        if (data_dir / name).is_file():
            return data_dir / name
    raise input_error(data_dir, f"dataset directory has no {what} file (expected {stems[0]})")


def dataset_files(data_dir: str | Path, labels: bool = True) -> tuple[Path, Path | None]:
    """``(sequences file, labels file)`` of a dataset directory (``labels=False``: no labels file).

    Raises
    ------
    InputError
        Missing directory, not a directory, no ``sequences.fa`` (or no ``labels.tsv`` when wanted).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise input_error(data_dir, "dataset directory not found" if not data_dir.exists()
                          else "not a directory (expected a directory with sequences.fa and labels.tsv)")
    fa = _find_in_dir(data_dir, ("sequences.fa", "sequences.fa.gz", "sequences.fasta"), "sequences")
    return fa, (_find_in_dir(data_dir, ("labels.tsv", "labels.tsv.gz"), "labels") if labels else None)


def _load_fasta_labels(fasta: Path, labels_path: Path, length: int) -> Dataset:
    label_ids, names, labels = read_labels(labels_path)
    if not label_ids:
        raise input_error(labels_path, "no labelled records (only a header)")
    fa_ids, seqs = read_fasta(fasta)
    index = {rid: i for i, rid in enumerate(fa_ids)}
    missing = [rid for rid in label_ids if rid not in index]
    if missing:
        raise input_error(labels_path,
                          f"{len(missing)} id(s) have no sequence in {fasta}: {_listed(missing)}")
    if len(fa_ids) != len(label_ids):
        label_set = set(label_ids)
        unlabelled = [rid for rid in fa_ids if rid not in label_set]
        raise input_error(fasta, f"{len(unlabelled)} record(s) have no labels in {labels_path}: "
                          f"{_listed(unlabelled)}")
    ordered = [seqs[index[rid]] for rid in label_ids]
    if length > 0 and any(len(s) != length for s in ordered):
        codes = np.empty((len(ordered), length), dtype=np.uint8)
        for i, (rid, s) in enumerate(zip(label_ids, ordered, strict=True)):
            codes[i] = resize_codes(encode_sequence(s, path=fasta, record=rid), length)
    else:
        codes = encode_sequences(ordered, path=fasta, ids=label_ids)
    return Dataset(
        ids=list(label_ids), codes=codes, labels=labels, label_names=names,
        chroms=chroms_from_ids(label_ids), source={"fasta": str(fasta), "labels": str(labels_path)},
    )


def load_dataset(
    *,
    data_dir: str | Path | None = None,
    fasta: str | Path | None = None,
    labels: str | Path | None = None,
    bed: str | Path | None = None,
    genome: str | Path | None = None,
    length: int = 0,
) -> Dataset:
    """Load a dataset from one of three inputs.

    - ``data_dir``: a directory with ``sequences.fa`` and ``labels.tsv`` (as written by
      ``satori_jax.simulate``), and optionally ``groups.tsv`` (``id<TAB>group``);
    - ``fasta`` + ``labels``: records are matched by id and kept in the labels file's order;
    - ``bed`` + ``genome``: regions resized around their centre to ``length`` bp.

    Parameters
    ----------
    length
        Resize every sequence / region around its centre to this many bp (0: keep FASTA lengths,
        which must then all be equal; BED input requires ``length > 0``).

    Returns
    -------
    Dataset
        ``codes (N, L)`` uint8, ``labels (N, C)`` float32.

    Raises
    ------
    InputError
        On a wrong combination of arguments or any problem with the files (see the readers).
    """
    if length < 0:
        raise InputError(f"data.length must be >= 0, got {length}")
    given = [name for name, v in (("data_dir", data_dir), ("fasta", fasta), ("labels", labels),
                                  ("bed", bed), ("genome", genome)) if v is not None]
    modes = {
        "data_dir": data_dir is not None,
        "fasta": fasta is not None or labels is not None,
        "bed": bed is not None or genome is not None,
    }
    if sum(modes.values()) != 1:
        raise InputError(
            "give exactly one input: a dataset directory (--data DIR), --fasta FILE with --labels FILE, "
            f"or --bed FILE with --genome FILE (got: {', '.join(given) or 'nothing'})"
        )
    if data_dir is not None:
        fa, lab = dataset_files(data_dir)
        ds = _load_fasta_labels(fa, lab, length)
        data_dir = Path(data_dir)
        ds.source["data_dir"] = str(data_dir)
        from satori_jax.data.splits import GROUPS_FILE, read_groups

        if (data_dir / GROUPS_FILE).is_file():
            ds.groups = read_groups(data_dir / GROUPS_FILE, ds.ids)
        return ds
    if modes["fasta"]:
        if fasta is None or labels is None:
            raise InputError("--fasta and --labels must be given together")
        return _load_fasta_labels(Path(fasta), Path(labels), length)
    if bed is None or genome is None:
        raise InputError("--bed and --genome must be given together")
    bed, genome = Path(bed), Path(genome)
    if length <= 0:
        raise input_error(bed, "BED input needs a fixed region length: set data.length (e.g. --set "
                          "data.length=600)")
    chroms, starts, ends, names, lab, ids = read_bed(bed)
    check_unique_regions(bed, ids)
    codes = fetch_regions(genome, chroms, starts, ends, length, bed_path=bed)
    return Dataset(
        ids=ids, codes=codes, labels=lab, label_names=names, chroms=np.asarray(chroms, dtype=str),
        source={"bed": str(bed), "genome": str(genome)},
    )
