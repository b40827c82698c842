"""Model predictions: probabilities for uint8 sequence codes in fixed-shape batches."""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from satori_jax import parallel
from satori_jax.data.encoding import one_hot

__all__ = ["make_predict_fn", "predict_probs", "progress"]


def make_predict_fn(model) -> Callable:
    """jit-compiled ``predict(variables, codes (B, L) uint8) -> probs (B, C)``."""

    @jax.jit
    def predict(variables, codes):
        logits, _ = model.apply(variables, one_hot(codes), train=False)
        return jax.nn.sigmoid(logits)

    return predict


def predict_probs(
    model,
    variables,
    codes: np.ndarray,
    batch_size: int = 512,
    verbose: bool = False,
    predict_fn: Callable | None = None,
    mesh=None,
) -> np.ndarray:
    """Probabilities ``(N, C)`` for uint8 codes ``(N, L)``, in fixed-shape padded batches (one compile).

    With a ``mesh`` (:mod:`satori_jax.parallel`) every batch is sharded over its devices.
    """
    predict_fn = predict_fn or make_predict_fn(model)
    n = codes.shape[0]
    out = []
    bs = min(batch_size, max(n, 1))
    if mesh is not None:
        bs = parallel.round_batch(bs, mesh)
        variables = parallel.replicate(variables, mesh)
    for start in progress(range(0, n, bs), verbose, "predict"):
        chunk = codes[start : start + bs]
        pad = bs - chunk.shape[0]
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad,) + chunk.shape[1:], chunk.dtype)])
        if mesh is not None:
            chunk = parallel.shard_batch(chunk, mesh)
        out.append(parallel.to_host(predict_fn(variables, chunk))[: bs - pad])
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def progress(it, verbose: bool, desc: str, total: int | None = None):
    if not verbose:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, total=total, leave=False, dynamic_ncols=True)
