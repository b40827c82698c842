"""PyTorch peer of the basic SATORI model, and captum's integrated gradients on it.

The only module of the bench that imports ``torch`` / ``captum`` (the ``bench`` extra); the runner
imports it inside a ``try`` and skips the peer section with a message when it is missing.

:class:`TorchSatoriBasic` is the same network as ``satori_jax.models.Satori`` with ``arch="basic"``
(no BiLSTM, no positional encoding, no residual), layer for layer::

    x (B, L, 4) -> Conv1d 'same' -> BatchNorm -> ReLU -> MaxPool P -> Dropout
      -> per head h: Q_h, K_h, V_h = Linear(F, d) (the H heads' projections stored as one
         Linear(F, H·d) each for Q, K, V: the same parameters, one matmul instead of H)
      -> A_h = softmax(Q_h K_hᵀ / √d) -> attention dropout -> Z_h = A_h V_h -> concat heads
      -> Linear(H·d, proj) -> ReLU -> Dropout -> sum over positions
      -> standardize per example -> Linear(proj, C)

:func:`load_flax_weights` copies our variables into it, so :func:`check_equivalence` can show
that both compute the same logits and the same integrated gradients, and the throughput
comparison is between two implementations of one computation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import captum
import numpy as np
import torch
import torch.nn.functional as tf
from captum.attr import IntegratedGradients
from torch import nn

__all__ = [
    "TorchSatoriBasic",
    "check_equivalence",
    "device",
    "from_config",
    "ig_fn",
    "load_flax_weights",
    "seed",
    "set_threads",
    "train_step_fn",
    "trainable_params",
    "versions",
]


def device() -> torch.device:
    """CUDA when this torch build sees a GPU, else the CPU (the peer runs where torch can run)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(device())


def versions() -> dict:
    """Library versions and thread settings of the peer."""
    return {
        "torch": torch.__version__,
        "captum": captum.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device()),
    }


class TorchSatoriBasic(nn.Module):
    """The basic SATORI model in PyTorch (module docstring). Input ``(B, L, 4)``, output ``(B, C)``."""

    def __init__(
        self,
        num_filters: int,
        filter_width: int,
        pool_size: int,
        num_heads: int,
        head_dim: int,
        proj_dim: int,
        num_outputs: int,
        dropout: float = 0.2,
        attn_dropout: float = 0.1,
        batch_norm: bool = True,
    ):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, head_dim
        self.conv = nn.Conv1d(4, num_filters, filter_width, padding="same")
        # flax BatchNorm(momentum=0.9, epsilon=1e-5) == torch BatchNorm1d(momentum=0.1, eps=1e-5)
        self.bn = nn.BatchNorm1d(num_filters, eps=1e-5, momentum=0.1) if batch_norm else None
        self.pool = nn.MaxPool1d(pool_size)
        self.drop = nn.Dropout(dropout)
        self.query = nn.Linear(num_filters, num_heads * head_dim)
        self.key = nn.Linear(num_filters, num_heads * head_dim)
        self.value = nn.Linear(num_filters, num_heads * head_dim)
        self.attn_drop = nn.Dropout(attn_dropout)
        self.proj = nn.Linear(num_heads * head_dim, proj_dim)
        self.out = nn.Linear(proj_dim, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x.transpose(1, 2))  # (B, F, L)
        if self.bn is not None:
            h = self.bn(h)
        h = self.drop(self.pool(tf.relu(h))).transpose(1, 2)  # (B, L', F)
        b, lp, _ = h.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, lp, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, L', d)

        q, k, v = heads(self.query(h)), heads(self.key(h)), heads(self.value(h))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim), dim=-1)  # (B, H, L', L')
        z = (self.attn_drop(a) @ v).transpose(1, 2).reshape(b, lp, self.num_heads * self.head_dim)
        s = self.drop(tf.relu(self.proj(z))).sum(dim=1)  # (B, proj)
        s = (s - s.mean(dim=-1, keepdim=True)) / (s.std(dim=-1, keepdim=True, unbiased=False) + 1e-5)
        return self.out(s)


def from_config(model_cfg: Any, num_outputs: int = 1) -> TorchSatoriBasic:
    """Peer of ``satori_jax.models.build_model(model_cfg, num_outputs)`` for a basic config."""
    c = model_cfg
    if c.arch != "basic" or c.positional_encoding or c.relative_bias or c.residual or c.activation != "relu":
        raise ValueError("the PyTorch peer covers the basic architecture (relu, no posenc, no residual)")
    model = TorchSatoriBasic(
        c.num_filters,
        c.filter_width,
        c.pool_size,
        c.num_heads,
        c.head_dim,
        c.proj_dim,
        num_outputs,
        c.dropout,
        c.attn_dropout,
        c.batch_norm,
    )
    return model.to(device())


def trainable_params(model: nn.Module) -> int:
    """Number of trainable scalars (BatchNorm running statistics are buffers, not parameters)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def load_flax_weights(model: TorchSatoriBasic, variables: dict) -> None:
    """Copy flax ``variables`` (``params`` and ``batch_stats``) of the basic model into ``model``."""
    p = variables["params"]

    def t(a: Any) -> torch.Tensor:
        return torch.from_numpy(np.array(a, np.float32, copy=True))

    def dense(layer: nn.Linear, kernel: Any, bias: Any) -> None:
        k = np.asarray(kernel)
        layer.weight.copy_(t(k.reshape(k.shape[0], -1).T))
        layer.bias.copy_(t(np.asarray(bias).reshape(-1)))

    with torch.no_grad():
        model.conv.weight.copy_(t(np.transpose(np.asarray(p["conv"]["kernel"]), (2, 1, 0))))  # (F, 4, K)
        model.conv.bias.copy_(t(p["conv"]["bias"]))
        if model.bn is not None:
            model.bn.weight.copy_(t(p["bn"]["scale"]))
            model.bn.bias.copy_(t(p["bn"]["bias"]))
            stats = variables.get("batch_stats", {}).get("bn", {})
            if stats:
                model.bn.running_mean.copy_(t(stats["mean"]))
                model.bn.running_var.copy_(t(stats["var"]))
        att = p["attention"]
        for name in ("query", "key", "value"):
            dense(getattr(model, name), att[name]["kernel"], att[name]["bias"])  # (F, H, d) -> (H·d, F)
        dense(model.proj, p["proj"]["kernel"], p["proj"]["bias"])
        dense(model.out, p["out"]["kernel"], p["out"]["bias"])


def _gc_baseline(x: np.ndarray) -> np.ndarray:
    """``(B, L, 4)`` GC-matched background of one-hot ``x`` (as ``satori_jax.interpret.ig``)."""
    gc = (x[..., 1] + x[..., 2]).mean(axis=-1)  # (B,)
    probs = np.stack([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2], axis=-1).astype(np.float32)
    return np.broadcast_to(probs[:, None, :], x.shape).copy()


def check_equivalence(
    model: TorchSatoriBasic, flax_model: Any, variables: dict, x: np.ndarray, steps: int = 20
) -> dict:
    """Logits and integrated gradients of the two implementations on the same weights.

    Parameters
    ----------
    x
        ``(B, L, 4)`` float32 one-hot.

    Returns
    -------
    dict
        ``logits_max_abs_diff``, ``logits_max_abs`` and, for IG (midpoint rule, GC baseline, ``steps``),
        ``ig_max_abs_diff`` and ``ig_max_abs``.
    """
    from satori_jax.interpret.ig import integrated_gradients

    model.eval()
    ours_logits = np.asarray(flax_model.apply(variables, x, train=False)[0])
    with torch.no_grad():
        peer_logits = model(_tensor(x)).cpu().numpy()
    ours_ig = np.asarray(integrated_gradients(flax_model, variables, x, None, baseline="gc", steps=steps))
    ig = IntegratedGradients(model)
    peer_ig = (
        ig.attribute(
            _tensor(x),
            baselines=_tensor(_gc_baseline(x)),
            target=0,
            n_steps=steps,
            method="riemann_middle",
        )
        .detach()
        .cpu()
        .numpy()
    )
    return {
        "logits_max_abs_diff": float(np.abs(ours_logits - peer_logits).max()),
        "logits_max_abs": float(np.abs(ours_logits).max()),
        "ig_max_abs_diff": float(np.abs(ours_ig - peer_ig).max()),
        "ig_max_abs": float(np.abs(ours_ig).max()),
    }


def train_step_fn(
    model: TorchSatoriBasic, x: np.ndarray, y: np.ndarray, lr: float = 1e-3
) -> Callable[[], float]:
    """A training step (Adam, BCE with logits) on one fixed batch, as a no-argument callable.

    Parameters
    ----------
    x, y
        ``(B, L, 4)`` float32 one-hot inputs and ``(B, C)`` float32 labels, converted to tensors once
        (the peer gets no host-side work inside the timed step).
    """
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    xt, yt = _tensor(x), _tensor(y)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def ig_fn(
    model: TorchSatoriBasic, x: np.ndarray, steps: int = 20, per_sequence: bool = False
) -> Callable[[], torch.Tensor]:
    """captum ``IntegratedGradients`` (``n_steps=steps``, midpoint rule, GC baseline, target = the
    logit) on ``x (B, L, 4)`` as a no-argument callable: the whole batch in one call, or
    (``per_sequence``) one call per sequence, the way the SATORI reference calls captum."""
    model.eval()
    ig = IntegratedGradients(model)
    xt = _tensor(x)
    base = _tensor(_gc_baseline(x))

    def call() -> torch.Tensor:
        out = ig.attribute(xt, baselines=base, target=0, n_steps=steps, method="riemann_middle").detach()
        _sync()
        return out

    def call_each() -> torch.Tensor:
        parts = [
            ig.attribute(xt[i : i + 1], baselines=base[i : i + 1], target=0, n_steps=steps,
                         method="riemann_middle").detach()
            for i in range(xt.shape[0])
        ]
        _sync()
        return torch.cat(parts)

    return call_each if per_sequence else call


def set_threads(n: int) -> int:
    """Use ``n`` intra-op threads (as many as XLA's CPU client uses); returns the setting."""
    torch.set_num_threads(max(1, int(n)))
    return torch.get_num_threads()


def seed(value: int) -> None:
    torch.manual_seed(int(value))
