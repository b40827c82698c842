"""The exporter: stream sequences from disk through the kernels into an HDF5 store, resumably.

Resuming and determinism: chunk ``i`` always holds rows ``[i·chunk_size, (i+1)·chunk_size)`` and
chunk boundaries are multiples of the batch size, so every row is computed in the same batch by
the same program whatever the chunking; rerunning an interrupted export skips the chunks recorded
as done and writes identical bytes.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax.attribute.engine import Engine, resolve_model, row_specs, variables_sha256
from satori_jax.attribute.settings import DEFAULT_WHAT, DESCRIPTIONS, Settings, resolve_targets
from satori_jax.data.sources import StreamSource, open_source
from satori_jax.errors import InputError, input_error


@dataclass
class ExportResult:
    """What :func:`export` did. ``seconds`` are per quantity (device compute + transfer)."""

    store: Path
    n: int
    n_chunks: int
    chunks_computed: int
    chunks_skipped: int
    seconds: dict[str, float]
    total_seconds: float
    modisco: Path | None = None
    already_complete: bool = False

    def throughput(self) -> dict[str, float]:
        """Sequences per second per quantity over the chunks computed in this call."""
        rows = self.computed_rows
        return {q: (rows / t if t > 0 else float("nan")) for q, t in self.seconds.items()}

    computed_rows: int = 0


@dataclass
class _Scan:
    """What the counting pass found: records, longest id (bytes), fingerprint of ids + codes."""

    n: int
    id_bytes: int
    sha256: str
    n_resized: int = 0



def after_chunk(index: int) -> None:
    """Called by :func:`export` after each chunk is on disk (a hook for tests that simulate a kill)."""

def _id_hash(e: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(e, digest_size=8).digest(), "little", signed=True)


def _scan(source: StreamSource, chunk_size: int, length: int, strict: str | None = None) -> _Scan:
    """Counting pass: number of records, longest id, fingerprint of ids + codes, duplicate ids.

    Validates every record (characters, genome regions) before any compute. Memory: one chunk plus
    8 bytes per record (id hashes for the duplicate check).

    Parameters
    ----------
    source
        An unlabelled source (:mod:`satori_jax.data.sources`).
    chunk_size, length
        Records per chunk and the model's sequence length ``L``.
    strict
        ``None``: FASTA records of another length are resized (and counted); else the reason they
        are refused (:meth:`~satori_jax.data.sources.StreamSource.chunks`).
    """
    h = hashlib.sha256()
    n, id_bytes = 0, 1
    hashes: list[np.ndarray] = []
    n_resized = 0
    for ids, codes, _ in source.chunks(chunk_size, length, strict=strict):
        n_resized += int(getattr(source, "last_resized", 0))
        enc = [i.encode("utf-8") for i in ids]
        id_bytes = max(id_bytes, *(len(e) for e in enc))
        for e in enc:
            h.update(e + b"\n")
        h.update(np.ascontiguousarray(codes).tobytes())
        hashes.append(np.asarray([_id_hash(e) for e in enc], np.int64))
        n += len(ids)
    allh = np.concatenate(hashes) if hashes else np.zeros(0, np.int64)
    order = np.argsort(allh, kind="stable")
    same = np.flatnonzero(allh[order][1:] == allh[order][:-1])
    if same.size:  # confirm (hash collisions are possible) and name the record
        suspects = set(allh[order][same].tolist())
        first: dict[str, int] = {}
        i = 0
        for ids, _, _ in source.chunks(chunk_size, length, keep=lambda _k: False):
            for rid in ids:
                if _id_hash(rid.encode("utf-8")) in suspects:
                    if rid in first:
                        where = source.files.get("fasta", source.files.get("bed"))
                        raise input_error(
                            where, f"duplicate sequence id (records #{first[rid] + 1} and #{i + 1})", rid
                        )
                    first[rid] = i
                i += 1
    h.update(f"n={n}".encode())
    return _Scan(n, id_bytes, h.hexdigest(), n_resized)



def export(
    run: str | Path,
    out: str | Path,
    *,
    data: str | Path | None = None,
    fasta: str | Path | None = None,
    bed: str | Path | None = None,
    genome: str | Path | None = None,
    what: Any = DEFAULT_WHAT,
    steps: int = 20,
    baseline: str = "gc",
    targets: Any = None,
    heads: str = "max",
    dtype: str = "float32",
    batch_size: int = 64,
    chunk_size: int = 1024,
    seed: int = 0,
    modisco: bool = False,
    overwrite: bool = False,
    verbose: bool = False,
) -> ExportResult:
    """Stream sequences from disk through the attribution kernels into an HDF5 store.

    Parameters
    ----------
    run
        Run directory (``config.json``, ``data.json``, ``checkpoints/best``).
    out
        Store path (``STORE``; also ``STORE.manifest.json`` and, with ``modisco``, ``STORE_modisco/``).
    data, fasta, bed, genome
        Exactly one input: a dataset directory (its ``sequences.fa``), a FASTA file, or BED regions
        with a genome FASTA (:mod:`satori_jax.data.sources`; a region's id is the region as given).
        Sequences of another length than the model's are centre-cropped / N-padded to it when the run
        was trained with ``data.length > 0`` (as training did), and refused otherwise.
    what, steps, baseline, targets, heads, dtype, batch_size, seed
        As in :func:`satori_jax.attribute.attribute`; ``dtype`` applies to attributions and attention.
    chunk_size
        Sequences per chunk (the unit of writing and resuming), rounded up to a multiple of the
        batch size. Memory is bounded by one chunk.
    modisco
        Also write ``STORE_modisco/{ohe,shap}.npz`` (adds ``hypothetical`` to ``what``).
    overwrite
        Delete an existing store first. Without it an unfinished store with the same settings is
        resumed, a finished one is left alone, and one with other settings is an error.

    Returns
    -------
    ExportResult

    Raises
    ------
    InputError
        Bad arguments or inputs, or an existing store made with other settings.
    """
    from satori_jax import parallel
    from satori_jax import store as store_lib

    t_start = time.perf_counter()
    what_list = list(what.split(",")) if isinstance(what, str) else list(what)
    if modisco and "hypothetical" not in what_list:
        what_list.append("hypothetical")
    s = Settings.make(what_list, steps, baseline, heads, dtype, batch_size, seed)
    if int(chunk_size) < 1:
        raise InputError(f"--chunk-size must be >= 1, got {chunk_size}")
    # one process, every local device (export never joins a multi-host job; each process would
    # export the same sequences)
    parallel.refuse_several_processes(
        "attribute export",
        "it uses every local device; run one export per host on its own share of the sequences",
    )
    out = Path(out)
    if out.is_dir():
        raise input_error(out, "--out must be a file path (the HDF5 store), not a directory")
    m = resolve_model(run)
    source = open_source(data_dir=data, fasta=fasta, bed=bed, genome=genome, need_labels=False)
    target_names, tw = resolve_targets(targets, m.label_names)

    def log(msg: str) -> None:
        if verbose:
            print(msg, file=sys.stderr, flush=True)

    eng = Engine(m.model, m.variables, s, tw)
    bs = eng.batch_size
    chunk = -(-int(chunk_size) // bs) * bs
    log(f"counting and checking the input ({source.describe()['kind']}) ...")
    strict = None if m.resize else (
        f"the model of {run} was trained on sequences as given (data.length = 0), so attribution does not "
        f"resize them; give {m.length} bp sequences, or regions with --bed/--genome (read as {m.length} bp "
        "around their centre)")
    scan = _scan(source, chunk, m.length, strict)
    if scan.n_resized:
        log(f"{scan.n_resized} of {scan.n} sequences are not {m.length} bp: centre-cropped / N-padded to "
            f"{m.length} bp, as in training")
    n_chunks = -(-scan.n // chunk)
    rows = row_specs(m.model, m.variables, m.length, len(m.label_names), s)
    rows = {"ids": ((), f"S{scan.id_bytes}"), "codes": ((m.length,), "uint8"), **rows}
    specs = [store_lib.DatasetSpec(name, (scan.n, *shape), dt, DESCRIPTIONS[name])
             for name, (shape, dt) in rows.items()]
    manifest = {
        "format": store_lib.FORMAT,
        "version": store_lib.VERSION,
        "settings": {
            "what": list(s.what),
            "steps": s.steps,
            "baseline": s.baseline,
            "targets": target_names,
            "heads": s.heads,
            "dtype": s.dtype,
            "batch_size": bs,
            "seed": s.seed,
            "ig_rule": "midpoint",
            "attention_ig_rule": "right",
            "grad_x_input": "mean-centred (== hypothetical * one-hot)",
            "attention_ig_heads_max": "max over heads of |attribution|",
            "modisco": bool(modisco),
        },
        "model": {**m.info, "variables_sha256": variables_sha256(m.variables), "label_names": m.label_names,
                  "length": m.length},
        "input": {**source.describe(), "n": scan.n, "sha256": scan.sha256},
        "ids": {"dataset": "ids", "count": scan.n, "encoding": "utf-8"},
        "datasets": {
            sp.name: {"shape": list(sp.shape), "dtype": sp.dtype, "description": sp.description}
            for sp in specs
        },
        "chunk_size": chunk,
        "n_chunks": n_chunks,
    }
    if overwrite:
        store_lib.remove_store(out)
    if out.exists() and store_lib.is_complete(out):
        store_lib.check_settings(out, manifest)  # read-only: a finished store is never reopened for writing
        log(f"{out}: already complete ({scan.n} sequences); nothing to do (use --overwrite to redo)")
        return ExportResult(out, scan.n, n_chunks, 0, n_chunks, {}, time.perf_counter() - t_start,
                            store_lib.modisco_dir(out) if modisco else None, already_complete=True)
    if out.exists():
        st = store_lib.AttributionStore.resume(out, manifest)
        log(f"{out}: resuming ({len(st.completed)}/{n_chunks} chunks already done)")
    else:
        st = store_lib.AttributionStore.create(out, manifest, specs)
    log(f"{scan.n} sequences x {m.length} bp in {n_chunks} chunk(s) of {chunk}; batch {bs}; "
        f"{eng.describe()}; computing {', '.join(s.what)}")
    done_before = set(st.completed)
    computed = 0
    try:
        t0 = time.perf_counter()
        todo = source.chunks(chunk, m.length, keep=lambda k: k not in done_before, strict=strict)
        for index, (ids, codes, _) in enumerate(todo):
            if codes is None:
                continue
            start = index * chunk
            res = eng.run(codes, start)
            st.write_rows("ids", start, np.asarray([i.encode("utf-8") for i in ids], f"S{scan.id_bytes}"))
            st.write_rows("codes", start, codes)
            for name, arr in res.items():
                st.write_rows(name, start, arr)
            st.mark_done(index)
            computed += 1
            log(f"  chunk {index + 1}/{n_chunks}: {start + len(ids)}/{scan.n} sequences, "
                f"{eng.rows / (time.perf_counter() - t0):.1f} seq/s")
            after_chunk(index)
        missing = sorted(set(range(n_chunks)) - st.completed)
        if missing:  # the input changed under us (should be caught by the fingerprint)
            raise InputError(f"{out}: chunk(s) {missing[:5]} were not written; the input changed during "
                             "the export?")
    except BaseException:
        st.close()
        raise
    mod = None
    if modisco:
        st.close()
        mod = store_lib.write_modisco(out)
        import h5py

        st = store_lib.AttributionStore(out, st.manifest, h5py.File(out, "r+"))
        log(f"TF-MoDISco inputs: {mod}/ohe.npz, {mod}/shap.npz (N, 4, L)")
    st.finish()
    res = ExportResult(out, scan.n, n_chunks, computed, len(done_before), dict(eng.seconds),
                       time.perf_counter() - t_start, mod, computed_rows=eng.rows)
    if verbose:
        tp = ", ".join(f"{q} {v:.1f}" for q, v in res.throughput().items())
        log(f"wrote {out} ({scan.n} sequences) in {res.total_seconds:.1f} s; sequences/s: {tp}")
    return res
