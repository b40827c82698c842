"""Section ``scaling``: time and peak RSS of the ``raw`` and ``fis`` scorers against the number of
sequences ``N`` and the sequence length ``L`` (basic model, scorer only: no background, no
statistics), with log-log exponents.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import measure
from bench.fixtures import ArchModel, MemoryGuard, default_batch_size, get_arch, log, score_context, simulate
from bench.profiles import MEMORY_FRACTION, Profile


def _measure_at(
    out: dict,
    key: str,
    am: ArchModel,
    prof: Profile,
    seed: int,
    length: int,
    n_raw: tuple[int, ...],
    n_fis: tuple[int, ...],
    fis_batch: int,
) -> None:
    """Append ``raw`` and ``fis`` rows at one length to ``out[key]`` (``vs_n`` or ``vs_length``)."""
    from satori_jax.interpret.fis import fis_scores
    from satori_jax.interpret.scorers import available_methods

    raw = available_methods()["raw"]
    n_need = max(max(n_raw), max(n_fis))
    codes, _, _ = simulate(n_need, length, seed + 20 + length)
    codes = np.resize(codes, (n_need, length)) if len(codes) < n_need else codes[:n_need]
    tg = np.ones((n_need, 1), bool)
    ctx = score_context(am, codes[: min(n_need, 256)], prof.ctx_batch, seed)
    chunk = ctx.pair_batch_size
    memory = MemoryGuard()
    for n in n_raw:
        over = memory.too_big(n)
        if over is not None:
            log(
                f"scaling: raw L={length} N={n} skipped: predicted {over[0]:.0f} MB > "
                f"{MEMORY_FRACTION:.0%} of {over[1]:.0f} MB available"
            )
            out.setdefault("skipped", []).append(
                {"method": "raw", "length": length, "n": n, "predicted_mb": over[0]}
            )
            continue
        raw.score(ctx, codes[: min(n, chunk)], tg[: min(n, chunk)])
        t = measure.timed(lambda n=n: raw.score(ctx, codes[:n], tg[:n]), prof.repeats, prof.budget_s)
        t.pop("result")
        out[key]["raw"].append({"length": length, "n": n, **t, "per_sequence_ms": 1e3 * t["seconds"] / n})
        memory.record(n, t)
        log(f"scaling: raw L={length} N={n}: {t['seconds']:.3f} s, peak RSS {t['peak_rss_mb']:.0f} MB")
    thr = ctx.thresholds
    for n in n_fis:
        b = min(fis_batch, n)
        fis_scores(am.model, am.variables, codes[:b], tg[:b], thr, batch_size=b)
        t = measure.timed(
            lambda n=n, b=b: fis_scores(am.model, am.variables, codes[:n], tg[:n], thr, batch_size=b),
            prof.repeats,
            prof.budget_s,
        )
        t.pop("result")
        out[key]["fis"].append(
            {"length": length, "n": n, "batch_size": b, **t, "per_sequence_ms": 1e3 * t["seconds"] / n}
        )
        log(f"scaling: fis L={length} N={n}: {t['seconds']:.3f} s, peak RSS {t['peak_rss_mb']:.0f} MB")


def run_scaling(prof: Profile, seed: int, models: dict[str, ArchModel]) -> dict:
    """Time and peak RSS of ``raw`` and ``fis`` against ``N`` and ``L`` on the basic model.

    Parameters
    ----------
    prof
        Sizes: ``scale_n_raw``, ``scale_n_fis`` and ``fis_scale_batch`` at ``length`` for the ``N``
        series; ``scale_lengths`` with ``scale_len_n_raw`` / ``scale_len_n_fis`` for the ``L`` series.
    seed
        Seed of the model and the simulated data.
    models
        Models already built (``basic`` is reused or built and added).

    Returns
    -------
    dict
        ``status``, ``arch``, ``vs_n`` and ``vs_length`` rows per method, ``exponents``, ``notes``
        (and ``skipped`` when memory ruled a size out).
    """
    am = get_arch(models, "basic", prof, seed)
    out: dict[str, Any] = {
        "status": "ok",
        "arch": "basic",
        "vs_n": {"raw": [], "fis": []},
        "vs_length": {"raw": [], "fis": []},
    }
    fis_default = default_batch_size("fis")
    _measure_at(
        out,
        "vs_n",
        am,
        prof,
        seed,
        prof.length,
        prof.scale_n_raw,
        prof.scale_n_fis,
        prof.fis_scale_batch or fis_default,
    )
    for length in prof.scale_lengths:
        _measure_at(
            out,
            "vs_length",
            am,
            prof,
            seed,
            length,
            (prof.scale_len_n_raw,),
            (prof.scale_len_n_fis,),
            fis_default,
        )
    exps: dict[str, Any] = {}
    for key, x in (("vs_n", "n"), ("vs_length", "length")):
        for m in ("raw", "fis"):
            rows = out[key][m]
            exps[f"{m}_time_{key}"] = measure.fit_exponent([r[x] for r in rows], [r["seconds"] for r in rows])
            exps[f"{m}_memory_{key}"] = measure.fit_exponent(
                [r[x] for r in rows], [r["rss_delta_mb"] for r in rows]
            )
    out["exponents"] = exps
    out["notes"] = [
        "scorer only (N foreground sequences, no background, no statistics), basic model, target = logit.",
        "memory = peak process RSS while the timed runs execute (polled every 4 ms) minus RSS before; "
        "allocator caching can hide re-used memory, so deltas are lower bounds.",
        "fis called with its defaults (20 IG steps, every motif instance a source, packed across "
        f"sequences) and batch_size "
        f"{prof.fis_scale_batch} for the N series, its default min({fis_default}, N) for the length series.",
        "exponents: least-squares slope of log(time) or log(memory delta) against log(N) or log(L); fixed "
        "per-call overheads pull time exponents below 1 at small N.",
    ]
    return out
