"""``python -m satori_jax.interpret RUN``: see :mod:`satori_jax.cli.interpret`."""

from satori_jax.cli.interpret import entry

if __name__ == "__main__":
    entry()
