"""Section ``methods``: ``raw``, ``attr``, ``fis`` and ``dfim`` on the same selected examples.

For each architecture, a model (random init or briefly trained, :func:`bench.fixtures.build_arch`)
predicts a simulated data set, foreground and background are selected as the interpret pipeline
does, and each method is timed on ``N`` foreground + ``N`` background examples for each ``N``: the
pipeline's scorer (:func:`satori_jax.interpret.scorers.available_methods`) on both sides, then
:func:`satori_jax.interpret.stats.test_pairs` - the work behind ``summary.json``'s ``seconds``.
Sizes above a method's cap, or predicted to run too long or to need too much memory, are
extrapolated linearly from the largest measured size.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from bench import measure
from bench.fixtures import (
    ArchModel,
    MemoryGuard,
    chunk_size,
    get_arch,
    kernel_capture,
    log,
    score_context,
    select,
    simulate,
)
from bench.profiles import MEMORY_FRACTION, Profile


def _instances_per_sequence(am: ArchModel, codes: np.ndarray, thresholds: np.ndarray) -> float | None:
    """Mean number of motif instances (FIS sources) per sequence, to judge FIS's padded source slots."""
    try:
        import jax.numpy as jnp

        from satori_jax.interpret.activity import conv_activations
        from satori_jax.interpret.fis import motif_instances
        from satori_jax.models import conv_offset

        cfg = am.cfg.model
        conv = conv_activations(am.model, am.variables, codes[:256])
        has = motif_instances(
            jnp.asarray(conv),
            jnp.asarray(thresholds),
            cfg.pool_size,
            conv_offset(cfg),
            cfg.filter_width,
            codes.shape[1],
        )[0]
        return float(np.asarray(has).sum(axis=1).mean())
    except Exception:  # noqa: BLE001
        return None


def _time_method(
    arch: str,
    m: str,
    scorer: Any,
    ctx: Any,
    fg: np.ndarray,
    bg: np.ndarray,
    prof: Profile,
    all_sizes: tuple[int, ...],
    skipped: list[dict],
) -> tuple[list[dict], float | None]:
    """Measured cells of one method on one architecture, smallest ``N`` first, and the method's
    XLA FLOP estimate per example (``None`` when unknown).

    Each ``N`` is warmed up on a batch of the scorer's chunk shape, then timed (median of up to
    ``prof.repeats`` runs). Sizes predicted to exceed ``prof.max_run_s`` or the memory limit are
    appended to ``skipped`` instead.
    """
    from satori_jax.interpret.stats import test_pairs

    nf = int(ctx.cfg.model.num_filters)
    tg = np.ones((len(fg), 1), bool)
    chunk = chunk_size(m, ctx)
    cells: list[dict] = []
    fpe = None
    cap = prof.caps.get(m)
    run_sizes = [s for s in all_sizes if cap is None or s <= cap]
    warmed: set[int] = set()
    rate = None  # seconds per (fg + bg) example pair from the last measurement
    kernel_spe = None  # raw / attr: device kernel seconds per example (the rest is host work)
    memory = MemoryGuard()
    queue = list(run_sizes)
    while queue:
        s = queue.pop(0)
        w = min(s, chunk)
        if w not in warmed:
            t0 = time.perf_counter()
            with kernel_capture(m) as cap_call:
                scorer.score(ctx, fg[:w], tg[:w])
            warm_s = time.perf_counter() - t0
            warmed.add(w)
            if fpe is None:
                f = cap_call.flops()
                fpe = None if f is None else f / w
            if kernel_spe is None and m in ("raw", "attr"):
                k = cap_call.time_call()
                kernel_spe = None if k is None else k / w
            if rate is None:
                rate = 2 * warm_s / w  # fg + bg; includes compilation: an over-estimate
        if rate is not None and rate * s > prof.max_run_s and s > w:
            if not cells and w not in run_sizes:
                # nothing measured yet (the rate is the warm-up's, compilation included):
                # measure at the warm-up size so this method has at least one real number
                log(f"methods: {arch}/{m}: N={s} may take {rate * s:.0f} s; measuring N={w} first")
                run_sizes.append(w)
                queue[:0] = [w, s]
                continue
            log(
                f"methods: {arch}/{m}: N={s} predicted {rate * s:.0f} s > {prof.max_run_s:.0f} s; "
                "extrapolating instead"
            )
            skipped.append(
                {
                    "arch": arch,
                    "method": m,
                    "n_examples": s,
                    "reason": "time",
                    "predicted": rate * s,
                    "limit": prof.max_run_s,
                }
            )
            continue
        over = memory.too_big(s)
        if over is not None:
            predicted, avail = over
            log(
                f"methods: {arch}/{m}: N={s} predicted {predicted:.0f} MB more memory > "
                f"{MEMORY_FRACTION:.0%} of {avail:.0f} MB available; extrapolating instead"
            )
            skipped.append(
                {
                    "arch": arch,
                    "method": m,
                    "n_examples": s,
                    "reason": "memory",
                    "predicted": predicted,
                    "limit": MEMORY_FRACTION * avail,
                }
            )
            continue

        parts: list[tuple[float, float, float]] = []

        def work(s=s, parts=parts):
            t0 = time.perf_counter()
            fs = scorer.score(ctx, fg[:s], tg[:s])
            t1 = time.perf_counter()
            bs = scorer.score(ctx, bg[:s], tg[:s])
            t2 = time.perf_counter()
            st = test_pairs(fs, bs, "mean", nf)
            parts.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
            return len(fs), len(bs), int(len(st["filter_a"]))

        t = measure.timed(work, prof.repeats, prof.budget_s)
        n_fg, n_bg, n_tested = t.pop("result")
        med = np.median(np.asarray(parts), axis=0)
        t["breakdown_s"] = {
            "score_fg": float(med[0]),
            "score_bg": float(med[1]),
            "statistics": float(med[2]),
        }
        if kernel_spe is not None:
            t["device_kernel_s_est"] = kernel_spe * 2 * s
        rate = t["seconds"] / s
        memory.record(s, t)
        cell = {
            "arch": arch,
            "method": m,
            "n_examples": s,
            "extrapolated": False,
            **t,
            "examples_per_s": 2 * s / t["seconds"],
            "pair_rows_fg": n_fg,
            "pair_rows_bg": n_bg,
            "pairs_tested": n_tested,
            "chunk": chunk,
            "flops_per_example": fpe,
        }
        if fpe:
            cell["flops"] = fpe * 2 * s
            cell["achieved_gflops_per_s"] = fpe * 2 * s / t["seconds"] / 1e9
        cells.append(cell)
        log(f"methods: {arch}/{m}: N={s} fg+bg: {t['seconds']:.3f} s (median of {t['repeats']})")
    return cells, fpe


def _extrapolated(measured: list[dict], sizes: tuple[int, ...], fpe: float | None) -> list[dict]:
    """Cells for the ``sizes`` not measured, linear in ``N`` from the largest measured cell."""
    if not measured:
        return []
    last = max(measured, key=lambda c: c["n_examples"])
    out = []
    for s in sizes:
        if any(c["n_examples"] == s for c in measured):
            continue
        est = last["seconds"] * s / last["n_examples"]
        out.append(
            {
                "arch": last["arch"],
                "method": last["method"],
                "n_examples": s,
                "extrapolated": True,
                "from_n": last["n_examples"],
                "seconds": est,
                "examples_per_s": 2 * s / est,
                "flops_per_example": fpe,
            }
        )
    return out


def _ratios(
    cells: list[dict], archs: tuple[str, ...], methods: tuple[str, ...], all_sizes: tuple[int, ...]
) -> list[dict]:
    """Each method's time over ``raw``'s at the same architecture and ``N``."""
    ratios = []
    for arch in archs:
        by = {(c["method"], c["n_examples"]): c for c in cells if c["arch"] == arch}
        for s in all_sizes:
            raw = by.get(("raw", s))
            if raw is None:
                continue
            for m in methods:
                c = by.get((m, s))
                if c is None:
                    continue
                ratios.append(
                    {
                        "arch": arch,
                        "n_examples": s,
                        "method": m,
                        "ratio_to_raw": c["seconds"] / raw["seconds"],
                        "extrapolated": bool(c["extrapolated"] or raw["extrapolated"]),
                    }
                )
    return ratios


def run_methods(
    prof: Profile, archs: tuple[str, ...], methods: tuple[str, ...], seed: int, models: dict[str, ArchModel]
) -> dict:
    """Time the interaction methods per architecture and size.

    Parameters
    ----------
    prof
        Sizes (``sizes``, ``caps``, ``repeats``, ``budget_s``, ``max_run_s``, ...).
    archs, methods
        What to run; methods missing from this installation are listed in the notes.
    seed
        Seed of the models and the simulated data.
    models
        Models already built (reused; the ones built here are added).

    Returns
    -------
    dict
        ``status``, ``sizes``, ``measured_sizes``, ``methods``, ``archs`` (per-architecture model,
        data and selection), ``cells``, ``skipped``, ``ratios`` and ``notes``.
    """
    from satori_jax.interpret.scorers import available_methods
    from satori_jax.metrics import auroc
    from satori_jax.models import pooled_length
    from satori_jax.predict import predict_probs

    scorers = available_methods()
    missing = [m for m in methods if m not in scorers]
    methods = tuple(m for m in methods if m in scorers)
    sizes = tuple(sorted(set(prof.sizes)))
    cap_sizes = {min(s, prof.caps[m]) for m in methods if m in prof.caps for s in sizes}
    all_sizes = tuple(sorted(set(sizes) | cap_sizes))
    n_max = max(all_sizes)
    cells: list[dict] = []
    skipped: list[dict] = []
    arch_info: dict[str, dict] = {}
    for arch in archs:
        log(f"methods: {arch}: building model ({'random init' if prof.train_steps == 0 else 'training'})")
        am = get_arch(models, arch, prof, seed)
        codes, labels, source = simulate(int(3.3 * n_max) + 300, am.length, seed + 10)
        probs = predict_probs(am.model, am.variables, codes, batch_size=512)
        fg_idx, bg_idx, sel_info = select(codes, labels, probs, n_max)
        fg, bg = codes[fg_idx], codes[bg_idx]
        ctx = score_context(am, fg, prof.ctx_batch, seed)
        arch_info[arch] = {
            "params": am.params,
            "training": am.training,
            "data": source,
            "n_simulated": int(len(codes)),
            "auroc": float(auroc(labels.reshape(-1) > 0, probs.reshape(-1))),
            "selection": sel_info,
            "length": am.length,
            "attention_length": pooled_length(am.cfg.model, am.length),
            "mean_motif_instances_per_sequence": _instances_per_sequence(am, fg, ctx.thresholds),
            "model": dataclasses.asdict(am.cfg.model),
        }
        for m in methods:
            measured, fpe = _time_method(arch, m, scorers[m], ctx, fg, bg, prof, all_sizes, skipped)
            cells += measured + _extrapolated(measured, sizes, fpe)
    notes = [
        "N = foreground examples; each timing scores N foreground + N background examples and runs the "
        "statistics (test_pairs, cutoff = mean), as interpret's per-method 'seconds'.",
        f"warm-up excluded (one call on a batch of the scorer's chunk shape first); median of up to "
        f"{prof.repeats} runs (fewer when another run would take the cell past {prof.budget_s:g} s).",
    ]
    for m, cap in prof.caps.items():
        if m in methods and any(s > cap for s in sizes):
            notes.append(
                f"{m} capped at N={cap}: larger N are extrapolated linearly from N={cap} "
                "(marked 'extrapolated'; the scaling section measures the exponent)."
            )
    if missing:
        notes.append(f"methods not available in this installation: {', '.join(missing)}")
    for sk in skipped:
        unit = "s" if sk["reason"] == "time" else "MB"
        notes.append(
            f"{sk['arch']}/{sk['method']} N={sk['n_examples']} not run: predicted {sk['predicted']:.0f} "
            f"{unit} > limit {sk['limit']:.0f} {unit} ({sk['reason']}); extrapolated."
        )
    return {
        "status": "ok",
        "sizes": list(sizes),
        "measured_sizes": list(all_sizes),
        "methods": list(methods),
        "archs": arch_info,
        "cells": cells,
        "skipped": skipped,
        "ratios": _ratios(cells, archs, methods, all_sizes),
        "notes": notes,
    }
