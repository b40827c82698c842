"""Compact DNA encoding: ``uint8`` codes on the host, one-hot on the device.

Codes are A=0, C=1, G=2, T=3 and 4 for any other IUPAC nucleotide code
(N, R, Y, S, W, K, M, B, D, H, V); lower case is accepted. One-hot encoding is
channels-last ``(..., L, 4)`` in A, C, G, T order, with code 4 spread as 0.25
over the four channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from satori_jax.errors import input_error

ALPHABET = "ACGT"
N_CODE = 4
"""Code of N and every other ambiguous IUPAC nucleotide."""
_INVALID = 255

_LUT = np.full(256, _INVALID, dtype=np.uint8)
for _i, _ch in enumerate(ALPHABET):
    _LUT[ord(_ch)] = _i
    _LUT[ord(_ch.lower())] = _i
for _ch in "NRYSWKMBDHV":
    _LUT[ord(_ch)] = N_CODE
    _LUT[ord(_ch.lower())] = N_CODE

_DECODE = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)
_ONE_HOT_TABLE = np.concatenate([np.eye(4, dtype=np.float32), np.full((1, 4), 0.25, np.float32)])


def _bad_char_error(seq: str, codes: np.ndarray, path, record) -> Exception:
    pos = int(np.flatnonzero(codes == _INVALID)[0])
    # Map the byte position back to a character position (non-ASCII input).
    raw = seq.encode("utf-8", errors="surrogateescape")
    char_pos = len(raw[:pos].decode("utf-8", errors="replace"))
    char = seq[char_pos] if char_pos < len(seq) else "?"
    return input_error(path, f"invalid character {char!r} at position {char_pos + 1} "
                             "(expected A, C, G, T or an IUPAC code such as N)", record)


def encode_sequence(seq: str, *, path: str | Path | None = None, record: str | None = None) -> np.ndarray:
    """Encode one sequence.

    Parameters
    ----------
    seq
        Nucleotide string (any case).
    path, record
        File and record id named in the error message.

    Returns
    -------
    np.ndarray
        ``(L,)`` uint8 codes.

    Raises
    ------
    InputError
        On a character that is not an IUPAC nucleotide code.
    """
    raw = seq.encode("utf-8", errors="surrogateescape")
    codes = _LUT[np.frombuffer(raw, dtype=np.uint8)]
    if (codes == _INVALID).any():  # non-ASCII bytes are invalid too
        raise _bad_char_error(seq, codes, path, record)
    return codes


def encode_sequences(
    seqs: Sequence[str],
    *,
    path: str | Path | None = None,
    ids: Sequence[str] | None = None,
) -> np.ndarray:
    """Encode equal-length sequences into a code matrix.

    Parameters
    ----------
    seqs
        ``N`` nucleotide strings of one length ``L``.
    path
        File named in error messages.
    ids
        Record ids named in error messages (default: 1-based record numbers).

    Returns
    -------
    np.ndarray
        ``(N, L)`` uint8 codes.

    Raises
    ------
    InputError
        On a character outside the IUPAC nucleotide codes (naming record, character and position)
        or on ragged lengths (naming the record, its length and the first record's length).
    """

    def rid(i: int) -> str:
        return ids[i] if ids is not None else f"#{i + 1}"

    n = len(seqs)
    if n == 0:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(seqs[0])
    for i, s in enumerate(seqs):
        if len(s) != length:
            raise input_error(
                path,
                f"sequence length {len(s)} differs from the first record ({rid(0)}, length {length}); "
                "set a fixed length (data.length) to resize sequences around their centre",
                rid(i),
            )
    joined = "".join(seqs).encode("utf-8", errors="surrogateescape")
    if len(joined) != n * length:  # non-ASCII characters somewhere: locate them record by record
        for i, s in enumerate(seqs):
            encode_sequence(s, path=path, record=rid(i))
    codes = _LUT[np.frombuffer(joined, dtype=np.uint8)].reshape(n, length)
    bad = codes == _INVALID
    if bad.any():
        i = int(np.flatnonzero(bad.any(axis=1))[0])
        raise _bad_char_error(seqs[i], codes[i], path, rid(i))
    return codes


def decode(codes: np.ndarray) -> list[str]:
    """Decode codes back to strings (code 4 becomes ``N``).

    Parameters
    ----------
    codes
        ``(L,)`` or ``(N, L)`` integer codes in ``0..4``.

    Returns
    -------
    list[str]
        One string per row (a single-element list for a 1-D input).
    """
    arr = np.asarray(codes)
    if arr.ndim == 1:
        arr = arr[None]
    chars = _DECODE[np.minimum(arr.astype(np.int64), N_CODE)]
    return [row.tobytes().decode("ascii") for row in chars]


def one_hot(codes: jnp.ndarray) -> jnp.ndarray:
    """One-hot encode codes on the device (jittable).

    Parameters
    ----------
    codes
        ``(..., L)`` integer codes in ``0..4``.

    Returns
    -------
    jnp.ndarray
        ``(..., L, 4)`` float32, A, C, G, T channels; code 4 is 0.25 in each channel.
    """
    return jnp.asarray(_ONE_HOT_TABLE)[jnp.asarray(codes).astype(jnp.int32)]


def one_hot_np(codes: np.ndarray) -> np.ndarray:
    """NumPy twin of :func:`one_hot`: ``(..., L)`` codes -> ``(..., L, 4)`` float32."""
    return _ONE_HOT_TABLE[np.asarray(codes).astype(np.intp)]


def reverse_complement(codes):
    """Reverse-complement code arrays (NumPy or JAX).

    Parameters
    ----------
    codes
        ``(..., L)`` integer codes; the last axis is reversed and A<->T, C<->G swapped (4 stays 4).

    Returns
    -------
    array
        ``(..., L)`` codes of the same array type and dtype.
    """
    if isinstance(codes, np.ndarray):
        return _COMPLEMENT[codes.astype(np.intp)][..., ::-1].astype(codes.dtype)
    codes = jnp.asarray(codes)
    return jnp.asarray(_COMPLEMENT)[codes.astype(jnp.int32)][..., ::-1].astype(codes.dtype)


def resize_codes(codes: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop or N-pad a code vector to ``length``.

    Cropping removes ``(L - length) // 2`` bases on the left (the extra base, if odd, on the
    right); padding adds ``(length - L) // 2`` N codes on the left and the rest on the right.

    Parameters
    ----------
    codes
        ``(L,)`` uint8 codes.
    length
        Target length (> 0).

    Returns
    -------
    np.ndarray
        ``(length,)`` uint8 codes.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    if length <= 0:
        raise ValueError(f"length must be > 0, got {length}")
    cur = codes.shape[0]
    if cur == length:
        return codes
    if cur > length:
        left = (cur - length) // 2
        return codes[left:left + length]
    left = (length - cur) // 2
    out = np.full(length, N_CODE, dtype=np.uint8)
    out[left:left + cur] = codes
    return out
