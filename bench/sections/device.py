"""Section ``device``: device, versions, parameter counts per architecture, and the XLA FLOP
estimates and achieved FLOP/s of the ``methods`` and ``training`` sections (run last, from their
results).
"""

from __future__ import annotations

from bench.fixtures import ArchModel, model_config
from bench.profiles import Profile


def run_device(
    info: dict, results: dict, models: dict[str, ArchModel], prof: Profile, archs: tuple[str, ...]
) -> dict:
    """Device, versions, parameter counts, FLOP estimates and achieved FLOP/s.

    Parameters
    ----------
    info
        :func:`bench.measure.device_info` (device name, versions, ``peak_flops`` when known).
    results
        The sections run so far (``methods`` and ``training`` give the FLOP rows).
    models
        Models built by the other sections (their parameter counts are reused).
    prof, archs
        Profile and architectures (a missing model is initialised to count its parameters).

    Returns
    -------
    dict
        ``status``, the device info, ``params`` per architecture, ``flops`` rows and ``notes``.
    """
    import jax

    from satori_jax.models import build_model, count_params, init_variables

    params = {}
    for arch in archs:
        if arch in models:
            params[arch] = models[arch].params
        else:
            cfg = model_config(arch, prof.model)
            v = init_variables(build_model(cfg.model, 1), jax.random.PRNGKey(0), prof.length)
            params[arch] = count_params(v["params"])
    flops = []
    meth = results.get("methods", {})
    for c in meth.get("cells", []) if meth.get("status") == "ok" else []:
        if c.get("extrapolated"):
            continue
        prev = next((f for f in flops if f["arch"] == c["arch"] and f["method"] == c["method"]), None)
        if prev is not None and prev["n_examples"] >= c["n_examples"]:
            continue
        row = {
            "arch": c["arch"],
            "method": c["method"],
            "n_examples": c["n_examples"],
            "gflop_per_example": None if not c.get("flops_per_example") else c["flops_per_example"] / 1e9,
            "achieved_gflops_per_s": c.get("achieved_gflops_per_s"),
        }
        if prev is not None:
            flops.remove(prev)
        flops.append(row)
    train = results.get("training", {})
    for c in train.get("cells", []) if train.get("status") == "ok" else []:
        flops.append(
            {
                "arch": c["arch"],
                "method": f"train_step L={c['length']}",
                "n_examples": c["batch_size"],
                "gflop_per_example": None
                if not c.get("flops_per_step")
                else c["flops_per_step"] / 1e9 / c["batch_size"],
                "achieved_gflops_per_s": c.get("achieved_gflops_per_s"),
            }
        )
    peak = info.get("peak_flops")
    measured = train.get("measured_peak") if train.get("status") == "ok" else None
    if not peak and measured:  # CPU: no data-sheet figure; the training section's matmul peak
        peak = {"fp32": measured["gflops_per_s"] * 1e9, "source": "measured matmul (training section)"}
    if peak:
        for row in flops:
            if row["achieved_gflops_per_s"]:
                row["fraction_of_fp32_peak"] = row["achieved_gflops_per_s"] * 1e9 / peak["fp32"]
    return {
        "status": "ok",
        **info,
        "peak_used": peak,
        "params": params,
        "flops": flops,
        "notes": [
            "FLOPs: XLA cost analysis of the lowered device program of one chunk (per example = "
            "chunk FLOPs / chunk size); achieved = FLOPs / end-to-end wall time, so host work "
            "(pair extraction, statistics) lowers it.",
            "the library's lax.map memory bounds (row_batch, step_batch, mutant_batch) are lowered "
            "vectorized for the estimate (same arithmetic); recurrent loops (the BiLSTM's scan) are "
            "counted once per body by XLA, so bilstm FLOPs are underestimates.",
            "fp32 peak: the device's data-sheet figure where known (GPUs), otherwise (CPU) the float32 "
            "matmul throughput measured in this run (training section).",
        ],
    }
