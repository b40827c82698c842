"""Motif pools and interaction lists for the simulators: dissimilar JASPAR motifs, random pair lists."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from satori_jax.data.meme import Motif, information_content, reverse_complement_pwm
from satori_jax.errors import InputError, input_error

__all__ = [
    "motif_similarity",
    "choose_distinct_motifs",
    "random_interactions",
    "regular_interactions",
    "read_pairs_tsv",
]


def motif_similarity(a: np.ndarray, b: np.ndarray, min_overlap: int | None = None) -> float:
    """Best ungapped-alignment similarity of two ``(K, 4)`` PWMs, both strands of ``b``.

    For every offset with at least ``min_overlap`` overlapping columns (default
    ``max(4, ceil(0.6 * min(Ka, Kb)))``) the score is the mean Pearson correlation of the aligned
    columns (a flat column counts 0); the maximum over offsets and strands is returned
    (in ``[-1, 1]``).
    """
    ka, kb = len(a), len(b)
    if min_overlap is None:
        min_overlap = max(4, int(np.ceil(0.6 * min(ka, kb))))
    min_overlap = min(min_overlap, ka, kb)

    def unit(x: np.ndarray) -> np.ndarray:
        x = x - x.mean(axis=1, keepdims=True)
        nrm = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, nrm, out=np.zeros_like(x), where=nrm > 1e-12)

    ua = unit(np.asarray(a, float))
    best = -1.0
    for bb in (np.asarray(b, float), reverse_complement_pwm(b)):
        corr = ua @ unit(bb).T  # (Ka, Kb)
        for off in range(-(ka - min_overlap), kb - min_overlap + 1):
            d = np.diagonal(corr, offset=off)
            if d.size >= min_overlap:
                best = max(best, float(d.mean()))
    return best


def _components(name: str) -> set[str]:
    return {p.upper() for p in name.replace("(var.", "::(var.").split("::") if p and not p.startswith("(")}


def choose_distinct_motifs(
    all_motifs: Sequence[Motif],
    n: int,
    seed: int = 0,
    max_similarity: float = 0.75,
    width_range: tuple[int, int] = (6, 20),
    min_mean_ic: float = 1.0,
    min_total_ic: float = 8.0,
) -> list[Motif]:
    """Pick ``n`` motifs that are not near-duplicates of each other.

    Candidates: width in ``width_range``, mean information content >= ``min_mean_ic`` bits and
    total >= ``min_total_ic`` bits. They are visited in a seeded random order and accepted
    greedily unless they share a TF name component with an accepted motif (``FOS::JUN`` vs
    ``JUN``; case-insensitive) or their :func:`motif_similarity` with an accepted motif exceeds
    ``max_similarity``.

    Raises
    ------
    InputError
        When fewer than ``n`` motifs qualify.
    """
    lo, hi = width_range
    cands = []
    for m in all_motifs:
        ic = information_content(m.pwm)
        if lo <= m.width <= hi and ic.mean() >= min_mean_ic and ic.sum() >= min_total_ic:
            cands.append(m)
    rng = np.random.default_rng(seed)
    chosen: list[Motif] = []
    used: set[str] = set()
    for i in rng.permutation(len(cands)):
        m = cands[int(i)]
        comps = _components(m.name)
        if comps & used:
            continue
        if any(motif_similarity(m.pwm, c.pwm) > max_similarity for c in chosen):
            continue
        chosen.append(m)
        used |= comps
        if len(chosen) == n:
            return chosen
    raise InputError(
        f"only {len(chosen)} mutually dissimilar motifs (similarity <= {max_similarity}) found, {n} requested"
    )


def random_interactions(names: Sequence[str], num_pairs: int, seed: int = 0) -> list[tuple[str, str]]:
    """``num_pairs`` distinct unordered pairs of distinct names.

    When ``num_pairs >= ceil(T / 2)`` every name takes part in at least one pair (a random
    perfect matching is drawn first, the rest uniformly from the remaining pairs).
    """
    t = len(names)
    total = t * (t - 1) // 2
    if num_pairs < 1 or num_pairs > total:
        raise InputError(f"num_pairs must be in 1..{total} for {t} TFs, got {num_pairs}")
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, int]] = []
    if num_pairs >= (t + 1) // 2:
        order = rng.permutation(t)
        for i in range(0, t - 1, 2):
            chosen.append(tuple(sorted((int(order[i]), int(order[i + 1])))))
        if t % 2:
            other = int(order[rng.integers(0, t - 1)])
            chosen.append(tuple(sorted((int(order[-1]), other))))
    taken = set(chosen)
    rest = [(i, j) for i in range(t) for j in range(i + 1, t) if (i, j) not in taken]
    n_extra = num_pairs - len(chosen)
    extra = rng.choice(len(rest), size=n_extra, replace=False) if n_extra > 0 else np.zeros(0, np.int64)
    chosen += [rest[int(k)] for k in np.sort(extra)]
    return [(names[i], names[j]) for i, j in chosen]


def regular_interactions(names: Sequence[str], num_pairs: int, seed: int = 0) -> list[tuple[str, str]]:
    """``num_pairs`` distinct pairs in which every name has about the same number of partners.

    Degrees are ``floor(2P / T)`` or one more (the extra ones on random names): a near-regular
    graph, built by Havel-Hakimi (ties broken at random) and then randomized by 20 x P attempted
    degree-preserving double-edge swaps. Deterministic by ``seed``.

    Returns
    -------
    Pairs ``(a, b)`` with ``a`` before ``b`` in ``names``, sorted by that order.
    """
    t = len(names)
    total = t * (t - 1) // 2
    if num_pairs < 1 or num_pairs > total:
        raise InputError(f"num_pairs must be in 1..{total} for {t} TFs, got {num_pairs}")
    rng = np.random.default_rng(seed)
    base, extra = divmod(2 * num_pairs, t)
    left = np.full(t, base, dtype=np.int64)
    left[rng.permutation(t)[:extra]] += 1
    edges: set[tuple[int, int]] = set()
    while left.max() > 0:  # Havel-Hakimi: a near-regular degree sequence is always graphical
        key = np.lexsort((rng.random(t), -left))  # largest remaining degree first, random ties
        v, rest = int(key[0]), key[1:]
        nbrs = rest[: left[v]]
        if left[v] > len(rest) or (left[nbrs] <= 0).any():  # pragma: no cover - not graphical
            raise InputError(f"no graph with {num_pairs} pairs on {t} TFs and near-equal degrees")
        for u in nbrs.tolist():
            edges.add((min(v, u), max(v, u)))
        left[nbrs] -= 1
        left[v] = 0
    elist = sorted(edges)
    for _ in range(20 * num_pairs):  # double-edge swaps keep every degree
        i, j = rng.choice(len(elist), size=2, replace=False)
        (a, b), (c, d) = elist[i], elist[j]
        if rng.random() < 0.5:
            c, d = d, c
        e1, e2 = (min(a, d), max(a, d)), (min(c, b), max(c, b))
        if a == d or c == b or e1 == e2 or e1 in edges or e2 in edges:
            continue
        edges -= {elist[i], elist[j]}
        edges |= {e1, e2}
        elist[i], elist[j] = e1, e2
    return [(names[i], names[j]) for i, j in sorted(edges)]


def read_pairs_tsv(path: str | os.PathLike, names: Sequence[str]) -> list[tuple[str, str]]:
    """Read interacting pairs: two TF names per line (tab or whitespace separated).

    An optional header ``tf_a tf_b``, blank lines and ``#`` comments are skipped. Names must be
    among ``names``; self pairs are rejected; duplicates (either order) are merged.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error(path, f"cannot read pairs file ({exc})") from None
    known = set(names)
    out: list[tuple[str, str]] = []
    seen: set[frozenset[str]] = set()
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        toks = line.split("\t") if "\t" in line else line.split()
        toks = [t.strip() for t in toks if t.strip()]
        if len(toks) != 2:
            raise input_error(path, f"expected two TF names, got {len(toks)} fields", lineno)
        if not out and not seen and [t.lower() for t in toks] == ["tf_a", "tf_b"]:
            continue
        for t in toks:
            if t not in known:
                raise input_error(path, f"unknown TF name {t!r} (not in the motif file)", lineno)
        if toks[0] == toks[1]:
            raise input_error(path, f"self pair {toks[0]!r}", lineno)
        key = frozenset(toks)
        if key not in seen:
            seen.add(key)
            out.append((toks[0], toks[1]))
    if not out:
        raise input_error(path, "no interacting pairs")
    return out



def motif_pool(motifs_file, pairs_file, num_tfs: int | None, num_pairs: int | None, cfg: dict, seed: int,
               release: str, pair_graph: str = "random") -> tuple[list[Motif], list[tuple[str, str]], dict]:
    """The motifs and true pairs of a generator: the user's (``--motifs`` + ``--pairs``) or drawn from JASPAR.

    Parameters
    ----------
    num_tfs, num_pairs
        As given by the user (``None``: not given; must not be combined with the user's files).
    cfg
        The generator's resolved settings (``num_tfs``, ``num_pairs`` for a JASPAR draw).
    pair_graph
        ``"random"`` (:func:`random_interactions`) or ``"near-regular"`` (:func:`regular_interactions`).

    Returns
    -------
    motifs, pairs, source
        The motif pool, the true pairs, and the ``source`` entry of ``dataset.json``.
    """
    from satori_jax.data.jaspar import load_jaspar
    from satori_jax.data.meme import read_meme
    from satori_jax.data.simcore import _check_unique_motif_file

    if (motifs_file is None) != (pairs_file is None):
        raise InputError("--motifs and --pairs go together (a MEME file and its interacting-pairs TSV)")
    if motifs_file is not None:
        if num_tfs is not None or num_pairs is not None:
            raise InputError("--num-tfs/--num-pairs cannot be combined with --motifs/--pairs")
        motifs = read_meme(motifs_file)
        _check_unique_motif_file(motifs, motifs_file)
        pairs = read_pairs_tsv(pairs_file, [m.name for m in motifs])
        return motifs, pairs, {"motifs_file": str(motifs_file), "pairs_file": str(pairs_file)}
    motifs = choose_distinct_motifs(load_jaspar(release=release), int(cfg["num_tfs"]), seed=seed)
    draw = regular_interactions if pair_graph == "near-regular" else random_interactions
    pairs = draw([m.name for m in motifs], int(cfg["num_pairs"]), seed=seed)
    source = {"jaspar_release": release, "collection": "CORE", "tax_group": "vertebrates",
              "num_tfs": int(cfg["num_tfs"]), "num_pairs": int(cfg["num_pairs"])}
    if pair_graph == "near-regular":
        source["pair_graph"] = pair_graph
    return motifs, pairs, source
