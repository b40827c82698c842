"""Input attributions: integrated gradients, gradient × input, hypothetical contributions.

One implementation shared by the interaction scorers (``fis``, ``dfim``) and the attribution
exporter (``satori_jax.attribute``). Every function takes any batch of one-hot inputs
``x (B, L, 4)`` in one jit-compiled call (fixed shapes: the same ``B`` never recompiles), and
:func:`batched` / :func:`iter_batches` stream ``uint8`` codes ``(N, L)`` through such a function
in padded fixed-shape chunks (one compile for all chunks).

Target function
---------------
``F(x) = Σ_c targets[c] · logits_c(x)`` per example: the sum of the logits of the target labels
(multi-label: the true-positive labels; binary: the single logit). ``targets=None`` means every
output (for a binary model, the single logit). The model standardizes per example, so each row's
gradient depends on that row only and one vector–Jacobian product with a ones cotangent gives all
per-example gradients.

Integrated gradients
--------------------
``IG(x) = (x − x') ⊙ (1/m) Σ_{k=1..m} ∇F(x' + α_k (x − x'))`` with ``m = steps`` and

* ``rule="midpoint"`` (default): ``α_k = (k − ½)/m``, error ``O(1/m²)`` for smooth paths;
* ``rule="right"``: ``α_k = k/m`` (the attention-attribution rule of SATORI 2.0), error ``O(1/m)``.

Completeness ``Σ IG(x) ≈ F(x) − F(x')`` holds up to the Riemann error (tested). The ``m`` steps
are evaluated with ``jax.vmap`` in one call.

Baselines: ``"gc"`` (GC-matched background probabilities, ``A, T = (1 − f_GC)/2``,
``C, G = f_GC/2`` at every position, with ``f_GC`` the sequence's own GC fraction, N counting ½, or
a given value), ``"zeros"``, or an array ``(L, 4)`` / ``(B, L, 4)``.

Hypothetical contributions
--------------------------
``hyp = ∇F(x) − mean_c ∇F(x)`` (the gradient, mean-centred over the 4 channels at each position;
the one-hot constraint ``Σ_c x_c = 1`` makes the component along ``(1, 1, 1, 1)`` meaningless). The
identity that holds exactly, elementwise, is

    ``hyp ⊙ x == gradient_x_input(x, center=True)``,

i.e. hypothetical × one-hot = the actual (mean-centred) gradient × input contributions, which is
the pair TF-MoDISco reads (``hypothetical_contribs`` and ``contrib_scores = hyp ⊙ onehot``). Without
centring, ``gradient_x_input(x) − hyp ⊙ x = mean_c ∇F(x) ⊙ x``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from satori_jax.data.encoding import one_hot

__all__ = [
    "CPU_ROWS",
    "auto_batching",
    "batched",
    "gc_background",
    "gc_fraction",
    "gradient_x_input",
    "hypothetical_contributions",
    "ig_core",
    "ig_rows",
    "integrated_gradients",
    "iter_batches",
    "resolve_baseline",
    "riemann_alphas",
    "target_fn",
    "target_values",
]


# ----------------------------------------------------------------------------- target function


def _as_targets(targets: Any, batch: int, num_outputs: int) -> jax.Array:
    """``(B, C)`` float32 weights from ``None`` (all outputs), bool or float targets."""
    if targets is None:
        return jnp.ones((batch, num_outputs), jnp.float32)
    t = jnp.asarray(targets).astype(jnp.float32)
    if t.ndim == 1:
        t = t[:, None] if num_outputs == 1 else jnp.broadcast_to(t, (batch, num_outputs))
    return t


def target_fn(model, variables) -> Callable[[jax.Array, Any], jax.Array]:
    """``F(x, targets) -> (B,)``: per-example sum of the target logits.

    Parameters
    ----------
    model, variables
        The model and its variables (see ``satori_jax.models``).

    Returns
    -------
    Callable
        ``f(x (B, L, 4), targets (B, C) bool/float or None) -> (B,)``; traceable (use inside jit).
    """

    def f(x: jax.Array, targets: Any = None) -> jax.Array:
        logits, _ = model.apply(variables, x, train=False)
        t = _as_targets(targets, x.shape[0], logits.shape[-1])
        return jnp.sum(logits * t, axis=-1)

    return f


def _value_and_grad(model, variables, x: jax.Array, targets: Any) -> tuple[jax.Array, jax.Array]:
    """``(F(x) (B,), ∇F(x) (B, L, 4))`` through one vjp (rows are independent)."""
    f = target_fn(model, variables)
    val, vjp = jax.vjp(lambda z: f(z, targets), x)
    (g,) = vjp(jnp.ones_like(val))
    return val, g


@partial(jax.jit, static_argnames=("model",))
def target_values(model, variables, x: jax.Array, targets: Any = None) -> jax.Array:
    """``F(x)`` ``(B,)`` for one-hot (or any real) ``x (B, L, 4)``."""
    return target_fn(model, variables)(x, targets)


# ----------------------------------------------------------------------------- baselines


def gc_fraction(x: jax.Array) -> jax.Array:
    """GC fraction ``(B,)`` of one-hot ``x (B, L, 4)`` (an N, 0.25 per channel, counts ½)."""
    return jnp.mean(x[..., 1] + x[..., 2], axis=-1)


def gc_background(gc: jax.Array | float, length: int) -> jax.Array:
    """GC-matched background probabilities.

    Parameters
    ----------
    gc
        Scalar or ``(B,)`` GC fraction ``f_GC``.
    length
        ``L``.

    Returns
    -------
    ``(L, 4)`` for a scalar, ``(B, L, 4)`` for ``(B,)``: ``A, T = (1 − f_GC)/2``, ``C, G = f_GC/2``.
    """
    g = jnp.asarray(gc, jnp.float32)
    probs = jnp.stack([(1 - g) / 2, g / 2, g / 2, (1 - g) / 2], axis=-1)  # (..., 4)
    return jnp.broadcast_to(probs[..., None, :], (*probs.shape[:-1], length, 4))


def resolve_baseline(x: jax.Array, baseline: Any = "gc", gc: Any = None) -> jax.Array:
    """Baseline ``(B, L, 4)`` for ``x (B, L, 4)``.

    Parameters
    ----------
    baseline
        ``"gc"`` (GC-matched background), ``"zeros"``, or an array ``(L, 4)`` / ``(B, L, 4)``.
    gc
        For ``"gc"``: scalar or ``(B,)`` GC fraction; ``None`` uses each sequence's own.
    """
    b, length = x.shape[0], x.shape[1]
    if isinstance(baseline, str):
        if baseline == "zeros":
            return jnp.zeros_like(x)
        if baseline == "gc":
            g = gc_fraction(x) if gc is None else jnp.broadcast_to(jnp.asarray(gc, jnp.float32), (b,))
            return gc_background(g, length).astype(x.dtype)
        raise ValueError(f"unknown baseline {baseline!r} (expected 'gc', 'zeros' or an array)")
    return jnp.broadcast_to(jnp.asarray(baseline, x.dtype), x.shape)


# ----------------------------------------------------------------------------- kernels


def riemann_alphas(steps: int, rule: str = "midpoint") -> jax.Array:
    """Interpolation coefficients ``(steps,)``: ``(k − ½)/m`` (midpoint) or ``k/m`` (right)."""
    k = jnp.arange(1, steps + 1, dtype=jnp.float32)
    if rule == "midpoint":
        return (k - 0.5) / steps
    if rule == "right":
        return k / steps
    raise ValueError(f"unknown Riemann rule {rule!r} (expected 'midpoint' or 'right')")


def ig_core(
    model,
    variables,
    x: jax.Array,
    targets: Any,
    base: jax.Array,
    steps: int,
    rule: str = "midpoint",
    step_batch: int | None = None,
) -> jax.Array:
    """Traceable IG kernel: ``(B, L, 4)`` attributions of ``x`` against explicit ``base (B, L, 4)``.

    The ``steps`` interpolation points are vmapped (all at once, or ``step_batch`` at a time through
    ``lax.map`` to bound memory); use inside jit (the scorers call it directly).
    """
    alphas = riemann_alphas(steps, rule)
    diff = x - base

    def grad_at(a):
        return _value_and_grad(model, variables, base + a * diff, targets)[1]

    if step_batch is None or step_batch >= steps:
        grads = jax.vmap(grad_at)(alphas)  # (m, B, L, 4)
    else:
        grads = jax.lax.map(grad_at, alphas, batch_size=int(step_batch))
    return diff * jnp.mean(grads, axis=0)


#: On CPU, IG runs fastest with about this many (example, step) gradient rows in flight: larger
#: batches leave the caches (measured, basic model, 300 bp, 2-core CPU: 64 examples × 20 steps at
#: once 37 ex/s; 1 example × 10 steps at a time 64 ex/s; ``bench`` records the figures).
CPU_ROWS = 10


def auto_batching(steps: int, row_batch: int | None | str = "auto",
                  step_batch: int | None | str = "auto") -> tuple[int | None, int | None]:
    """Resolve ``"auto"``: on CPU about :data:`CPU_ROWS` rows in flight; elsewhere ``None`` (all at once).

    Returns
    -------
    (row_batch, step_batch)
        Examples and steps differentiated together (``None``: all).
    """
    cpu = jax.default_backend() == "cpu"
    if row_batch == "auto":
        row_batch = max(1, CPU_ROWS // int(steps)) if cpu else None
    if step_batch == "auto":
        step_batch = min(int(steps), CPU_ROWS) if cpu else None
    return (None if row_batch is None else int(row_batch)), (None if step_batch is None else int(step_batch))


def ig_rows(model, variables, x, targets, base, steps: int, rule: str = "midpoint",
            step_batch: int | None = None, row_batch: int | None = None) -> jax.Array:
    """:func:`ig_core` over ``(R, L, 4)`` rows, ``row_batch`` rows at a time through ``lax.map``
    (``None`` = one vmapped batch); rows are independent, so the result is the same up to float
    rounding. Traceable (use inside jit); see :func:`auto_batching` for good values."""
    if row_batch is None or row_batch >= x.shape[0]:
        return ig_core(model, variables, x, targets, base, steps, rule, step_batch)

    def one(args):
        xi, bi, ti = args
        t = None if ti is None else ti[None]
        return ig_core(model, variables, xi[None], t, bi[None], steps, rule, step_batch)[0]

    if targets is not None:
        targets = _as_targets(targets, x.shape[0], int(model.num_outputs))
    return jax.lax.map(one, (x, base, targets), batch_size=int(row_batch))


@partial(jax.jit, static_argnames=("model", "steps", "rule", "step_batch", "row_batch"))
def _ig_jit(model, variables, x, targets, base, steps, rule, step_batch=None, row_batch=None):
    return ig_rows(model, variables, x, targets, base, steps, rule, step_batch, row_batch)


def integrated_gradients(
    model,
    variables,
    x: Any,
    targets: Any = None,
    baseline: Any = "gc",
    steps: int = 20,
    gc: Any = None,
    rule: str = "midpoint",
    row_batch: int | None | str = "auto",
    step_batch: int | None | str = "auto",
) -> jax.Array:
    """Integrated gradients on the input.

    Parameters
    ----------
    model, variables
        Model and variables.
    x
        ``(B, L, 4)`` one-hot.
    targets
        ``(B, C)`` bool/float target labels, or ``None`` for all outputs.
    baseline
        ``"gc"``, ``"zeros"`` or an array ``(L, 4)`` / ``(B, L, 4)`` (see :func:`resolve_baseline`).
    steps
        Number ``m`` of Riemann steps (vmapped).
    gc
        GC fraction for ``baseline="gc"``: scalar or ``(B,)``; ``None`` = each sequence's own.
    rule
        ``"midpoint"`` or ``"right"`` Riemann sum (module docstring).
    row_batch, step_batch
        Examples and steps differentiated together inside the one call (:func:`auto_batching`:
        small blocks on CPU, everything at once on accelerators). They change speed, not results.

    Returns
    -------
    jax.Array
        ``(B, L, 4)`` attributions; ``Σ ≈ F(x) − F(baseline)`` per example.
    """
    x = jnp.asarray(x, jnp.float32)
    base = resolve_baseline(x, baseline, gc)
    rb, sb = auto_batching(int(steps), row_batch, step_batch)
    return _ig_jit(model, variables, x, targets, base, int(steps), rule, sb, rb)


@partial(jax.jit, static_argnames=("model", "center"))
def _gxi_jit(model, variables, x, targets, center):
    g = _value_and_grad(model, variables, x, targets)[1]
    if center:
        g = g - jnp.mean(g, axis=-1, keepdims=True)
    return g * x


def gradient_x_input(model, variables, x: Any, targets: Any = None, center: bool = False) -> jax.Array:
    """Gradient × input ``(B, L, 4)``.

    Parameters
    ----------
    center
        Mean-centre the gradient over the 4 channels first (then ``== hypothetical × x``).
    """
    return _gxi_jit(model, variables, jnp.asarray(x, jnp.float32), targets, bool(center))


@partial(jax.jit, static_argnames=("model",))
def _hyp_jit(model, variables, x, targets):
    g = _value_and_grad(model, variables, x, targets)[1]
    return g - jnp.mean(g, axis=-1, keepdims=True)


def hypothetical_contributions(model, variables, x: Any, targets: Any = None) -> jax.Array:
    """Gradient-based hypothetical contributions ``(B, L, 4)``: ``∇F − mean_c ∇F`` per position.

    ``hypothetical_contributions(x) * x == gradient_x_input(x, center=True)`` exactly (module
    docstring); these are the ``hypothetical_contribs`` TF-MoDISco reads (transpose to ``(N, 4, L)``).
    """
    return _hyp_jit(model, variables, jnp.asarray(x, jnp.float32), targets)


# ----------------------------------------------------------------------------- streaming driver


def _chunk_runner(fn: Callable) -> Callable:
    """jit ``(codes (B, L) uint8, targets, args) -> fn(one_hot(codes), targets, *args)``."""

    def run(codes, targets, args):
        return fn(one_hot(codes), targets, *args)

    return jax.jit(run)


def iter_batches(
    fn: Callable,
    codes: np.ndarray,
    targets: Any = None,
    batch_size: int = 256,
    verbose: bool = False,
    args: tuple = (),
) -> Iterator[tuple[int, int, Any]]:
    """Stream ``codes`` through ``fn`` in fixed-shape chunks; yields ``(start, stop, outputs)``.

    Parameters
    ----------
    fn
        ``fn(x (B, L, 4) float32, targets (B, C) or None, *args) -> pytree of (B, ...) arrays``;
        rows must be independent (every model function is). Closed-over arrays are compiled in as
        constants: pass large ones (model variables) through ``args``.
    codes
        ``(N, L)`` uint8 codes.
    targets
        ``(N, C)`` bool/float or ``None``.
    batch_size
        Chunk size ``B`` (``min(batch_size, N)``); the last chunk is padded with N codes and the
        padded rows are dropped (the mask), so all chunks share one compiled program. With several
        devices ``B`` is rounded up to a multiple of the device count, each chunk is sharded over
        them and ``args`` are replicated (:class:`~satori_jax.interpret.interactions.Placement`).
    verbose
        Progress on stderr.
    args
        Extra (traced) arguments for ``fn``.

    Yields
    ------
    (start, stop, outputs)
        Host (numpy) outputs for rows ``start:stop``; chunk ``i`` is copied to the host while
        chunk ``i + 1`` runs.
    """
    codes = np.asarray(codes, np.uint8)
    n = codes.shape[0]
    if n == 0:
        return
    from satori_jax.interpret.interactions import Placement

    place = Placement()  # several devices: chunks sharded over them, args replicated
    bs = place.chunk_size(batch_size, n)
    args = place.replicate(tuple(args))
    run = _chunk_runner(fn)
    tgt = None if targets is None else np.asarray(targets)
    t0 = time.perf_counter()
    pending = None
    for start in range(0, n, bs):
        stop = min(start + bs, n)
        chunk = codes[start:stop]
        tchunk = None if tgt is None else tgt[start:stop]
        if stop - start < bs:  # pad to the fixed shape; padded rows are masked out below
            pad = bs - (stop - start)
            chunk = np.concatenate([chunk, np.full((pad, codes.shape[1]), 4, np.uint8)])
            if tchunk is not None:
                tchunk = np.concatenate([tchunk, np.zeros((pad, *tgt.shape[1:]), tgt.dtype)])
        if place.mesh is None:
            out = run(jnp.asarray(chunk), None if tchunk is None else jnp.asarray(tchunk), args)
        else:
            out = run(*place.shard((chunk, tchunk)), args)
        if pending is not None:
            yield _to_host(*pending)
        pending = (start, stop, out)
        if verbose:
            print(f"  {stop}/{n} sequences, {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    yield _to_host(*pending)


def _to_host(start: int, stop: int, out: Any) -> tuple[int, int, Any]:
    from satori_jax.interpret.interactions import to_host

    m = stop - start
    return start, stop, jax.tree_util.tree_map(lambda a: to_host(a)[:m], out)


def batched(
    fn: Callable,
    codes: np.ndarray,
    targets: Any = None,
    batch_size: int = 256,
    verbose: bool = False,
    args: tuple = (),
) -> Any:
    """Run ``fn`` over all ``codes`` (see :func:`iter_batches`) and concatenate: ``(N, ...)`` numpy.

    Example
    -------
    ``batched(lambda x, t, v: integrated_gradients(model, v, x, t), codes, targets, 128,
    args=(variables,))`` → ``(N, L, 4)``.
    """
    parts = [out for _, _, out in iter_batches(fn, codes, targets, batch_size, verbose, args)]
    if not parts:
        raise ValueError("no sequences")
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a, axis=0), *parts)
