"""Measurement helpers shared by the bench sections: wall-clock medians, peak resident memory,
XLA FLOP estimates and a description of the device.

Timing rule (DESIGN.md "Performance rules"): the caller runs the function once on a batch of the
same shape first (compilation and warm-up are excluded), then :func:`timed` takes the median of up
to ``repeats`` runs, stopping early once ``budget_s`` seconds have been spent.

Memory: XLA allocates outside the Python heap, so ``tracemalloc`` sees nothing; :class:`RssPeak`
polls the process resident set size (``psutil``, or ``/proc/self/statm`` without it) from a
background thread every few milliseconds and reports the peak.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "CaptureCall",
    "RssPeak",
    "available_mb",
    "device_info",
    "fit_exponent",
    "interleaved",
    "lowered_flops",
    "matmul_peak",
    "rss_bytes",
    "timed",
]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size of this process in bytes (0 when it cannot be read)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        pass
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def available_mb() -> float | None:
    """Memory the system can still give this process (MB): psutil, else ``MemAvailable``."""
    try:
        import psutil

        return psutil.virtual_memory().available / 1e6
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return None


class RssPeak:
    """Context manager: peak RSS while the block runs, by polling from a thread.

    Attributes (after the block)
    ----------------------------
    start_mb, peak_mb
        RSS when the block started and the highest RSS seen, in MB (1e6 bytes).
    delta_mb
        ``peak_mb − start_mb``: memory the block needed beyond what the process already held
        (allocator caches can hide re-used memory, so this is a lower bound).
    """

    def __init__(self, interval_s: float = 0.004):
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._peak = 0
        self.start_mb = self.peak_mb = self.delta_mb = 0.0

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, rss_bytes())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssPeak:
        start = rss_bytes()
        self._peak = start
        self.start_mb = start / 1e6
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, rss_bytes())
        self.peak_mb = self._peak / 1e6
        self.delta_mb = max(0.0, self.peak_mb - self.start_mb)


def timed(fn: Callable[[], Any], repeats: int = 3, budget_s: float = 60.0, memory: bool = True) -> dict:
    """Median wall-clock time of ``fn()`` (already warmed up by the caller).

    ``fn`` must block until its results exist (return host arrays, or call
    ``jax.block_until_ready``). Runs at least once and at most ``repeats`` times, and does not
    start another run when the total would then exceed ``budget_s`` seconds.

    Returns
    -------
    dict
        ``seconds`` (median), ``times`` (every run), ``repeats`` (runs done), ``peak_rss_mb`` and
        ``rss_delta_mb`` (maxima over the runs), and ``result`` (the last return value; the caller
        removes it before writing JSON).
    """
    times: list[float] = []
    peak = delta = 0.0
    out = None
    for _ in range(max(1, int(repeats))):
        if memory:
            with RssPeak() as mem:
                t0 = time.perf_counter()
                out = fn()
                dt = time.perf_counter() - t0
            peak, delta = max(peak, mem.peak_mb), max(delta, mem.delta_mb)
        else:
            t0 = time.perf_counter()
            out = fn()
            dt = time.perf_counter() - t0
        times.append(dt)
        if sum(times) + times[-1] > budget_s:  # the next run would exceed the budget
            break
    return {
        "seconds": float(statistics.median(times)),
        "times": [round(t, 6) for t in times],
        "repeats": len(times),
        "peak_rss_mb": round(peak, 1) if memory else None,
        "rss_delta_mb": round(delta, 1) if memory else None,
        "result": out,
    }


def lowered_flops(jitted: Any, *args: Any, **kwargs: Any) -> float | None:
    """XLA's FLOP estimate for one call of a ``jax.jit`` function (traced and lowered, not compiled).

    Returns ``None`` when the backend gives no estimate. Loops (``lax.map`` / ``scan``) are counted
    once per body by XLA's cost analysis, so functions that use them are underestimated.
    """
    try:
        cost = jitted.lower(*args, **kwargs).cost_analysis()
    except Exception:  # noqa: BLE001 - an estimate is optional
        return None
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    if not cost or "flops" not in cost:
        return None
    flops = float(cost["flops"])
    return flops if flops > 0 else None


def matmul_peak(n: int = 1024, repeats: int = 5, budget_s: float = 10.0) -> dict:
    """Measured float32 matmul throughput of this device: the "peak" the bench quotes fractions of.

    A jit-compiled ``(n, n) @ (n, n)`` float32 product (``2 n³`` FLOPs), warmed up, then timed
    ``repeats`` times (fewer when ``budget_s`` would be exceeded); the fastest run counts (the best
    the device reached in this run, under whatever load it had).

    Returns
    -------
    dict
        ``n``, ``gflops_per_s`` (best run), ``median_gflops_per_s``, ``times`` (seconds per run).
    """
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    jax.block_until_ready(mm(a, b))
    t = timed(lambda: jax.block_until_ready(mm(a, b)), repeats, budget_s, memory=False)
    flops = 2.0 * n**3
    return {
        "n": int(n),
        "gflops_per_s": flops / min(t["times"]) / 1e9,
        "median_gflops_per_s": flops / t["seconds"] / 1e9,
        "times": t["times"],
    }


def interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int = 5, budget_s: float = 60.0
) -> dict[str, dict]:
    """Median times of several already warmed-up functions, run in alternation (A B A B ...).

    Alternating puts every contender in the same time windows, so load from other processes on a
    shared machine inflates all of them alike and their ratio stays meaningful. Stops after
    ``repeats`` rounds or once the rounds took ``budget_s`` seconds (at least one round).

    Returns
    -------
    dict
        Per name: ``seconds`` (median), ``times``, ``repeats``.
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    spent = 0.0
    for _ in range(max(1, int(repeats))):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            times[name].append(dt)
            spent += dt
        if spent >= budget_s:
            break
    return {
        k: {"seconds": float(statistics.median(v)), "times": [round(t, 6) for t in v], "repeats": len(v)}
        for k, v in times.items()
    }


#: Keyword arguments that make library kernels loop (``lax.map``) to bound memory; XLA's cost analysis
#: counts a loop body once, so FLOPs are estimated on the equivalent fully vectorized program.
LOOP_KWARGS = ("row_batch", "step_batch", "mutant_batch")


class CaptureCall:
    """Context manager: swap ``module.<name>`` (a jitted kernel) for a proxy that records the
    arguments of its first call, so :meth:`flops` can lower exactly the program the library ran.

    Only this process's module attribute is swapped, for the duration of the block. Missing
    kernels (renamed in the library) leave nothing recorded and :meth:`flops` returns ``None``.
    """

    def __init__(self, module: Any, name: str):
        self.module, self.name = module, name
        self.original = getattr(module, name, None)
        self.args: tuple | None = None
        self.kwargs: dict = {}

    def __enter__(self) -> CaptureCall:
        if self.original is not None:
            original = self.original

            def proxy(*args, **kwargs):
                if self.args is None:
                    self.args, self.kwargs = args, dict(kwargs)
                return original(*args, **kwargs)

            setattr(self.module, self.name, proxy)
        return self

    def __exit__(self, *exc) -> None:
        if self.original is not None:
            setattr(self.module, self.name, self.original)

    def time_call(self, repeats: int = 3, max_first_s: float = 2.0) -> float | None:
        """Median seconds of re-running the recorded call (compiled already) alone: the device-side
        part of a scorer's chunk. Skipped (``None``) when one call takes more than ``max_first_s``."""
        if self.original is None or self.args is None:
            return None
        import jax

        def once() -> float:
            t0 = time.perf_counter()
            jax.block_until_ready(self.original(*self.args, **self.kwargs))
            return time.perf_counter() - t0

        first = once()
        if first > max_first_s:
            return None
        return float(statistics.median([once() for _ in range(max(1, repeats))]))

    def flops(self) -> float | None:
        """FLOPs of the first recorded call (loops unrolled into vectorized form), or ``None``."""
        if self.original is None or self.args is None:
            return None
        kwargs = {k: (None if k in LOOP_KWARGS else v) for k, v in self.kwargs.items()}
        return lowered_flops(self.original, *self.args, **kwargs)


def fit_exponent(xs: Any, ys: Any) -> float | None:
    """Slope of ``log y`` against ``log x`` (least squares); ``None`` with fewer than 2 points."""
    x = np.asarray(xs, np.float64)
    y = np.asarray(ys, np.float64)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.unique(x[ok]).size < 2:
        return None
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


# Peak throughputs for FLOP/s utilisation (dense, per device); fp32 without tensor cores and TF32
# tensor cores (XLA's default float32 matmul precision on NVIDIA GPUs may use TF32).
_GPU_PEAKS = {
    "H200": {"fp32": 67e12, "tf32": 495e12},
    "H100 PCIe": {"fp32": 51e12, "tf32": 378e12},
    "H100": {"fp32": 67e12, "tf32": 495e12},
    "A100": {"fp32": 19.5e12, "tf32": 156e12},
    "L4": {"fp32": 30e12, "tf32": 60e12},
    "V100": {"fp32": 15.7e12, "tf32": None},
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cpu_snapshot() -> dict:
    """System-wide busy CPU seconds (Linux ``/proc/stat``; ``None`` elsewhere), this process's own CPU
    seconds (with waited-for children) and a monotonic wall clock; see :func:`other_cpu_share`."""
    busy = None
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
        if fields and fields[0] == "cpu":
            ticks = [int(v) for v in fields[1:]]
            # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
            busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        busy = None
    t = os.times()
    return {"busy_s": busy, "own_s": t.user + t.system + t.children_user + t.children_system,
            "wall_s": time.monotonic()}


def other_cpu_share(start: dict, end: dict) -> float | None:
    """Fraction of all CPUs' time between two :func:`cpu_snapshot` calls used by other processes
    (or stolen by the hypervisor): ``(Δbusy − Δown) / (Δwall · cpus)``, clipped to ``[0, 1]``.

    Unlike the load average, this does not count the benchmark's own work, nor load left by a job
    that ended before the start. ``None`` without ``/proc/stat``.
    """
    if start.get("busy_s") is None or end.get("busy_s") is None:
        return None
    wall = end["wall_s"] - start["wall_s"]
    if wall <= 0:
        return None
    others = (end["busy_s"] - start["busy_s"]) - (end["own_s"] - start["own_s"])
    return float(min(1.0, max(0.0, others / (wall * (os.cpu_count() or 1)))))


def device_info() -> dict:
    """Device and software description; ``name`` is a file-name-safe slug for the results."""
    import flax
    import jax
    import jaxlib

    import satori_jax

    dev = jax.devices()[0]
    cpus = _cpus()
    cpu_model = _cpu_model()
    info: dict[str, Any] = {
        "platform": dev.platform,
        "device_kind": str(getattr(dev, "device_kind", dev.platform)),
        "num_devices": jax.device_count(),
        "cpu_model": cpu_model,
        "cpu_count": cpus,
        "cpu_count_total": os.cpu_count(),
        "jax": jax.__version__,
        "jaxlib": getattr(jaxlib, "__version__", ""),
        "flax": flax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "satori_jax": getattr(satori_jax, "__version__", ""),
    }
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        info["load_average"] = None
    if dev.platform == "cpu":
        info["name"] = f"cpu-{_slug(cpu_model)}-{cpus}c"
        info["peak_flops"] = None
    else:
        kind = info["device_kind"]
        info["name"] = _slug(kind)
        peak = next((v for k, v in _GPU_PEAKS.items() if k.lower() in kind.lower()), None)
        info["peak_flops"] = peak
    return info
