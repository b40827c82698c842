"""satori_jax: SATORI self-attention interpretation of regulatory-DNA models in JAX/Flax."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # ``satori_jax.attribute(...)`` (notebook API) without importing JAX at package import time.
    if name == "attribute":
        import importlib

        return importlib.import_module("satori_jax.attribute")
    raise AttributeError(f"module 'satori_jax' has no attribute {name!r}")
