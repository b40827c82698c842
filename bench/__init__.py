"""Benchmarks of satori_jax: interaction-method runtimes (raw, attr, fis, dfim), scaling with data
size and sequence length, training throughput, PyTorch/captum peers and device figures.

Run ``python -m bench --help`` (or ``python bench/run.py``); results go to ``bench/results/``.
Only :mod:`bench.peers_torch` imports torch/captum (the ``bench`` extra).

The pipeline, in reading order: :mod:`bench.cli` (flags, ``main``) -> :mod:`bench.profiles` (sizes
per mode) -> :mod:`bench.fixtures` (models, simulated data, selection, scorer context) ->
:mod:`bench.sections` (one module per section) -> :mod:`bench.paper` (published figures) ->
:mod:`bench.report` (JSON, markdown, chart, README). :mod:`bench.measure` holds the timers.
"""
