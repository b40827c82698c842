"""Shared helpers for the command-line front ends."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from satori_jax.errors import InputError


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)``; user errors become one line on stderr and exit status 2."""
    try:
        code = main(argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)
