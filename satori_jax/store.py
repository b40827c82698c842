"""On-disk attribution store: one HDF5 file plus a JSON sidecar manifest.

Why HDF5 (through h5py)
-----------------------
* **One file** per export (``STORE``), easy to move, archive and hand to collaborators; zarr would be
  a directory tree of thousands of chunk files and is not a dependency of this project.
* **Chunked datasets with partial writes**: every export chunk writes its rows in place
  (``ds[start:stop] = ...``), so the exporter never holds more than one chunk in memory and an
  interrupted export keeps what it finished.
* **Widely read**: numpy users open it with ``h5py`` (``f["ig"][i]`` reads one sequence), and the
  TF-MoDISco ecosystem already exchanges contribution scores as HDF5 / npz.

Layout
------
Datasets (``N`` sequences, ``L`` bp, ``C`` outputs, ``L'`` attention length, ``H`` heads):

* ``ids (N,)`` fixed-length UTF-8 bytes, ``codes (N, L)`` uint8 (the input sequences);
* ``predictions (N, C)`` sigmoid probabilities and ``logits (N, C)`` (float32);
* ``ig``, ``grad_x_input``, ``hypothetical`` ``(N, L, 4)``; ``ig_delta (N,)`` float32
  ``F(x) − F(baseline)`` (IG completeness: ``ig[i].sum() ≈ ig_delta[i]``);
* ``attention``, ``attention_ig`` ``(N, L', L')`` (``heads="max"``) or ``(N, H, L', L')``;
* ``_done (n_chunks,)`` uint8: 1 once a chunk's rows are all written and flushed.

Crash safety and determinism: every dataset is created at full size with *early allocation*
(all HDF5 chunks allocated and filled — NaN for floats — when the file is created) and no
compression, so writing rows later only overwrites raw bytes at fixed offsets and never touches
the file's metadata; the only metadata change after creation is the ``finished`` attribute, set
last. Timestamps are off (``track_times=False``). A resumed export therefore writes the same bytes
at the same offsets as an uninterrupted one, and the files are identical.

Manifest: the HDF5 attribute ``manifest`` (JSON, written once at creation: format, settings,
model, input, ids, dataset shapes, chunking) and ``finished`` (0/1). The sidecar
``STORE.manifest.json`` holds the same manifest plus ``completed_chunks`` and ``finished``; it is
rewritten atomically after every flushed chunk and is the source of truth for resuming (a chunk
counts as done only when both the sidecar and ``_done`` say so). ``finished`` becomes true only
after every chunk (and the MoDISco files, when requested) is on disk, so an interrupted export
never looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax.errors import InputError

__all__ = [
    "FORMAT",
    "VERSION",
    "AttributionStore",
    "DatasetSpec",
    "check_settings",
    "is_complete",
    "load",
    "manifest_path",
    "modisco_dir",
    "read_manifest",
    "remove_store",
    "write_modisco",
]

FORMAT = "satori_jax.attribute"
VERSION = 1
_TARGET_CHUNK_BYTES = 4 << 20  # HDF5 chunk size target (reading one sequence reads one HDF5 chunk)
_VOLATILE = ("completed_chunks", "finished")


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of the store: ``shape`` includes the leading ``N``."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    description: str = ""
    fillvalue: Any = None
    """Value of unwritten entries (default: NaN for floats, 255 for uint8, empty for bytes)."""

    def fill(self) -> Any:
        if self.fillvalue is not None:
            return self.fillvalue
        dt = np.dtype(self.dtype)
        if dt.kind == "f":
            return np.nan
        if dt.kind == "S":
            return b""
        return np.iinfo(dt).max if dt.kind in "ui" else 0


def manifest_path(store: str | Path) -> Path:
    """``STORE.manifest.json``."""
    return Path(str(store) + ".manifest.json")


def modisco_dir(store: str | Path) -> Path:
    """``STORE_modisco/`` (``ohe.npz``, ``shap.npz``)."""
    return Path(str(store) + "_modisco")


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _dumps(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def read_manifest(store: str | Path) -> dict:
    """The manifest of ``store`` (sidecar if present, else the HDF5 attribute).

    Raises
    ------
    InputError
        If neither can be read.
    """
    side = manifest_path(store)
    if side.is_file():
        try:
            return json.loads(side.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{side}: unreadable manifest ({exc})") from None
    import h5py

    try:
        with h5py.File(store, "r") as f:
            m = json.loads(f.attrs["manifest"])
            m["finished"] = bool(f.attrs.get("finished", 0))
            m["completed_chunks"] = [int(i) for i in np.flatnonzero(f["_done"][:] == 1)]
            return m
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{store}: not a readable attribution store ({exc})") from None


def is_complete(store: str | Path) -> bool:
    """True when ``store`` exists and its export finished (HDF5 ``finished`` attribute and sidecar)."""
    import h5py

    store = Path(store)
    if not store.is_file() or not manifest_path(store).is_file():
        return False
    try:
        with h5py.File(store, "r") as f:
            done = bool(f.attrs.get("finished", 0))
        return done and bool(json.loads(manifest_path(store).read_text()).get("finished"))
    except (OSError, ValueError):
        return False


def remove_store(store: str | Path) -> None:
    """Delete ``STORE``, its sidecar manifest and ``STORE_modisco/`` (if present)."""
    store = Path(store)
    for p in (store, manifest_path(store)):
        if p.is_file() or p.is_symlink():
            p.unlink()
    if modisco_dir(store).is_dir():
        shutil.rmtree(modisco_dir(store))


def load(
    store: str | Path, names: tuple[str, ...] | list[str] | None = None, allow_partial: bool = False
) -> dict[str, np.ndarray]:
    """Read datasets of a store into memory.

    Parameters
    ----------
    names
        Dataset names (default: every dataset but ``_done``).
    allow_partial
        Read an unfinished store (unwritten rows are NaN / 255).

    Raises
    ------
    InputError
        Missing or unfinished store (unless ``allow_partial``), unknown dataset name.
    """
    import h5py

    store = Path(store)
    if not store.is_file():
        raise InputError(f"{store}: no such attribution store")
    if not allow_partial and not is_complete(store):
        raise InputError(f"{store}: export has not finished (rerun the same command to resume)")
    with h5py.File(store, "r") as f:
        keys = [k for k in f.keys() if k != "_done"] if names is None else list(names)
        missing = [k for k in keys if k not in f]
        if missing:
            raise InputError(f"{store}: no dataset(s) {', '.join(missing)} (has: {', '.join(sorted(f))})")
        return {k: f[k][()] for k in keys}


class AttributionStore:
    """An HDF5 store being written (see the module docstring); use :meth:`create` or :meth:`resume`."""

    def __init__(self, path: Path, manifest: dict, h5file) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self._f = h5file
        self.completed: set[int] = set(int(i) for i in manifest.get("completed_chunks", []))

    # ------------------------------------------------------------------ open / create
    @classmethod
    def create(cls, path: str | Path, manifest: dict, specs: list[DatasetSpec]) -> AttributionStore:
        """Create ``path`` with every dataset pre-sized (early allocation) and the manifest."""
        import h5py

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        n_chunks = int(manifest["n_chunks"])
        chunk_size = int(manifest["chunk_size"])
        manifest = {**manifest, "completed_chunks": [], "finished": False}
        static = {k: v for k, v in manifest.items() if k not in _VOLATILE}
        try:
            f = h5py.File(path, "w", libver="earliest", track_order=False)
        except OSError as exc:
            raise InputError(f"{path}: cannot create the store ({exc})") from None
        try:
            f.attrs["format"] = FORMAT
            f.attrs["manifest"] = _dumps(static)
            f.attrs["finished"] = np.int8(0)
            for spec in [*specs, DatasetSpec("_done", (n_chunks,), "uint8", "1 = chunk written", 0)]:
                _create_dataset(f, spec, chunk_size)
            f.flush()
        except BaseException:
            f.close()
            raise
        _atomic_write_text(manifest_path(path), _dumps(manifest))
        return cls(path, manifest, f)

    @classmethod
    def resume(cls, path: str | Path, expected: dict) -> AttributionStore:
        """Reopen an unfinished store for writing after checking it was made with ``expected`` settings.

        Raises
        ------
        InputError
            Unreadable store or different settings (the message lists them and suggests
            ``--overwrite``).
        """
        import h5py

        path = Path(path)
        check_settings(path, expected)
        try:
            f = h5py.File(path, "r+")
            stored = json.loads(f.attrs["manifest"])
            done = f["_done"][:] == 1
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(
                f"{path}: cannot reopen the existing store to resume ({exc}); rerun with "
                "--overwrite to start over"
            ) from None
        side = manifest_path(path)
        listed: set[int] = set()
        if side.is_file():
            try:
                listed = set(int(i) for i in json.loads(side.read_text()).get("completed_chunks", []))
            except (OSError, ValueError):
                listed = set()
        completed = sorted(listed & set(int(i) for i in np.flatnonzero(done)))
        manifest = {**stored, "completed_chunks": completed, "finished": False}
        return cls(path, manifest, f)

    # ------------------------------------------------------------------ writing
    @property
    def finished(self) -> bool:
        return bool(self._f.attrs.get("finished", 0))

    def write_rows(self, name: str, start: int, values: np.ndarray) -> None:
        """Write rows ``start : start + len(values)`` of dataset ``name``."""
        ds = self._f[name]
        ds[start : start + values.shape[0]] = values.astype(ds.dtype, copy=False)

    def mark_done(self, chunk: int) -> None:
        """Record ``chunk`` as complete: ``_done``, flush to disk, then the sidecar."""
        self._f["_done"][chunk] = 1
        self._f.flush()
        self.completed.add(int(chunk))
        self.manifest["completed_chunks"] = sorted(self.completed)
        _atomic_write_text(manifest_path(self.path), _dumps(self.manifest))

    def finish(self) -> None:
        """Set the ``finished`` flag (HDF5 attribute, then the sidecar) and close."""
        self._f.attrs["finished"] = np.int8(1)
        self._f.flush()
        self.close()
        self.manifest["finished"] = True
        _atomic_write_text(manifest_path(self.path), _dumps(self.manifest))

    def read(self, name: str, start: int, stop: int) -> np.ndarray:
        return self._f[name][start:stop]

    def close(self) -> None:
        if self._f is not None and self._f.id.valid:
            self._f.close()

    def __enter__(self) -> AttributionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_settings(path: str | Path, expected: dict) -> dict:
    """Check that the store at ``path`` was made with the ``expected`` manifest (read-only).

    Returns
    -------
    dict
        The stored manifest (without ``completed_chunks`` / ``finished``).

    Raises
    ------
    InputError
        Unreadable store, or different settings (the message lists them and suggests ``--overwrite``).
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            stored = json.loads(f.attrs["manifest"])
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(
            f"{path}: exists but is not a readable attribution store ({exc}); rerun with --overwrite "
            "or choose another --out"
        ) from None
    want = {k: v for k, v in expected.items() if k not in _VOLATILE}
    diffs = _diff(stored, want)
    if diffs:
        shown = "; ".join(diffs[:4]) + (f"; ... ({len(diffs)} differences)" if len(diffs) > 4 else "")
        raise InputError(
            f"{path}: an export with different settings is already there ({shown}); rerun with "
            "--overwrite to replace it, or choose another --out"
        )
    return stored


def _create_dataset(f, spec: DatasetSpec, chunk_size: int) -> None:
    import h5py

    dtype = np.dtype(spec.dtype)
    shape = tuple(int(s) for s in spec.shape)
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize if len(shape) > 1 else dtype.itemsize
    rows = max(1, min(chunk_size, _TARGET_CHUNK_BYTES // max(row_bytes, 1), shape[0] or 1))
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_ALLOC)
    ds = f.create_dataset(
        spec.name,
        shape=shape,
        dtype=dtype,
        chunks=(rows, *shape[1:]),
        fillvalue=spec.fill(),
        track_times=False,
        dcpl=dcpl,
    )
    if spec.description:
        ds.attrs["description"] = spec.description


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Human-readable differences between two JSON-like values."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            key = f"{prefix}.{k}" if prefix else str(k)
            if k not in a:
                out.append(f"{key}: new {b[k]!r}")
            elif k not in b:
                out.append(f"{key}: was {a[k]!r}")
            else:
                out.extend(_diff(a[k], b[k], key))
        return out
    if a != b:
        sa, sb = repr(a), repr(b)
        if len(sa) > 60 or len(sb) > 60:
            return [f"{prefix or 'value'} differs"]
        return [f"{prefix or 'value'}: store has {sa}, this run {sb}"]
    return []


# ----------------------------------------------------------------------------- TF-MoDISco


def _stream_npz(path: Path, n: int, row_shape: tuple[int, ...], blocks) -> None:
    """Write ``path`` as an ``.npz`` holding one array ``arr_0 (n, *row_shape)`` float32, block by block.

    ``blocks`` yields ``(start, array)``; the ``.npy`` is built in a temporary file (memory map),
    then stored uncompressed in the zip, so memory stays at one block.
    """
    tmp_npy = path.with_name(f".{path.stem}.arr_0.npy.tmp")
    tmp_npz = path.with_name(f".{path.name}.tmp")
    try:
        arr = np.lib.format.open_memmap(tmp_npy, mode="w+", dtype=np.float32, shape=(n, *row_shape))
        for start, block in blocks:
            arr[start : start + block.shape[0]] = block
        arr.flush()
        del arr
        with zipfile.ZipFile(tmp_npz, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
            z.write(tmp_npy, arcname="arr_0.npy")
        os.replace(tmp_npz, path)
    finally:
        for p in (tmp_npy, tmp_npz):
            if p.exists():
                p.unlink()


def write_modisco(store: str | Path, block_rows: int = 1024) -> Path:
    """Write ``STORE_modisco/ohe.npz`` and ``shap.npz`` for modisco-lite from an exported store.

    Both hold one float32 array ``arr_0 (N, 4, L)`` (channels first, A, C, G, T), which is what
    ``modisco motifs -s ohe.npz -a shap.npz`` loads: ``ohe`` is the one-hot input (an N base is 0.25
    in each channel) and ``shap`` the hypothetical contributions (``hypothetical`` dataset), so
    ``shap * ohe`` are the actual contributions. Memory stays at ``block_rows`` sequences.

    Returns
    -------
    Path
        The ``STORE_modisco`` directory.
    """
    import h5py

    from satori_jax.data.encoding import one_hot_np

    out = modisco_dir(store)
    out.mkdir(parents=True, exist_ok=True)
    with h5py.File(store, "r") as f:
        if "hypothetical" not in f:
            raise InputError(f"{store}: no 'hypothetical' dataset to export for TF-MoDISco")
        codes, hyp = f["codes"], f["hypothetical"]
        n, length = codes.shape

        def ohe_blocks():
            for s in range(0, n, block_rows):
                yield s, one_hot_np(codes[s : s + block_rows]).transpose(0, 2, 1)

        def hyp_blocks():
            for s in range(0, n, block_rows):
                yield s, np.asarray(hyp[s : s + block_rows], np.float32).transpose(0, 2, 1)

        _stream_npz(out / "ohe.npz", n, (4, length), ohe_blocks())
        _stream_npz(out / "shap.npz", n, (4, length), hyp_blocks())
    return out
