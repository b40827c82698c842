"""``python -m satori_jax.attribute``: the command-line exporter (:mod:`satori_jax.cli.attribute`)."""

from satori_jax.cli.attribute import entry

entry()
