"""Train / validation / test splits: random (seeded, optionally keeping groups whole) or by chromosome.

Groups (e.g. the twins of ``python -m satori_jax.simulate twins``) come from a dataset
directory's ``groups.tsv`` (``id<TAB>group``) or from the file named by ``data.groups``; a random
split then assigns whole groups to train / val / test.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from satori_jax.errors import InputError, input_error

if TYPE_CHECKING:
    from satori_jax.config import DataConfig
    from satori_jax.data.datasets import Dataset

SPLITS = ("train", "val", "test")

#: Group file of a dataset directory (``id<TAB>group``); random splits keep each group whole.
GROUPS_FILE = "groups.tsv"


def _count(n: int, fraction: float) -> int:
    k = int(round(n * fraction))
    if fraction > 0 and k == 0 and n >= 3:
        k = 1
    return k


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise InputError(f"split fractions must be >= 0 and sum to < 1, got val={val_fraction}, "
                         f"test={test_fraction}")


def random_split(n: int, seed: int, val_fraction: float = 0.1, test_fraction: float = 0.1
                 ) -> dict[str, np.ndarray]:
    """Seeded random split of ``n`` examples.

    ``round(n * fraction)`` examples go to validation and test (at least one each when the fraction
    is positive and ``n >= 3``), the rest to training.

    Parameters
    ----------
    n
        Number of examples.
    seed
        Seed of the permutation; the same ``(n, seed, fractions)`` always gives the same split.
    val_fraction, test_fraction
        Fractions of the examples held out for validation and test (sum < 1).

    Returns
    -------
    dict[str, np.ndarray]
        ``{"train", "val", "test"}`` -> sorted int64 index arrays; disjoint and covering ``0..n-1``.
    """
    _check_fractions(val_fraction, test_fraction)
    perm = np.random.default_rng(np.random.SeedSequence([int(seed) % (1 << 63), 0x5A7])).permutation(n)
    n_test = _count(n, test_fraction)
    n_val = _count(n, val_fraction)
    if n_test + n_val >= n and n > 0:
        raise InputError(f"too few examples ({n}) for a split with val_fraction={val_fraction} "
                         f"and test_fraction={test_fraction}")
    return {
        "train": np.sort(perm[n_test + n_val:]).astype(np.int64),
        "val": np.sort(perm[n_test:n_test + n_val]).astype(np.int64),
        "test": np.sort(perm[:n_test]).astype(np.int64),
    }


def group_split(groups: Sequence | np.ndarray, seed: int, val_fraction: float = 0.1,
                test_fraction: float = 0.1) -> dict[str, np.ndarray]:
    """Seeded random split that keeps every group whole (all its examples in one split).

    Groups are visited in a seeded random order and laid end to end; a group goes to test, val
    or train by where its middle falls: before ``round(N * test_fraction)`` examples, before
    ``round(N * (test_fraction + val_fraction))``, or after. Proportions are therefore right up to
    about half a group at each boundary. With at least three groups a positive fraction gets at
    least one group.

    Parameters
    ----------
    groups
        ``(N,)`` group label of each example (any hashable values; equal labels = one group).
    seed
        Seed of the group order; the same ``(groups, seed, fractions)`` always gives the same split.
    val_fraction, test_fraction
        Fractions of the examples held out for validation and test (sum < 1).

    Returns
    -------
    dict[str, np.ndarray]
        ``{"train", "val", "test"}`` -> sorted int64 index arrays; disjoint, covering ``0..N-1``,
        no group in two of them.
    """
    _check_fractions(val_fraction, test_fraction)
    groups = np.asarray(groups)
    n = len(groups)
    _, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) % (1 << 63), 0x6A7]))
    order = rng.permutation(len(sizes))
    mid = np.cumsum(sizes[order]) - sizes[order] / 2.0
    n_test, n_val = _count(n, test_fraction), _count(n, val_fraction)
    where = np.where(mid < n_test, 2, np.where(mid < n_test + n_val, 1, 0))  # 0 train, 1 val, 2 test
    if len(sizes) >= 3:
        if test_fraction > 0 and not (where == 2).any():
            where[0] = 2
        if val_fraction > 0 and not (where == 1).any():
            where[int(np.flatnonzero(where != 2)[0])] = 1
    if n > 0 and not (where == 0).any():
        raise InputError(f"too few groups ({len(sizes)}) for a split with val_fraction={val_fraction} "
                         f"and test_fraction={test_fraction}")
    split_of_group = np.empty(len(sizes), dtype=np.int64)
    split_of_group[order] = where
    per_example = split_of_group[inverse]
    return {name: np.flatnonzero(per_example == k).astype(np.int64)
            for k, name in enumerate(("train", "val", "test"))}


def read_groups(path: str | Path, ids: Sequence[str]) -> np.ndarray:
    """Read ``id<TAB>group`` lines (an ``id<TAB>group`` header is skipped) into a group per example.

    Examples missing from the file are groups of their own.

    Returns
    -------
    np.ndarray
        ``(N,)`` str group labels in the order of ``ids``.

    Raises
    ------
    InputError
        Unreadable file, a malformed line, an id not in ``ids`` or an id given twice.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error(path, f"cannot read groups file ({exc})") from None
    index = {rid: i for i, rid in enumerate(ids)}
    out = np.array([f"\x00{rid}" for rid in ids], dtype=object)  # default: a group of its own
    seen = np.zeros(len(ids), dtype=bool)
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.rstrip("\r").split("\t")
        if not line.strip() or (lineno == 1 and [f.strip().lower() for f in fields] == ["id", "group"]):
            continue
        if len(fields) != 2 or not fields[0] or not fields[1]:
            raise input_error(path, "expected id<TAB>group", lineno)
        i = index.get(fields[0])
        if i is None:
            raise input_error(path, "id not in the dataset", fields[0])
        if seen[i]:
            raise input_error(path, "id given twice", fields[0])
        seen[i] = True
        out[i] = fields[1]
    return out.astype(str)


def dataset_groups(dataset: Dataset, data_cfg: DataConfig) -> np.ndarray | None:
    """The groups a random split keeps whole, or ``None``.

    ``data.groups`` empty: the groups loaded with the dataset (a dataset directory's
    ``groups.tsv``); ``"none"``: no groups; otherwise the path of an ``id<TAB>group`` file.
    """
    spec = getattr(data_cfg, "groups", "")
    if spec == "none":
        return None
    if spec:
        return read_groups(spec, dataset.ids)
    return getattr(dataset, "groups", None)


def chrom_split(chroms: Sequence[str] | np.ndarray, val_chroms: Iterable[str], test_chroms: Iterable[str]
                ) -> dict[str, np.ndarray]:
    """Split examples by chromosome: ``val_chroms`` and ``test_chroms`` held out, the rest train.

    Parameters
    ----------
    chroms
        ``(N,)`` chromosome of each example.
    val_chroms, test_chroms
        Chromosomes of the validation and test sets (disjoint).

    Returns
    -------
    dict[str, np.ndarray]
        ``{"train", "val", "test"}`` -> sorted int64 index arrays.

    Raises
    ------
    InputError
        A named chromosome absent from the data, a chromosome in both lists, or an empty split.
    """
    chroms = np.asarray(chroms, dtype=str)
    val_set, test_set = set(val_chroms), set(test_chroms)
    known = sorted(set(chroms.tolist()))
    for key, group in (("data.val_chroms", val_set), ("data.test_chroms", test_set)):
        unknown = sorted(group - set(known))
        if unknown:
            raise InputError(f"{key}: chromosome(s) {', '.join(unknown)} not in the data "
                             f"(data has: {', '.join(known[:25])}{' ...' if len(known) > 25 else ''})")
    both = sorted(val_set & test_set)
    if both:
        raise InputError(f"data.val_chroms and data.test_chroms share {', '.join(both)}")
    is_val = np.isin(chroms, list(val_set))
    is_test = np.isin(chroms, list(test_set))
    splits = {
        "train": np.flatnonzero(~(is_val | is_test)).astype(np.int64),
        "val": np.flatnonzero(is_val).astype(np.int64),
        "test": np.flatnonzero(is_test).astype(np.int64),
    }
    for name, idx in splits.items():
        if idx.size == 0:
            hint = {"train": "every chromosome is held out",
                    "val": "set data.val_chroms", "test": "set data.test_chroms"}[name]
            raise InputError(f"chromosome split: the {name} split is empty ({hint})")
    return splits


def make_splits(dataset: Dataset, data_cfg: DataConfig) -> dict[str, np.ndarray]:
    """Split ``dataset`` as ``data_cfg.split`` says (``random`` or ``chrom``).

    A random split keeps groups whole when the dataset has groups (see :func:`dataset_groups`);
    a chromosome split ignores groups.

    Raises
    ------
    InputError
        A chromosome split on data without chromosome information, or an empty training split.
    """
    if data_cfg.split == "random":
        groups = dataset_groups(dataset, data_cfg)
        if groups is None:
            splits = random_split(len(dataset.ids), data_cfg.seed, data_cfg.val_fraction,
                                  data_cfg.test_fraction)
        else:
            splits = group_split(groups, data_cfg.seed, data_cfg.val_fraction, data_cfg.test_fraction)
    elif data_cfg.split == "chrom":
        if dataset.chroms is None:
            src = ", ".join(dataset.source.values()) or None
            raise input_error(src, "data.split = 'chrom' needs chromosome information: BED input, or "
                              "FASTA ids like chr1:100-400")
        splits = chrom_split(dataset.chroms, data_cfg.val_chroms, data_cfg.test_chroms)
    else:
        raise InputError(f"data.split must be 'random' or 'chrom', got {data_cfg.split!r}")
    if splits["train"].size == 0:
        raise InputError(f"the training split is empty ({len(dataset.ids)} examples)")
    return splits


def write_splits(path: str | Path, ids: Sequence[str], splits: dict[str, np.ndarray]) -> None:
    """Write ``id<TAB>split`` lines (with an ``id\\tsplit`` header) in dataset order.

    Examples in no split are not written.
    """
    names = np.full(len(ids), "", dtype=object)
    for name, idx in splits.items():
        names[np.asarray(idx, dtype=np.int64)] = name
    lines = ["id\tsplit"] + [f"{rid}\t{s}" for rid, s in zip(ids, names, strict=True) if s]
    Path(path).write_text("\n".join(lines) + "\n")


def read_splits(path: str | Path, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Read a file written by :func:`write_splits` back into index arrays over ``ids``.

    Raises
    ------
    InputError
        Unreadable file, a malformed line or an id not in ``ids``.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise input_error(path, f"cannot read splits file ({exc.strerror})") from None
    index = {rid: i for i, rid in enumerate(ids)}
    out: dict[str, list[int]] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if lineno == 1 or not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        if len(fields) != 2:
            raise input_error(path, "expected id<TAB>split", lineno)
        if fields[0] not in index:
            raise input_error(path, "id not in the dataset", fields[0])
        out.setdefault(fields[1], []).append(index[fields[0]])
    return {name: np.sort(np.asarray(out.get(name, []), dtype=np.int64))
            for name in sorted(set(SPLITS) | set(out))}
