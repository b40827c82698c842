"""Output paths that never cost a user a file.

Every command that writes a directory (``train --workdir``, ``simulate --out``) checks it with
:func:`check_output_dir` and writes it with :func:`write_dir`; commands that write in place
(``interpret --out DIR``, ``attribute --out FILE``) check their path with :func:`check_writable`.
Before anything is written:

- the path must be creatable: its nearest existing ancestor is a writable directory (missing
  parents are created), and an existing output is a directory (or a file) as the command needs;
- an existing non-empty output directory is replaced only with ``--overwrite`` / ``--force``, and
  only when satori_jax wrote it: it holds our marker file :data:`MARKER` (``{"kind": "run"}`` or
  ``{"kind": "dataset"}``) of the same kind, or (directories written before the marker existed)
  its defining files; and every entry in it is one this command writes. Never ``/``, the home
  directory, the current directory or one of their parents, never an input of the same command
  (equal to the output, inside it, or holding it), never a symbolic link;
- a replacement is written beside the old directory in a temporary sibling and swapped in, so a
  failure leaves the old directory as it was.

Everything that is refused raises :class:`satori_jax.errors.InputError` naming the path and why,
before anything is touched.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from satori_jax.errors import input_error

MARKER = ".satori_jax"
"""Name of the marker file satori_jax writes into every output directory it owns."""

TEMP_PREFIX = ".satori_jax-tmp-"
"""Prefix of the temporary siblings a replacement is written into (and of the old directory while
it is swapped out)."""


@dataclass(frozen=True)
class DirKind:
    """What one command writes into its output directory.

    Attributes
    ----------
    kind
        Marker kind, e.g. ``"run"`` or ``"dataset"``.
    entries
        Names of the files and directories the command writes (the marker excluded).
    defining
        Files that identify a directory written before the marker existed (all must be present).
    flag
        The command-line flag that allows a replacement (for messages), e.g. ``"--overwrite"``.
    """

    kind: str
    entries: frozenset[str]
    defining: tuple[str, ...]
    flag: str


def write_marker(directory: str | Path, kind: str) -> None:
    """Write ``directory/.satori_jax`` (``{"kind": kind, "written_by": "satori_jax"}``)."""
    Path(directory, MARKER).write_text(json.dumps({"kind": kind, "written_by": "satori_jax"}) + "\n")


def read_marker(directory: str | Path) -> str | None:
    """The kind recorded in ``directory/.satori_jax``; ``None`` when missing or unreadable."""
    try:
        obj = json.loads(Path(directory, MARKER).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    kind = obj.get("kind") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) else None


def _errno_text(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied (not writable)"
    return exc.strerror or str(exc)


def check_writable(path: str | Path, *, directory: bool) -> Path:
    """Check, without writing, that ``path`` can be created or written.

    Parameters
    ----------
    path
        The output (a directory when ``directory``, else a file). Missing parents are fine (they
        will be created) as long as the nearest existing ancestor is a writable directory.
    directory
        Whether the output is a directory.

    Raises
    ------
    InputError
        An ancestor is a file, the nearest existing ancestor (or the output itself) is not writable,
        or the output exists as the wrong type.
    """
    p = Path(path)
    try:
        return _check_writable(p, directory)
    except OSError as exc:  # e.g. a parent that cannot be searched
        raise input_error(p, f"cannot be checked: {_errno_text(exc)}") from None


def _check_writable(p: Path, directory: bool) -> Path:
    if p.exists() or p.is_symlink():
        if directory and not p.is_dir():
            raise input_error(p, "exists and is not a directory")
        if not directory and p.is_dir():
            raise input_error(p, "is a directory (expected a file name)")
        target = p if directory else p.parent
        if not os.access(target, os.W_OK | os.X_OK):
            raise input_error(p, "cannot be written: permission denied")
        return p
    anc = p.absolute().parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise input_error(p, f"cannot be created: {anc} is a file, not a directory")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise input_error(p, f"cannot be created: {anc} is not writable")
    return p


def _protected(path: Path) -> str | None:
    """Why ``path`` (resolved) must never be deleted, or ``None``."""
    here = Path.cwd().resolve()
    if path == Path(path.anchor):
        return "it is the file system root"
    home = Path.home().resolve()
    if path == home or path in home.parents:
        return "it is the home directory or holds it"
    if path == here or path in here.parents:
        return "it is the current directory or holds it"
    return None


def _foreign_entries(out: Path, spec: DirKind) -> list[str]:
    allowed = spec.entries | {MARKER}
    return sorted(e.name for e in out.iterdir() if e.name not in allowed)


def check_output_dir(
    out: str | Path,
    spec: DirKind,
    *,
    replace: bool,
    inputs: Iterable[str | Path | None] = (),
) -> bool:
    """Decide, without writing, whether the output directory ``out`` may be written.

    Parameters
    ----------
    out
        Output directory (new, empty, or one satori_jax wrote).
    spec
        What the command writes (:class:`DirKind`).
    replace
        ``--overwrite`` / ``--force`` was given.
    inputs
        The command's input files and directories (``None`` entries are skipped).

    Returns
    -------
    bool
        Whether ``out`` holds something that a write will replace.

    Raises
    ------
    InputError
        When ``out`` cannot be written or must not be replaced (see the module docstring).
    """
    out = Path(out)
    check_writable(out, directory=True)
    try:
        if not out.exists() or not any(out.iterdir()):
            return False
    except OSError as exc:
        raise input_error(out, f"cannot be read: {_errno_text(exc)}") from None
    if not replace:
        raise input_error(out, f"exists and is not empty (use {spec.flag} to replace it)")
    try:
        why = refusal(out, spec, inputs)
    except OSError as exc:
        raise input_error(out, f"cannot be read: {_errno_text(exc)}") from None
    if why:
        raise input_error(out, f"{spec.flag} refused: {why}; nothing was changed")
    return True


def refusal(out: Path, spec: DirKind, inputs: Iterable[str | Path | None] = ()) -> str | None:
    """Why the existing directory ``out`` may not be deleted and replaced; ``None`` when it may."""
    if out.is_symlink():
        return "it is a symbolic link"
    real = out.resolve()
    why = _protected(real)
    if why:
        return why
    for inp in inputs:
        if inp is None:
            continue
        src = Path(inp).resolve()
        if src == real or real in src.parents:
            return f"it holds the input {inp}"
        if src in real.parents:
            return f"it is inside the input {inp}"
    kind = read_marker(out)
    if kind is None and (out / MARKER).exists():
        return f"its {MARKER} marker is unreadable"
    if kind is not None and kind != spec.kind:
        return f"it is a satori_jax {kind} directory, not a {spec.kind} directory"
    if kind is None and not all((out / f).is_file() for f in spec.defining):
        return (f"it is not a satori_jax {spec.kind} directory (no {MARKER} marker and no "
                f"{', '.join(spec.defining)})")
    foreign = _foreign_entries(out, spec)
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        return f"it holds {foreign[0]!r}{more}, which satori_jax did not write there"
    return None


def make_temp_dir(parent: Path, stem: str) -> Path:
    """A new empty directory ``parent/.satori_jax-tmp-<stem>-<random>``, with the umask's permissions
    (``tempfile.mkdtemp`` would make it 0700 and the swapped-in output with it)."""
    for _ in range(100):
        p = parent / f"{TEMP_PREFIX}{stem}-{secrets.token_hex(4)}"
        try:
            p.mkdir()
        except FileExistsError:
            continue
        return p
    raise FileExistsError(f"{parent}: no free temporary directory name")  # pragma: no cover


def write_dir(out: str | Path, spec: DirKind, fill: Callable[[Path], None]) -> Path:
    """Write the directory ``out`` atomically: ``fill(tmp)`` into a temporary sibling, write the
    marker, then swap it in (an existing ``out``, already cleared by :func:`check_output_dir`, is
    moved aside first and deleted last). Into an existing empty directory the files are moved
    one by one (the directory itself, perhaps the current one, stays).

    Raises
    ------
    InputError
        The file system refused (permission, no space, ...); the old ``out`` is left in place.
    """
    shown = out
    out = Path(os.path.abspath(out))  # "." and "x/.." have a real parent to write beside
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = make_temp_dir(out.parent, out.name)
    except OSError as exc:
        raise input_error(shown, f"cannot be created: {_errno_text(exc)}") from None
    aside = None
    try:
        fill(tmp)
        write_marker(tmp, spec.kind)
        if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
            # an existing empty directory (perhaps the current one) stays: the files move into it
            for entry in sorted(tmp.iterdir(), key=lambda e: e.name != MARKER):
                os.rename(entry, out / entry.name)
        else:
            if out.exists():
                aside = out.parent / f"{TEMP_PREFIX}{out.name}-old-{secrets.token_hex(4)}"
                os.rename(out, aside)
            os.replace(tmp, out)
    except OSError as exc:
        if aside is not None and not out.exists():
            os.rename(aside, out)
            aside = None
        raise input_error(shown, f"cannot be written: {_errno_text(exc)}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if aside is not None:
            aside.unlink() if aside.is_symlink() else shutil.rmtree(aside, ignore_errors=True)
    return Path(shown)
