"""Attribution settings: the quantities, their datasets, validated :class:`Settings` and targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from satori_jax.errors import InputError

QUANTITIES = ("predictions", "ig", "grad_x_input", "hypothetical", "attention", "attention_ig")
DEFAULT_WHAT = ("predictions", "ig", "attention")
BASELINES = ("gc", "zeros", "shuffle")
DATASETS = {  # quantity -> datasets it writes
    "predictions": ("predictions", "logits"),
    "ig": ("ig", "ig_delta"),
    "grad_x_input": ("grad_x_input",),
    "hypothetical": ("hypothetical",),
    "attention": ("attention",),
    "attention_ig": ("attention_ig",),
}
DESCRIPTIONS = {
    "ids": "sequence ids (UTF-8)",
    "codes": "input sequences, uint8 codes A=0 C=1 G=2 T=3 other=4",
    "predictions": "sigmoid probabilities (N, C)",
    "logits": "logits (N, C)",
    "ig": "integrated gradients (N, L, 4), midpoint rule",
    "ig_delta": "F(x) - F(baseline) (N,); ig.sum((1, 2)) approximates it",
    "grad_x_input": "mean-centred gradient x input (N, L, 4) == hypothetical * one-hot",
    "hypothetical": "hypothetical contributions grad - mean_c grad (N, L, 4)",
    "attention": "attention weights",
    "attention_ig": "attention attribution (right Riemann rule, zero baseline)",
}



@dataclass(frozen=True)
class Settings:
    """Validated export settings (see :func:`satori_jax.attribute.export` for the meaning)."""

    what: tuple[str, ...] = DEFAULT_WHAT
    steps: int = 20
    baseline: str = "gc"
    heads: str = "max"
    dtype: str = "float32"
    batch_size: int = 64
    seed: int = 0

    @classmethod
    def make(
        cls,
        what: Any = DEFAULT_WHAT,
        steps: int = 20,
        baseline: str = "gc",
        heads: str = "max",
        dtype: str = "float32",
        batch_size: int = 64,
        seed: int = 0,
    ) -> Settings:
        """Validate user values (``what`` as a comma string or a sequence); raise :class:`InputError`."""
        if isinstance(what, str):
            what = [w.strip() for w in what.split(",") if w.strip()]
        what = list(dict.fromkeys(what))  # unique, in given order
        bad = [w for w in what if w not in QUANTITIES]
        if bad or not what:
            raise InputError(
                f"--what: unknown quantity {', '.join(map(repr, bad)) or '(none given)'}; choose "
                f"from {','.join(QUANTITIES)}"
            )
        what = tuple(q for q in QUANTITIES if q in what)  # canonical order
        if int(steps) < 1:
            raise InputError(f"--steps must be >= 1, got {steps}")
        if baseline not in BASELINES:
            raise InputError(f"--baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
        if heads not in ("max", "all"):
            raise InputError(f"--heads must be 'max' or 'all', got {heads!r}")
        if dtype not in ("float16", "float32"):
            raise InputError(f"--dtype must be float16 or float32, got {dtype!r}")
        if int(batch_size) < 1:
            raise InputError(f"--batch-size must be >= 1, got {batch_size}")
        return cls(what, int(steps), baseline, heads, dtype, int(batch_size), int(seed))


def resolve_targets(targets: Any, label_names: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Target label names and ``(C,)`` float32 weights.

    Parameters
    ----------
    targets
        ``None`` or ``"all"`` (every label), a comma-separated string or a list of label names.
    label_names
        The model's ``C`` label names.

    Raises
    ------
    InputError
        On an unknown label name (the message lists the model's labels).
    """
    names = list(label_names)
    if targets is None or (isinstance(targets, str) and targets.strip().lower() == "all"):
        chosen = names
    else:
        chosen = (
            [t.strip() for t in targets.split(",")] if isinstance(targets, str) else [str(t) for t in targets]
        )
        chosen = [t for t in dict.fromkeys(chosen) if t]
        unknown = [t for t in chosen if t not in names]
        if unknown or not chosen:
            raise InputError(
                f"--targets: unknown label(s) {', '.join(map(repr, unknown)) or '(none)'}; the model's "
                f"labels are {', '.join(names)} (or 'all')"
            )
    weights = np.asarray([1.0 if n in chosen else 0.0 for n in names], np.float32)
    return [n for n in names if n in chosen], weights
