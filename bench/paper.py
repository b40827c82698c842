"""The run against published figures: SATORI / SATORI 2.0 method ratios, the reference
implementation's throughput and DESIGN.md's speed-up targets (``results["paper_comparison"]``,
rendered by :mod:`bench.report`).
"""

from __future__ import annotations

# Published figures the report compares against (DESIGN.md, "Benchmarks from the papers").
REFERENCE = {
    "satori_fis_over_raw": (8.0, 20.0),
    "satori2_attr_over_raw_basic": 1.0,
    "satori2_attr_over_raw_deep": 5.0,
    "satori2_dfim_over_raw_deep": 100.0,
    # reference implementation, 2-core CPU, 200 bp, CNN + 8-head attention, batch 256
    "ref_train_seq_per_s": 14400 / 35.0,
    "ref_raw_examples_per_s": 1600 / 195.0,
    "ref_fis_seconds_per_example": 6.0,
    "target_raw_speedup": 100.0,
    "target_fis_speedup": 30.0,
    "target_train_speedup": 1.3,
    "target_ig_speedup_vs_captum": 3.0,
}

_R = REFERENCE
#: ``(method, published ratio to raw, label)`` rows of the method comparison.
_RATIO_ROWS = (
    ("fis", f"{_R['satori_fis_over_raw'][0]:g}–{_R['satori_fis_over_raw'][1]:g}× (SATORI)", "FIS/raw"),
    (
        "attr",
        f"≈{_R['satori2_attr_over_raw_basic']:g}× basic, "
        f"≈{_R['satori2_attr_over_raw_deep']:g}× deep (SATORI 2.0)",
        "attr/raw",
    ),
    ("dfim", f">{_R['satori2_dfim_over_raw_deep']:g}× deep (SATORI 2.0)", "DFIM/raw"),
)


def _largest(cells: list[dict], method: str) -> dict | None:
    """The measured (not extrapolated) ``basic`` cell of ``method`` with the largest ``N``."""
    rows = [c for c in cells if c["method"] == method and c["arch"] == "basic" and not c["extrapolated"]]
    return max(rows, key=lambda c: c["n_examples"]) if rows else None


def _methods_rows(meth: dict) -> list[dict]:
    rows: list[dict] = []
    by_arch: dict[str, dict[str, dict]] = {}
    for r in meth["ratios"]:
        cur = by_arch.setdefault(r["arch"], {}).get(r["method"])
        if cur is None or r["n_examples"] > cur["n_examples"]:
            by_arch[r["arch"]][r["method"]] = r
    for arch, rs in by_arch.items():
        for m, ref, note in _RATIO_ROWS:
            if m in rs:
                r = rs[m]
                rows.append(
                    {
                        "figure": f"{note}, {arch}, N={r['n_examples']}",
                        "ours": f"{r['ratio_to_raw']:.1f}×"
                        + (" (extrapolated)" if r["extrapolated"] else ""),
                        "reference": ref,
                    }
                )
    big = _largest(meth["cells"], "raw")
    if big:
        sp = big["examples_per_s"] / _R["ref_raw_examples_per_s"]
        rows.append(
            {
                "figure": f"raw incl. statistics, basic, {2 * big['n_examples']} examples (fg+bg)",
                "ours": f"{big['examples_per_s']:.0f} ex/s = {sp:.0f}× reference",
                "reference": f"{_R['ref_raw_examples_per_s']:.1f} ex/s "
                f"(reference impl., 2-core CPU, 200 bp); target ≥{_R['target_raw_speedup']:g}×",
            }
        )
    big = _largest(meth["cells"], "fis")
    if big:
        spe = big["seconds"] / (2 * big["n_examples"])
        rows.append(
            {
                "figure": "FIS per example incl. statistics, basic",
                "ours": f"{spe:.3g} s = {_R['ref_fis_seconds_per_example'] / spe:.1f}× reference",
                "reference": f"{_R['ref_fis_seconds_per_example']:g} s/example (captum IG, 50 steps); "
                f"target ≥{_R['target_fis_speedup']:g}×",
            }
        )
    return rows


def paper_comparison(results: dict) -> list[dict]:
    """Rows comparing the run with the papers' and DESIGN's figures.

    Parameters
    ----------
    results
        The bench results (``results["sections"]``; sections not ``ok`` are left out).

    Returns
    -------
    list of dict
        ``{"figure", "ours", "reference"}`` rows, all strings.
    """
    rows: list[dict] = []
    sections = results["sections"]
    meth = sections.get("methods", {})
    if meth.get("status") == "ok":
        rows += _methods_rows(meth)
    tr = sections.get("training", {})
    if tr.get("status") == "ok":
        basic = [c for c in tr["cells"] if c["arch"] == "basic"]
        if basic:
            c = min(basic, key=lambda c: c["length"])
            rows.append(
                {
                    "figure": f"training, basic, {c['length']} bp, batch {c['batch_size']}",
                    "ours": f"{c['seq_per_s']:.0f} seq/s = "
                    f"{c['seq_per_s'] / _R['ref_train_seq_per_s']:.1f}× reference",
                    "reference": f"{_R['ref_train_seq_per_s']:.0f} seq/s "
                    f"(reference impl., 200 bp, batch 256); target ≥{_R['target_train_speedup']:g}×",
                }
            )
    pe = sections.get("peers", {})
    if pe.get("status") == "ok":
        train_target = f"target ≥{_R['target_train_speedup']:g}×"
        ig_target = f"target ≥{_R['target_ig_speedup_vs_captum']:g}×"
        rows.append(
            {
                "figure": "training vs PyTorch peer (same run)",
                "ours": f"{pe['train']['ratio_ours_over_peer']:.2f}×",
                "reference": train_target,
            }
        )
        rows.append(
            {
                "figure": "input IG vs captum, whole batch per call (same run)",
                "ours": f"{pe['ig']['ratio_ours_over_peer']:.2f}×",
                "reference": ig_target,
            }
        )
        if "ratio_ours_over_peer_per_sequence" in pe["ig"]:
            rows.append(
                {
                    "figure": "input IG vs captum, one sequence per call as the reference does (same run)",
                    "ours": f"{pe['ig']['ratio_ours_over_peer_per_sequence']:.2f}×",
                    "reference": ig_target,
                }
            )
    return rows
