"""The attribution kernels: the model to attribute, one jit-compiled program per quantity, the engine.

Kernels (reused, not reimplemented): :func:`satori_jax.interpret.ig.ig_rows` (IG, the ``steps``
interpolation points in cache-sized blocks on CPU, midpoint rule),
:func:`~satori_jax.interpret.ig.gradient_x_input`,
:func:`~satori_jax.interpret.ig.hypothetical_contributions`,
:func:`satori_jax.interpret.attention.attention_attribution` (right Riemann rule, zero baseline),
and the model's own attention maps. Each quantity is one jit-compiled function of a fixed-shape
batch ``(B, L)`` of uint8 codes (``B = batch_size`` rounded up to a multiple of the device count);
the last batch is padded with N codes and its padded rows are dropped, so every batch of every
chunk runs the same compiled program. With more than one device, variables are replicated and
every batch is sharded over the devices (:mod:`satori_jax.parallel`).
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from satori_jax.attribute.settings import DATASETS, Settings
from satori_jax.errors import input_error


@dataclass
class Model:
    """A model to attribute: flax module, variables, ``C`` label names, input length (``None``: any),
    its provenance for the manifest, and whether FASTA records of another length are resized to
    ``length`` (as training did: ``data.length > 0``) or refused (trained on sequences as given)."""

    model: Any
    variables: Any
    label_names: list[str]
    length: int | None
    info: dict = field(default_factory=dict)
    resize: bool = True


def resolve_model(run_or_model: Any) -> Model:
    """A run directory, a :class:`~satori_jax.runs.LoadedRun`, or ``(model, variables[, label_names])``."""
    if isinstance(run_or_model, (str, Path)):
        from satori_jax.runs import load_model

        run = Path(run_or_model)
        if not run.is_dir():
            raise input_error(run, "no such run directory")
        cfg_path = run / "config.json"
        cfg, model, variables, info = load_model(run)
        digest = hashlib.sha256(cfg_path.read_bytes()).hexdigest()
        return Model(
            model,
            variables,
            list(info["label_names"]),
            int(info["length"]),
            {"run_dir": str(run.resolve()), "config_sha256": digest, "arch": cfg.model.arch},
            resize=int(cfg.data.length) > 0,
        )
    if hasattr(run_or_model, "model") and hasattr(run_or_model, "variables"):
        r = run_or_model
        return Model(
            r.model,
            r.variables,
            list(r.label_names),
            int(r.length),
            {"run_dir": str(Path(r.run_dir).resolve())},
            resize=int(r.cfg.data.length) > 0,
        )
    if isinstance(run_or_model, tuple) and len(run_or_model) in (2, 3):
        model, variables = run_or_model[:2]
        c = int(model.num_outputs)
        names = list(run_or_model[2]) if len(run_or_model) == 3 else [f"output_{i}" for i in range(c)]
        return Model(model, variables, names, None, {})
    raise TypeError(
        "run_or_model must be a run directory, a LoadedRun or a (model, variables[, label_names]) tuple"
    )


def variables_sha256(variables) -> str:
    """Fingerprint of a variables tree (paths, dtypes, shapes and bytes of every leaf)."""
    import jax

    h = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(jax.device_get(variables))[0]:
        a = np.asarray(leaf)
        h.update(jax.tree_util.keystr(path).encode() + str(a.dtype).encode() + str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=64)
def _kernel(model, quantity: str, s: Settings):
    """jit-compiled ``(variables, codes (B, L) uint8, base_codes (B, L) uint8, tw (C,)) -> {name: (B, ...)}``.

    Cached on ``(model, quantity, settings)`` (flax modules hash by configuration), so repeated
    :func:`attribute` / :func:`export` calls with the same model reuse the compiled programs.
    """
    import jax
    import jax.numpy as jnp

    from satori_jax.data.encoding import one_hot
    from satori_jax.interpret import attention as attn_lib
    from satori_jax.interpret import ig as ig_lib

    out_dtype = jnp.float16 if s.dtype == "float16" else jnp.float32

    def kern(variables, codes, base_codes, tw):
        x = one_hot(codes)
        t = jnp.broadcast_to(tw, (x.shape[0], tw.shape[0]))
        if quantity == "predictions":
            logits, _ = model.apply(variables, x, train=False)
            return {"predictions": jax.nn.sigmoid(logits), "logits": logits}
        if quantity == "ig":
            base = one_hot(base_codes) if s.baseline == "shuffle" else ig_lib.resolve_baseline(x, s.baseline)
            rb, sb = ig_lib.auto_batching(s.steps)
            attr = ig_lib.ig_rows(model, variables, x, t, base, s.steps, "midpoint", sb, rb)
            f = ig_lib.target_fn(model, variables)
            return {"ig": attr.astype(out_dtype), "ig_delta": f(x, t) - f(base, t)}
        if quantity == "grad_x_input":
            return {
                "grad_x_input": ig_lib.gradient_x_input(model, variables, x, t, center=True).astype(out_dtype)
            }
        if quantity == "hypothetical":
            return {
                "hypothetical": ig_lib.hypothetical_contributions(model, variables, x, t).astype(out_dtype)
            }
        if quantity == "attention":
            _, inter = model.apply(variables, x, train=False)
            a = inter["attention"]
            return {"attention": (a.max(axis=1) if s.heads == "max" else a).astype(out_dtype)}
        if quantity == "attention_ig":
            a = attn_lib.attention_attribution(model, variables, x, t > 0, s.steps, "right")
            return {"attention_ig": (jnp.abs(a).max(axis=1) if s.heads == "max" else a).astype(out_dtype)}
        raise ValueError(quantity)

    return jax.jit(kern)


class Engine:
    """Runs the requested kernels over chunks of codes in fixed-shape batches (one compile each)."""

    def __init__(self, model, variables, settings: Settings, target_weights: np.ndarray) -> None:
        import jax

        from satori_jax import parallel

        self.settings = settings
        self.mesh = parallel.data_mesh()
        self.multi = self.mesh.size > 1
        self.batch_size = parallel.round_batch(settings.batch_size, self.mesh)
        self.variables = parallel.replicate(variables, self.mesh) if self.multi else jax.device_put(variables)
        self.tw = jax.device_put(np.asarray(target_weights, np.float32))
        if self.multi:
            self.tw = parallel.replicate(self.tw, self.mesh)
        self.kernels = {q: _kernel(model, q, settings) for q in settings.what}
        self.seconds = dict.fromkeys(settings.what, 0.0)
        self.rows = 0

    def describe(self) -> str:
        from satori_jax import parallel

        return parallel.describe(self.mesh)

    def _put(self, a: np.ndarray):
        import jax

        from satori_jax import parallel

        return parallel.shard_batch(a, self.mesh) if self.multi else jax.device_put(a)

    def run(self, codes: np.ndarray, start: int) -> dict[str, np.ndarray]:
        """All quantities for rows ``start : start + len(codes)`` (``start`` a multiple of the batch size)."""
        import jax

        from satori_jax.data.shuffle import dinucleotide_shuffle

        codes = np.asarray(codes, np.uint8)
        n, bs = codes.shape[0], self.batch_size
        if start % bs:
            raise ValueError(f"chunk start {start} is not a multiple of the batch size {bs}")
        if self.settings.baseline == "shuffle" and "ig" in self.settings.what:
            # one generator per sequence: independent of chunk and batch boundaries
            base = (
                np.concatenate(
                    [
                        dinucleotide_shuffle(
                            codes[i : i + 1], np.random.default_rng((self.settings.seed, start + i))
                        )
                        for i in range(n)
                    ]
                )
                if n
                else codes.copy()
            )
        else:
            base = codes
        nb = -(-n // bs)
        pad = nb * bs - n
        if pad:
            fill = np.full((pad, codes.shape[1]), 4, np.uint8)
            codes, base = np.concatenate([codes, fill]), np.concatenate([base, fill])
        batches = [
            (self._put(codes[b * bs : (b + 1) * bs]), self._put(base[b * bs : (b + 1) * bs]))
            for b in range(nb)
        ]
        out: dict[str, np.ndarray] = {}
        for q, kern in self.kernels.items():
            t0 = time.perf_counter()
            res = [kern(self.variables, c, bc, self.tw) for c, bc in batches]  # dispatched asynchronously
            host = jax.device_get(res)
            for name in res[0]:
                out[name] = np.concatenate([r[name] for r in host])[:n]
            self.seconds[q] += time.perf_counter() - t0
        self.rows += n
        return out


def attention_shape(model, variables, length: int) -> tuple[int, int]:
    """``(H, L')`` of the model's attention for inputs of ``length`` bp (shape inference only)."""
    import jax
    import jax.numpy as jnp

    _, inter = jax.eval_shape(
        lambda v, x: model.apply(v, x, train=False),
        variables,
        jax.ShapeDtypeStruct((1, length, 4), jnp.float32),
    )
    a = inter["attention"].shape
    return int(a[1]), int(a[2])


def row_specs(model, variables, length: int, num_outputs: int, s: Settings) -> dict[str, tuple[tuple, str]]:
    """``{dataset: (per-row shape, dtype)}`` of every dataset the settings' quantities write."""
    h, lp = attention_shape(model, variables, length)
    att = (lp, lp) if s.heads == "max" else (h, lp, lp)
    spec = {
        "predictions": ((num_outputs,), "float32"),
        "logits": ((num_outputs,), "float32"),
        "ig": ((length, 4), s.dtype),
        "ig_delta": ((), "float32"),
        "grad_x_input": ((length, 4), s.dtype),
        "hypothetical": ((length, 4), s.dtype),
        "attention": (att, s.dtype),
        "attention_ig": (att, s.dtype),
    }
    return {name: spec[name] for q in s.what for name in DATASETS[q]}
