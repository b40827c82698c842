"""Batched, streamed, resumable attribution export (``python -m satori_jax.attribute``).

Per-sequence evidence for any number of sequences: predictions, input attributions (integrated
gradients, gradient × input, hypothetical contributions), raw attention and attention attribution,
written chunk by chunk into an HDF5 store (:mod:`satori_jax.store`, which explains the choice of
HDF5 and the layout). Two front ends share one set of kernels:

* :func:`attribute` returns numpy arrays for notebooks;
* :func:`export` (the CLI) streams a FASTA file, a dataset directory or BED regions + a genome from
  disk in chunks of ``chunk_size`` sequences, so memory does not grow with ``N``.

Kernels (reused, not reimplemented): :func:`satori_jax.interpret.ig.ig_rows` (IG, the ``steps``
interpolation points in cache-sized blocks on CPU, midpoint rule),
:func:`~satori_jax.interpret.ig.gradient_x_input`,
:func:`~satori_jax.interpret.ig.hypothetical_contributions`,
:func:`satori_jax.interpret.attention.attention_attribution` (right Riemann rule, zero baseline),
and the model's own attention maps. Each quantity is one jit-compiled function of a fixed-shape
batch ``(B, L)`` of uint8 codes (``B = batch_size`` rounded up to a multiple of the device count);
the last batch is padded with N codes and its padded rows are dropped, so every batch of every
chunk runs the same compiled program. With more than one device, variables are replicated and
every batch is sharded over the devices (:mod:`satori_jax.parallel`).

Quantities (``what``)
---------------------
* ``predictions``: ``predictions (N, C)`` sigmoid probabilities and ``logits (N, C)``.
* ``ig``: ``ig (N, L, 4)`` integrated gradients of ``F`` against the baseline, and
  ``ig_delta (N,)`` ``F(x) − F(baseline)`` (completeness: ``ig.sum((1, 2)) ≈ ig_delta``).
* ``grad_x_input``: ``(N, L, 4)`` mean-centred gradient × input (``center=True``, equal to
  ``hypothetical × one-hot``: the actual contributions TF-MoDISco pairs with ``hypothetical``).
* ``hypothetical``: ``(N, L, 4)`` hypothetical contributions ``∇F − mean_c ∇F``.
* ``attention``: ``(N, L', L')`` max over heads (``heads="max"``) or ``(N, H, L', L')``.
* ``attention_ig``: attention attribution, ``(N, L', L')`` ``max_h |Attr_h|`` (as the ``attr``
  interaction scorer) or signed ``(N, H, L', L')``.

``F`` is the sum of the logits of the ``targets`` (label names; default all, i.e. the single logit
of a binary model). Baselines for IG: ``gc`` (each sequence's GC-matched background), ``zeros``,
or ``shuffle`` (a dinucleotide shuffle of the sequence, seeded by ``(seed, sequence index)`` so it
does not depend on chunking).

Resuming and determinism: chunk ``i`` always holds rows ``[i·chunk_size, (i+1)·chunk_size)`` and
chunk boundaries are multiples of the batch size, so every row is computed in the same batch by
the same program whatever the chunking; rerunning an interrupted export skips the chunks recorded
as done and writes identical bytes.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import sys
import time
import types
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax.data.io import open_error
from satori_jax.errors import InputError, input_error

__all__ = [
    "DEFAULT_WHAT",
    "QUANTITIES",
    "ExportResult",
    "Settings",
    "attribute",
    "export",
    "iter_bed_regions",
    "iter_fasta",
    "resolve_targets",
]

QUANTITIES = ("predictions", "ig", "grad_x_input", "hypothetical", "attention", "attention_ig")
DEFAULT_WHAT = ("predictions", "ig", "attention")
BASELINES = ("gc", "zeros", "shuffle")
_DATASETS = {  # quantity -> datasets it writes
    "predictions": ("predictions", "logits"),
    "ig": ("ig", "ig_delta"),
    "grad_x_input": ("grad_x_input",),
    "hypothetical": ("hypothetical",),
    "attention": ("attention",),
    "attention_ig": ("attention_ig",),
}
_DESCRIPTIONS = {
    "ids": "sequence ids (UTF-8)",
    "codes": "input sequences, uint8 codes A=0 C=1 G=2 T=3 other=4",
    "predictions": "sigmoid probabilities (N, C)",
    "logits": "logits (N, C)",
    "ig": "integrated gradients (N, L, 4), midpoint rule",
    "ig_delta": "F(x) - F(baseline) (N,); ig.sum((1, 2)) approximates it",
    "grad_x_input": "mean-centred gradient x input (N, L, 4) == hypothetical * one-hot",
    "hypothetical": "hypothetical contributions grad - mean_c grad (N, L, 4)",
    "attention": "attention weights",
    "attention_ig": "attention attribution (right Riemann rule, zero baseline)",
}


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """Validated export settings (see :func:`export` for the meaning)."""

    what: tuple[str, ...] = DEFAULT_WHAT
    steps: int = 20
    baseline: str = "gc"
    heads: str = "max"
    dtype: str = "float32"
    batch_size: int = 64
    seed: int = 0

    @classmethod
    def make(
        cls,
        what: Any = DEFAULT_WHAT,
        steps: int = 20,
        baseline: str = "gc",
        heads: str = "max",
        dtype: str = "float32",
        batch_size: int = 64,
        seed: int = 0,
    ) -> Settings:
        """Validate user values (``what`` as a comma string or a sequence); raise :class:`InputError`."""
        if isinstance(what, str):
            what = [w.strip() for w in what.split(",") if w.strip()]
        what = list(dict.fromkeys(what))  # unique, in given order
        bad = [w for w in what if w not in QUANTITIES]
        if bad or not what:
            raise InputError(
                f"--what: unknown quantity {', '.join(map(repr, bad)) or '(none given)'}; choose "
                f"from {','.join(QUANTITIES)}"
            )
        what = tuple(q for q in QUANTITIES if q in what)  # canonical order
        if int(steps) < 1:
            raise InputError(f"--steps must be >= 1, got {steps}")
        if baseline not in BASELINES:
            raise InputError(f"--baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
        if heads not in ("max", "all"):
            raise InputError(f"--heads must be 'max' or 'all', got {heads!r}")
        if dtype not in ("float16", "float32"):
            raise InputError(f"--dtype must be float16 or float32, got {dtype!r}")
        if int(batch_size) < 1:
            raise InputError(f"--batch-size must be >= 1, got {batch_size}")
        return cls(what, int(steps), baseline, heads, dtype, int(batch_size), int(seed))


def resolve_targets(targets: Any, label_names: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Target label names and ``(C,)`` float32 weights.

    Parameters
    ----------
    targets
        ``None`` or ``"all"`` (every label), a comma-separated string or a list of label names.
    label_names
        The model's ``C`` label names.

    Raises
    ------
    InputError
        On an unknown label name (the message lists the model's labels).
    """
    names = list(label_names)
    if targets is None or (isinstance(targets, str) and targets.strip().lower() == "all"):
        chosen = names
    else:
        chosen = (
            [t.strip() for t in targets.split(",")] if isinstance(targets, str) else [str(t) for t in targets]
        )
        chosen = [t for t in dict.fromkeys(chosen) if t]
        unknown = [t for t in chosen if t not in names]
        if unknown or not chosen:
            raise InputError(
                f"--targets: unknown label(s) {', '.join(map(repr, unknown)) or '(none)'}; the model's "
                f"labels are {', '.join(names)} (or 'all')"
            )
    weights = np.asarray([1.0 if n in chosen else 0.0 for n in names], np.float32)
    return [n for n in names if n in chosen], weights


# ----------------------------------------------------------------------------- streaming readers


def _open_lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of a plain or gzipped text file, read line by line."""
    if path.is_dir():
        raise input_error(path, f"expected a {what} file, got a directory")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
    except OSError as exc:
        raise open_error(path, what, exc) from None
    opener = gzip.open if magic == b"\x1f\x8b" else open
    lineno = 0
    try:
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if b"\x00" in raw:
                    raise input_error(
                        path, f"not a text {what} file (contains NUL bytes; binary data?)", lineno
                    )
                try:
                    yield lineno, raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise input_error(path, f"not a text {what} file (undecodable byte)", lineno) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise input_error(path, f"corrupt or unreadable {what} file ({exc})", lineno or None) from None


def iter_fasta(path: str | Path) -> Iterator[tuple[str, str]]:
    """Stream ``(id, sequence)`` records from a FASTA file (plain or gzipped) without loading it.

    Same rules as :func:`satori_jax.data.io.read_fasta` (multi-line records, CRLF and blank lines
    tolerated; errors for data before the first header, a header without id, an empty record, an
    empty file), except that duplicated ids are detected by the exporter's counting pass.
    """
    from satori_jax.data.io import iter_fasta as _iter_fasta

    path = Path(path)
    return _iter_fasta(path, check_duplicates=False, lines=_open_lines(path, "FASTA"))


def iter_bed_regions(path: str | Path) -> Iterator[tuple[str, int, int, int]]:
    """Stream ``(chrom, start, end, line number)`` from a BED file (3 or more columns; extra ignored).

    ``track``/``browser``/``#`` lines and a header row (second field not an integer) are skipped.
    """
    path = Path(path)
    first, seen_any = True, False
    for lineno, line in _open_lines(path, "BED"):
        if not line.strip() or line.startswith(("track", "browser", "#")):
            continue
        fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
        if first:
            first = False
            if len(fields) >= 2 and not fields[1].lstrip("-").isdigit():
                continue  # header row
        if len(fields) < 3:
            raise input_error(path, f"{len(fields)} column(s); expected at least chrom, start, end", lineno)
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise input_error(
                path, f"start/end must be integers, got {fields[1]!r}, {fields[2]!r}", lineno
            ) from None
        if start < 0:
            raise input_error(path, f"negative start {start}", lineno)
        if end <= start:
            raise input_error(path, f"end {end} <= start {start}", lineno)
        seen_any = True
        yield fields[0], start, end, lineno
    if not seen_any:
        raise input_error(path, "no regions found")


class _FastaSource:
    """Sequences of a FASTA file, resized around their centre to the model's length."""

    kind = "fasta"

    def __init__(self, path: Path, length: int) -> None:
        self.path, self.length = Path(path), int(length)

    def describe(self) -> dict:
        return {"kind": self.kind, "fasta": str(self.path.resolve())}

    def chunks(
        self, chunk_size: int, want: Callable[[int], bool] = lambda i: True
    ) -> Iterator[tuple[int, list[str], np.ndarray | None]]:
        from satori_jax.data.encoding import encode_sequence, resize_codes

        ids: list[str] = []
        seqs: list[str] = []
        index = 0

        def emit():
            if not want(index):
                return index, list(ids), None
            codes = np.empty((len(ids), self.length), np.uint8)
            for j, (rid, s) in enumerate(zip(ids, seqs, strict=True)):  # encoding is C-speed per record
                codes[j] = resize_codes(encode_sequence(s, path=self.path, record=rid), self.length)
            return index, list(ids), codes

        for rid, seq in iter_fasta(self.path):
            ids.append(rid)
            seqs.append(seq)
            if len(ids) == chunk_size:
                yield emit()
                ids, seqs, index = [], [], index + 1
        if ids:
            yield emit()


class _BedSource:
    """BED regions resized around their centre and fetched from a genome FASTA, one chunk at a time."""

    kind = "bed"

    def __init__(self, bed: Path, genome: Path, length: int) -> None:
        self.bed, self.genome, self.length = Path(bed), Path(genome), int(length)

    def describe(self) -> dict:
        return {"kind": self.kind, "bed": str(self.bed.resolve()), "genome": str(self.genome.resolve())}

    def chunks(
        self, chunk_size: int, want: Callable[[int], bool] = lambda i: True
    ) -> Iterator[tuple[int, list[str], np.ndarray | None]]:
        from satori_jax.data.io import fetch_regions

        rows: list[tuple[str, int, int, int]] = []
        index = 0

        def emit():
            chroms = [r[0] for r in rows]
            starts = np.asarray([r[1] for r in rows], np.int64)
            ends = np.asarray([r[2] for r in rows], np.int64)
            new = (starts + ends) // 2 - self.length // 2
            ids = [f"{c}:{s}-{s + self.length}" for c, s in zip(chroms, new.tolist(), strict=True)]
            if not want(index):
                return index, ids, None
            return (
                index,
                ids,
                fetch_regions(self.genome, chroms, starts, ends, self.length, bed_path=self.bed),
            )

        for row in iter_bed_regions(self.bed):
            rows.append(row)
            if len(rows) == chunk_size:
                yield emit()
                rows, index = [], index + 1
        if rows:
            yield emit()


@dataclass
class _Scan:
    n: int
    id_bytes: int
    sha256: str


def _scan(source, chunk_size: int) -> _Scan:
    """Counting pass: number of records, longest id, fingerprint of ids + codes, duplicate ids.

    Validates every record (characters, genome regions) before any compute. Memory: one chunk plus
    8 bytes per record (id hashes for the duplicate check).
    """
    h = hashlib.sha256()
    n, id_bytes = 0, 1
    hashes: list[np.ndarray] = []
    for _, ids, codes in source.chunks(chunk_size):
        enc = [i.encode("utf-8") for i in ids]
        id_bytes = max(id_bytes, *(len(e) for e in enc))
        for e in enc:
            h.update(e + b"\n")
        h.update(np.ascontiguousarray(codes).tobytes())
        hashes.append(
            np.asarray(
                [
                    int.from_bytes(hashlib.blake2b(e, digest_size=8).digest(), "little", signed=True)
                    for e in enc
                ],
                np.int64,
            )
        )
        n += len(ids)
    allh = np.concatenate(hashes) if hashes else np.zeros(0, np.int64)
    order = np.argsort(allh, kind="stable")
    same = np.flatnonzero(allh[order][1:] == allh[order][:-1])
    if same.size:  # confirm (hash collisions are possible) and name the record
        suspects = set(allh[order][same].tolist())
        first: dict[str, int] = {}
        i = 0
        for _, ids, _ in source.chunks(chunk_size, want=lambda _i: False):
            for rid in ids:
                hv = int.from_bytes(
                    hashlib.blake2b(rid.encode("utf-8"), digest_size=8).digest(), "little", signed=True
                )
                if hv in suspects:
                    if rid in first:
                        where = getattr(source, "path", None) or getattr(source, "bed", None)
                        raise input_error(
                            where, f"duplicate sequence id (records #{first[rid] + 1} and #{i + 1})", rid
                        )
                    first[rid] = i
                i += 1
    h.update(f"n={n}".encode())
    return _Scan(n, id_bytes, h.hexdigest())


def _find_fasta_in_dir(data_dir: Path) -> Path:
    if not data_dir.is_dir():
        raise input_error(
            data_dir, "dataset directory not found" if not data_dir.exists() else "not a directory"
        )
    for name in ("sequences.fa", "sequences.fa.gz", "sequences.fasta"):
        if (data_dir / name).is_file():
            return data_dir / name
    raise input_error(data_dir, "dataset directory has no sequences file (expected sequences.fa)")


def _make_source(data, fasta, bed, genome, length: int):
    given = [k for k, v in (("--data", data), ("--fasta", fasta), ("--bed", bed)) if v is not None]
    if len(given) != 1:
        raise InputError(
            "give exactly one input: --data DIR, --fasta F, or --bed B with --genome G (got: "
            f"{', '.join(given) or 'nothing'})"
        )
    if bed is None and genome is not None:
        raise InputError("--genome is only used with --bed")
    if data is not None:
        return _FastaSource(_find_fasta_in_dir(Path(data)), length)
    if fasta is not None:
        return _FastaSource(Path(fasta), length)
    if genome is None:
        raise InputError("--bed needs --genome G (the genome FASTA the regions are fetched from)")
    return _BedSource(Path(bed), Path(genome), length)


# ----------------------------------------------------------------------------- model


@dataclass
class _Model:
    model: Any
    variables: Any
    label_names: list[str]
    length: int | None
    info: dict = field(default_factory=dict)


def _resolve_model(run_or_model: Any) -> _Model:
    """A run directory, a :class:`~satori_jax.runs.LoadedRun`, or ``(model, variables[, label_names])``."""
    if isinstance(run_or_model, (str, Path)):
        from satori_jax.runs import load_model

        run = Path(run_or_model)
        if not run.is_dir():
            raise input_error(run, "no such run directory")
        cfg_path = run / "config.json"
        cfg, model, variables, info = load_model(run)
        digest = hashlib.sha256(cfg_path.read_bytes()).hexdigest()
        return _Model(
            model,
            variables,
            list(info["label_names"]),
            int(info["length"]),
            {"run_dir": str(run.resolve()), "config_sha256": digest, "arch": cfg.model.arch},
        )
    if hasattr(run_or_model, "model") and hasattr(run_or_model, "variables"):
        r = run_or_model
        return _Model(
            r.model,
            r.variables,
            list(r.label_names),
            int(r.length),
            {"run_dir": str(Path(r.run_dir).resolve())},
        )
    if isinstance(run_or_model, tuple) and len(run_or_model) in (2, 3):
        model, variables = run_or_model[:2]
        c = int(model.num_outputs)
        names = list(run_or_model[2]) if len(run_or_model) == 3 else [f"output_{i}" for i in range(c)]
        return _Model(model, variables, names, None, {})
    raise TypeError(
        "run_or_model must be a run directory, a LoadedRun or a (model, variables[, label_names]) tuple"
    )


def _variables_sha256(variables) -> str:
    import jax

    h = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(jax.device_get(variables))[0]:
        a = np.asarray(leaf)
        h.update(jax.tree_util.keystr(path).encode() + str(a.dtype).encode() + str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- kernels


@functools.lru_cache(maxsize=64)
def _kernel(model, quantity: str, s: Settings):
    """jit-compiled ``(variables, codes (B, L) uint8, base_codes (B, L) uint8, tw (C,)) -> {name: (B, ...)}``.

    Cached on ``(model, quantity, settings)`` (flax modules hash by configuration), so repeated
    :func:`attribute` / :func:`export` calls with the same model reuse the compiled programs.
    """
    import jax
    import jax.numpy as jnp

    from satori_jax.data.encoding import one_hot
    from satori_jax.interpret import attention as attn_lib
    from satori_jax.interpret import ig as ig_lib

    out_dtype = jnp.float16 if s.dtype == "float16" else jnp.float32

    def kern(variables, codes, base_codes, tw):
        x = one_hot(codes)
        t = jnp.broadcast_to(tw, (x.shape[0], tw.shape[0]))
        if quantity == "predictions":
            logits, _ = model.apply(variables, x, train=False)
            return {"predictions": jax.nn.sigmoid(logits), "logits": logits}
        if quantity == "ig":
            base = one_hot(base_codes) if s.baseline == "shuffle" else ig_lib.resolve_baseline(x, s.baseline)
            rb, sb = ig_lib.auto_batching(s.steps)
            attr = ig_lib.ig_rows(model, variables, x, t, base, s.steps, "midpoint", sb, rb)
            f = ig_lib.target_fn(model, variables)
            return {"ig": attr.astype(out_dtype), "ig_delta": f(x, t) - f(base, t)}
        if quantity == "grad_x_input":
            return {
                "grad_x_input": ig_lib.gradient_x_input(model, variables, x, t, center=True).astype(out_dtype)
            }
        if quantity == "hypothetical":
            return {
                "hypothetical": ig_lib.hypothetical_contributions(model, variables, x, t).astype(out_dtype)
            }
        if quantity == "attention":
            _, inter = model.apply(variables, x, train=False)
            a = inter["attention"]
            return {"attention": (a.max(axis=1) if s.heads == "max" else a).astype(out_dtype)}
        if quantity == "attention_ig":
            a = attn_lib.attention_attribution(model, variables, x, t > 0, s.steps, "right")
            return {"attention_ig": (jnp.abs(a).max(axis=1) if s.heads == "max" else a).astype(out_dtype)}
        raise ValueError(quantity)

    return jax.jit(kern)


class _Engine:
    """Runs the requested kernels over chunks of codes in fixed-shape batches (one compile each)."""

    def __init__(self, model, variables, settings: Settings, target_weights: np.ndarray) -> None:
        import jax

        from satori_jax import parallel

        self.settings = settings
        self.mesh = parallel.data_mesh()
        self.multi = self.mesh.size > 1
        self.batch_size = parallel.round_batch(settings.batch_size, self.mesh)
        self.variables = parallel.replicate(variables, self.mesh) if self.multi else jax.device_put(variables)
        self.tw = jax.device_put(np.asarray(target_weights, np.float32))
        if self.multi:
            self.tw = parallel.replicate(self.tw, self.mesh)
        self.kernels = {q: _kernel(model, q, settings) for q in settings.what}
        self.seconds = dict.fromkeys(settings.what, 0.0)
        self.rows = 0

    def describe(self) -> str:
        from satori_jax import parallel

        return parallel.describe(self.mesh)

    def _put(self, a: np.ndarray):
        import jax

        from satori_jax import parallel

        return parallel.shard_batch(a, self.mesh) if self.multi else jax.device_put(a)

    def run(self, codes: np.ndarray, start: int) -> dict[str, np.ndarray]:
        """All quantities for rows ``start : start + len(codes)`` (``start`` a multiple of the batch size)."""
        import jax

        from satori_jax.data.shuffle import dinucleotide_shuffle

        codes = np.asarray(codes, np.uint8)
        n, bs = codes.shape[0], self.batch_size
        if start % bs:
            raise ValueError(f"chunk start {start} is not a multiple of the batch size {bs}")
        if self.settings.baseline == "shuffle" and "ig" in self.settings.what:
            # one generator per sequence: independent of chunk and batch boundaries
            base = (
                np.concatenate(
                    [
                        dinucleotide_shuffle(
                            codes[i : i + 1], np.random.default_rng((self.settings.seed, start + i))
                        )
                        for i in range(n)
                    ]
                )
                if n
                else codes.copy()
            )
        else:
            base = codes
        nb = -(-n // bs)
        pad = nb * bs - n
        if pad:
            fill = np.full((pad, codes.shape[1]), 4, np.uint8)
            codes, base = np.concatenate([codes, fill]), np.concatenate([base, fill])
        batches = [
            (self._put(codes[b * bs : (b + 1) * bs]), self._put(base[b * bs : (b + 1) * bs]))
            for b in range(nb)
        ]
        out: dict[str, np.ndarray] = {}
        for q, kern in self.kernels.items():
            t0 = time.perf_counter()
            res = [kern(self.variables, c, bc, self.tw) for c, bc in batches]  # dispatched asynchronously
            host = jax.device_get(res)
            for name in res[0]:
                out[name] = np.concatenate([r[name] for r in host])[:n]
            self.seconds[q] += time.perf_counter() - t0
        self.rows += n
        return out


def _attention_shape(model, variables, length: int) -> tuple[int, int]:
    """``(H, L')`` of the model's attention for inputs of ``length`` bp (shape inference only)."""
    import jax
    import jax.numpy as jnp

    _, inter = jax.eval_shape(
        lambda v, x: model.apply(v, x, train=False),
        variables,
        jax.ShapeDtypeStruct((1, length, 4), jnp.float32),
    )
    a = inter["attention"].shape
    return int(a[1]), int(a[2])


def _row_specs(model, variables, length: int, num_outputs: int, s: Settings) -> dict[str, tuple[tuple, str]]:
    h, lp = _attention_shape(model, variables, length)
    att = (lp, lp) if s.heads == "max" else (h, lp, lp)
    spec = {
        "predictions": ((num_outputs,), "float32"),
        "logits": ((num_outputs,), "float32"),
        "ig": ((length, 4), s.dtype),
        "ig_delta": ((), "float32"),
        "grad_x_input": ((length, 4), s.dtype),
        "hypothetical": ((length, 4), s.dtype),
        "attention": (att, s.dtype),
        "attention_ig": (att, s.dtype),
    }
    return {name: spec[name] for q in s.what for name in _DATASETS[q]}


# ----------------------------------------------------------------------------- library API


def _as_codes(codes_or_sequences: Any, length: int | None) -> np.ndarray:
    from satori_jax.data.encoding import encode_sequences

    if isinstance(codes_or_sequences, np.ndarray) and codes_or_sequences.dtype == np.uint8:
        codes = codes_or_sequences
    elif isinstance(codes_or_sequences, str):
        codes = encode_sequences([codes_or_sequences])
    elif (
        isinstance(codes_or_sequences, (list, tuple))
        and codes_or_sequences
        and isinstance(codes_or_sequences[0], str)
    ):
        codes = encode_sequences(list(codes_or_sequences))
    else:
        arr = np.asarray(codes_or_sequences)
        if arr.ndim != 2 or arr.dtype.kind not in "ui" or (arr.size and (arr.min() < 0 or arr.max() > 4)):
            raise InputError("sequences must be uint8 codes (N, L) in 0..4 or a list of equal-length strings")
        codes = arr.astype(np.uint8)
    if codes.ndim != 2:
        raise InputError(f"codes must be (N, L), got shape {codes.shape}")
    if length is not None and codes.shape[1] != length:
        raise InputError(f"sequences are {codes.shape[1]} bp; the model was trained on {length} bp")
    return codes


def attribute(
    run_or_model: Any,
    codes_or_sequences: Any,
    what: Any = DEFAULT_WHAT,
    steps: int = 20,
    baseline: str = "gc",
    targets: Any = None,
    heads: str = "max",
    batch_size: int = 64,
    verbose: bool = False,
    dtype: str = "float32",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Attributions of in-memory sequences (the exporter's kernels, returned as numpy arrays).

    Parameters
    ----------
    run_or_model
        A run directory, a :class:`~satori_jax.runs.LoadedRun`, or ``(model, variables[, label_names])``.
    codes_or_sequences
        ``(N, L)`` uint8 codes or ``N`` equal-length strings.
    what
        Quantities (module docstring), a sequence or a comma-separated string.
    steps
        Riemann steps of IG and attention attribution.
    baseline
        ``gc``, ``zeros`` or ``shuffle`` (IG).
    targets
        Label names (list or comma string) or ``None``/``"all"``.
    heads
        ``max`` or ``all`` (attention, attention_ig).
    batch_size
        Sequences per jit call (rounded up to a multiple of the device count).
    verbose
        Progress on stderr.

    Returns
    -------
    dict[str, np.ndarray]
        The store's datasets, e.g. ``predictions (N, C)``, ``logits (N, C)``, ``ig (N, L, 4)``,
        ``ig_delta (N,)``, ``attention (N, L', L')``.
    """
    s = Settings.make(what, steps, baseline, heads, dtype, batch_size, seed)
    m = _resolve_model(run_or_model)
    codes = _as_codes(codes_or_sequences, m.length)
    _, tw = resolve_targets(targets, m.label_names)
    eng = _Engine(m.model, m.variables, s, tw)
    block = eng.batch_size * max(1, 1024 // eng.batch_size)
    parts: dict[str, list[np.ndarray]] = {}
    t0 = time.perf_counter()
    for start in range(0, codes.shape[0], block):
        for k, v in eng.run(codes[start : start + block], start).items():
            parts.setdefault(k, []).append(v)
        if verbose:
            done = min(start + block, len(codes))
            print(
                f"  {done}/{len(codes)} sequences, {time.perf_counter() - t0:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    if not parts:
        raise InputError("no sequences given")
    return {k: np.concatenate(v) for k, v in parts.items()}


# ----------------------------------------------------------------------------- exporter


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


def _after_chunk(index: int) -> None:
    """Called after every chunk is on disk (a hook for tests that simulate an interruption)."""


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
        with a genome FASTA. Sequences are resized around their centre to the model's length.
    what, steps, baseline, targets, heads, dtype, batch_size, seed
        As in :func:`attribute`; ``dtype`` applies to attributions and attention.
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
    m = _resolve_model(run)
    source = _make_source(data, fasta, bed, genome, m.length)
    target_names, tw = resolve_targets(targets, m.label_names)

    def log(msg: str) -> None:
        if verbose:
            print(msg, file=sys.stderr, flush=True)

    eng = _Engine(m.model, m.variables, s, tw)
    bs = eng.batch_size
    chunk = -(-int(chunk_size) // bs) * bs
    log(f"counting and checking the input ({source.describe()['kind']}) ...")
    scan = _scan(source, chunk)
    n_chunks = -(-scan.n // chunk)
    rows = _row_specs(m.model, m.variables, m.length, len(m.label_names), s)
    specs = [
        store_lib.DatasetSpec("ids", (scan.n,), f"S{scan.id_bytes}", _DESCRIPTIONS["ids"]),
        store_lib.DatasetSpec("codes", (scan.n, m.length), "uint8", _DESCRIPTIONS["codes"]),
    ]
    specs += [
        store_lib.DatasetSpec(name, (scan.n, *shape), dt, _DESCRIPTIONS[name])
        for name, (shape, dt) in rows.items()
    ]
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
        "model": {
            **m.info,
            "variables_sha256": _variables_sha256(m.variables),
            "label_names": m.label_names,
            "length": m.length,
        },
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
        return ExportResult(
            out,
            scan.n,
            n_chunks,
            0,
            n_chunks,
            {},
            time.perf_counter() - t_start,
            store_lib.modisco_dir(out) if modisco else None,
            True,
        )
    if out.exists():
        st = store_lib.AttributionStore.resume(out, manifest)
        log(f"{out}: resuming ({len(st.completed)}/{n_chunks} chunks already done)")
    else:
        st = store_lib.AttributionStore.create(out, manifest, specs)
    log(
        f"{scan.n} sequences x {m.length} bp in {n_chunks} chunk(s) of {chunk}; batch {bs}; "
        f"{eng.describe()}; computing {', '.join(s.what)}"
    )
    done_before = set(st.completed)
    computed = 0
    try:
        t0 = time.perf_counter()
        for index, ids, codes in source.chunks(chunk, want=lambda i: i not in done_before):
            if codes is None:
                continue
            start = index * chunk
            res = eng.run(codes, start)
            st.write_rows(
                "ids", start, np.asarray([i.encode("utf-8") for i in ids], dtype=f"S{scan.id_bytes}")
            )
            st.write_rows("codes", start, codes)
            for name, arr in res.items():
                st.write_rows(name, start, arr)
            st.mark_done(index)
            computed += 1
            log(
                f"  chunk {index + 1}/{n_chunks}: {start + len(ids)}/{scan.n} sequences, "
                f"{eng.rows / (time.perf_counter() - t0):.1f} seq/s"
            )
            _after_chunk(index)
        missing = sorted(set(range(n_chunks)) - st.completed)
        if missing:  # the input changed under us (should be caught by the fingerprint)
            raise InputError(
                f"{out}: chunk(s) {missing[:5]} were not written; the input changed during the export?"
            )
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
    res = ExportResult(
        out,
        scan.n,
        n_chunks,
        computed,
        len(done_before),
        dict(eng.seconds),
        time.perf_counter() - t_start,
        mod,
        False,
        eng.rows,
    )
    if verbose:
        tp = ", ".join(f"{q} {v:.1f}" for q, v in res.throughput().items())
        log(f"wrote {out} ({scan.n} sequences) in {res.total_seconds:.1f} s; sequences/s: {tp}")
    return res


def manifest(store: str | Path) -> dict:
    """The manifest of an exported store (``STORE.manifest.json``)."""
    from satori_jax import store as store_lib

    return store_lib.read_manifest(store)


def load(store: str | Path, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Read a finished store into memory (see :func:`satori_jax.store.load`)."""
    from satori_jax import store as store_lib

    return store_lib.load(store, names)


class _CallableModule(types.ModuleType):
    """Lets ``satori_jax.attribute(...)`` call :func:`attribute` while the module stays importable."""

    def __call__(self, *args, **kwargs):
        return attribute(*args, **kwargs)


if __name__ == "__main__":
    from satori_jax.cli.attribute import entry

    entry()
else:
    sys.modules[__name__].__class__ = _CallableModule
