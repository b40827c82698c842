"""User-facing errors.

Every problem caused by the user's input (files, labels, config) is raised as
:class:`InputError`. The command-line front ends catch it, print one line
``error: <message>`` on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """An error in user input: message names the file, the record and the problem."""


def input_error(path: str | Path | None, problem: str, record: str | int | None = None) -> InputError:
    """Build an :class:`InputError` with a uniform ``file: record: problem`` message.

    Parameters
    ----------
    path
        The offending file (or ``None`` when the problem is not tied to a file).
    problem
        What is wrong, in plain words.
    record
        A record id, line number or key inside the file, if known.
    """
    parts = []
    if path is not None:
        parts.append(str(path))
    if record is not None:
        parts.append(f"record {record!s}" if not isinstance(record, int) else f"line {record}")
    parts.append(problem)
    return InputError(": ".join(parts))
