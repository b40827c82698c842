"""Twins benchmark: only the pairing of TFs carries the label.

Every positive holds ``k = pairs_per_seq`` true interacting pairs with ``2k`` distinct TFs; its
*twin negative* holds the same ``2k`` TFs, re-paired by a perfect matching that contains no true
pair (any pair of the interaction list, not only those of this positive). Motif identity, per-TF
counts and co-occurrence are therefore identical within every twin; only which TFs sit next to
each other differs, so a model (or a baseline) that ignores pairing scores chance.

Layout of one twin (``satori_jax.data.simulate`` conventions for coordinates and strands):

* ``k`` block slots. Slot ``j`` of the positive holds true pair ``j``; slot ``j`` of the negative
  holds false pair ``j`` (false pairs in random slot order). Inside a block the first motif
  starts at the block start and the second after a gap of ``pair_gap`` (uniform, inclusive)
  background bases; which TF comes first is random, separately in each twin.
* Slot ``j`` has the same start and the same gap in both twins; its width is the larger of the
  two blocks, and slots are at least ``block_gap`` bases apart (so any two motifs of different
  blocks are more than ``pair_gap[1]`` apart in both twins).
* Both twins share one background sequence and each TF's sampled instance (bases and strand):
  a TF moves to another slot in the negative, its instance moves with it. The twins differ only
  where motifs were written.

The data set also carries ``groups`` (twin id per sequence, written as ``groups.tsv``), which
random training splits keep whole, and ``gates`` (:func:`twin_gates`), written to
``dataset.json``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from satori_jax.data.jaspar import DEFAULT_RELEASE
from satori_jax.data.meme import Motif, max_log_odds, pwm_to_log_odds
from satori_jax.data.motifpool import motif_pool
from satori_jax.data.simcore import (
    GENOME_BACKGROUND,
    SimulatedDataset,
    _background_codes,
    _check_background,
    _check_unique_names,
    _normalize_pairs,
    _place_blocks,
    _range,
    _sample_instances,
    _sorted_embeddings,
)
from satori_jax.data.splits import group_split
from satori_jax.errors import InputError
from satori_jax.metrics import auroc

__all__ = ["TWINS_DEFAULTS", "TWIN_PRESETS", "perfect_matchings", "simulate_twins", "make_twins_dataset",
           "twin_gates"]

#: Settings of a ``twins`` data set that neither the preset nor the caller gives.
TWINS_DEFAULTS: dict = {"num_tfs": 20, "num_pairs": 40, "length": 300, "num_sequences": 60000,
                        "pairs_per_seq": 3}

#: Data-40/60/80 sizes (300 bp, 60 000 sequences = 30 000 twins), near-regular pair graphs.
TWIN_PRESETS: dict[str, dict] = {
    "twins-40": {"num_tfs": 20, "num_pairs": 40},
    "twins-60": {"num_tfs": 25, "num_pairs": 60},
    "twins-80": {"num_tfs": 30, "num_pairs": 80},
}

MAX_PAIRS_PER_SEQ = 5  # 945 perfect matchings of 10 TFs; 6 would be 10 395 per sequence


def perfect_matchings(m: int) -> np.ndarray:
    """All perfect matchings of ``range(m)`` (``m`` even).

    Returns
    -------
    ``(M, m // 2, 2)`` int64, ``M = (m - 1)!!``; each matching's pairs ``(a, b)`` with ``a < b``,
    the first matching being ``(0, 1), (2, 3), ...``.
    """
    if m % 2:
        raise ValueError(f"perfect matchings need an even number of items, got {m}")

    def rec(items: tuple[int, ...]) -> list[list[tuple[int, int]]]:
        if not items:
            return [[]]
        a, rest = items[0], items[1:]
        return [[(a, b), *r] for i, b in enumerate(rest) for r in rec(rest[:i] + rest[i + 1:])]

    return np.asarray(rec(tuple(range(m))), dtype=np.int64).reshape(-1, m // 2, 2)


def _draw_twins(adj: np.ndarray, pa: np.ndarray, pb: np.ndarray, n: int, k: int, rng: np.random.Generator,
                max_rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """Per twin: ``k`` disjoint true pairs and a false perfect matching of their TFs.

    Returns
    -------
    ``tfs (n, 2k)`` TF indices, true pair ``j`` = ``tfs[:, 2j], tfs[:, 2j + 1]``; ``false (n, k, 2)``
    the negative's pairs as TF indices.
    """
    match = perfect_matchings(2 * k)  # (M, k, 2) positions into a row of tfs
    tfs = np.zeros((n, 2 * k), dtype=np.int64)
    pick = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        sel = np.argsort(rng.random((todo.size, len(pa))), axis=1)[:, :k]  # k distinct true pairs
        cand = np.stack([pa[sel], pb[sel]], axis=2).reshape(todo.size, 2 * k)
        srt = np.sort(cand, axis=1)
        distinct = (np.diff(srt, axis=1) > 0).all(axis=1)
        valid = np.empty((todo.size, len(match)), dtype=bool)  # matchings without a true pair
        step = max(1, (1 << 22) // match.size)  # bounded (rows, M, k) temporaries
        for c in range(0, todo.size, step):
            rows = cand[c:c + step]
            valid[c:c + step] = ~adj[rows[:, match[:, :, 0]], rows[:, match[:, :, 1]]].any(axis=2)
        valid &= distinct[:, None]
        ok = valid.any(axis=1)
        choice = np.argmax(np.where(valid, rng.random(valid.shape), -1.0), axis=1)
        tfs[todo[ok]] = cand[ok]
        pick[todo[ok]] = choice[ok]
        todo = todo[~ok]
    if todo.size:
        raise InputError(
            f"could not draw {k} disjoint true pairs whose {2 * k} TFs can be re-paired without any true "
            f"pair ({todo.size} of {n} twins left after {max_rounds} rounds); the pair list is too dense "
            "for twins: use fewer --pairs-per-seq, more TFs or fewer pairs"
        )
    pos = match[pick]  # (n, k, 2) positions
    false = np.take_along_axis(tfs[:, None, :], pos.reshape(n, 1, 2 * k), axis=2).reshape(n, k, 2)
    return tfs, false


def simulate_twins(
    motifs: Sequence[Motif],
    pairs: Sequence[tuple[str, str]],
    num_sequences: int = 60000,
    length: int = 300,
    pairs_per_seq: int = 3,
    pair_gap: tuple[int, int] = (8, 15),
    block_gap: int = 40,
    background: Sequence[float] = GENOME_BACKGROUND,
    seed: int = 0,
    pseudocount: float = 0.01,
    min_score_fraction: float = 0.5,
    max_rounds: int = 200,
    gates: bool = True,
) -> SimulatedDataset:
    """Twins benchmark (see the module docstring for the layout of a twin).

    Parameters
    ----------
    motifs
        Motif pool (unique names).
    pairs
        True interacting TF pairs (names of ``motifs``); self pairs rejected, duplicates merged.
    num_sequences
        Even number of sequences: ``num_sequences // 2`` twins, one positive and one negative each,
        in random file order.
    pairs_per_seq
        True pairs per positive (``1 .. 5``), with ``2 * pairs_per_seq`` distinct TFs. A draw whose
        TFs admit no perfect matching free of true pairs is redrawn (``max_rounds`` rounds, then
        :class:`InputError`).
    pair_gap
        Inclusive range of background bases between the two motifs of a block.
    block_gap
        Minimum bases between blocks; must exceed ``pair_gap[1]``.
    gates
        Compute :func:`twin_gates` (into ``ds.gates``).

    Returns
    -------
    :class:`SimulatedDataset` with ``codes (N, L)``, ``labels (N,)``, the embeddings (``2k`` per
    sequence), ``groups (N,)`` (twin index, numbered by first appearance in the file) and ``gates``.
    """
    motifs = list(motifs)
    _check_unique_names(motifs)
    index = {m.name: i for i, m in enumerate(motifs)}
    norm_pairs = _normalize_pairs(pairs, index)
    k = int(pairs_per_seq)
    if not 1 <= k <= MAX_PAIRS_PER_SEQ:
        raise InputError(f"pairs_per_seq must be in 1..{MAX_PAIRS_PER_SEQ}, got {k}")
    if len(norm_pairs) < k:
        raise InputError(f"{len(norm_pairs)} true pairs cannot fill {k} pairs per sequence")
    if num_sequences < 2 or num_sequences % 2:
        raise InputError(f"num_sequences must be even and >= 2 (a positive and a negative per twin), "
                         f"got {num_sequences}")
    g_lo, g_hi = _range(pair_gap, "pair_gap")
    if block_gap <= g_hi:
        raise InputError(f"block_gap ({block_gap}) must exceed the largest pair gap ({g_hi})")
    bg = _check_background(background)
    t = len(motifs)
    widths = np.array([m.width for m in motifs], dtype=np.int64)
    adj = np.zeros((t, t), dtype=bool)
    pa = np.array([index[a] for a, _ in norm_pairs])
    pb = np.array([index[b] for _, b in norm_pairs])
    adj[pa, pb] = adj[pb, pa] = True

    rng = np.random.default_rng(seed)
    n = num_sequences // 2
    tfs, false = _draw_twins(adj, pa, pb, n, k, rng, max_rounds)
    true = tfs.reshape(n, k, 2)
    false = np.take_along_axis(false, np.argsort(rng.random((n, k)), axis=1)[:, :, None], axis=1)

    def orient(blocks: np.ndarray) -> np.ndarray:  # random order inside each block
        flip = rng.random(blocks.shape[:2]) < 0.5
        return np.where(flip[:, :, None], blocks[:, :, ::-1], blocks)

    true, false = orient(true), orient(false)
    gap = rng.integers(g_lo, g_hi + 1, size=(n, k))
    slot = np.maximum(widths[true].sum(axis=2), widths[false].sum(axis=2)) + gap
    bstart = _place_blocks(slot, block_gap, length, rng)  # (n, k)

    def starts(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # (n, 2k) TF and start, sorted by TF
        second = bstart + widths[blocks[:, :, 0]] + gap
        tf = blocks.reshape(n, 2 * k)
        st = np.stack([bstart, second], axis=2).reshape(n, 2 * k)
        order = np.argsort(tf, axis=1)
        return np.take_along_axis(tf, order, axis=1), np.take_along_axis(st, order, axis=1)

    tf_p, start_p = starts(true)
    tf_n, start_n = starts(false)
    assert (tf_p == tf_n).all()

    rows = rng.permutation(2 * n)
    pos_row, neg_row = rows[:n], rows[n:]
    labels = np.zeros(2 * n, dtype=np.int8)
    labels[pos_row] = 1
    first = np.minimum(pos_row, neg_row)
    twin_id = np.empty(n, dtype=np.int64)
    twin_id[np.argsort(first)] = np.arange(n)
    groups = np.empty(2 * n, dtype=np.int64)
    groups[pos_row] = twin_id
    groups[neg_row] = twin_id
    base = _background_codes(n, length, bg, rng)
    codes = np.empty((2 * n, length), dtype=np.uint8)
    codes[pos_row] = base
    codes[neg_row] = base

    inst_twin = np.repeat(np.arange(n), 2 * k)
    inst_tf = tf_p.reshape(-1)
    sp, sn = start_p.reshape(-1), start_n.reshape(-1)
    strands = np.ones(inst_tf.size, dtype=np.int8)
    scores = np.zeros(inst_tf.size, dtype=np.float64)
    for mi, motif in enumerate(motifs):  # loop over motifs (tens), not instances
        idx = np.flatnonzero(inst_tf == mi)
        if idx.size == 0:
            continue
        lo = pwm_to_log_odds(motif.pwm, bg, pseudocount)
        inst, sc = _sample_instances(motif, idx.size, lo, min_score_fraction * max_log_odds(lo), rng)
        minus = rng.random(idx.size) < 0.5
        inst[minus] = 3 - inst[minus, ::-1]
        cols = np.arange(motif.width)[None, :]
        codes[pos_row[inst_twin[idx]][:, None], sp[idx][:, None] + cols] = inst
        codes[neg_row[inst_twin[idx]][:, None], sn[idx][:, None] + cols] = inst
        strands[idx[minus]] = -1
        scores[idx] = sc
    es, em, est, estr, esc = _sorted_embeddings(
        np.concatenate([pos_row[inst_twin], neg_row[inst_twin]]), np.concatenate([inst_tf, inst_tf]),
        np.concatenate([sp, sn]), np.concatenate([strands, strands]), np.concatenate([scores, scores]))
    params = {
        "num_sequences": num_sequences,
        "length": length,
        "pairs_per_seq": k,
        "pair_gap": [g_lo, g_hi],
        "pair_gap_definition": "bases between end of first motif and start of second",
        "block_gap": block_gap,
        "negative": "twin: same background, TFs and instances; TFs re-paired by a perfect matching "
                    "without true pairs",
        "background": [float(x) for x in bg],
        "pseudocount": pseudocount,
        "min_score_fraction": min_score_fraction,
    }
    counts = {
        "sequences": 2 * n,
        "positives": n,
        "negatives": n,
        "twins": n,
        "motifs": t,
        "interactions": len(norm_pairs),
        "embedded_instances": int(len(es)),
    }
    ds = SimulatedDataset(codes, labels, motifs, norm_pairs, es, em, est, estr, esc, "twins", params,
                          int(seed), counts, groups=groups)
    if gates:
        ds.gates = twin_gates(ds, max_gap=g_hi, seed=seed)
    return ds


def _logistic_fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 25) -> np.ndarray:
    """L2-penalised logistic regression by Newton's method; ``x (N, D)`` -> weights ``(D + 1,)``."""
    xb = np.concatenate([np.ones((len(x), 1)), x], axis=1)
    w = np.zeros(xb.shape[1])
    pen = np.full(xb.shape[1], l2)
    pen[0] = 0.0  # no penalty on the intercept
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + pen * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(pen) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def twin_gates(ds: SimulatedDataset, max_gap: int = 15, seed: int = 0, test_fraction: float = 0.3) -> dict:
    """Sanity gates of a twins data set, recomputed from its embeddings.

    * ``twins_with_different_tf_counts``: twins whose per-TF instance counts differ (must be 0).
    * ``oracle_auroc`` / ``oracle_accuracy``: the rule "positive iff two instances of a true pair lie
      within ``max_gap`` bases of each other" (must be 1.0).
    * ``counts_logistic_auroc`` / ``counts_logistic_accuracy``: an L2 logistic regression on per-TF
      counts ``(N, T)``, trained on whole twins and scored on held-out twins (``test_fraction``,
      :func:`satori_jax.data.splits.group_split`); about 0.5. It is exactly 0.5 whenever the
      counts are identical within twins, since positives and negatives then share one
      distribution of count vectors (ties count one half).
    * ``positions_logistic_auroc`` / ``..._accuracy``: the same on per-TF counts in each third of
      the sequence ``(N, 3T)`` (instance centres), a check that positions do not give the class away;
      about 0.5.

    Returns
    -------
    dict of the gate values (JSON-ready).
    """
    n, t = len(ds.labels), len(ds.motifs)
    y = ds.labels.astype(np.float64)
    x = np.zeros((n, t))
    np.add.at(x, (ds.emb_seq, ds.emb_motif), 1.0)
    groups = np.asarray(ds.groups)
    _, inv = np.unique(groups, return_inverse=True)
    inv = inv.reshape(-1)
    first = np.full(int(inv.max()) + 1, n, dtype=np.int64)
    np.minimum.at(first, inv, np.arange(n))  # first sequence of each twin
    differs = (x != x[first[inv]]).any(axis=1)
    adj = np.zeros((t, t), dtype=bool)
    index = {m.name: i for i, m in enumerate(ds.motifs)}
    for a, b in ds.interactions:
        adj[index[a], index[b]] = adj[index[b], index[a]] = True
    seq, mot, start, end = ds.emb_seq, ds.emb_motif, ds.emb_start, ds.emb_end  # sorted by seq, start
    oracle = np.zeros(n, dtype=bool)
    for d in range(1, int(np.bincount(seq, minlength=n).max())):
        i, j = np.arange(len(seq) - d), np.arange(d, len(seq))
        near = (seq[i] == seq[j]) & (start[j] - end[i] <= max_gap) & adj[mot[i], mot[j]]
        oracle[seq[i][near]] = True
    length = ds.codes.shape[1]
    xpos = np.zeros((n, t * 3))  # per-TF counts in thirds of the sequence (instance centre)
    third = np.minimum((start + end) * 3 // (2 * length), 2)
    np.add.at(xpos, (seq, mot * 3 + third), 1.0)
    split = group_split(groups, seed, 0.0, test_fraction)
    tr, te = split["train"], split["test"]

    def held_out(feats: np.ndarray) -> np.ndarray:
        mu, sd = feats[tr].mean(axis=0), feats[tr].std(axis=0) + 1e-9
        w = _logistic_fit((feats[tr] - mu) / sd, y[tr])
        return w[0] + ((feats[te] - mu) / sd) @ w[1:]

    logit, logit_pos = held_out(x), held_out(xpos)
    return {
        "twins": int(len(np.unique(groups))),
        "twins_with_different_tf_counts": int(len(np.unique(groups[differs]))),
        "oracle_rule": f"positive iff a true pair lies within {max_gap} bp",
        "oracle_auroc": float(auroc(y, oracle.astype(np.float64))),
        "oracle_accuracy": float(np.mean(oracle == (y > 0))),
        "counts_logistic_test_sequences": int(te.size),
        "counts_logistic_auroc": float(auroc(y[te], logit)),
        "counts_logistic_accuracy": float(np.mean((logit > 0) == (y[te] > 0))),
        "positions_logistic_auroc": float(auroc(y[te], logit_pos)),
        "positions_logistic_accuracy": float(np.mean((logit_pos > 0) == (y[te] > 0))),
    }


def make_twins_dataset(
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
    pairs_per_seq: int | None = None,
    release: str = DEFAULT_RELEASE,
) -> SimulatedDataset:
    """Build a ``twins`` data set from a preset and/or explicit settings (explicit ones win).

    Without ``motifs_file``, ``num_tfs`` mutually dissimilar JASPAR CORE vertebrate motifs are
    drawn as for the ``pairs`` generator (:func:`choose_distinct_motifs`) and ``num_pairs`` pairs
    among them form a near-regular graph (:func:`regular_interactions`), both with ``seed``
    (defaults: twins-40 sizes). With ``motifs_file`` (MEME) ``pairs_file`` (TSV) is required.
    """
    if preset is not None and preset not in TWIN_PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(TWIN_PRESETS)}")
    cfg: dict = dict(TWINS_DEFAULTS)
    cfg.update(TWIN_PRESETS.get(preset or "", {}))
    for key, val in (("num_sequences", num_sequences), ("length", length), ("num_tfs", num_tfs),
                     ("num_pairs", num_pairs), ("pairs_per_seq", pairs_per_seq)):
        if val is not None:
            cfg[key] = val
    motifs, pairs, source = motif_pool(motifs_file, pairs_file, num_tfs, num_pairs, cfg, seed, release,
                                       "near-regular")
    ds = simulate_twins(motifs, pairs, num_sequences=int(cfg["num_sequences"]), length=int(cfg["length"]),
                        pairs_per_seq=int(cfg["pairs_per_seq"]),
                        background=GENOME_BACKGROUND if background is None else background, seed=seed)
    ds.parameters = {"preset": preset, **source, **ds.parameters,
                     "motif_ids": {m.name: m.alt for m in motifs}}
    return ds
