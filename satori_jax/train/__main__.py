"""``python -m satori_jax.train``: see :mod:`satori_jax.cli.train`."""

from satori_jax.cli.train import entry

if __name__ == "__main__":
    entry()
