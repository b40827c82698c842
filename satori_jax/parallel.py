"""Data parallelism over every visible device with :mod:`jax.sharding`.

One mesh axis, ``data``: batches are sharded along their first axis, parameters and optimizer
state are replicated. jit then partitions each step (GSPMD), so the numbers are those of one
device up to float reduction order (batch-norm statistics and losses are global means).

Several hosts: start every process with the standard variables ``JAX_COORDINATOR_ADDRESS``
(``host:port`` of process 0), ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``; :func:`initialize`
then calls :func:`jax.distributed.initialize`. Every process walks the same (seeded) batch order
and gathers only its own rows of each global batch (:func:`satori_jax.data.pipeline.batch_iterator`
with grain's ``ShardByJaxProcess`` shard options); :func:`shard_batch` with ``local=True``
assembles the global batch from those per-process rows. Interpretation runs the same way
(:func:`process_zero_writes`): every process walks the same examples, each device call takes each
process's slice, results are gathered on every host and process 0 writes them.

A streamed interpretation splits differently: whole chunks of the input go to processes in turn
(:mod:`satori_jax.interpret.streaming`), each process reads and scores only its chunks on its own devices
(:func:`local_mesh`), the chunk files meet in one shared output directory, and the processes
wait for each other between passes with :func:`first_error`, which also carries an error raised
in one process to all of them (none is left waiting on a collective that will never come).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

_INITIALIZED = False


def initialize() -> None:
    """Join a multi-host job when ``JAX_COORDINATOR_ADDRESS`` is set (idempotent); no-op otherwise."""
    global _INITIALIZED
    if _INITIALIZED or not os.environ.get("JAX_COORDINATOR_ADDRESS"):
        return
    jax.distributed.initialize(
        coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
        num_processes=int(os.environ.get("JAX_NUM_PROCESSES", "1")),
        process_id=int(os.environ.get("JAX_PROCESS_ID", "0")),
    )
    _INITIALIZED = True


def refuse_several_processes(command: str, reason: str = "it uses every device of this host") -> None:
    """Raise :class:`~satori_jax.errors.InputError` when running as one of several JAX processes.

    For commands that use every device of one process but do not split their work over processes:
    without this, every process of a multi-host launch would run the whole job and write the same
    outputs. The one guard for the command-line tools (called before joining, so a process never
    waits on the others only to stop) and for library callers (who may already have joined).

    Parameters
    ----------
    command
        What refuses, for the message (``"attribute"``).
    reason
        Why it must run in one process.
    """
    n = _launched_processes()
    if n <= 1:
        n = jax.process_count()  # a library caller that already joined a job
    if n > 1:
        from satori_jax.errors import InputError

        raise InputError(
            f"{command} runs in a single process ({reason}) and was started as one of {n} processes; "
            "unset JAX_COORDINATOR_ADDRESS/JAX_NUM_PROCESSES and run it on one host"
        )


def _launched_processes() -> int:
    """Process count that the standard environment variables ask for (1 without a coordinator)."""
    if not os.environ.get("JAX_COORDINATOR_ADDRESS"):
        return 1
    try:
        return int(os.environ.get("JAX_NUM_PROCESSES", "1") or "1")
    except ValueError:
        return 1


def process_zero_writes(out_arg: str = "out_dir", verbose_arg: str = "verbose") -> Callable:
    """Decorator: with several processes, only process 0 writes to ``out_arg`` and reports progress.

    For SPMD jobs where every process runs the same code on the same inputs (each device call is
    global; :func:`shard_batch` gives each process its slice, :func:`to_host` gathers): the other
    processes get a private scratch directory, removed when the call returns, and ``verbose=False``.
    With one process the function runs unchanged.
    """
    import functools
    import inspect
    import tempfile

    def deco(fn: Callable) -> Callable:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if is_writer():
                return fn(*args, **kwargs)
            bound = sig.bind(*args, **kwargs)
            with tempfile.TemporaryDirectory(prefix=f"satori_p{jax.process_index()}_") as scratch:
                bound.arguments[out_arg] = scratch
                bound.arguments[verbose_arg] = False
                return fn(*bound.args, **bound.kwargs)

        return wrapper

    return deco


def is_writer() -> bool:
    """True in the process that writes results (process 0, or the only one)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process reaches this point (no-op with one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def data_mesh() -> Mesh:
    """A 1-D mesh named ``data`` over all devices of all processes."""
    return Mesh(np.asarray(jax.devices()), ("data",))


def local_mesh() -> Mesh:
    """A 1-D mesh named ``data`` over this process's devices only (work no other process joins)."""
    return Mesh(np.asarray(jax.local_devices()), ("data",))


def _spans_processes(mesh: Mesh) -> bool:
    """True when ``mesh`` has devices of another process (then arrays need every process's part)."""
    me = jax.process_index()
    return jax.process_count() > 1 and any(d.process_index != me for d in mesh.devices.flat)


_ERROR_BYTES = 2048


def first_error(exc: BaseException | None, name: str = "satori") -> None:
    """Meet the other processes; if any of them (or this one) failed, raise here too.

    Every process calls this at the same point with the exception it caught (or ``None``). It is a
    collective, so it is also a barrier. One process: raises ``exc`` if given. Several: the
    exception is re-raised in the process that had it; the others raise
    :class:`~satori_jax.errors.InputError` (for an input error) or :class:`RuntimeError` with the
    lowest failing process's message, so no process is left waiting for one that stopped.

    Parameters
    ----------
    exc
        The exception this process caught since the last meeting, or ``None``.
    name
        Where the processes meet, for the other processes' message (``"pass 1"``).
    """
    if jax.process_count() == 1:
        if exc is not None:
            raise exc
        return
    from jax.experimental import multihost_utils

    from satori_jax.errors import InputError

    msg = b""  # first byte: I for an input error (message as is), E for any other (type: message)
    if isinstance(exc, InputError):
        msg = b"I" + str(exc).encode("utf-8", "replace")[: _ERROR_BYTES - 1]
    elif exc is not None:
        msg = b"E" + f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")[: _ERROR_BYTES - 1]
    buf = np.zeros(_ERROR_BYTES, np.uint8)
    buf[: len(msg)] = np.frombuffer(msg, np.uint8)
    every = np.asarray(multihost_utils.process_allgather(buf)).reshape(jax.process_count(), _ERROR_BYTES)
    if exc is not None:
        raise exc
    for pid, row in enumerate(every):
        text = bytes(row).rstrip(b"\0")
        if text:
            body = text[1:].decode("utf-8", "replace")
            if text[:1] == b"I":
                raise InputError(f"process {pid} stopped at {name}: {body}")
            raise RuntimeError(f"process {pid} stopped at {name}: {body}")


def round_batch(batch_size: int, mesh: Mesh | None = None) -> int:
    """Smallest multiple of the device count that is ≥ ``batch_size``."""
    n = (mesh or data_mesh()).size
    return -(-batch_size // n) * n


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place a pytree fully replicated on every device of ``mesh``.

    With several processes every process passes the same values (e.g. parameters loaded from the
    same checkpoint); each places them on its own devices (no cross-host transfer).
    """
    sharding = NamedSharding(mesh, PartitionSpec())
    if not _spans_processes(mesh):
        return jax.device_put(tree, sharding)
    return jax.tree_util.tree_map(
        lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a)), tree)


def shard_batch(batch: Any, mesh: Mesh, *, local: bool = False) -> Any:
    """Turn a host batch (pytree of arrays with leading axis) into arrays sharded along ``data``.

    ``local=False``: every process passes the same global batch ``(B, ...)`` and contributes its
    contiguous slice of ``B / num_processes`` rows. ``local=True``: each process passes only its
    own ``(B / num_processes, ...)`` rows (e.g. from a sharded
    :func:`~satori_jax.data.pipeline.batch_iterator`); the global batch is their concatenation in
    process order. With one process, or a mesh of this process's devices only (:func:`local_mesh`),
    both are a plain sharded ``device_put``.
    """
    sharding = NamedSharding(mesh, PartitionSpec("data"))
    nproc, pid = jax.process_count(), jax.process_index()
    spans = _spans_processes(mesh)

    def put(a):
        a = np.asarray(a)
        if not spans:
            return jax.device_put(a, sharding)
        if local:
            return jax.make_array_from_process_local_data(sharding, a, (a.shape[0] * nproc, *a.shape[1:]))
        rows = a.shape[0] // nproc
        return jax.make_array_from_process_local_data(sharding, a[pid * rows : (pid + 1) * rows], a.shape)

    return jax.tree_util.tree_map(put, batch)


def to_host(a: Any) -> np.ndarray:
    """A (possibly sharded, possibly multi-process) array as a full numpy array on this host."""
    if isinstance(a, jax.Array) and not a.is_fully_addressable and not a.is_fully_replicated:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return np.asarray(a)


def describe(mesh: Mesh) -> str:
    """One line naming the devices and processes in use."""
    kinds = sorted({d.platform for d in mesh.devices.flat})
    return f"{mesh.size} device(s) ({', '.join(kinds)}) in {jax.process_count()} process(es)"
