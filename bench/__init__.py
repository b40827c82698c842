"""Benchmarks of satori_jax: interaction-method runtimes (raw, attr, fis, dfim), scaling with data
size and sequence length, training throughput, PyTorch/captum peers and device figures.

Run ``python -m bench --help`` (or ``python bench/run.py``); results go to ``bench/results/``.
Only :mod:`bench.peers_torch` imports torch/captum (the ``bench`` extra).
"""
