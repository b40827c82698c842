"""Per-example filter-pair scores from position-by-position score maps (SATORI step 4).

For one example with score map ``S (L', L')`` (e.g. attention, max over heads) and filter activity
``act (L', F)``, the score of the ordered filter pair ``(a, b)``, ``a != b``, is

    best[a, b] = max { S[i, j] : i != j, act[i, a], act[j, b] }

(``-inf`` when no such ``(i, j)``), with the distance ``|i - j|`` of the maximising positions. The
unordered pair ``{a, b}`` takes the larger of ``(a, b)`` and ``(b, a)``. :func:`pair_maxima`
computes this with two max-reductions, over ``i`` then over ``j``, i.e. ``O(F·L'² + F²·L')`` per
example, never the ``F²·L'²`` product (see :func:`pair_maxima`).

Every interaction method is a *scorer* ``map_fn(variables, x (B, L, 4), targets (B, C)) ->
(conv (B, L_conv, F), score_map (B, L', L'))``; :func:`score_examples` runs it over examples in
fixed-shape jit-compiled chunks and returns the observed entries as a sparse :class:`PairScores`.
On the CPU backend the maps and the activity come from the device and the pairing runs on the host
over the active entries only (:mod:`satori_jax.interpret.host_pairs`: the same entries, bit for bit,
at a fraction of the dense work); on accelerators the dense reductions of :func:`pair_maxima` run
on the device.

Data parallelism: with more than one device (:func:`jax.device_count`), every per-chunk call of the
interpretation methods (here, in :mod:`~satori_jax.interpret.fis`, :mod:`~satori_jax.interpret.dfim`
and :func:`satori_jax.interpret.ig.iter_batches`) shards its chunk over a ``data`` mesh of all
devices (:mod:`satori_jax.parallel`; the chunk size is rounded up to a multiple of the device count)
and replicates the variables; one device is unchanged. :func:`use_mesh` forces a mesh (e.g. one
device) for a block of code.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from satori_jax.interpret.activity import _one_hot, padded_batches, pooled_activity
from satori_jax.parallel import to_host

__all__ = [
    "HOST_PAIRING",
    "Placement",
    "PairScores",
    "pair_maxima",
    "pair_scores",
    "pairs_from_maps",
    "host_pairing",
    "score_examples",
    "symmetrize",
    "use_mesh",
]


# --------------------------------------------------------------------------------------------
# device placement (data parallelism)
# --------------------------------------------------------------------------------------------

_MESH: contextvars.ContextVar = contextvars.ContextVar("satori_interpret_mesh", default=None)


@contextlib.contextmanager
def use_mesh(mesh) -> Iterator[None]:
    """Run the interpretation calls inside the block on ``mesh`` (a 1-device mesh = no sharding)."""
    token = _MESH.set(mesh)
    try:
        yield
    finally:
        _MESH.reset(token)


class Placement:
    """Where per-chunk calls run: sharded over a ``data`` mesh, or (``mesh is None``) one device.

    Parameters
    ----------
    mesh
        ``None``: the mesh set by :func:`use_mesh`, else all devices when there are several.
    """

    def __init__(self, mesh=None):
        from satori_jax import parallel

        mesh = mesh if mesh is not None else _MESH.get()
        if mesh is None and jax.device_count() > 1:
            mesh = parallel.data_mesh()
        self.mesh = mesh if mesh is not None and mesh.size > 1 else None

    def chunk_size(self, batch_size: int, n: int) -> int:
        """Rows per call: ``min(batch_size, n)`` rounded up to a multiple of the device count."""
        from satori_jax import parallel

        b = max(1, min(int(batch_size), max(int(n), 1)))
        return b if self.mesh is None else parallel.round_batch(b, self.mesh)

    def replicate(self, tree: Any) -> Any:
        """Variables etc. replicated on every device (unchanged on one device)."""
        from satori_jax import parallel

        return tree if self.mesh is None else parallel.replicate(tree, self.mesh)

    def shard(self, tree: Any) -> Any:
        """A host chunk (pytree of ``(B, ...)`` arrays, ``None`` leaves kept) sharded over the mesh."""
        from satori_jax import parallel

        if self.mesh is None:
            return tree
        return jax.tree_util.tree_map(lambda a: parallel.shard_batch(a, self.mesh), tree)

    def put(self, arrays: tuple) -> tuple:
        """Host arrays (``None`` kept) on the device(s): sharded over the mesh, else as jax arrays."""
        if self.mesh is None:
            return tuple(None if a is None else jnp.asarray(a) for a in arrays)
        return self.shard(arrays)

    def batches(self, n: int, batch_size: int, *arrays: np.ndarray, verbose: bool = False,
                desc: str = "") -> Iterator[tuple[int, int, tuple[np.ndarray, ...]]]:
        """:func:`~satori_jax.interpret.activity.padded_batches` with the chunk size of :meth:`chunk_size`
        (always exactly that many rows, padded, also when ``n`` is smaller)."""
        bs = self.chunk_size(batch_size, n)
        if self.mesh is None or n >= bs or n == 0:
            yield from padded_batches(n, bs, *arrays, verbose=verbose, desc=desc)
            return
        padded = []
        for a in arrays:
            a = np.asarray(a)
            fill = 4 if a.dtype == np.uint8 else 0
            padded.append(np.concatenate([a, np.full((bs - n,) + a.shape[1:], fill, a.dtype)]))
        for start, _, chunk in padded_batches(bs, bs, *padded, verbose=verbose, desc=desc):
            yield start, n, chunk


@dataclass
class PairScores:
    """Sparse pair scores: one row per observed (example, unordered filter pair).

    Attributes
    ----------
    example
        ``(E,)`` int32 example index in ``0 … n_examples − 1``.
    filter_a, filter_b
        ``(E,)`` int32 filter indices, ``filter_a < filter_b``.
    score
        ``(E,)`` float32 the example's best score for the pair.
    distance
        ``(E,)`` int32 distance in bp (pooled distance × pool size) of the best-scoring positions.
    n_examples
        Number of examples scored (observed or not).
    """

    example: np.ndarray
    filter_a: np.ndarray
    filter_b: np.ndarray
    score: np.ndarray
    distance: np.ndarray
    n_examples: int

    def __len__(self) -> int:
        return int(self.example.shape[0])

    @classmethod
    def empty(cls, n_examples: int = 0) -> PairScores:
        z = np.zeros(0, np.int32)
        return cls(z, z.copy(), z.copy(), np.zeros(0, np.float32), z.copy(), int(n_examples))

    @staticmethod
    def concat(parts: Sequence[PairScores]) -> PairScores:
        """Stack scores of consecutive example sets (example indices are offset)."""
        if not parts:
            return PairScores.empty()
        offsets = np.cumsum([0] + [p.n_examples for p in parts[:-1]])
        return PairScores(
            np.concatenate([p.example + np.int32(o) for p, o in zip(parts, offsets, strict=True)]),
            np.concatenate([p.filter_a for p in parts]).astype(np.int32),
            np.concatenate([p.filter_b for p in parts]).astype(np.int32),
            np.concatenate([p.score for p in parts]).astype(np.float32),
            np.concatenate([p.distance for p in parts]).astype(np.int32),
            int(sum(p.n_examples for p in parts)),
        )

    def pair_id(self, num_filters: int) -> np.ndarray:
        """``(E,)`` int64 ``filter_a · F + filter_b``."""
        return self.filter_a.astype(np.int64) * int(num_filters) + self.filter_b

    def num_pairs(self) -> int:
        """Number of distinct observed filter pairs."""
        if len(self) == 0:
            return 0
        f = int(max(self.filter_a.max(), self.filter_b.max())) + 1
        return int(np.unique(self.pair_id(f)).size)

    def to_dense(self, num_filters: int) -> tuple[np.ndarray, np.ndarray]:
        """Dense ``(n_examples, F, F)`` scores (``-inf`` unobserved, symmetric) and distances (-1)."""
        f = int(num_filters)
        s = np.full((self.n_examples, f, f), -np.inf, np.float32)
        d = np.full((self.n_examples, f, f), -1, np.int32)
        for a, b in ((self.filter_a, self.filter_b), (self.filter_b, self.filter_a)):
            s[self.example, a, b] = self.score
            d[self.example, a, b] = self.distance
        return s, d


def _pair_maxima_one(s: jax.Array, act: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One example: ``s (L', L')`` with ``-inf`` diagonal, ``act (L', F)`` -> best, j*, i* ``(F, F)``."""
    neg = jnp.asarray(-jnp.inf, jnp.float32)
    lp, f = act.shape

    # 1) over i (scan, carry (F, L'_j)): m1[a, j] = max_i {S[i, j] : a active at i}
    def step1(carry, xs):
        m1, i1 = carry
        a_i, s_i, i = xs  # (F,), (L'_j,), ()
        cand = jnp.where(a_i[:, None], s_i[None, :], neg)
        up = cand > m1  # strict: the first maximiser wins, like argmax
        return (jnp.where(up, cand, m1), jnp.where(up, i, i1)), None

    init1 = (jnp.full((f, lp), neg), jnp.zeros((f, lp), jnp.int32))
    (m1, i1), _ = jax.lax.scan(step1, init1, (act, s, jnp.arange(lp, dtype=jnp.int32)))

    # 2) over j (scan, carry (F_a, F_c)): best[a, c] = max_j {m1[a, j] : c active at j}
    def step2(carry, xs):
        best, jb = carry
        c_j, m_j, j = xs  # (F_c,), (F_a,), ()
        cand = jnp.where(c_j[None, :], m_j[:, None], neg)
        up = cand > best
        return (jnp.where(up, cand, best), jnp.where(up, j, jb)), None

    init2 = (jnp.full((f, f), neg), jnp.zeros((f, f), jnp.int32))
    (best, jb), _ = jax.lax.scan(step2, init2, (act, m1.T, jnp.arange(lp, dtype=jnp.int32)))
    ib = jnp.take_along_axis(i1, jb, axis=1)  # i1[a, jb[a, c]]
    return best, jb, ib


def pair_maxima(score_map: jax.Array, active: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Best score and distance of every ordered filter pair (jittable).

    Parameters
    ----------
    score_map
        ``(B, L', L')``; ``score_map[b, i, j]`` scores position ``i`` with position ``j``.
    active
        ``(B, L', F)`` bool filter activity.

    Returns
    -------
    best
        ``(B, F, F)`` float32, ``max score_map[b, i, j]`` over ``i != j`` with filter ``a`` active
        at ``i`` and ``b`` at ``j``; ``-inf`` when there is no such pair and on the diagonal.
    dist
        ``(B, F, F)`` int32 ``|i − j|`` (pooled units) of the maximiser (meaningless where
        ``best`` is ``-inf``). Ties go to the smallest ``j``, then the smallest ``i`` (like ``argmax``).

    Notes
    -----
    Two max-reductions, over ``i`` (``(F, L')`` running maximum) then over ``j`` (``(F, F)``
    running maximum), each a ``lax.scan`` over positions that keeps the arg-max alongside:
    ``O(F·L'² + F²·L')`` per example. On CPU the examples go through ``lax.map`` so the running
    ``(F, F)`` arrays stay in cache (a batched carry is memory-bound); on accelerators ``vmap``.
    """
    s = score_map.astype(jnp.float32)
    lp = s.shape[-1]
    s = jnp.where(jnp.eye(lp, dtype=bool)[None], -jnp.inf, s)  # i != j
    if jax.default_backend() == "cpu":
        best, jb, ib = jax.lax.map(lambda xs: _pair_maxima_one(*xs), (s, active))
    else:
        best, jb, ib = jax.vmap(_pair_maxima_one)(s, active)
    f = best.shape[-1]
    best = jnp.where(jnp.eye(f, dtype=bool)[None], -jnp.inf, best)
    return best, jnp.abs(ib - jb).astype(jnp.int32)


def symmetrize(best: jax.Array, dist: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Unordered pairs: ``max`` of ``(a, b)`` and ``(b, a)`` with the winner's distance (jittable).

    ``(B, F, F)`` -> ``(B, F, F)`` symmetric; ties keep ``(a, b)``.
    """
    bt = jnp.swapaxes(best, 1, 2)
    dt = jnp.swapaxes(dist, 1, 2)
    take = best >= bt
    return jnp.where(take, best, bt), jnp.where(take, dist, dt)


def pair_scores(score_maps: jax.Array, active: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Dense per-example unordered pair maxima (jittable).

    Parameters
    ----------
    score_maps
        ``(B, L', L')``.
    active
        ``(B, L', F)`` bool.

    Returns
    -------
    best, dist
        ``(B, F, F)`` symmetric, ``-inf`` where unobserved and on the diagonal; distances in
        pooled units.
    """
    return symmetrize(*pair_maxima(score_maps, active))


def _upper(best: jax.Array, dist: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    f = best.shape[-1]
    ia, ib = np.triu_indices(f, 1)
    s = best[:, ia, ib]
    s = jnp.where(mask[:, None], s, -jnp.inf)
    return s, dist[:, ia, ib]


@jax.jit
def _pair_rows(score_map: jax.Array, active: jax.Array, mask: jax.Array):
    return _upper(*pair_scores(score_map, active), mask)


def _to_pairs(chunks: Iterable[tuple[int, int, np.ndarray, np.ndarray]], num_filters: int, pool_size: int,
              n_examples: int) -> PairScores:
    """Host side: keep the finite entries of ``(B, P)`` upper-triangle rows."""
    ia, ib = np.triu_indices(num_filters, 1)
    ia, ib = ia.astype(np.int32), ib.astype(np.int32)
    parts = []
    for start, nv, s, d in chunks:
        s = np.asarray(s)[:nv]
        d = np.asarray(d)[:nv]
        ex, col = np.nonzero(np.isfinite(s))
        parts.append((
            (ex + start).astype(np.int32), ia[col], ib[col],
            s[ex, col].astype(np.float32), (d[ex, col] * pool_size).astype(np.int32),
        ))
    if not parts:
        return PairScores.empty(n_examples)
    cols = []
    for k in range(5):  # column by column, releasing the chunks' copy as we go (peak ~1.2x, not 2x)
        cols.append(np.concatenate([p[k] for p in parts]))
        parts = [tuple(None if j == k else c for j, c in enumerate(p)) for p in parts]
    return PairScores(*cols, n_examples=int(n_examples))


#: ``None``: pair on the host (:mod:`satori_jax.interpret.host_pairs`) when the default backend is
#: the CPU and numba imports; ``True`` / ``False`` force the host / the device path (tests compare them).
HOST_PAIRING: bool | None = None


def host_pairing() -> bool:
    """Whether pair maxima are taken on the host (see :data:`HOST_PAIRING`)."""
    if HOST_PAIRING is not None:
        return bool(HOST_PAIRING)
    from satori_jax.interpret import host_pairs

    return jax.default_backend() == "cpu" and host_pairs.available()


def _collect(parts: Iterable[tuple[np.ndarray, ...]], pool_size: int, n_examples: int) -> PairScores:
    """:class:`PairScores` from :func:`satori_jax.interpret.host_pairs.pair_entries` parts (bp distances)."""
    cols: list[list[np.ndarray]] = [[], [], [], [], []]
    for part in parts:
        for k in range(5):
            cols[k].append(part[k])
    if not cols[0]:
        return PairScores.empty(n_examples)
    ex, fa, fb, sc, d = (np.concatenate(c) for c in cols)
    return PairScores(ex, fa, fb, sc, (d * np.int32(pool_size)).astype(np.int32), n_examples=int(n_examples))


def pairs_from_maps(
    score_maps: np.ndarray | Iterable[np.ndarray],
    active: np.ndarray | Iterable[np.ndarray],
    pool_size: int,
    *,
    batch_size: int = 64,
    verbose: bool = False,
) -> PairScores:
    """Sparse :class:`PairScores` from precomputed score maps and activity.

    Parameters
    ----------
    score_maps
        ``(N, L', L')`` array, or an iterable of ``(B_k, L', L')`` chunks.
    active
        ``(N, L', F)`` bool array, or an iterable of ``(B_k, L', F)`` chunks matching ``score_maps``.
    pool_size
        Distances are reported in bp: pooled distance × ``pool_size``.
    batch_size
        Chunk size when arrays are given.
    """
    if isinstance(score_maps, np.ndarray | jax.Array) and isinstance(active, np.ndarray | jax.Array):
        score_maps, active = np.asarray(score_maps), np.asarray(active)
        n, f = score_maps.shape[0], active.shape[-1]
        if host_pairing():
            from satori_jax.interpret.host_pairs import pair_entries

            bs = max(1, int(batch_size))
            return _collect((pair_entries(score_maps[k:k + bs], active[k:k + bs], start=k)
                             for k in range(0, n, bs)), pool_size, n)

        def gen():
            ones = np.ones(n, bool)
            for start, nv, (s, a, m) in padded_batches(n, batch_size, score_maps, active, ones,
                                                       verbose=verbose, desc="pairs"):
                yield (start, nv, *_pair_rows(s, a, m))

        return _to_pairs(gen(), f, pool_size, n)

    chunks = []
    start = 0
    f = None
    host = host_pairing()
    for s, a in zip(score_maps, active, strict=False):
        s, a = np.asarray(s), np.asarray(a)
        f = a.shape[-1]
        if host:
            from satori_jax.interpret.host_pairs import pair_entries

            chunks.append(pair_entries(s, a, start=start))
        else:
            chunks.append((start, s.shape[0], *_pair_rows(s, a, np.ones(s.shape[0], bool))))
        start += s.shape[0]
    if f is None:
        return PairScores.empty(0)
    if host:
        return _collect(chunks, pool_size, start)
    return _to_pairs(chunks, f, pool_size, start)


@partial(jax.jit, static_argnums=(0, 1))
def _map_chunk(map_fn: Callable, pool_size: int, variables, codes, targets, thresholds):
    conv, smap = map_fn(variables, _one_hot(codes), targets)
    return smap.astype(jnp.float32), pooled_activity(conv, thresholds, pool_size)


@partial(jax.jit, static_argnums=(0, 1))
def _score_chunk(map_fn: Callable, pool_size: int, variables, codes, targets, thresholds, mask):
    conv, smap = map_fn(variables, _one_hot(codes), targets)
    active = pooled_activity(conv, thresholds, pool_size)
    return _upper(*pair_scores(smap, active), mask)


def score_examples(
    map_fn: Callable,
    model,
    variables,
    codes: np.ndarray,
    targets: np.ndarray | None,
    thresholds: np.ndarray,
    *,
    batch_size: int = 64,
    verbose: bool = False,
    desc: str = "pair scores",
) -> PairScores:
    """Score every example with ``map_fn`` and collect its observed pair maxima.

    Parameters
    ----------
    map_fn
        Hashable callable ``(variables, x (B, L, 4), targets (B, C) bool) -> (conv (B, L_conv, F),
        score_map (B, L', L'))`` (e.g. :class:`~satori_jax.interpret.attention.RawScorer`); it is
        jit-compiled once per (``map_fn``, chunk shape).
    model
        The SATORI module (gives ``pool_size``).
    codes
        ``(N, L)`` uint8.
    targets
        ``(N, C)`` bool target labels (attribution methods), or ``None`` (all ``True``).
    thresholds
        ``(F,)`` filter activity thresholds.
    batch_size
        Examples per jit call (the last chunk is padded and masked); with several devices rounded up
        to a multiple of the device count and sharded over them (module docstring).

    Returns
    -------
    PairScores
        Observed entries, distances in bp.
    """
    n = len(codes)
    pool = int(model.cfg.pool_size)
    f = int(np.asarray(thresholds).shape[0])
    if targets is None:
        targets = np.ones((n, int(model.num_outputs)), bool)
    targets = np.asarray(targets, bool)
    place = Placement()
    thr = place.replicate(jnp.asarray(thresholds, jnp.float32))
    variables = place.replicate(variables)
    ones = np.ones(n, bool)

    if host_pairing():  # maps and activity on the device, the pairing on the host (module docstring)
        from satori_jax.interpret.host_pairs import pair_entries

        def entries():
            for start, nv, chunk in place.batches(n, batch_size, codes, targets, ones, verbose=verbose,
                                                  desc=desc):
                c, t, _ = place.shard(chunk)
                smap, act = _map_chunk(map_fn, pool, variables, c, t, thr)
                yield pair_entries(to_host(smap)[:nv], to_host(act)[:nv], start=start)

        return _collect(entries(), pool, n)

    def gen():
        for start, nv, chunk in place.batches(n, batch_size, codes, targets, ones, verbose=verbose,
                                              desc=desc):
            c, t, m = place.shard(chunk)
            s, d = _score_chunk(map_fn, pool, variables, c, t, thr, m)
            yield (start, nv, to_host(s), to_host(d))

    return _to_pairs(gen(), f, pool, n)
