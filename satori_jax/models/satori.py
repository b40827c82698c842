"""The SATORI model family (basic CNN + attention, CNN-BiLSTM + attention, deep), one config.

Data flow, shapes for a batch of ``B`` sequences of length ``L``::

    x (B, L, 4) ─conv─> (B, L_conv, F) ─[BN]─ReLU/exp─> conv (B, L_conv, F)
      ─maxpool P─> (B, L', F) ─dropout─[BiLSTM]─[+posenc]─> features (B, L', D)
      ─attention [+ relative-position bias]─> (B, L', H·d), A (B, H, L', L')
      ─dense proj_dim, ReLU─[+residual]─dropout─>
      basic/bilstm: sum over L' ─ standardize per example ─ dense C ─> logits (B, C)
      deep: residual conv blocks ─ mean over L' ─ dense ─ dense C ─> logits (B, C)

with ``L_conv = L`` (SAME) or ``L − K + 1`` (VALID) and ``L' = L_conv // P``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from satori_jax.config import ModelConfig
from satori_jax.models.layers import DeepBlock, Dropout, MultiHeadSelfAttention, sinusoidal_encoding


def max_pool(h: jax.Array, p: int) -> jax.Array:
    """Non-overlapping max pooling ``(B, L, F) -> (B, L // p, F)`` (a trailing remainder is dropped).

    Same values and gradient as ``nn.max_pool(h, (p,), strides=(p,), padding="VALID")`` (and
    PyTorch's ``MaxPool1d``): at ties the whole gradient goes to the first maximum. Written as a
    reshape, an ``argmax`` and a masked sum so that the gradient is an elementwise mask instead of
    XLA's ``select_and_scatter`` (forward+backward 6× faster than ``nn.max_pool`` on the 2-core
    CPU at 64 × 300 × 200, same-run A/B). A plain ``max`` over the window would split the gradient
    between tied maxima, and ties do occur on integrated-gradient paths.
    """
    b, length, f = h.shape
    n = length // p
    w = h[:, : n * p].reshape(b, n, p, f)
    first = jnp.argmax(w, axis=2)  # index of the first maximum (of a NaN, if any)
    mask = jnp.arange(p)[None, None, :, None] == first[:, :, None, :]
    return jnp.where(mask, w, 0.0).sum(axis=2)


class Satori(nn.Module):
    """SATORI model; see the module docstring for the data flow.

    Attributes
    ----------
    cfg
        Model hyper-parameters.
    num_outputs
        ``C``: 1 for binary tasks, the number of labels for multi-label tasks.
    """

    cfg: ModelConfig
    num_outputs: int

    def setup(self) -> None:
        c = self.cfg
        self.conv = nn.Conv(c.num_filters, (c.filter_width,), padding=c.padding, name="conv")
        if c.batch_norm:
            self.bn = nn.BatchNorm(momentum=0.9, name="bn")
        self.drop = Dropout(c.dropout)
        if c.arch == "bilstm":
            self.lstm = nn.Bidirectional(
                nn.RNN(nn.OptimizedLSTMCell(c.lstm_units)), nn.RNN(nn.OptimizedLSTMCell(c.lstm_units))
            )
        self.attention = MultiHeadSelfAttention(
            c.num_heads, c.head_dim, c.attn_dropout, c.relative_bias, c.relative_bias_init,
            c.attention_window, c.window_heads, name="attention"
        )
        self.proj = nn.Dense(c.proj_dim, name="proj")
        if c.residual:
            self.res_proj = nn.Dense(c.proj_dim, name="res_proj")
        if c.arch == "deep":
            self.deep_in = nn.Dense(c.deep_channels, name="deep_in")
            self.blocks = [
                DeepBlock(c.deep_channels, dilation=2 ** (i + 1), dropout=c.dropout, name=f"block{i}")
                for i in range(c.deep_blocks)
            ]
            self.deep_hidden = nn.Dense(c.deep_channels, name="deep_hidden")
        self.out = nn.Dense(self.num_outputs, name="out")

    def _conv(self, x: jax.Array, train: bool) -> jax.Array:
        h = self.conv(x)
        if self.cfg.batch_norm:
            h = self.bn(h, use_running_average=not train)
        return jnp.exp(h) if self.cfg.activation == "exp" else nn.relu(h)

    def _pool(self, conv: jax.Array, train: bool) -> jax.Array:
        p = self.cfg.pool_size
        h = max_pool(conv, p)
        h = self.drop(h, deterministic=not train)
        if self.cfg.arch == "bilstm":
            h = self.lstm(h)
        if self.cfg.positional_encoding:
            h = h + sinusoidal_encoding(h.shape[-2], h.shape[-1])
        return h

    def features(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Attention input ``(B, L', D)`` for one-hot ``x`` ``(B, L, 4)``."""
        return self._pool(self._conv(x, train), train)

    def head(
        self, feats: jax.Array, attention: jax.Array | None = None, train: bool = False
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Everything after the attention input.

        Parameters
        ----------
        feats
            ``(B, L', D)`` attention input (from :meth:`features`).
        attention
            Optional ``(B, H, L', L')`` attention used in place of the computed one.

        Returns
        -------
        logits
            ``(B, C)``.
        intermediates
            ``{"attention": (B, H, L', L')}``.
        """
        z, attn = self.attention(feats, attention, train=train)
        return self.readout(self.proj(z), feats, train), {"attention": attn}

    def attention_values(self, feats: jax.Array) -> jax.Array:
        """Attention values ``V`` ``(B, L', H, d)`` for attention input ``feats`` ``(B, L', D)``."""
        return self.attention.values(feats)

    def project(self, z: jax.Array) -> jax.Array:
        """The (affine) projection after the heads: ``(B, L', H·d) -> (B, L', proj_dim)``."""
        return self.proj(z)

    def readout(self, u: jax.Array, feats: jax.Array, train: bool = False) -> jax.Array:
        """Logits ``(B, C)`` from the projected attention output ``u`` ``(B, L', proj_dim)``.

        Everything in :meth:`head` after the projection; attention attribution uses it directly,
        since ``u`` is affine in the attention (see :mod:`satori_jax.interpret.attention`).
        """
        h = nn.relu(u)
        if self.cfg.residual:
            h = h + self.res_proj(feats)
        h = self.drop(h, deterministic=not train)
        if self.cfg.arch == "deep":
            h = self.deep_in(h)
            for block in self.blocks:
                h = block(h, train=train)
            h = nn.relu(self.deep_hidden(h.mean(axis=-2)))
        else:
            s = h.sum(axis=-2)  # (B, proj_dim)
            # Standardize per example (never over the batch: a prediction must not depend on batch-mates).
            # The square root is guarded so that an example whose features are all 0 (dropout removed
            # every firing unit) gets a finite gradient: d sqrt(var) at var = 0 is inf, and the NaN of
            # inf * 0 passed through dropout's multiplication into every parameter (seen in training
            # with k-mer-seeded filters, which fire on few positions). The forward is unchanged.
            var = s.var(axis=-1, keepdims=True)
            std = jnp.where(var > 0, jnp.sqrt(jnp.where(var > 0, var, 1.0)), 0.0)
            h = (s - s.mean(axis=-1, keepdims=True)) / (std + 1e-5)
        return self.out(h)

    def __call__(
        self, x: jax.Array, train: bool = False, attention: jax.Array | None = None
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Forward pass.

        Parameters
        ----------
        x
            ``(B, L, 4)`` one-hot (float32).
        train
            Dropout on, batch norm in batch-statistics mode.
        attention
            Optional ``(B, H, L', L')`` attention override.

        Returns
        -------
        logits
            ``(B, C)``.
        intermediates
            ``conv`` ``(B, L_conv, F)`` first-layer activations (after the non-linearity, before
            pooling) and ``attention`` ``(B, H, L', L')``.
        """
        conv = self._conv(x, train)
        logits, inter = self.head(self._pool(conv, train), attention, train)
        return logits, {"conv": conv, **inter}


def build_model(cfg: ModelConfig, num_outputs: int) -> Satori:
    """Model of the family chosen by ``cfg.arch`` with ``num_outputs`` logits."""
    return Satori(cfg, int(num_outputs))


def init_variables(model: Satori, rng: jax.Array, length: int, pwms: list[np.ndarray] | None = None) -> dict:
    """Initialise variables for sequences of ``length`` bp.

    Parameters
    ----------
    pwms
        Optional list of ``(K_m, 4)`` probability matrices; they initialise the first filters as
        log-odds (see :func:`pwm_kernel`).
    """
    x = jnp.zeros((1, length, 4), jnp.float32)
    variables = model.init({"params": rng, "dropout": rng}, x, train=False)
    variables = jax.tree_util.tree_map(lambda a: a, variables)  # plain (mutable) dict copy
    variables = {k: dict(v) for k, v in variables.items()}
    if pwms:
        params = dict(variables["params"])
        conv = dict(params["conv"])
        conv["kernel"] = jnp.asarray(pwm_kernel(pwms, np.asarray(conv["kernel"])))
        conv["bias"] = conv["bias"].at[: len(pwms)].set(0.0)
        params["conv"] = conv
        variables["params"] = params
    return variables


def pwm_kernel(pwms: list[np.ndarray], kernel: np.ndarray, pseudocount: float = 0.01) -> np.ndarray:
    """Write PWMs as log-odds (base 2, uniform background) into the first filters of a conv kernel.

    Parameters
    ----------
    pwms
        ``M`` probability matrices ``(K_m, 4)``; motifs wider than ``K`` keep their central ``K``
        columns, narrower ones are centred with zero columns around them.
    kernel
        ``(K, 4, F)`` kernel to copy; ``M`` must not exceed ``F``.

    Returns
    -------
    ``(K, 4, F)`` kernel with filters ``0 … M−1`` replaced.
    """
    k, _, f = kernel.shape
    if len(pwms) > f:
        raise ValueError(f"{len(pwms)} PWMs but only {f} filters")
    out = np.array(kernel, dtype=np.float32, copy=True)
    for i, pwm in enumerate(pwms):
        p = np.asarray(pwm, np.float64) + pseudocount
        p = p / p.sum(axis=1, keepdims=True)
        lo = np.log2(p / 0.25)
        w = lo.shape[0]
        if w > k:
            start = (w - k) // 2
            lo = lo[start : start + k]
            w = k
        col = np.zeros((k, 4), np.float32)
        off = (k - w) // 2
        col[off : off + w] = lo
        out[:, :, i] = col
    return out


def conv_offset(cfg: ModelConfig) -> int:
    """Input index of the first base seen by conv position 0 (``−(K−1)//2`` for SAME, 0 for VALID)."""
    return -((cfg.filter_width - 1) // 2) if cfg.padding == "SAME" else 0


def conv_length(cfg: ModelConfig, length: int) -> int:
    """``L_conv`` for input length ``L``."""
    return length if cfg.padding == "SAME" else length - cfg.filter_width + 1


def pooled_length(cfg: ModelConfig, length: int) -> int:
    """``L'`` (attention length) for input length ``L``."""
    return conv_length(cfg, length) // cfg.pool_size


def count_params(params: dict) -> int:
    """Number of scalars in a parameter tree."""
    return int(sum(np.prod(a.shape) for a in jax.tree_util.tree_leaves(params)))
