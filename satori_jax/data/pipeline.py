"""Fixed-shape batch iteration over in-memory code arrays.

grain (``grain.MapDataset``) provides the per-epoch shuffled index stream; batches are gathered with
NumPy fancy indexing. Every batch has exactly ``batch_size`` rows: the last one is padded with
zeros and carries ``mask == 0`` on the padding, so a jit-compiled step never recompiles.

Several processes (``shard_count > 1``, from grain's :class:`grain.sharding.ShardByJaxProcess`):
global batch ``b`` is ``order[b·B : (b+1)·B]`` as with one process, and shard ``i`` gathers only
its contiguous block ``order[b·B + i·B/S : b·B + (i+1)·B/S]`` of it (random access into the grain
dataset). Concatenated in shard order, the blocks are the one-process batch row for row, padding
included, so per-row randomness (dropout) and hence training results do not depend on the number
of processes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from satori_jax.data.encoding import reverse_complement

_SHUFFLE_STREAM = 0x5B0F
_RC_STREAM = 0x2C0A


def num_batches(n: int, batch_size: int) -> int:
    """Number of batches covering ``n`` examples (the last one padded): ``ceil(n / batch_size)``."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be > 0, got {batch_size}")
    return -(-int(n) // int(batch_size))


def _derive_seed(seed: int, epoch: int, stream: int) -> int:
    """A 32-bit seed derived from ``(seed, epoch, stream)``."""
    ss = np.random.SeedSequence([int(seed) % (1 << 63), int(epoch) % (1 << 63), stream])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def rc_flags(n: int, seed: int, epoch: int) -> np.ndarray:
    """Per-example reverse-complement flags of one epoch.

    Returns
    -------
    np.ndarray
        ``(n,)`` bool, each True with probability 0.5, a deterministic function of ``(seed, epoch)``
        indexed by example (not by position in the shuffled order).
    """
    rng = np.random.default_rng(_derive_seed(seed, epoch, _RC_STREAM))
    return rng.random(n) < 0.5


def epoch_order(n: int, *, shuffle: bool, seed: int, epoch: int = 0) -> Sequence[int]:
    """The example order of one epoch as a random-access sequence (a grain ``MapDataset`` when
    shuffled; elements are computed on access)."""
    if not shuffle:
        return range(n)
    import grain

    return grain.MapDataset.range(n).shuffle(seed=_derive_seed(seed, epoch, _SHUFFLE_STREAM))


def shard_of_process() -> tuple[int, int]:
    """``(shard_index, shard_count)`` of this JAX process (grain's ``ShardByJaxProcess``)."""
    import grain

    opts = grain.sharding.ShardByJaxProcess()
    return int(opts.shard_index), int(opts.shard_count)


def batch_iterator(
    codes: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    epoch: int = 0,
    rc_augment: bool = False,
    shard_index: int = 0,
    shard_count: int = 1,
) -> Iterator[dict[str, np.ndarray]]:
    """Iterate over one epoch in fixed-shape batches.

    Parameters
    ----------
    codes
        ``(N, L)`` uint8 sequence codes.
    labels
        ``(N, C)`` labels (cast to float32).
    batch_size
        Rows per batch ``B``; every batch has exactly ``B`` rows.
    shuffle
        Shuffle the examples with a permutation derived from ``(seed, epoch)``.
    seed, epoch
        Determine the shuffle and the reverse-complement flips; the same pair gives the same epoch.
    rc_augment
        Reverse-complement each example with probability 0.5 (see :func:`rc_flags`).
    shard_index, shard_count
        Yield only this shard's ``B / shard_count`` rows of every global batch (module docstring);
        ``B`` must be a multiple of ``shard_count``.

    Yields
    ------
    dict
        ``{"x": (b, L) uint8, "y": (b, C) float32, "mask": (b,) float32}`` with
        ``b = B / shard_count``; padding rows are zero with ``mask == 0``. ``num_batches(N, B)``
        batches in total, on every shard.
    """
    codes = np.asarray(codes)
    labels = np.asarray(labels, dtype=np.float32)
    if labels.ndim == 1:
        labels = labels[:, None]
    n = codes.shape[0]
    if labels.shape[0] != n:
        raise ValueError(f"codes have {n} rows but labels have {labels.shape[0]}")
    if shard_count < 1 or not 0 <= shard_index < shard_count:
        raise ValueError(f"bad shard {shard_index} of {shard_count}")
    if batch_size % shard_count:
        raise ValueError(f"batch_size {batch_size} is not a multiple of the {shard_count} shards")
    nb = num_batches(n, batch_size)
    local_size = batch_size // shard_count
    flags = rc_flags(n, seed, epoch) if rc_augment else None
    order = epoch_order(n, shuffle=shuffle, seed=seed, epoch=epoch)
    for b in range(nb):
        start = b * batch_size + shard_index * local_size  # this shard's block of global batch b
        count = max(0, min(local_size, n - start))
        idx = np.fromiter((order[i] for i in range(start, start + count)), dtype=np.int64, count=count)
        x = codes[idx]
        if flags is not None:
            flip = flags[idx]
            if flip.any():
                x[flip] = reverse_complement(x[flip])
        y = labels[idx]
        mask = np.ones(local_size, dtype=np.float32)
        if count < local_size:
            pad = local_size - count
            x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], dtype=x.dtype)])
            y = np.concatenate([y, np.zeros((pad,) + y.shape[1:], dtype=np.float32)])
            mask[count:] = 0.0
        yield {"x": x, "y": y, "mask": mask}
