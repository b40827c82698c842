"""Simulated benchmarks with known interacting motif pairs (vectorized numpy, deterministic by seed).

Three generators:

* :func:`simulate_pairs` -- SATORI 2.0 "Data-N" style: positives carry interacting motif pairs
  placed close together, negatives carry lone motifs far apart.
* :func:`simulate_dfim` -- DFIM / SATORI benchmark 1 style: classes "A only", "B only" and
  "A and B" (label 1), with distractor motifs in every sequence.
* :func:`simulate_twins` (:mod:`satori_jax.data.twins`) -- every positive has a twin negative
  with the same TFs re-paired without true pairs: only the pairing carries the label.

All return a :class:`SimulatedDataset`; :func:`write_dataset` writes it as a directory with
``sequences.fa``, ``labels.tsv``, ``motifs.meme``, ``interactions.tsv``, ``embeddings.tsv`` and
``dataset.json`` (the last one is the completeness marker; the directory is built under a
temporary name and renamed into place), plus ``groups.tsv`` (``id<TAB>group``) for data sets with
groups (twins). The dataset container and building blocks live in :mod:`satori_jax.data.simcore`,
motif choice and pair lists in :mod:`satori_jax.data.motifpool`; their public names are
re-exported here.

Conventions
-----------
* Sequences are ``uint8`` codes ``(N, L)``, A=0, C=1, G=2, T=3, written as ``seq0``, ``seq1``, ...
* Coordinates are 0-based, half-open: an instance occupies ``seq[start:end]``, ``end - start = K``.
* ``strand = "-"`` means the reverse complement of the sampled instance was written, so
  ``revcomp(seq[start:end])`` is the instance in the motif's own orientation.
* ``score`` is the log2-odds score of the instance (motif orientation) against the simulation
  background with :func:`satori_jax.data.meme.pwm_to_log_odds` (``pseudocount`` as recorded in
  ``dataset.json``); every instance has ``score >= min_score_fraction * max score`` (0.5).
* The gap between two motifs is the number of background bases between them:
  ``gap = start_second - end_first``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from satori_jax.data.jaspar import DEFAULT_RELEASE, cache_dir, get_motifs_by_name
from satori_jax.data.meme import Motif, read_meme, write_meme
from satori_jax.data.motifpool import (
    choose_distinct_motifs,
    motif_pool,
    motif_similarity,
    random_interactions,
    read_pairs_tsv,
    regular_interactions,
)
from satori_jax.data.simcore import (
    DFIM_BACKGROUND,
    GENOME_BACKGROUND,
    SimulatedDataset,
    _background_codes,
    _check_background,
    _check_unique_motif_file,
    _check_unique_names,
    _choose_without_replacement,
    _embed,
    _normalize_pairs,
    _place_blocks,
    _range,
    _sorted_embeddings,
)
from satori_jax.data.splits import GROUPS_FILE
from satori_jax.data.twins import TWIN_PRESETS, TWINS_DEFAULTS, make_twins_dataset, simulate_twins, twin_gates
from satori_jax.errors import InputError
from satori_jax.outputs import DirKind, check_output_dir, write_dir

__all__ = [
    "PAIRS_DEFAULTS",
    "PRESETS",
    "TWINS_DEFAULTS",
    "TWIN_PRESETS",
    "DFIM_DEFAULT_A",
    "DFIM_DEFAULT_B",
    "DFIM_DEFAULT_DISTRACTORS",
    "DATASET_FILES",
    "SimulatedDataset",
    "simulate_pairs",
    "simulate_dfim",
    "simulate_twins",
    "twin_gates",
    "make_twins_dataset",
    "regular_interactions",
    "GROUPS_FILE",
    "make_pairs_dataset",
    "make_dfim_dataset",
    "choose_distinct_motifs",
    "motif_similarity",
    "random_interactions",
    "read_pairs_tsv",
    "write_dataset",
    "is_complete_dataset",
    "default_dataset_dir",
]

#: Settings of a ``pairs`` data set that neither the preset nor the caller gives (Data-40 sizes).
PAIRS_DEFAULTS: dict = {"num_tfs": 20, "num_pairs": 40, "length": 300, "num_sequences": 60000,
                        "num_pairs_per_seq": 3, "pair_gap": (8, 15), "lone_gap": 40}

#: SATORI 2.0 Data-40/60/80 (300 bp, 60 000 sequences) and the 1500 bp pre-loaded-filter set.

PRESETS: dict[str, dict] = {
    "data-40": {"num_tfs": 20, "num_pairs": 40},
    "data-60": {"num_tfs": 25, "num_pairs": 60},
    "data-80": {"num_tfs": 30, "num_pairs": 80},
    "long": {
        "num_tfs": 40,
        "num_pairs": 80,
        "length": 1500,
        "num_pairs_per_seq": (3, 5),
        "pair_gap": (8, 80),
        "lone_gap": 200,
    },
}

#: DFIM's benchmark used ELF1 and SIX5. SIX5 is not in JASPAR 2024 CORE and its relatives are
#: too close to the TAL1::TCF3 distractor (SIX1 0.68, SIX2 0.71 best-alignment column correlation,
#: see :func:`motif_similarity`), so B is HNF4A (MA0114.5): as wide and informative as ELF1
#: (9 bp, 12.1 vs 12.4 bits) and at most 0.42 similar to ELF1, FOS::JUN and TAL1::TCF3.
DFIM_DEFAULT_A = "ELF1"
DFIM_DEFAULT_B = "HNF4A"
DFIM_DEFAULT_DISTRACTORS = ("FOS::JUN", "TAL1::TCF3")

DATASET_FILES = (
    "sequences.fa",
    "labels.tsv",
    "motifs.meme",
    "interactions.tsv",
    "embeddings.tsv",
    "dataset.json",
)

_LUT = np.frombuffer(b"ACGTN", dtype=np.uint8)


# ----------------------------------------------------------------------------------------------
# generators


def simulate_pairs(
    motifs: Sequence[Motif],
    pairs: Sequence[tuple[str, str]],
    num_sequences: int = 60000,
    length: int = 300,
    num_pairs_per_seq: int | tuple[int, int] = 3,
    pair_gap: tuple[int, int] = (8, 15),
    lone_gap: int = 40,
    lone_count: tuple[int, int] = (1, 3),
    background: Sequence[float] = GENOME_BACKGROUND,
    seed: int = 0,
    pseudocount: float = 0.01,
    min_score_fraction: float = 0.5,
) -> SimulatedDataset:
    """SATORI 2.0 Data-N style benchmark.

    Positives (``num_sequences // 2``) each carry ``num_pairs_per_seq`` interacting pairs drawn
    without replacement from ``pairs`` (an int, or an inclusive range ``(lo, hi)`` drawn per
    sequence). A pair is a block ``first, gap, second``: which TF comes first is random and the
    gap (background bases between the end of the first and the start of the second motif) is
    uniform in the inclusive range ``pair_gap``. Pair blocks do not overlap each other.
    Negatives carry ``lone_count`` (inclusive range) distinct motifs drawn from all ``motifs``,
    with at least ``lone_gap`` bases between consecutive motifs. Background bases are i.i.d. with
    ``background`` (ACGT). Instances are sampled from the PWM and kept only when their log2-odds
    score is at least ``min_score_fraction`` of the motif's maximum; strand is random. The label
    order is a random permutation (classes are mixed in the file).

    Parameters
    ----------
    motifs
        Motif pool (unique names); negatives draw from all of them.
    pairs
        Interacting TF pairs (names of ``motifs``); self pairs are rejected, duplicates merged.

    Returns
    -------
    :class:`SimulatedDataset` with ``codes (N, L)``, ``labels (N,)`` and the embeddings.
    """
    motifs = list(motifs)
    _check_unique_names(motifs)
    index = {m.name: i for i, m in enumerate(motifs)}
    norm_pairs = _normalize_pairs(pairs, index)
    if num_sequences < 2:
        raise InputError(f"num_sequences must be >= 2, got {num_sequences}")
    bg = _check_background(background)
    kp_lo, kp_hi = _range(num_pairs_per_seq, "num_pairs_per_seq")
    g_lo, g_hi = _range(pair_gap, "pair_gap")
    l_lo, l_hi = _range(lone_count, "lone_count")
    if kp_hi < 1 or l_hi < 1:
        raise InputError("num_pairs_per_seq and lone_count must allow at least one motif")
    widths = np.array([m.width for m in motifs], dtype=np.int64)
    pa = np.array([index[a] for a, _ in norm_pairs])
    pb = np.array([index[b] for _, b in norm_pairs])

    rng = np.random.default_rng(seed)
    n_pos = num_sequences // 2
    labels = np.zeros(num_sequences, dtype=np.int8)
    labels[:n_pos] = 1
    labels = rng.permutation(labels)
    codes = _background_codes(num_sequences, length, bg, rng)
    pos_rows = np.flatnonzero(labels == 1)
    neg_rows = np.flatnonzero(labels == 0)

    # positives: pair blocks
    sel = _choose_without_replacement(n_pos, len(norm_pairs), kp_hi, rng)  # (n_pos, kp_hi)
    npairs = rng.integers(kp_lo, kp_hi + 1, size=n_pos)
    present = np.arange(kp_hi)[None, :] < npairs[:, None]
    flip = rng.random((n_pos, kp_hi)) < 0.5
    first = np.where(flip, pb[sel], pa[sel])
    second = np.where(flip, pa[sel], pb[sel])
    gap = rng.integers(g_lo, g_hi + 1, size=(n_pos, kp_hi))
    block = np.where(present, widths[first] + gap + widths[second], 0)
    bstart = _place_blocks(block, 0, length, rng)
    p_seq = np.repeat(pos_rows[:, None], kp_hi, axis=1)[present]
    pos_seq = np.concatenate([p_seq, p_seq])
    pos_motif = np.concatenate([first[present], second[present]])
    pos_start = np.concatenate([bstart[present], (bstart + widths[first] + gap)[present]])

    # negatives: lone motifs
    n_neg = len(neg_rows)
    lone = _choose_without_replacement(n_neg, len(motifs), l_hi, rng)
    nlone = rng.integers(l_lo, l_hi + 1, size=n_neg)
    lpresent = np.arange(l_hi)[None, :] < nlone[:, None]
    lwidth = np.where(lpresent, widths[lone], 0)
    lstart = _place_blocks(lwidth, lone_gap, length, rng)
    neg_seq = np.repeat(neg_rows[:, None], l_hi, axis=1)[lpresent]

    inst_seq = np.concatenate([pos_seq, neg_seq])
    inst_motif = np.concatenate([pos_motif, lone[lpresent]])
    inst_start = np.concatenate([pos_start, lstart[lpresent]])
    strands, scores = _embed(codes, motifs, inst_seq, inst_motif, inst_start, bg, pseudocount,
                             min_score_fraction, rng)
    es, em, est, estr, esc = _sorted_embeddings(inst_seq, inst_motif, inst_start, strands, scores)
    params = {
        "num_sequences": num_sequences,
        "length": length,
        "num_pairs_per_seq": [kp_lo, kp_hi],
        "pair_gap": [g_lo, g_hi],
        "pair_gap_definition": "bases between end of first motif and start of second",
        "lone_gap": lone_gap,
        "lone_count": [l_lo, l_hi],
        "background": [float(x) for x in bg],
        "pseudocount": pseudocount,
        "min_score_fraction": min_score_fraction,
    }
    counts = {
        "sequences": int(num_sequences),
        "positives": int(n_pos),
        "negatives": int(n_neg),
        "motifs": len(motifs),
        "interactions": len(norm_pairs),
        "embedded_instances": int(len(es)),
    }
    return SimulatedDataset(codes, labels, motifs, norm_pairs, es, em, est, estr, esc, "pairs", params,
                            int(seed), counts)


def simulate_dfim(
    motif_a: Motif,
    motif_b: Motif,
    distractors: Sequence[Motif] = (),
    num_sequences: int = 30000,
    length: int = 200,
    seed: int = 0,
    count_range: tuple[int, int] = (1, 2),
    distractor_range: tuple[int, int] = (0, 2),
    min_spacing: int = 0,
    background: Sequence[float] = DFIM_BACKGROUND,
    pseudocount: float = 0.01,
    min_score_fraction: float = 0.5,
) -> SimulatedDataset:
    """DFIM / SATORI benchmark-1 style data: label 1 iff both A and B are present.

    Sequences are split into three classes in equal numbers (the first ``N % 3`` classes get
    one more): A only, B only, A and B; the class order in the file is random. A present motif is
    embedded ``count_range`` times (inclusive, default 1-2); each distractor is embedded
    ``distractor_range`` times (default 0-2) in every sequence. All instances are non-overlapping
    with at least ``min_spacing`` bases between neighbours, in random order along the sequence.
    Instances obey the half-maximum log-odds rule and random strand as in :func:`simulate_pairs`.

    Returns
    -------
    :class:`SimulatedDataset`; ``interactions = [(A, B)]``; ``counts`` holds the class sizes.
    """
    motifs = [motif_a, motif_b, *distractors]
    _check_unique_names(motifs)
    bg = _check_background(background)
    c_lo, c_hi = _range(count_range, "count_range")
    d_lo, d_hi = _range(distractor_range, "distractor_range")
    if c_lo < 1:
        raise InputError("count_range must start at >= 1 (a present motif is embedded at least once)")
    if num_sequences < 3:
        raise InputError(f"num_sequences must be >= 3, got {num_sequences}")
    widths = np.array([m.width for m in motifs], dtype=np.int64)
    rng = np.random.default_rng(seed)
    sizes = [num_sequences // 3 + (1 if i < num_sequences % 3 else 0) for i in range(3)]
    cls = rng.permutation(np.repeat(np.arange(3), sizes))  # 0 = A only, 1 = B only, 2 = both
    labels = (cls == 2).astype(np.int8)
    codes = _background_codes(num_sequences, length, bg, rng)

    n = num_sequences
    has_a = cls != 1
    has_b = cls != 0
    n_a = np.where(has_a, rng.integers(c_lo, c_hi + 1, size=n), 0)
    n_b = np.where(has_b, rng.integers(c_lo, c_hi + 1, size=n), 0)
    n_d = rng.integers(d_lo, d_hi + 1, size=(n, len(distractors)))
    slot_motif = np.concatenate([np.zeros(c_hi, np.int64), np.ones(c_hi, np.int64)]
                                + [np.full(d_hi, 2 + j, np.int64) for j in range(len(distractors))])
    slot_rank = np.concatenate([np.arange(c_hi), np.arange(c_hi)] + [np.arange(d_hi)] * len(distractors))
    per_motif = np.concatenate([n_a[:, None], n_b[:, None], n_d], axis=1)  # (n, 2 + D)
    present = slot_rank[None, :] < per_motif[:, slot_motif]  # (n, M)
    perm = np.argsort(rng.random(present.shape), axis=1)
    present = np.take_along_axis(present, perm, axis=1)
    motif_of = slot_motif[perm]
    w = np.where(present, widths[motif_of], 0)
    starts = _place_blocks(w, min_spacing, length, rng)
    inst_seq = np.repeat(np.arange(n)[:, None], w.shape[1], axis=1)[present]
    inst_motif = motif_of[present]
    inst_start = starts[present]
    strands, scores = _embed(codes, motifs, inst_seq, inst_motif, inst_start, bg, pseudocount,
                             min_score_fraction, rng)
    es, em, est, estr, esc = _sorted_embeddings(inst_seq, inst_motif, inst_start, strands, scores)
    params = {
        "num_sequences": num_sequences,
        "length": length,
        "motif_a": motif_a.name,
        "motif_b": motif_b.name,
        "distractors": [m.name for m in distractors],
        "count_range": [c_lo, c_hi],
        "distractor_range": [d_lo, d_hi],
        "min_spacing": min_spacing,
        "background": [float(x) for x in bg],
        "pseudocount": pseudocount,
        "min_score_fraction": min_score_fraction,
    }
    counts = {
        "sequences": int(n),
        "positives": int(labels.sum()),
        "negatives": int(n - labels.sum()),
        "a_only": sizes[0],
        "b_only": sizes[1],
        "both": sizes[2],
        "embedded_instances": int(len(es)),
    }
    return SimulatedDataset(codes, labels, motifs, [(motif_a.name, motif_b.name)], es, em, est, estr, esc,
                            "dfim", params, int(seed), counts)


# ----------------------------------------------------------------------------------------------
# high-level builders (used by the CLI)


def make_pairs_dataset(
    preset: str | None = None,
    *,
    num_sequences: int | None = None,
    length: int | None = None,
    seed: int = 0,
    num_tfs: int | None = None,
    num_pairs: int | None = None,
    motifs_file: str | os.PathLike | None = None,
    pairs_file: str | os.PathLike | None = None,
    background: Sequence[float] | None = None,
    num_pairs_per_seq: int | tuple[int, int] | None = None,
    release: str = DEFAULT_RELEASE,
) -> SimulatedDataset:
    """Build a ``pairs`` data set from a preset and/or explicit settings (explicit ones win).

    Without ``motifs_file``, ``num_tfs`` mutually dissimilar JASPAR CORE vertebrate motifs and
    ``num_pairs`` random pairs among them are drawn with ``seed`` (defaults: data-40 sizes).
    With ``motifs_file`` (MEME) ``pairs_file`` (TSV) is required and JASPAR is not used.
    """
    if preset is not None and preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg: dict = dict(PAIRS_DEFAULTS)
    cfg.update(PRESETS.get(preset or "", {}))
    for key, val in (("num_sequences", num_sequences), ("length", length), ("num_tfs", num_tfs),
                     ("num_pairs", num_pairs), ("num_pairs_per_seq", num_pairs_per_seq)):
        if val is not None:
            cfg[key] = val
    motifs, pairs, source = motif_pool(motifs_file, pairs_file, num_tfs, num_pairs, cfg, seed, release,
                                       "random")
    ds = simulate_pairs(
        motifs,
        pairs,
        num_sequences=int(cfg["num_sequences"]),
        length=int(cfg["length"]),
        num_pairs_per_seq=cfg["num_pairs_per_seq"],
        pair_gap=cfg["pair_gap"],
        lone_gap=int(cfg["lone_gap"]),
        background=GENOME_BACKGROUND if background is None else background,
        seed=seed,
    )
    ds.parameters = {"preset": preset, **source, **ds.parameters,
                     "motif_ids": {m.name: m.alt for m in motifs}}
    return ds



def make_dfim_dataset(
    *,
    num_sequences: int = 30000,
    length: int = 200,
    seed: int = 0,
    motif_a: str = DFIM_DEFAULT_A,
    motif_b: str = DFIM_DEFAULT_B,
    distractors: Sequence[str] = DFIM_DEFAULT_DISTRACTORS,
    motifs_file: str | os.PathLike | None = None,
    background: Sequence[float] | None = None,
    release: str = DEFAULT_RELEASE,
) -> SimulatedDataset:
    """Build a ``dfim`` data set, motifs looked up by name in JASPAR (or in ``motifs_file``)."""
    pool = None
    if motifs_file is not None:
        pool = read_meme(motifs_file)
        _check_unique_motif_file(pool, motifs_file)
    found = get_motifs_by_name([motif_a, motif_b, *distractors], release=release, motifs=pool)
    ds = simulate_dfim(found[0], found[1], found[2:], num_sequences=num_sequences, length=length, seed=seed,
                       background=DFIM_BACKGROUND if background is None else background)
    src = {"motifs_file": str(motifs_file)} if motifs_file is not None else {"jaspar_release": release}
    ds.parameters = {**src, **ds.parameters, "motif_ids": {m.name: m.alt for m in found}}
    return ds


# ----------------------------------------------------------------------------------------------
# output


def is_complete_dataset(path: str | os.PathLike) -> bool:
    """True when all six files exist (``dataset.json`` is written last)."""
    p = Path(path)
    return all((p / f).is_file() for f in DATASET_FILES)


DATASET_DIR = DirKind("dataset", entries=frozenset((*DATASET_FILES, GROUPS_FILE)), defining=("dataset.json",),
                      flag="--force")
"""What :func:`write_dataset` writes (for :mod:`satori_jax.outputs`)."""


def write_dataset(
    out_dir: str | os.PathLike,
    ds: SimulatedDataset,
    overwrite: bool = False,
    inputs: Sequence[str | os.PathLike | None] = (),
) -> Path:
    """Write a data set directory atomically (temporary sibling directory, then swapped in).

    Files: ``sequences.fa`` (``>seq0`` ...), ``labels.tsv`` (``id<TAB>label``), ``motifs.meme``,
    ``interactions.tsv`` (``tf_a<TAB>tf_b``), ``embeddings.tsv``
    (``seq_id motif start end strand score``; 0-based half-open), ``dataset.json``, and the
    ``.satori_jax`` marker. Output bytes depend only on the data set (same seed -> identical files).
    ``overwrite`` replaces only a data set directory this function wrote, never one holding other
    files or any of ``inputs`` (:func:`satori_jax.outputs.check_output_dir`).

    Raises
    ------
    InputError
        ``out_dir`` exists and is not empty and ``overwrite`` is False, may not be replaced, is a
        file, or cannot be written.
    """
    out = Path(out_dir)
    check_output_dir(out, DATASET_DIR, replace=overwrite, inputs=inputs)
    return write_dir(out, DATASET_DIR, lambda d: _write_files(d, ds))


def _write_files(d: Path, ds: SimulatedDataset) -> None:
    n, _ = ds.codes.shape
    chars = _LUT[ds.codes]
    sha = hashlib.sha256()
    with open(d / "sequences.fa", "wb") as fh:
        chunk = 4096
        for s in range(0, n, chunk):
            parts = []
            for i in range(s, min(n, s + chunk)):
                parts.append(b">seq%d\n" % i)
                parts.append(chars[i].tobytes())
                parts.append(b"\n")
            data = b"".join(parts)
            sha.update(data)
            fh.write(data)
    with open(d / "labels.tsv", "w", newline="\n") as fh:
        fh.write("id\tlabel\n")
        fh.write("".join(f"seq{i}\t{int(v)}\n" for i, v in enumerate(ds.labels)))
    bg = ds.parameters.get("background", (0.25,) * 4)
    write_meme(d / "motifs.meme", ds.motifs, background=bg)
    with open(d / "interactions.tsv", "w", newline="\n") as fh:
        fh.write("tf_a\ttf_b\n")
        fh.write("".join(f"{a}\t{b}\n" for a, b in ds.interactions))
    names = [m.name for m in ds.motifs]
    end = ds.emb_end
    with open(d / "embeddings.tsv", "w", newline="\n") as fh:
        fh.write("seq_id\tmotif\tstart\tend\tstrand\tscore\n")
        fh.write("".join(
            f"seq{s}\t{names[m]}\t{st}\t{e}\t{'+' if sd > 0 else '-'}\t{sc:.4f}\n"
            for s, m, st, e, sd, sc in zip(ds.emb_seq.tolist(), ds.emb_motif.tolist(), ds.emb_start.tolist(),
                                           end.tolist(), ds.emb_strand.tolist(), ds.emb_score.tolist(),
                                           strict=True)
        ))
    files = list(DATASET_FILES)
    if ds.groups is not None:
        with open(d / GROUPS_FILE, "w", newline="\n") as fh:
            fh.write("id\tgroup\n")
            prefix = "twin" if ds.generator == "twins" else "group"
            fh.write("".join(f"seq{i}\t{prefix}{int(g)}\n" for i, g in enumerate(ds.groups)))
        files.insert(-1, GROUPS_FILE)
    from satori_jax import __version__ as version

    meta = {
        "generator": ds.generator,
        "satori_jax_version": version,
        "seed": ds.seed,
        "parameters": ds.parameters,
        "counts": ds.counts,
        "motifs": [{"name": m.name, "id": m.alt, "width": m.width, "family": m.family} for m in ds.motifs],
        "interactions": [list(p) for p in ds.interactions],
        "coordinates": "0-based, half-open; strand '-' = reverse complement of the motif written",
        "files": files,
        "sequences_sha256": sha.hexdigest(),
    }
    if ds.gates:
        meta["gates"] = ds.gates
    (d / "dataset.json").write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")


def default_dataset_dir(num_sequences: int = 12000, length: int = 200, seed: int = 0) -> Path:
    """The built-in default training data: the ``dfim`` benchmark with its default motifs.

    Generated once under ``<cache>/datasets/dfim-n{N}-l{L}-s{seed}`` and reused; regenerated when
    missing or incomplete.
    """
    out = cache_dir() / "datasets" / f"dfim-n{num_sequences}-l{length}-s{seed}"
    if not is_complete_dataset(out):
        ds = make_dfim_dataset(num_sequences=num_sequences, length=length, seed=seed)
        try:
            write_dataset(out, ds, overwrite=True)
        except (OSError, InputError):  # another process finished the same data set first
            if not is_complete_dataset(out):
                raise
    return out
