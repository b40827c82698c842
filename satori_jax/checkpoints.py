"""Orbax checkpoints of a run directory (``RUN/checkpoints/{best,latest}``).

A checkpoint holds ``params``, ``batch_stats``, ``opt_state`` and ``step`` of a train state plus a
JSON ``meta`` dict. :func:`save_checkpoint` / :func:`restore_checkpoint` are for the trainer (which
has a template train state); :func:`restore_variables` restores the model variables alone, without
a template, so loading a trained model needs neither the trainer nor the optimizer.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from satori_jax.errors import InputError, input_error


def _quiet_closed_loop(hook: Callable[[Any], None]) -> Callable[[Any], None]:
    """``sys.unraisablehook`` that drops the leftovers of a failed restore (asyncio's "Event loop is
    closed" and the errors of orbax's read coroutines collected unfinished), passing the rest to ``hook``."""

    def quiet(unraisable: Any) -> None:
        exc, obj = unraisable.exc_value, unraisable.object
        closed = isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed"
        orbax_read = "orbax" in str(getattr(getattr(obj, "cr_code", None), "co_filename", ""))
        if not (closed or orbax_read):
            hook(unraisable)

    quiet._satori_quiet = True  # type: ignore[attr-defined]
    return quiet


class _TensorstoreLeftovers(logging.Filter):
    """Drops asyncio's "Future exception was never retrieved" records of a failed restore's reads."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "tensorstore" not in record.getMessage().lower()


_LEFTOVERS = _TensorstoreLeftovers()


@contextlib.contextmanager
def _readable(path: Path) -> Iterator[None]:
    """A damaged checkpoint under ``path`` becomes one :class:`~satori_jax.errors.InputError` (and
    orbax's own log lines about it stay quiet).

    Orbax raises many kinds of exception on a damaged checkpoint: ``ValueError`` (unparsable metadata,
    an array file shorter than a listed byte range), ``OSError``, ``KeyError``, ``TypeError``, and a bare
    ``Exception`` ("Encountered error while reading array index") when a read of an array file
    truncated in its middle fails. Every one of them means the same to the user. The reads that were
    still in flight when the restore failed complete later, on tensorstore's threads, into the closed
    asyncio loop of the failed restore: their "Event loop is closed" would print tracebacks after the
    one-line error (some even before the failure reaches this function), and asyncio logs the failed
    reads nobody awaited: those (and only those) are silenced while the checkpoint is read and, after a
    failure, from then on.
    """
    log = logging.getLogger("absl")
    level = log.level
    log.setLevel(logging.CRITICAL)
    hook = sys.unraisablehook
    if not getattr(hook, "_satori_quiet", False):
        sys.unraisablehook = _quiet_closed_loop(hook)
    try:
        yield
        sys.unraisablehook = hook  # read in full: no read is left in flight
    except (InputError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - see the docstring: orbax's failures have no common type
        logging.getLogger("asyncio").addFilter(_LEFTOVERS)  # idempotent
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise input_error(path, f"unreadable checkpoint ({type(exc).__name__}: {first}); the run directory "
                          "is damaged: train it again (or restore the checkpoints from a copy)") from None
    finally:
        log.setLevel(level)


def check_readable(path: str | Path) -> None:
    """Read every array of the latest checkpoint under ``path`` (nothing when there is none).

    Raises
    ------
    InputError
        The checkpoint is damaged (truncated or missing array files, unparsable metadata), so that
        ``train --resume`` refuses before it touches the run directory.
    """
    restore_variables(path)


def checkpoint_manager(path: str | Path, keep: int = 1, create: bool = True):
    """An orbax ``CheckpointManager`` on ``path`` keeping ``keep`` steps, synchronous saves."""
    import orbax.checkpoint as ocp

    return ocp.CheckpointManager(
        Path(path).absolute(),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=create, enable_async_checkpointing=False
        ),
    )


def _state_tree(state: Any) -> dict:
    return {
        "params": state.params,
        "batch_stats": state.batch_stats,
        "opt_state": state.opt_state,
        "step": state.step,
    }


def save_checkpoint(path: str | Path, epoch: int, state: Any, meta: dict) -> None:
    """Save ``state``'s ``params``, ``batch_stats``, ``opt_state``, ``step`` and JSON ``meta`` at ``epoch``.

    Parameters
    ----------
    state
        A train state (``satori_jax.train.TrainState`` or anything with those four attributes).
    """
    import orbax.checkpoint as ocp

    mngr = checkpoint_manager(path)
    args = ocp.args.Composite(state=ocp.args.StandardSave(_state_tree(state)), meta=ocp.args.JsonSave(meta))
    mngr.save(epoch, args=args)
    mngr.wait_until_finished()
    mngr.close()


def restore_checkpoint(path: str | Path, state: Any) -> tuple[Any, dict] | None:
    """Restore the latest checkpoint under ``path`` into ``state``'s structure; ``None`` if none.

    Returns
    -------
    ``(state, meta)``: ``state.replace(params=..., batch_stats=..., opt_state=..., step=...)``.
    """
    import jax
    import orbax.checkpoint as ocp

    path = Path(path)
    if not path.exists():
        return None
    with _readable(path):
        mngr = checkpoint_manager(path)
        step = mngr.latest_step()
        if step is None:
            mngr.close()
            return None
        abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, _state_tree(state))
        args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore())
        restored = mngr.restore(step, args=args)
        mngr.close()
    tree = restored["state"]
    state = state.replace(
        params=tree["params"], batch_stats=tree["batch_stats"], opt_state=tree["opt_state"], step=tree["step"]
    )
    return state, dict(restored["meta"])


def restore_variables(path: str | Path) -> tuple[dict, dict] | None:
    """Model variables of the latest checkpoint under ``path``, without a template; ``None`` if none.

    Returns
    -------
    ``(variables, meta)``: ``variables = {"params": ..., "batch_stats": ...}`` (``batch_stats`` only
    when the model has batch norm), as ``model.apply`` takes them.
    """
    import jax
    import orbax.checkpoint as ocp

    path = Path(path)
    if not path.is_dir():
        return None
    with _readable(path):
        mngr = ocp.CheckpointManager(
            path.absolute(),
            options=ocp.CheckpointManagerOptions(create=False, enable_async_checkpointing=False),
            item_handlers={"state": ocp.StandardCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()},
        )
        step = mngr.latest_step()
        if step is None:
            mngr.close()
            return None
        # The template comes from the checkpoint's own metadata (shapes, dtypes), placed on this process's
        # first device, so a checkpoint written on another topology (several GPUs) restores too. Orbax
        # cannot restore a subtree of a composite item: the optimizer state is read and dropped.
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        meta_tree = mngr.item_metadata(step)["state"]
        abstract = jax.tree_util.tree_map(
            lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), meta_tree
        )
        args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore())
        restored = mngr.restore(step, args=args)
        mngr.close()
    tree = restored["state"]
    variables = {"params": tree["params"]}
    if tree.get("batch_stats"):
        variables["batch_stats"] = tree["batch_stats"]
    return variables, dict(restored["meta"])
