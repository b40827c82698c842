"""The SATORI model family (flax.linen)."""

from satori_jax.models.losses import attention_entropy, bce_loss
from satori_jax.models.satori import (
    Satori,
    build_model,
    conv_length,
    conv_offset,
    count_params,
    init_variables,
    pooled_length,
    pwm_kernel,
)

__all__ = [
    "Satori",
    "attention_entropy",
    "bce_loss",
    "build_model",
    "conv_length",
    "conv_offset",
    "count_params",
    "init_variables",
    "pooled_length",
    "pwm_kernel",
]
