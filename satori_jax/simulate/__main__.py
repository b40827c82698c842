"""``python -m satori_jax.simulate``: see :mod:`satori_jax.cli.simulate`."""

from satori_jax.cli.simulate import entry

if __name__ == "__main__":
    entry()
