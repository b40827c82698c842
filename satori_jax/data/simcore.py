"""Shared pieces of the benchmark simulators: the in-memory data set and vectorized building blocks.

Conventions (codes, coordinates, strands, scores, gaps) are those of :mod:`satori_jax.data.simulate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from satori_jax.data.meme import Motif, max_log_odds, pwm_to_log_odds
from satori_jax.errors import InputError, input_error

GENOME_BACKGROUND = (0.3, 0.2, 0.2, 0.3)
DFIM_BACKGROUND = (0.27, 0.23, 0.23, 0.27)  # 46 % GC as in DFIM


@dataclass
class SimulatedDataset:
    """A generated data set in memory.

    Attributes
    ----------
    codes
        ``(N, L)`` uint8 sequences, A=0 C=1 G=2 T=3.
    labels
        ``(N,)`` int8, 0/1.
    motifs
        Motifs used (unique names).
    interactions
        True interacting TF pairs ``(tf_a, tf_b)``.
    emb_seq, emb_motif, emb_start, emb_strand, emb_score
        ``(E,)`` per embedded instance: sequence index, index into ``motifs``, 0-based start,
        strand (+1 / -1, int8), log2-odds score. Sorted by sequence then start.
    generator, parameters, seed
        Provenance written to ``dataset.json``.
    counts
        Class and instance counts written to ``dataset.json``.
    groups
        ``(N,)`` int64 group of each sequence (twins share one), or ``None``; written as
        ``groups.tsv`` (``id<TAB>group``), which random splits keep whole.
    gates
        Sanity checks computed at generation, written to ``dataset.json`` under ``"gates"``.
    """

    codes: np.ndarray
    labels: np.ndarray
    motifs: list[Motif]
    interactions: list[tuple[str, str]]
    emb_seq: np.ndarray
    emb_motif: np.ndarray
    emb_start: np.ndarray
    emb_strand: np.ndarray
    emb_score: np.ndarray
    generator: str
    parameters: dict
    seed: int
    counts: dict = field(default_factory=dict)
    groups: np.ndarray | None = None
    gates: dict = field(default_factory=dict)

    @property
    def emb_end(self) -> np.ndarray:
        """``(E,)`` end (exclusive) of each instance."""
        widths = np.array([m.width for m in self.motifs], dtype=np.int64)
        return self.emb_start + widths[self.emb_motif]


# ----------------------------------------------------------------------------------------------
# building blocks


def _check_background(background: Sequence[float]) -> np.ndarray:
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (4,) or not np.isfinite(bg).all() or (bg < 0).any() or bg.sum() <= 0:
        raise InputError(f"background must be 4 non-negative frequencies for A,C,G,T, got {list(background)}")
    return bg / bg.sum()


def _range(value: int | Sequence[int], what: str) -> tuple[int, int]:
    if isinstance(value, int | np.integer):
        lo = hi = int(value)
    else:
        lo, hi = (int(v) for v in value)
    if lo < 0 or hi < lo:
        raise InputError(f"{what}: invalid range ({lo}, {hi})")
    return lo, hi


def _background_codes(n: int, length: int, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(n, length)`` i.i.d. uint8 codes with base frequencies ``bg``."""
    cum = np.cumsum(bg)[:3].astype(np.float32)
    out = np.empty((n, length), dtype=np.uint8)
    step = max(1, (1 << 22) // max(length, 1))  # bounded temporaries (~4M bases per chunk)
    for s in range(0, n, step):
        u = rng.random((min(n, s + step) - s, length), dtype=np.float32)
        out[s:s + step] = np.searchsorted(cum, u, side="right")
    return out


def _sample_instances(
    motif: Motif, n: int, log_odds: np.ndarray, threshold: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` instances ``(n, K)`` uint8 from the PWM with score >= threshold; and ``(n,)`` scores.

    Oversamples in batches and keeps the passing draws (no per-instance loop).
    """
    k = motif.width
    cum = np.cumsum(motif.pwm, axis=1)[:, :3]  # (K, 3)
    cols = np.arange(k)
    got_codes: list[np.ndarray] = []
    got_scores: list[np.ndarray] = []
    have = 0
    rate = 0.5
    for _ in range(100):
        if have >= n:
            break
        m = int((n - have) / rate * 1.2) + 32
        u = rng.random((m, k))
        codes = (u[:, :, None] >= cum[None, :, :]).sum(axis=2).astype(np.uint8)  # (m, K)
        scores = log_odds[cols[None, :], codes].sum(axis=1)
        keep = scores >= threshold - 1e-9
        rate = max(float(keep.mean()), 1e-3)
        got_codes.append(codes[keep][: n - have])
        got_scores.append(scores[keep][: n - have])
        have += len(got_codes[-1])
    if have < n:
        raise InputError(
            f"motif {motif.name!r}: could not sample instances scoring >= half the maximum "
            "(the motif is too close to the background)"
        )
    if not got_codes:
        return np.zeros((0, k), np.uint8), np.zeros((0,), np.float64)
    return np.concatenate(got_codes), np.concatenate(got_scores)


def _place_blocks(widths: np.ndarray, spacing: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """Random non-overlapping starts for blocks laid out left to right in column order.

    Parameters
    ----------
    widths
        ``(N, M)`` block widths; 0 marks an absent block.
    spacing
        Minimum number of bases between consecutive present blocks.
    length
        Sequence length.

    Returns
    -------
    ``(N, M)`` int64 starts (meaningless where width is 0). Present blocks satisfy
    ``start_next - end_prev >= spacing`` and lie inside ``[0, length)``.
    """
    widths = widths.astype(np.int64)
    present = widths > 0
    count = present.sum(axis=1)
    free = length - widths.sum(axis=1) - spacing * np.maximum(count - 1, 0)
    if (free < 0).any():
        i = int(np.argmin(free))
        raise InputError(
            f"sequence length {length} is too short for {int(count[i])} motif blocks of total width "
            f"{int(widths[i].sum())} with spacing {spacing}; increase --length"
        )
    u = np.sort(rng.integers(0, free[:, None] + 1, size=widths.shape), axis=1)
    advance = widths + spacing * present
    offsets = np.cumsum(advance, axis=1) - advance
    return u + offsets


def _choose_without_replacement(n_rows: int, pool: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_rows, k)`` indices into ``range(pool)``, distinct within a row when ``pool >= k``."""
    if pool >= k:
        return np.argsort(rng.random((n_rows, pool)), axis=1)[:, :k]
    return rng.integers(0, pool, size=(n_rows, k))


def _embed(
    codes: np.ndarray,
    motifs: list[Motif],
    inst_seq: np.ndarray,
    inst_motif: np.ndarray,
    inst_start: np.ndarray,
    bg: np.ndarray,
    pseudocount: float,
    min_score_fraction: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample and write every instance in place; returns ``(E,)`` strands (+1/-1) and scores."""
    strands = np.ones(len(inst_seq), dtype=np.int8)
    scores = np.zeros(len(inst_seq), dtype=np.float64)
    for mi, motif in enumerate(motifs):  # loop over motifs (tens), not instances
        idx = np.flatnonzero(inst_motif == mi)
        if idx.size == 0:
            continue
        lo = pwm_to_log_odds(motif.pwm, bg, pseudocount)
        thr = min_score_fraction * max_log_odds(lo)
        inst, sc = _sample_instances(motif, idx.size, lo, thr, rng)
        minus = rng.random(idx.size) < 0.5
        inst[minus] = 3 - inst[minus, ::-1]
        cols = inst_start[idx][:, None] + np.arange(motif.width)[None, :]
        codes[inst_seq[idx][:, None], cols] = inst
        strands[idx[minus]] = -1
        scores[idx] = sc
    return strands, scores


def _sorted_embeddings(seq, motif, start, strand, score) -> tuple[np.ndarray, ...]:
    order = np.lexsort((start, seq))
    return seq[order], motif[order], start[order], strand[order], score[order]


def _check_unique_names(motifs: Sequence[Motif]) -> None:
    seen: set[str] = set()
    for m in motifs:
        if m.name in seen:
            raise InputError(f"motif name {m.name!r} appears twice; motif names must be unique")
        seen.add(m.name)

def _normalize_pairs(pairs: Sequence[tuple[str, str]], index: dict[str, int]) -> list[tuple[str, str]]:
    """Interacting pairs checked against the motif names; self pairs rejected, duplicates merged."""
    out: list[tuple[str, str]] = []
    for a, b in pairs:
        for x in (a, b):
            if x not in index:
                raise InputError(f"interacting pair ({a}, {b}): {x!r} is not one of the motifs")
        if a == b:
            raise InputError(f"interacting pair ({a}, {b}) is a self pair")
        if (a, b) not in out and (b, a) not in out:
            out.append((a, b))
    if not out:
        raise InputError("no interacting pairs given")
    return out


def _check_unique_motif_file(motifs: list[Motif], path) -> None:
    seen: set[str] = set()
    for m in motifs:
        if m.name in seen:
            raise input_error(path, "duplicate motif name (names must be unique)", m.name)
        seen.add(m.name)

