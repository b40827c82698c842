"""Motifs in MEME minimal format, and small PWM helpers.

A :class:`Motif` holds a position probability matrix ``pwm`` of shape ``(K, 4)`` over A, C, G, T
(rows sum to 1). :func:`read_meme` / :func:`write_meme` read and write the MEME minimal motif
format (https://meme-suite.org/meme/doc/meme-format.html); the motif identifier is ``name`` and
the optional alternate name is ``alt`` (``MOTIF name alt``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from satori_jax.errors import InputError, input_error

__all__ = [
    "Motif",
    "read_meme",
    "write_meme",
    "pwm_to_log_odds",
    "max_log_odds",
    "information_content",
    "reverse_complement_pwm",
]

#: Rows of a letter-probability matrix must sum to 1 within this tolerance (then are renormalized).
ROW_SUM_TOLERANCE = 0.02


@dataclass(eq=False)
class Motif:
    """A DNA motif.

    Attributes
    ----------
    name
        Motif identifier; for JASPAR motifs the TF name (e.g. ``"FOS::JUN"``).
    pwm
        ``(K, 4)`` float64 letter probabilities in A, C, G, T order; rows sum to 1.
    alt
        Alternate name; for JASPAR motifs the matrix id (e.g. ``"MA0099.4"``).
    family, tf_class
        TF family and structural class (JASPAR metadata), empty when unknown.
    """

    name: str
    pwm: np.ndarray
    alt: str = ""
    family: str = ""
    tf_class: str = ""

    def __post_init__(self) -> None:
        pwm = np.asarray(self.pwm, dtype=np.float64)
        if pwm.ndim != 2 or pwm.shape[1] != 4 or pwm.shape[0] == 0:
            raise ValueError(f"motif {self.name!r}: pwm must have shape (K, 4) with K >= 1, got {pwm.shape}")
        self.pwm = pwm

    @property
    def width(self) -> int:
        """Motif width ``K``."""
        return int(self.pwm.shape[0])

    def __repr__(self) -> str:
        return f"Motif(name={self.name!r}, alt={self.alt!r}, width={self.width}, family={self.family!r})"


def reverse_complement_pwm(pwm: np.ndarray) -> np.ndarray:
    """Reverse complement of a ``(K, 4)`` ACGT matrix (rows reversed, A<->T and C<->G swapped)."""
    pwm = np.asarray(pwm)
    return pwm[::-1, ::-1].copy()


def pwm_to_log_odds(
    pwm: np.ndarray, background: Sequence[float] = (0.25, 0.25, 0.25, 0.25), pseudocount: float = 0.01
) -> np.ndarray:
    """Log2-odds matrix of a PWM against a background.

    ``lo[k, b] = log2(p'[k, b] / bg[b])`` with ``p' = (p + pseudocount) / (1 + 4 pseudocount)``.

    Parameters
    ----------
    pwm
        ``(K, 4)`` probabilities, ACGT.
    background
        ``(4,)`` background base frequencies, ACGT (normalized here).
    pseudocount
        Added to every probability before renormalizing, so zero entries get a finite score.

    Returns
    -------
    ``(K, 4)`` float64 log2-odds.
    """
    pwm = np.asarray(pwm, dtype=np.float64)
    bg = np.asarray(background, dtype=np.float64)
    bg = bg / bg.sum()
    p = (pwm + pseudocount) / (1.0 + 4.0 * pseudocount)
    return np.log2(p / bg[None, :])


def max_log_odds(log_odds: np.ndarray) -> float:
    """Largest achievable score of a ``(K, 4)`` log-odds matrix (sum of row maxima)."""
    return float(np.asarray(log_odds).max(axis=1).sum())


def information_content(pwm: np.ndarray) -> np.ndarray:
    """Information content per position in bits against a uniform background.

    Parameters
    ----------
    pwm
        ``(K, 4)`` probabilities.

    Returns
    -------
    ``(K,)`` values in ``[0, 2]``: ``2 + sum_b p log2 p`` (``0 log 0 = 0``).
    """
    p = np.asarray(pwm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return 2.0 + plogp.sum(axis=1)


_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _parse_keyvals(line: str) -> dict[str, str]:
    """``alength= 4 w= 10 nsites= 20 E= 0`` -> dict; tolerates ``w=10`` without space."""
    out: dict[str, str] = {}
    for m in re.finditer(r"(\w+)\s*=\s*(\S+)", line):
        out[m.group(1)] = m.group(2)
    return out


def read_meme(path: str | os.PathLike) -> list[Motif]:
    """Read motifs from a MEME minimal-format file.

    Parameters
    ----------
    path
        MEME text file with ``MOTIF name [alt]`` records, each followed by a
        ``letter-probability matrix:`` header and ``K`` rows of 4 probabilities (ACGT).

    Returns
    -------
    The motifs in file order (rows renormalized to sum to exactly 1).

    Raises
    ------
    InputError
        Unreadable file, no motifs, a non-DNA alphabet, or a malformed matrix (wrong number of
        columns, non-numbers, negative values, rows not summing to 1 within 0.02, row count
        different from ``w=``, missing matrix). The message names the file and the motif.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error(path, f"cannot read MEME file ({exc})") from None
    lines = text.splitlines()
    motifs: list[Motif] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i].strip()
        if line.startswith("ALPHABET"):
            alph = line.split("=", 1)[1].strip() if "=" in line else ""
            if alph and alph.split()[0].upper() not in ("ACGT", "DNA"):
                raise input_error(path, f"unsupported alphabet {alph!r} (only ACGT DNA motifs)", i + 1)
        if not line.startswith("MOTIF"):
            i += 1
            continue
        parts = line.split()
        if len(parts) < 2:
            raise input_error(path, "MOTIF line without a name", i + 1)
        name = parts[1]
        alt = " ".join(parts[2:])
        record = f"{name} (line {i + 1})"
        i += 1
        # find the matrix header
        while i < n and not lines[i].strip().startswith("letter-probability"):
            if lines[i].strip().startswith("MOTIF"):
                break
            i += 1
        if i >= n or not lines[i].strip().startswith("letter-probability"):
            raise input_error(path, "no 'letter-probability matrix:' block", record)
        kv = _parse_keyvals(lines[i])
        if "alength" in kv and kv["alength"] != "4":
            raise input_error(path, f"alength= {kv['alength']} (expected 4 for DNA)", record)
        width = None
        if "w" in kv:
            try:
                width = int(kv["w"])
            except ValueError:
                raise input_error(path, f"w= {kv['w']!r} is not an integer", record) from None
        i += 1
        rows: list[list[float]] = []
        while i < n:
            s = lines[i].strip()
            if not s:
                if rows:
                    break
                i += 1
                continue
            if s.startswith("MOTIF") or s.startswith("URL"):
                break
            toks = s.split()
            if len(toks) != 4:
                raise input_error(path, f"matrix row {len(rows) + 1} has {len(toks)} columns (expected 4)",
                                  record)
            if not all(_FLOAT.match(t) for t in toks):
                raise input_error(path, f"matrix row {len(rows) + 1} has a non-number: {s!r}", record)
            rows.append([float(t) for t in toks])
            i += 1
        if not rows:
            raise input_error(path, "empty letter-probability matrix", record)
        pwm = np.asarray(rows, dtype=np.float64)
        if width is not None and width != pwm.shape[0]:
            raise input_error(path, f"w= {width} but the matrix has {pwm.shape[0]} rows", record)
        if (pwm < 0).any():
            raise input_error(path, "negative probability in matrix", record)
        sums = pwm.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
        if bad.size:
            raise input_error(
                path, f"matrix row {int(bad[0]) + 1} sums to {sums[bad[0]]:.4g} (expected 1)", record
            )
        motifs.append(Motif(name=name, pwm=pwm / sums[:, None], alt=alt))
    if not motifs:
        raise input_error(path, "no motifs found (expected MEME format with 'MOTIF' records)")
    return motifs


def write_meme(
    path: str | os.PathLike,
    motifs: Iterable[Motif],
    background: Sequence[float] = (0.25, 0.25, 0.25, 0.25),
    nsites: int = 20,
) -> Path:
    """Write motifs in MEME minimal format (6 decimals; deterministic bytes).

    Parameters
    ----------
    path
        Output file.
    motifs
        Motifs to write; ``MOTIF name alt`` lines (``alt`` omitted when empty).
    background
        ``(4,)`` ACGT background frequencies for the ``Background letter frequencies`` line.
    nsites
        Value written as ``nsites=`` (informational).
    """
    path = Path(path)
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (4,) or (bg < 0).any() or bg.sum() <= 0:
        raise InputError(f"background must be 4 non-negative frequencies (ACGT), got {list(background)}")
    bg = bg / bg.sum()
    out = [
        "MEME version 4",
        "",
        "ALPHABET= ACGT",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        " ".join(f"{b} {f:.6f}" for b, f in zip("ACGT", bg, strict=True)),
        "",
    ]
    for m in motifs:
        if not m.name or any(c.isspace() for c in m.name):
            raise InputError(f"motif name {m.name!r} is empty or contains whitespace")
        out.append(f"MOTIF {m.name} {m.alt}".rstrip())
        out.append(f"letter-probability matrix: alength= 4 w= {m.width} nsites= {nsites} E= 0")
        for row in m.pwm:
            out.append(" ".join(f"{v:.6f}" for v in row))
        out.append("")
    path.write_text("\n".join(out))
    return path
