"""``python -m satori_jax.simulate`` (the command line is :mod:`satori_jax.cli.simulate`; the
simulators are :mod:`satori_jax.data.simulate`)."""
