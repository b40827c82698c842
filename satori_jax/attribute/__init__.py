"""Batched, streamed, resumable attribution export (``python -m satori_jax.attribute``).

Per-sequence evidence for any number of sequences: predictions, input attributions (integrated
gradients, gradient × input, hypothetical contributions), raw attention and attention attribution,
written chunk by chunk into an HDF5 store (:mod:`satori_jax.store`, which explains the choice of
HDF5 and the layout). Two front ends share one set of kernels:

* :func:`attribute` returns numpy arrays for notebooks;
* :func:`export` (the CLI, ``python -m satori_jax.attribute``) streams a FASTA file, a dataset
  directory or BED regions + a genome from disk in chunks of ``chunk_size`` sequences into an HDF5
  store, so memory does not grow with ``N``; :func:`load` and :func:`manifest` read the store.

Kernels: :mod:`satori_jax.attribute.engine`; the exporter and resuming:
:mod:`satori_jax.attribute.exporter`; settings: :mod:`satori_jax.attribute.settings`; input:
:mod:`satori_jax.data.sources` (BED regions keep their given ``chrom:start-end`` as id).

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
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax.attribute.engine import Engine, resolve_model
from satori_jax.attribute.exporter import ExportResult, export
from satori_jax.attribute.settings import BASELINES, DEFAULT_WHAT, QUANTITIES, Settings, resolve_targets
from satori_jax.errors import InputError

__all__ = [
    "BASELINES",
    "DEFAULT_WHAT",
    "QUANTITIES",
    "ExportResult",
    "Settings",
    "attribute",
    "export",
    "load",
    "manifest",
    "resolve_targets",
]


def _as_codes(codes_or_sequences: Any, length: int | None) -> np.ndarray:
    """``(N, L)`` uint8 codes from codes or equal-length strings; raise :class:`InputError` otherwise."""
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
    m = resolve_model(run_or_model)
    codes = _as_codes(codes_or_sequences, m.length)
    _, tw = resolve_targets(targets, m.label_names)
    eng = Engine(m.model, m.variables, s, tw)
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


sys.modules[__name__].__class__ = _CallableModule
