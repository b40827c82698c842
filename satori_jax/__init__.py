"""satori_jax: SATORI self-attention interpretation of regulatory-DNA models in JAX/Flax."""

__version__ = "0.1.0"
