"""``python bench/run.py``: the same as ``python -m bench`` (see :mod:`bench.cli`), for checkouts
where the repository root is not on ``sys.path``."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` and `satori_jax` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cli import main  # noqa: E402

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
