"""JASPAR motifs, offline, through pyjaspar (which ships the JASPAR SQLite databases).

The first call for a (release, collection, taxonomic group) converts the database records into
a MEME file plus a families TSV under the cache directory (``$SATORI_JAX_CACHE`` or
``~/.cache/satori_jax``, sub-folder ``jaspar/``); later calls read those files (fast, and the
matrices are then bit-identical between calls, which keeps simulations reproducible).

Motif ``name`` is the TF name (``"FOS::JUN"``), ``alt`` the matrix id (``"MA0099.4"``), ``family``
and ``tf_class`` the JASPAR family / class annotations (several joined with ``"::"``, as for
heterodimers). Only the latest version of each matrix is loaded. Several matrices may share a
TF name (e.g. two ``FOS::JUN`` matrices); :func:`get_motifs_by_name` returns the one with the
lowest matrix id.
"""

from __future__ import annotations

import csv
import difflib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from satori_jax.data.meme import Motif, read_meme, write_meme
from satori_jax.errors import InputError

__all__ = ["DEFAULT_RELEASE", "cache_dir", "load_jaspar", "jaspar_families", "get_motifs_by_name"]

DEFAULT_RELEASE = "JASPAR2024"


def cache_dir() -> Path:
    """Cache root: ``$SATORI_JAX_CACHE`` if set, else ``~/.cache/satori_jax`` (not created here)."""
    env = os.environ.get("SATORI_JAX_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "satori_jax"


def _join(values: Iterable[str] | str | None) -> str:
    if values is None:
        return ""
    if isinstance(values, str):
        return values
    seen: list[str] = []
    for v in values:
        v = str(v).strip()
        if v and v not in seen:
            seen.append(v)
    return "::".join(seen)


def _cache_paths(release: str, collection: str, tax_group: str) -> tuple[Path, Path]:
    stem = f"{release}_{collection}_{tax_group}".replace("/", "_").replace(" ", "_")
    root = cache_dir() / "jaspar"
    return root / f"{stem}.meme", root / f"{stem}.families.tsv"


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fetch_from_pyjaspar(release: str, collection: str, tax_group: str) -> list[Motif]:
    try:
        from pyjaspar import jaspardb
    except ImportError as exc:  # pragma: no cover - pyjaspar is a declared dependency
        raise InputError(f"pyjaspar is needed for JASPAR motifs ({exc}); pip install pyjaspar") from None
    db = jaspardb(release=release) if release else jaspardb()
    releases = db.get_releases()
    if release not in releases:
        raise InputError(f"unknown JASPAR release {release!r}; pyjaspar has {', '.join(releases)}")
    tax = None if tax_group in ("", "all", None) else [tax_group]
    records = db.fetch_motifs(collection=collection, tax_group=tax)
    motifs = []
    for r in records:
        counts = np.array([r.counts[b] for b in "ACGT"], dtype=np.float64).T  # (K, 4)
        tot = counts.sum(axis=1, keepdims=True)
        tot[tot == 0] = 1.0
        pwm = counts / tot
        name = str(r.name).replace(" ", "_")
        motifs.append(Motif(name=name, pwm=pwm, alt=str(r.matrix_id), family=_join(r.tf_family),
                            tf_class=_join(r.tf_class)))
    if not motifs:
        raise InputError(f"{release} has no motifs for collection={collection!r} tax_group={tax_group!r}")
    motifs.sort(key=lambda m: m.alt)
    return motifs


def load_jaspar(
    collection: str = "CORE", tax_group: str = "vertebrates", release: str = DEFAULT_RELEASE
) -> list[Motif]:
    """All (latest-version) JASPAR matrices of a collection and taxonomic group.

    Parameters
    ----------
    collection
        JASPAR collection (``"CORE"``, ``"UNVALIDATED"``, ...).
    tax_group
        ``"vertebrates"``, ``"plants"``, ``"insects"``, ... or ``"all"``.
    release
        pyjaspar release name (``"JASPAR2024"`` default; ``"JASPAR2026"``, ``"JASPAR2022"``, ...).

    Returns
    -------
    Motifs sorted by matrix id; ``name`` = TF name, ``alt`` = matrix id, family/class filled.
    """
    meme_path, fam_path = _cache_paths(release, collection, tax_group)
    if not (meme_path.exists() and fam_path.exists()):
        motifs = _fetch_from_pyjaspar(release, collection, tax_group)

        def write_fams(p: Path) -> None:
            with open(p, "w", newline="") as fh:
                fh.write("matrix_id\tname\tfamily\tclass\n")
                for m in motifs:
                    fh.write(f"{m.alt}\t{m.name}\t{m.family}\t{m.tf_class}\n")

        _atomic_write(fam_path, write_fams)
        _atomic_write(meme_path, lambda p: write_meme(p, motifs))
    motifs = read_meme(meme_path)
    meta: dict[str, tuple[str, str]] = {}
    with open(fam_path, newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            meta[row["matrix_id"]] = (row.get("family") or "", row.get("class") or "")
    for m in motifs:
        m.family, m.tf_class = meta.get(m.alt, ("", ""))
    return motifs


def jaspar_families(
    collection: str = "CORE", tax_group: str = "vertebrates", release: str = DEFAULT_RELEASE
) -> dict[str, str]:
    """TF name -> TF family (first matrix of each name by matrix id)."""
    out: dict[str, str] = {}
    for m in load_jaspar(collection, tax_group, release):
        out.setdefault(m.name, m.family)
    return out


def get_motifs_by_name(
    names: Iterable[str],
    collection: str = "CORE",
    tax_group: str = "vertebrates",
    release: str = DEFAULT_RELEASE,
    motifs: list[Motif] | None = None,
) -> list[Motif]:
    """Look TF names up (exact match first, then case-insensitive) and return one motif each.

    Parameters
    ----------
    names
        TF names such as ``"ELF1"`` or ``"FOS::JUN"``; a matrix id (``"MA0099.4"``) also works.
    motifs
        Search these motifs instead of JASPAR (e.g. the contents of a user MEME file).

    Raises
    ------
    InputError
        For a name not found, with the closest known names.
    """
    pool = motifs if motifs is not None else load_jaspar(collection, tax_group, release)
    exact: dict[str, Motif] = {}
    lower: dict[str, Motif] = {}
    for m in pool:  # pool sorted by matrix id for JASPAR: the first wins
        exact.setdefault(m.name, m)
        lower.setdefault(m.name.lower(), m)
        if m.alt:
            exact.setdefault(m.alt, m)
    out = []
    for name in names:
        m = exact.get(name) or lower.get(name.lower())
        if m is None:
            close = difflib.get_close_matches(name, list(exact), n=5, cutoff=0.6)
            where = "the given motifs" if motifs is not None else f"{release} {collection} {tax_group}"
            hint = f"; close names: {', '.join(close)}" if close else ""
            raise InputError(f"unknown motif name {name!r} (not in {where}){hint}")
        out.append(m)
    return out
