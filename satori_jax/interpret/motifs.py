"""First-layer filter motifs: PWMs from aligned K-mers, MEME output, TomTom matching, TF families.

DESIGN.md, interpretation step 2. For every filter ``f`` with threshold ``t_f`` (a fraction of its
maximum activation over the selected examples, see :mod:`satori_jax.interpret.activity`), every
conv position ``p`` whose activation is at least ``t_f`` (and positive) contributes the K-mer of
the input that the filter saw there, i.e. the one-hot window starting at input index
``p + conv_offset(cfg)``; columns that fall in the padding contribute nothing and ``N`` bases
contribute 0.25 to each letter (their one-hot encoding). The counts are accumulated on the device
per fixed-shape chunk, as the gradient of a convolution kernel (:func:`_kmer_counts_fn`).

Filters with fewer than :data:`MIN_SITES` sites are not matched. The PWMs of the others are matched
with TomTom (``memelite``) against a motif database (JASPAR through
:func:`satori_jax.data.jaspar.load_jaspar`, or a user MEME file); p-values are corrected per query
(Benjamini–Hochberg over all targets) and the best target of each filter is kept, considered a
match when its q-value is below :data:`MATCH_Q`.
"""

from __future__ import annotations

import csv
import functools
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from satori_jax.data.meme import Motif, information_content, read_meme, write_meme
from satori_jax.errors import InputError, input_error

__all__ = [
    "MIN_SITES",
    "MATCH_Q",
    "TOMTOM_COLUMNS",
    "FilterMatch",
    "filter_pwms",
    "pwms_from_counts",
    "to_pwm",
    "filter_motifs",
    "information_content",
    "total_information",
    "load_motif_db",
    "read_family_table",
    "bh_rows",
    "run_tomtom",
    "match_filters",
    "write_filters_meme",
    "write_tomtom_table",
    "read_tomtom_table",
    "matched_db_pwm",
]

#: Filters with fewer sites than this are left out of motif matching.
MIN_SITES = 10
#: A filter's best TomTom hit names it when its q-value is below this.
MATCH_Q = 0.05
#: Columns of ``filters_tomtom.tsv``, in order.
TOMTOM_COLUMNS = (
    "filter", "n_sites", "ic", "target", "target_id", "p_value", "q_value", "offset", "orientation", "family",
)


# --------------------------------------------------------------------------------------------
# PWMs from aligned K-mers
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)  # one compilation per model and length, not one per call (chunk)
def _kmer_counts_fn(model, cfg_model, length: int):
    """jit'd ``(variables, codes (B, L), mask (B,), thresholds (F,)) -> (counts (F,K,4), n (F,))``.

    ``counts[f, k, c] = Σ_{b, p} w[b, p, f] · x[b, p + off + k, c]`` (``w``: the active positions,
    ``off``: :func:`~satori_jax.models.conv_offset`, ``x`` zero outside the sequence) is the gradient of
    a convolution's kernel with ``w`` as the output cotangent, which XLA computes as one backward-filter
    convolution instead of gathering every ``(B, L_conv, K, 4)`` window (4x faster on a 2-core CPU).
    """
    from satori_jax.data.encoding import one_hot
    from satori_jax.models import conv_length, conv_offset

    k = int(cfg_model.filter_width)
    off = int(conv_offset(cfg_model))
    l_conv = int(conv_length(cfg_model, length))
    # conv position p sees input p + off ... p + off + K - 1: pad so that the correlation lines up
    padding = [(-off, l_conv - 1 + off + k - length)]

    @jax.jit
    def fn(variables, codes, mask, thresholds):
        x = one_hot(codes)  # (B, L, 4)
        conv = model.apply(variables, x, method=lambda m, x: m._conv(x, False))  # (B, L_conv, F)
        active = (conv >= thresholds[None, None, :]) & (conv > 0)
        w = active.astype(jnp.float32) * mask[:, None, None].astype(jnp.float32)

        def correlate(kernel):  # (K, 4, F) -> (B, L_conv, F)
            return jax.lax.conv_general_dilated(x, kernel, (1,), padding,
                                                dimension_numbers=("NWC", "WIO", "NWC"))

        _, vjp = jax.vjp(correlate, jnp.zeros((k, 4, conv.shape[-1]), jnp.float32))
        (grad,) = vjp(w)  # (K, 4, F)
        return jnp.transpose(grad, (2, 0, 1)), w.sum(axis=(0, 1))

    return fn


def filter_pwms(
    model,
    variables,
    codes: np.ndarray,
    thresholds: np.ndarray,
    cfg_model,
    batch_size: int = 256,
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Letter counts of the K-mers that activate each filter.

    Parameters
    ----------
    model, variables
        The trained model (``model.apply(variables, x)`` gives ``intermediates["conv"]``).
    codes
        ``(N, L)`` uint8 sequence codes (A=0, C=1, G=2, T=3, other=4).
    thresholds
        ``(F,)`` activation thresholds; a position counts when its activation is ``>= threshold``
        and ``> 0``.
    cfg_model
        The model config (``filter_width``, ``padding``) for the alignment offset.
    batch_size
        Chunk size; the last chunk is padded and masked, so there is a single compilation.
    verbose
        Show a progress bar.

    Returns
    -------
    counts
        ``(F, K, 4)`` float64 letter counts (ACGT).
    n_sites
        ``(F,)`` int64 number of positions at or above threshold.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise ValueError(f"codes must be (N, L), got shape {codes.shape}")
    n, length = codes.shape
    thresholds = jnp.asarray(np.asarray(thresholds, np.float32))
    f = int(thresholds.shape[0])
    k = int(cfg_model.filter_width)
    counts = np.zeros((f, k, 4), np.float64)
    n_sites = np.zeros((f,), np.float64)
    if n == 0:
        return counts, n_sites.astype(np.int64)
    chunk = int(max(1, min(batch_size, n)))
    fn = _kmer_counts_fn(model, cfg_model, length)
    starts = range(0, n, chunk)
    if verbose:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="filter PWMs", unit="batch", leave=False)
    # float32 sums on the host: the same floats as on the device, without compiling two additions
    acc_c = np.zeros((f, k, 4), np.float32)
    acc_n = np.zeros((f,), np.float32)
    for s in starts:
        part = codes[s : s + chunk]
        m = part.shape[0]
        mask = np.zeros((chunk,), np.float32)
        mask[:m] = 1.0
        if m < chunk:
            part = np.concatenate([part, np.full((chunk - m, length), 4, np.uint8)])
        c, ns = fn(variables, jnp.asarray(part), jnp.asarray(mask), thresholds)
        acc_c = acc_c + np.asarray(c)
        acc_n = acc_n + np.asarray(ns)
    counts = np.asarray(acc_c, np.float64)
    n_sites = np.rint(np.asarray(acc_n, np.float64)).astype(np.int64)
    return counts, n_sites


def pwms_from_counts(parts: Iterable[Mapping[str, np.ndarray]], pseudocount: float = 0.1
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(F, K, 4)`` PWMs (:func:`to_pwm`) and ``(F,)`` site counts from chunks' ``counts`` / ``n_sites``
    (:func:`filter_pwms` of each chunk)."""
    counts, n_sites = None, None
    for z in parts:
        c, n = np.asarray(z["counts"], np.float64), np.asarray(z["n_sites"], np.int64)
        counts, n_sites = (c, n) if counts is None else (counts + c, n_sites + n)
    return to_pwm(counts, pseudocount), n_sites


def to_pwm(counts: np.ndarray, pseudocount: float = 0.1) -> np.ndarray:
    """Probabilities from letter counts.

    Parameters
    ----------
    counts
        ``(..., K, 4)`` counts.
    pseudocount
        Added to every count before normalizing each row.

    Returns
    -------
    ``(..., K, 4)`` float64, rows summing to 1 (uniform for all-zero rows with pseudocount 0).
    """
    c = np.asarray(counts, np.float64) + float(pseudocount)
    tot = c.sum(axis=-1, keepdims=True)
    out = np.where(tot > 0, c / np.where(tot > 0, tot, 1.0), 0.25)
    return out


def total_information(pwm: np.ndarray) -> float:
    """Total information content (bits, uniform background) of a ``(K, 4)`` PWM."""
    return float(information_content(pwm).sum())


def filter_motifs(pwms: np.ndarray, n_sites: np.ndarray) -> list[Motif]:
    """Wrap ``(F, K, 4)`` PWMs as :class:`Motif` objects named ``filter0``, ``filter1``, ...

    ``alt`` holds ``sites=<n>``.
    """
    return [Motif(name=f"filter{i}", pwm=pwms[i], alt=f"sites={int(n_sites[i])}") for i in range(len(pwms))]


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_filters_meme(path: str | os.PathLike, motifs: Sequence[Motif], n_sites: np.ndarray) -> Path:
    """Write all filter motifs (``filter0`` ...) in MEME format (atomically)."""
    nsites = int(max(1, np.max(n_sites, initial=1)))
    return _atomic(Path(path), lambda p: write_meme(p, motifs, nsites=nsites))


# --------------------------------------------------------------------------------------------
# Motif databases and families
# --------------------------------------------------------------------------------------------


def load_motif_db(spec: str | os.PathLike, family_table: str | os.PathLike | None = None) -> list[Motif]:
    """Load the motifs to match against.

    Parameters
    ----------
    spec
        ``"jaspar2024"`` (or any ``"jasparYYYY"``: JASPAR CORE vertebrates of that release, offline
        through pyjaspar) or the path of a MEME file.
    family_table
        Optional TSV ``name<TAB>family`` (no header needed; a ``name family`` header is skipped);
        it overrides the motifs' families, looked up by motif name, then by ``alt``.

    Raises
    ------
    InputError
        Missing or malformed MEME file / family table.
    """
    s = str(spec)
    if s.lower().startswith("jaspar") and not Path(s).exists():
        from satori_jax.data.jaspar import load_jaspar

        release = "JASPAR" + s[6:] if s[6:] else "JASPAR2024"
        motifs = load_jaspar(release=release)
    else:
        path = Path(s)
        if not path.is_file():
            raise input_error(path, "motif database not found (give a MEME file or 'jaspar2024')")
        motifs = read_meme(path)
    if family_table is not None:
        fam = read_family_table(family_table)
        for m in motifs:
            if m.name in fam:
                m.family = fam[m.name]
            elif m.alt and m.alt in fam:
                m.family = fam[m.alt]
    return motifs


def read_family_table(path: str | os.PathLike) -> dict[str, str]:
    """Read ``name<TAB>family`` lines (``#`` comments and a ``name`` header line are skipped)."""
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "family table not found")
    out: dict[str, str] = {}
    with open(path, newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n\r")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                raise input_error(path, "expected 'name<TAB>family'", lineno)
            if lineno == 1 and parts[0].strip().lower() in ("name", "tf", "motif"):
                continue
            out[parts[0].strip()] = parts[1].strip()
    return out


# --------------------------------------------------------------------------------------------
# TomTom
# --------------------------------------------------------------------------------------------


@dataclass
class FilterMatch:
    """Best database hit of one filter (one row of ``filters_tomtom.tsv``)."""

    filter: int
    n_sites: int
    ic: float
    target: str = ""
    target_id: str = ""
    p_value: float = math.nan
    q_value: float = math.nan
    offset: int = 0
    orientation: str = ""
    family: str = ""

    @property
    def matched(self) -> bool:
        """Whether the best hit is significant (``q < MATCH_Q``)."""
        return bool(self.target) and self.q_value < MATCH_Q


def bh_rows(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values of each row of ``(Q, T)`` p-values, the same floats as
    ``statsmodels.stats.multitest.multipletests(row, method="fdr_bh")[1]`` row by row (same
    operations: sorted ``p / (k / T)``, running minimum from the end, capped at 1), without importing
    statsmodels (about a second)."""
    p = np.asarray(p, np.float64)
    if p.size == 0:
        return p.copy()
    order = np.argsort(p, axis=1)
    ecdf = np.arange(1, p.shape[1] + 1) / float(p.shape[1])
    q = np.minimum.accumulate((np.take_along_axis(p, order, axis=1) / ecdf)[:, ::-1], axis=1)[:, ::-1]
    q[q > 1] = 1
    out = np.empty_like(q)
    np.put_along_axis(out, order, q, axis=1)
    return out


def run_tomtom(query_motifs: Sequence[Motif], db_motifs: Sequence[Motif]) -> dict[str, np.ndarray]:
    """Compare every query with every database motif (memelite's TomTom, both strands).

    Parameters
    ----------
    query_motifs
        ``Q`` motifs.
    db_motifs
        ``T`` target motifs.

    Returns
    -------
    dict with ``(Q, T)`` arrays ``p_value``, ``q_value`` (Benjamini–Hochberg per query over the
    ``T`` targets), ``score``, ``offset`` (int), ``overlap`` (int), ``strand`` (0 = ``+``, 1 = ``-``).
    """
    from memelite import tomtom

    nq, nt = len(query_motifs), len(db_motifs)
    if nq == 0 or nt == 0:
        z = np.zeros((nq, nt))
        return {"p_value": z + 1.0, "q_value": z + 1.0, "score": z, "offset": z.astype(int),
                "overlap": z.astype(int), "strand": z.astype(int)}
    qs = [np.ascontiguousarray(np.asarray(m.pwm, np.float64).T) for m in query_motifs]
    ts = [np.ascontiguousarray(np.asarray(m.pwm, np.float64).T) for m in db_motifs]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*target motifs.*")
        p, score, offset, overlap, strand = tomtom(qs, ts)
    p = np.clip(np.nan_to_num(np.asarray(p, np.float64), nan=1.0), 0.0, 1.0)
    q = bh_rows(p)
    return {
        "p_value": p,
        "q_value": q,
        "score": np.asarray(score, np.float64),
        "offset": np.asarray(offset).astype(np.int64),
        "overlap": np.asarray(overlap).astype(np.int64),
        "strand": np.asarray(strand).astype(np.int64),
    }


def match_filters(
    pwms: np.ndarray,
    n_sites: np.ndarray,
    db_motifs: Sequence[Motif],
    min_sites: int = MIN_SITES,
) -> list[FilterMatch]:
    """Best TomTom hit per filter.

    Parameters
    ----------
    pwms
        ``(F, K, 4)`` filter PWMs.
    n_sites
        ``(F,)`` sites per filter; filters with fewer than ``min_sites`` are not matched (their row
        has an empty target).
    db_motifs
        Database motifs (``name`` = TF, ``alt`` = id, ``family``).

    Returns
    -------
    ``F`` :class:`FilterMatch` rows, in filter order. The best hit is the smallest q-value (ties:
    smallest p-value).
    """
    f = len(pwms)
    rows = [
        FilterMatch(filter=i, n_sites=int(n_sites[i]), ic=total_information(pwms[i])) for i in range(f)
    ]
    keep = [i for i in range(f) if n_sites[i] >= min_sites]
    if not keep or not db_motifs:
        return rows
    res = run_tomtom([Motif(name=f"filter{i}", pwm=pwms[i]) for i in keep], db_motifs)
    for r, i in enumerate(keep):
        order = np.lexsort((res["p_value"][r], res["q_value"][r]))
        j = int(order[0])
        m = db_motifs[j]
        rows[i].target = m.name
        rows[i].target_id = m.alt or m.name
        rows[i].p_value = float(res["p_value"][r, j])
        rows[i].q_value = float(res["q_value"][r, j])
        rows[i].offset = int(res["offset"][r, j])
        rows[i].orientation = "-" if int(res["strand"][r, j]) == 1 else "+"
        rows[i].family = m.family
    return rows


def matched_db_pwm(match: FilterMatch, db_motifs: Sequence[Motif]) -> np.ndarray | None:
    """``(W, 4)`` PWM of the database motif that names ``match``'s filter, turned the way it matched
    (reverse complement for orientation ``-``), to draw beside the filter's logo; ``None`` when the
    filter is not matched or the motif is not in ``db_motifs``."""
    from satori_jax.data.meme import reverse_complement_pwm

    if not match.matched:
        return None
    for m in db_motifs:
        if m.name == match.target and (m.alt or m.name) == match.target_id:
            pwm = np.asarray(m.pwm, np.float64)
            return reverse_complement_pwm(pwm) if match.orientation == "-" else pwm
    return None


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:.6g}"
    return str(v)


def write_tomtom_table(path: str | os.PathLike, matches: Sequence[FilterMatch]) -> Path:
    """Write ``filters_tomtom.tsv`` (columns :data:`TOMTOM_COLUMNS`; empty cells for unmatched)."""

    def write(p: Path) -> None:
        with open(p, "w", newline="") as fh:
            fh.write("\t".join(TOMTOM_COLUMNS) + "\n")
            for m in matches:
                vals = [f"filter{m.filter}", m.n_sites, m.ic, m.target, m.target_id, m.p_value, m.q_value,
                        m.offset if m.target else "", m.orientation, m.family]
                fh.write("\t".join(_fmt(v) for v in vals) + "\n")

    return _atomic(Path(path), write)


def read_tomtom_table(path: str | os.PathLike) -> list[FilterMatch]:
    """Read back a ``filters_tomtom.tsv``."""
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "no such TomTom table")
    out = []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if reader.fieldnames is None or tuple(reader.fieldnames) != TOMTOM_COLUMNS:
            raise InputError(f"{path}: expected columns {', '.join(TOMTOM_COLUMNS)}")
        for row in reader:
            out.append(FilterMatch(
                filter=int(row["filter"].removeprefix("filter")), n_sites=int(row["n_sites"]),
                ic=float(row["ic"]), target=row["target"], target_id=row["target_id"],
                p_value=float(row["p_value"]) if row["p_value"] else math.nan,
                q_value=float(row["q_value"]) if row["q_value"] else math.nan,
                offset=int(row["offset"]) if row["offset"] else 0, orientation=row["orientation"],
                family=row["family"],
            ))
    return out
