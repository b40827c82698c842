"""Seed the first-layer filters with enriched k-mers before training (label-free motif discovery).

The classical first step of motif finders (DREME, HOMER, STREME): count every k-mer (both strands
merged) in the training sequences and in dinucleotide-shuffled copies of them, rank k-mers by the
binomial p-value of their real count among real + shuffled (one-sided, p = 1/2 under the null;
Bonferroni over all k-mers), and walk down that ranking keeping a k-mer only when it is not a
variant of one already kept (at most two mismatches in place, or an exact overlap of ``k − 3`` or
more bases at a shift of up to three, on either strand). Each kept k-mer becomes two filters, one
per strand (the convolution reads one strand): a one-hot word in the middle of the kernel.

Why: a CNN trained from random filters settles on a few strong motifs. On a 20-motif twins set
(12 000 × 300 bp) the default training left 2 of the 20 motifs detected well (a filter whose
maximum tells sequences with the motif from those without at AUROC > 0.9) and 7 filters on one of
them, while 8-mer enrichment picks a word of 18 of the 20 motifs among its first 40 words in two
seconds. A TF that no filter detects can never be named in an interaction. Motif pretraining
(:mod:`satori_jax.train.pretrain`) and training then refine the seeded words into PWMs.

Known and measured: with 20 000 sequences the tails of the strongest words underflow (``logsf`` is
``-inf``) and those words come in k-mer id order, and a motif with a degenerate base can take
several words. Ranking them by strength and merging such words hit more of the pool's motifs (138 of
149 on seven simulated data sets, against 124) but gave worse interaction lists on all three CPU
suite data sets (``bench/results/seeding/coverage-2026-12-07.md``), so this rule stays.

k-mer counting, the shuffle and the greedy choice are a few lines of numpy; no maintained Python
package offers DREME-style seeding on encoded arrays (the MEME suite's STREME is a C program).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from satori_jax.data.shuffle import dinucleotide_shuffle

__all__ = ["enriched_kmers", "kmer_kernel", "seed_filters"]


def _kmer_ids(codes: np.ndarray, k: int) -> np.ndarray:
    """``(N, L − k + 1)`` base-4 ids of every k-mer; windows with N (code 4) get id −1."""
    codes = np.asarray(codes)
    n, length = codes.shape
    width = length - k + 1
    ids = np.zeros((n, max(width, 0)), np.int64)
    bad = np.zeros_like(ids, bool)
    for i in range(k):
        col = codes[:, i : i + width].astype(np.int64)
        bad |= col > 3
        ids = ids * 4 + np.minimum(col, 3)
    ids[bad] = -1
    return ids


def _revcomp_ids(ids: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(ids)
    rest = ids.copy()
    for _ in range(k):
        out = out * 4 + (3 - rest % 4)
        rest //= 4
    return out


def _digits(ids: np.ndarray, k: int) -> np.ndarray:
    """``(..., k)`` bases of k-mer ids."""
    return (np.asarray(ids)[..., None] // 4 ** np.arange(k - 1, -1, -1)) % 4


def _counts(codes: np.ndarray, k: int) -> np.ndarray:
    """``(4**k,)`` number of sequences holding each k-mer (on the given strand)."""
    ids = _kmer_ids(codes, k)
    seq = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)
    ok = ids >= 0
    # one count per (sequence, k-mer)
    key = np.unique(seq[ok].astype(np.int64) * 4**k + ids[ok])
    return np.bincount(key % 4**k, minlength=4**k)


def _variant(cand: np.ndarray, kept: np.ndarray, k: int) -> bool:
    """Whether the k-mer with bases ``cand (k,)`` is a variant of any of ``kept (P, 2, k)`` (both strands)."""
    if len(kept) == 0:
        return False
    if ((kept != cand).sum(-1) <= 2).any():
        return True
    for s in range(1, 4):
        if (kept[..., s:] == cand[: k - s]).all(-1).any() or (kept[..., : k - s] == cand[s:]).all(-1).any():
            return True
    return False


def enriched_kmers(codes: np.ndarray, num: int, *, k: int = 8, alpha: float = 0.01,
                   max_sequences: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ``num`` most enriched, mutually distinct k-mers of ``codes`` against dinucleotide shuffles.

    Parameters
    ----------
    codes
        ``(N, L)`` uint8 base codes (A0 C1 G2 T3, 4 = N).
    num
        Most k-mers to return.
    k
        Word length.
    alpha
        Family-wise level: a k-mer is kept only when its one-sided binomial p-value (sequences holding
        it, both strands merged: real among real + shuffled, 1/2 under the null) is below ``alpha``
        divided by the number of distinct k-mers up to reverse complement.
    max_sequences
        At most this many sequences (drawn with ``seed``) are counted.
    seed
        Seeds the draw and the shuffle.

    Returns
    -------
    words, log10_p
        ``(P, k)`` bases of the chosen k-mers (``P <= num``), best first, and their ``(P,)`` log10
        p-values.
    """
    rng = np.random.default_rng(seed)
    codes = np.asarray(codes)
    if len(codes) > max_sequences:
        codes = codes[np.sort(rng.choice(len(codes), max_sequences, replace=False))]
    if codes.shape[1] < k or len(codes) == 0 or num <= 0:
        return np.zeros((0, k), np.int64), np.zeros(0)
    real = _counts(codes, k)
    shuf = _counts(dinucleotide_shuffle(codes, rng), k)
    every = np.arange(4**k)
    rc = _revcomp_ids(every, k)
    real, shuf = real + np.where(rc != every, real[rc], 0), shuf + np.where(rc != every, shuf[rc], 0)
    logp = binom.logsf(real - 1, real + shuf, 0.5) / np.log(10)  # log10 P(X >= real)
    logp[(rc < every) | (real == 0)] = 0.0  # one of each reverse-complement pair
    cut = np.log10(alpha / int((rc >= every).sum()))
    order = np.argsort(logp, kind="stable")
    kept: list[int] = []
    kept_digits = np.zeros((0, 2, k), np.int64)
    for cand in order[: 50 * num + 1000]:
        if logp[cand] >= cut or len(kept) >= num:
            break
        d = _digits(cand, k)
        if _variant(d, kept_digits, k):
            continue
        kept.append(int(cand))
        both = np.stack([d, _digits(rc[cand], k)])[None]
        kept_digits = np.concatenate([kept_digits, both])
    ids = np.asarray(kept, np.int64)
    return _digits(ids, k).reshape(len(ids), k), logp[ids]


def kmer_kernel(words: np.ndarray, width: int, scale: float = 0.375) -> tuple[np.ndarray, np.ndarray]:
    """Convolution weights that fire on the given words.

    Parameters
    ----------
    words
        ``(P, k)`` bases, ``k <= width``.
    width
        Filter width ``K``.
    scale
        Weight of a matching base; a mismatching base weighs ``−scale / 3``.

    Returns
    -------
    kernel, bias
        ``(K, 4, P)`` and ``(P,)``: each word centred in the kernel (other positions 0); an exact
        match scores ``k · scale``, each mismatch ``4/3 · scale`` less, and the bias of
        ``−(k − 4) · scale`` lets a window with up to two mismatches through the ReLU.
    """
    words = np.asarray(words, np.int64)
    p, k = words.shape
    if k > width:
        raise ValueError(f"k-mer length {k} exceeds the filter width {width}")
    kernel = np.full((width, 4, p), -scale / 3.0, np.float32)
    off = (width - k) // 2
    kernel[:off] = 0.0
    kernel[off + k :] = 0.0
    for j in range(k):
        kernel[off + j, words[:, j], np.arange(p)] = scale
    bias = np.full(p, -(k - 4) * scale, np.float32)
    return kernel, bias


def seed_filters(params: dict, codes: np.ndarray, *, k: int = 8, first: int = 0, seed: int = 0,
                 log=print) -> tuple[dict, int]:
    """Replace filters ``first ..`` of ``params["conv"]`` by enriched k-mers of ``codes``.

    Parameters
    ----------
    params
        Model parameters with ``conv`` (``kernel (K, 4, F)``, ``bias (F,)``).
    codes
        ``(N, L)`` training sequences (labels are not used).
    k, seed
        Word length and seed (:func:`enriched_kmers`).
    first
        Filters before it (loaded PWMs) are kept.

    Returns
    -------
    params, n
        Parameters with ``n`` seeded filters (``n <= F − first``: each word of
        :func:`enriched_kmers` and its reverse complement; the others keep their initialisation
        when fewer words are enriched).
    """
    conv = params["conv"]
    kern = np.array(conv["kernel"])
    bias = np.array(conv["bias"])
    width, _, f = kern.shape
    k = min(k, width)
    room = f - first
    words, _ = enriched_kmers(codes, (room + 1) // 2, k=k, seed=seed)
    both = []  # each word and its reverse complement (once for a palindrome)
    for w in words:
        both.append(w)
        rc = (3 - w)[::-1]
        if not np.array_equal(rc, w):
            both.append(rc)
    both = both[:room]
    n = len(both)
    if n:
        wk, wb = kmer_kernel(np.stack(both), width)
        kern[..., first : first + n] = wk
        bias[first : first + n] = wb
    log(f"seeded {n} of {room} filters with {len(words)} enriched {k}-mers and their reverse complements"
        + (f" (best: {''.join('ACGT'[b] for b in words[0])})" if n else ""))
    out = dict(params)
    out["conv"] = {"kernel": kern.astype(np.asarray(conv["kernel"]).dtype),
                   "bias": bias.astype(np.asarray(conv["bias"]).dtype)}
    return out, n
