"""Results files of the bench: ``<device>-<date>[-mode].json``, the same as a markdown table, a PNG
chart (log-scale bars per method and data size, like SATORI Figure 6) and ``README.md``, which is
rebuilt from every results file in the directory (latest full run per device first)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["chart", "console_summary", "render_markdown", "results_stem", "write_all", "write_readme"]

METHOD_ORDER = ("raw", "attr", "fis", "dfim")
METHOD_LABEL = {"raw": "raw attention", "attr": "attention attribution", "fis": "FIS", "dfim": "DFIM"}
COLORS = {"raw": "#4c72b0", "attr": "#55a868", "fis": "#c44e52", "dfim": "#8172b2"}

README_HEADER = """# Bench results

Produced by `python -m bench` (or `python bench/run.py`) from the repository root; see
`python -m bench --help`. Files: `<device>-<date>.json` (everything measured), `.md` (these tables),
`.png` (method runtimes, log scale). `--quick` (< 3 min on a 2-core CPU: small models, random init,
100 bp, capped FIS/DFIM) writes `<device>-<date>-quick.*` and is a smoke run, not a figure to quote.

    python -m bench                      # full run: reference model sizes, 300 bp, N = 500/2000/5000
    python -m bench --quick              # smoke run
    python -m bench --sections methods,peers --archs basic --sizes 500,2000 --cap fis=16,dfim=8
    python -m bench --out /tmp/bench     # anywhere else

Flags: `--sections methods,scaling,training,peers,device`, `--archs basic,bilstm,deep`,
`--methods raw,attr,fis,dfim`, `--sizes`, `--cap METHOD=N,...`, `--lengths` (scaling),
`--length` (method comparison), `--train-lengths`, `--train-steps`, `--repeats`, `--out`, `--seed`,
`--no-plot`, `--quick` / `--tiny`. The peer section needs the `bench` extra
(`pip install -e '.[bench]'`: torch, captum, psutil) and is skipped with a message without it.

Timings taken while other jobs share the CPU are inflated; each file records the load average at
its start and end. This README is rewritten after every run from the JSON files present here.
"""


def results_stem(results: dict) -> str:
    """``<device>-<YYYY-MM-DD>`` plus ``-quick`` / ``-tiny`` for the small modes."""
    stem = f"{results['device']['name']}-{results['created'][:10]}"
    return stem if results["mode"] == "full" else f"{stem}-{results['mode']}"


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def _atomic(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------------------------
# formatting helpers


def _s(x: float | None) -> str:
    """Seconds with 3 significant digits."""
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def _r(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.0f}×" if x >= 100 else f"{x:.3g}×"


def _n(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _contention(results: dict) -> str:
    """One line on whether other processes shared the CPUs during the run.

    ``other_cpu_share`` (CPU time of other processes over the run, as a fraction of all CPUs' time)
    decides when present: above 10 % the run is marked contended. Older result files only have load
    averages, which also count the benchmark's own work; there a 1-minute load above half the CPUs
    is marked as possibly contended.
    """
    dev = results["device"]
    start, end = dev.get("load_average"), results.get("load_average_end")
    share = results.get("other_cpu_share")
    text = f"Load average (1/5/15 min) at start {start}, at end {end}." if start else ""
    warn = " absolute times are inflated (ratios measured in the same run are less affected)."
    if share is not None:
        ncpu = dev.get("cpu_count_total") or dev["cpu_count"]
        text += f" Other processes used {100 * share:.1f} % of the {ncpu} CPUs' time during the run"
        text += (f"; **contended:**{warn}" if share > 0.10 else " (uncontended).")
    elif start and max(start[0], (end or [0])[0]) > 0.5 * dev["cpu_count"]:
        text += (
            f" **Possibly contended** (the load average counts this run's own work too): if other "
            f"processes used the {dev['cpu_count']} CPUs,{warn}"
        )
    return text.strip()


# --------------------------------------------------------------------------------------------
# markdown


def _methods_md(sec: dict) -> list[str]:
    out = ["## 1. Interaction methods (N foreground + N background, incl. statistics)", ""]
    out += [f"- {n}" for n in sec["notes"]]
    out += ["- *italic* = extrapolated, not measured.", ""]
    methods = [m for m in METHOD_ORDER if m in sec["methods"]]
    for arch, info in sec["archs"].items():
        tr = info["training"]
        how = (
            "random init"
            if tr["init"] == "random"
            else (
                f"trained {tr['steps']} steps × {tr['batch_size']} ({tr.get('seconds', 0):.0f} s), "
                f"BCE {tr.get('bce_first', float('nan')):.3f} → {tr.get('bce_last_mean10', float('nan')):.3f}"
            )
        )
        sel = info["selection"]
        inst = info.get("mean_motif_instances_per_sequence")
        out.append(f"### {arch}: {info['params']:,} parameters, {how}, AUROC {info['auroc']:.3f}")
        out.append("")
        out.append(
            f"{info['length']} bp (attention length {info['attention_length']}), {info['data']}, "
            f"{info['n_simulated']:,} sequences simulated; selection: {sel['fg_passing_cutoff']} fg / "
            f"{sel['bg_passing_cutoff']} bg pass the 0.7 / 0.3 cutoffs, {sel['fg_topped_up']} / "
            f"{sel['bg_topped_up']} topped up by rank"
            + ("" if inst is None else f"; {inst:.1f} motif instances (FIS sources) per sequence on average")
            + "."
        )
        out.append("")
        cells = {(c["method"], c["n_examples"]): c for c in sec["cells"] if c["arch"] == arch}
        ratios = {(r["method"], r["n_examples"]): r for r in sec["ratios"] if r["arch"] == arch}
        sizes = sorted({n for (_, n) in cells})
        header = ["N", *[f"{m} s" for m in methods], *[f"{m}/raw" for m in methods if m != "raw"]]
        rows = []
        for n in sizes:
            row = [f"{n:,}"]
            for m in methods:
                c = cells.get((m, n))
                if c is None:
                    row.append("")
                elif c["extrapolated"]:
                    row.append(f"*{_s(c['seconds'])}*")
                else:
                    rep = f" ({c['repeats']}×)" if c.get("repeats", 1) > 1 else ""
                    row.append(_s(c["seconds"]) + rep)
            for m in methods:
                if m == "raw":
                    continue
                r = ratios.get((m, n))
                row.append(
                    ""
                    if r is None
                    else (f"*{_r(r['ratio_to_raw'])}*" if r["extrapolated"] else _r(r["ratio_to_raw"]))
                )
            rows.append(row)
        out += [_table(header, rows), ""]
        rates = []
        for m in methods:
            meas = [c for (mm, _), c in cells.items() if mm == m and not c["extrapolated"]]
            if meas:
                big = max(meas, key=lambda c: c["n_examples"])
                g = big.get("achieved_gflops_per_s")
                bd = big.get("breakdown_s") or {}
                dev = big.get("device_kernel_s_est")
                rates.append(
                    f"{m} {big['examples_per_s']:.3g} ex/s"
                    + (f", peak RSS {big['peak_rss_mb']:.0f} MB" if big.get("peak_rss_mb") else "")
                    + ("" if g is None else f", {g:.1f} GFLOP/s")
                    + (f", statistics {_s(bd['statistics'])} s" if bd else "")
                    + ("" if dev is None else f", device kernels ≈ {_s(dev)} s of {_s(big['seconds'])} s")
                )
        if rates:
            out += [
                "At the largest measured N (device kernels = the compiled chunk function re-run alone; "
                "the rest is host work: pair extraction, transfers, statistics): " + "; ".join(rates) + ".",
                "",
            ]
    return out


def _scaling_md(sec: dict) -> list[str]:
    out = ["## 2. Scaling (basic model, scorer only)", ""]
    out += [f"- {n}" for n in sec["notes"]]
    out += [
        f"- {sk['method']} L={sk['length']} N={sk['n']:,} not run: predicted {sk['predicted_mb']:.0f} MB "
        "more memory than is safely available."
        for sk in sec.get("skipped", [])
    ] + [""]
    for key, title in (
        ("vs_n", "against the number of sequences"),
        ("vs_length", "against sequence length"),
    ):
        rows = []
        for m in ("raw", "fis"):
            for r in sec[key][m]:
                rows.append(
                    [
                        m,
                        f"{r['length']}",
                        f"{r['n']:,}",
                        _s(r["seconds"]),
                        f"{r['per_sequence_ms']:.3g}",
                        _n(r.get("peak_rss_mb")),
                        _n(r.get("rss_delta_mb")),
                    ]
                )
        out += [
            f"### {title}",
            "",
            _table(["method", "L (bp)", "N", "s", "ms/seq", "peak RSS MB", "ΔRSS MB"], rows),
            "",
        ]
    ex = sec["exponents"]

    def e(k: str) -> str:
        return "–" if ex.get(k) is None else f"{ex[k]:.2f}"

    out += [
        "Fitted log-log exponents:",
        "",
        _table(
            ["method", "time vs N", "time vs L", "memory vs N", "memory vs L"],
            [
                [
                    m,
                    e(f"{m}_time_vs_n"),
                    e(f"{m}_time_vs_length"),
                    e(f"{m}_memory_vs_n"),
                    e(f"{m}_memory_vs_length"),
                ]
                for m in ("raw", "fis")
            ],
        ),
        "",
    ]
    return out


def _training_md(sec: dict) -> list[str]:
    rows = [
        [
            c["arch"],
            f"{c['length']}",
            f"{c['batch_size']}",
            f"{c['params']:,}",
            _n(c.get("entropy_weight"), 3) if c.get("entropy_weight") else "0",
            f"{1e3 * c['seconds_per_step']:.1f}",
            f"{c['seq_per_s']:,.0f}",
            "–" if not c.get("achieved_gflops_per_s") else f"{c['achieved_gflops_per_s']:.1f}",
            "–" if not c.get("fraction_of_measured_peak") else f"{c['fraction_of_measured_peak']:.0%}",
        ]
        for c in sec["cells"]
    ]
    out = ["## 3. Training throughput (jit train_step)", ""] + [f"- {n}" for n in sec["notes"]] + [""]
    peak = sec.get("measured_peak")
    if peak:
        out += [f"Measured float32 matmul peak (n = {peak['n']}): {peak['gflops_per_s']:.1f} GFLOP/s "
                f"(runs before / after the cells: "
                + " / ".join(f"{q['gflops_per_s']:.1f}" for q in peak.get("runs", [peak])) + ").", ""]
    header = ["arch", "L (bp)", "batch", "params", "entropy weight", "ms/step", "seq/s", "GFLOP/s", "of peak"]
    return out + [_table(header, rows), ""]


def _peers_md(sec: dict) -> list[str]:
    out = ["## 4. PyTorch peer (basic model)", ""]
    if sec["status"] != "ok":
        return out + [f"Skipped: {sec.get('reason', sec.get('error', ''))}", ""]
    v, eq, tr, ig = sec["versions"], sec["equivalence"], sec["train"], sec["ig"]
    out += [
        f"torch {v['torch']} on {v.get('device', 'cpu')}, captum {v['captum']}, "
        f"{sec['torch_threads']} torch threads ({sec['xla_cpu_threads']} CPUs for XLA); {sec['length']} bp.",
        "",
        f"Parameters: ours {sec['params']['ours']:,} = peer {sec['params']['peer_trainable']:,} trainable "
        f"(+ {sec['params']['batch_norm_statistics']} batch-norm statistics in both). Same weights: logits "
        f"max |diff| {eq['logits_max_abs_diff']:.1e} (max |logit| {eq['logits_max_abs']:.2g}), IG max |diff| "
        f"{eq['ig_max_abs_diff']:.1e} (max |IG| {eq['ig_max_abs']:.2g}).",
        "",
    ]
    rows = [
        [
            f"training step (Adam, BCE), batch {tr['batch_size']}",
            f"{tr['ours']['seq_per_s']:,.0f} seq/s",
            f"{tr['peer']['seq_per_s']:,.0f} seq/s",
            _r(tr["ratio_ours_over_peer"]),
        ],
        [
            f"input IG, {ig['steps']} steps, batch {ig['batch_size']}",
            f"{ig['ours']['examples_per_s']:,.1f} ex/s",
            f"{ig['peer']['examples_per_s']:,.1f} ex/s (captum)",
            _r(ig["ratio_ours_over_peer"]),
        ],
    ]
    if "peer_per_sequence" in ig:
        rows.append([
            f"input IG, {ig['steps']} steps, {ig['batch_size']} sequences, one per call (reference)",
            f"{ig['ours']['examples_per_s']:,.1f} ex/s (batched)",
            f"{ig['peer_per_sequence']['examples_per_s']:,.1f} ex/s (captum)",
            _r(ig["ratio_ours_over_peer_per_sequence"]),
        ])
    out += [_table(["", "ours (JAX)", "PyTorch", "ours / peer"], rows), ""]
    return out + [f"- {n}" for n in sec["notes"]] + [""]


def _device_md(sec: dict) -> list[str]:
    out = [
        "## 5. Device figures",
        "",
        f"{sec['platform']} / {sec['device_kind']} ({sec['cpu_model']}, {sec['cpu_count']} CPUs available); "
        f"jax {sec['jax']}, jaxlib {sec['jaxlib']}, flax {sec['flax']}, numpy {sec['numpy']}, "
        f"python {sec['python']}.",
        "",
        "Parameters: " + ", ".join(f"{a} {n:,}" for a, n in sec["params"].items()) + ".",
        "",
    ]
    rows = []
    for f in sec["flops"]:
        frac = f.get("fraction_of_fp32_peak")
        rows.append(
            [
                f["arch"],
                f["method"],
                "–" if f["gflop_per_example"] is None else f"{f['gflop_per_example']:.3g}",
                "–" if not f["achieved_gflops_per_s"] else f"{f['achieved_gflops_per_s']:.1f}",
                "–" if frac is None else f"{100 * frac:.1f} %",
            ]
        )
    if rows:
        out += [_table(["arch", "method", "GFLOP / example", "achieved GFLOP/s", "of fp32 peak"], rows), ""]
    return out + [f"- {n}" for n in sec["notes"]] + [""]


def render_markdown(results: dict) -> str:
    """The whole results file as markdown."""
    dev = results["device"]
    out = [
        f"# satori_jax bench: {dev['name']}, {results['created']} ({results['mode']} mode)",
        "",
        f"`{results['command']}`: {results['total_seconds']:.0f} s in total. {dev['platform']} "
        f"({dev['cpu_model']}, {dev['cpu_count']} CPUs), jax {dev['jax']}. {_contention(results)}",
        "",
    ]
    secs = results["sections"]
    for name, fn in (
        ("methods", _methods_md),
        ("scaling", _scaling_md),
        ("training", _training_md),
        ("peers", _peers_md),
        ("device", _device_md),
    ):
        sec = secs.get(name)
        if sec is None:
            continue
        if sec.get("status") == "error":
            out += [f"## {name}", "", f"**Failed:** `{sec['error']}`", ""]
        elif sec.get("status") == "skipped" and name != "peers":
            out += [f"## {name}", "", f"Skipped: {sec['reason']}", ""]
        else:
            out += fn(sec)
    if results.get("paper_comparison"):
        caveat = []
        if results["mode"] != "full":
            caveat = [
                f"**{results['mode']} mode:** small models, short sequences and tiny caps; these rows check "
                "the plumbing and are not figures to compare with the papers.",
                "",
            ]
        out += [
            "## Against the papers and the reference implementation",
            "",
            *caveat,
            _table(
                ["figure", "this run", "published / target"],
                [[r["figure"], r["ours"], r["reference"]] for r in results["paper_comparison"]],
            ),
            "",
            "Reference-implementation figures come from another machine and data set (DESIGN.md); ratios "
            "to them are indicative, ratios within this run are like for like.",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# chart


def chart(results: dict, path: Path) -> Path | None:
    """Log-scale bars of seconds per method, grouped by N, one panel per architecture."""
    sec = results["sections"].get("methods")
    if not sec or sec.get("status") != "ok" or not sec["cells"]:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    archs = list(sec["archs"])
    methods = [m for m in METHOD_ORDER if m in sec["methods"]]
    fig, axes = plt.subplots(1, len(archs), figsize=(4.2 * len(archs) + 1, 3.8), squeeze=False, sharey=True)
    width = 0.8 / max(1, len(methods))
    for ax, arch in zip(axes[0], archs, strict=True):
        cells = {(c["method"], c["n_examples"]): c for c in sec["cells"] if c["arch"] == arch}
        sizes = sorted({n for (_, n) in cells})
        for j, m in enumerate(methods):
            for i, n in enumerate(sizes):
                c = cells.get((m, n))
                if c is None:
                    continue
                ax.bar(
                    i + (j - (len(methods) - 1) / 2) * width,
                    c["seconds"],
                    width,
                    color=COLORS[m],
                    alpha=0.45 if c["extrapolated"] else 1.0,
                    hatch="//" if c["extrapolated"] else None,
                    edgecolor="black" if c["extrapolated"] else COLORS[m],
                    linewidth=0.5,
                )
        ax.set_yscale("log")
        ax.set_xticks(range(len(sizes)), [f"{n:,}" for n in sizes])
        ax.set_xlabel("N (foreground; + N background)")
        ax.set_title(f"{arch} ({sec['archs'][arch]['params']:,} params)")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].set_ylabel("seconds (incl. statistics)")
    handles = [Patch(color=COLORS[m], label=METHOD_LABEL[m]) for m in methods]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label="extrapolated"))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False, fontsize=8)
    dev = results["device"]
    fig.suptitle(f"{dev['name']}  {results['created'][:10]}  ({results['mode']})", y=0.02, fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 0.93))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------------
# files


def _load_results(out_dir: Path) -> list[dict]:
    found = []
    for p in sorted(out_dir.glob("*.json")):
        try:
            r = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(r, dict) and r.get("schema") == 1 and "device" in r:
            r["_stem"] = p.stem
            found.append(r)
    return found


def write_readme(out_dir: Path) -> Path:
    """Rebuild ``README.md``: header, then per device the latest full run (else the latest run)."""
    runs = _load_results(out_dir)
    by_device: dict[str, list[dict]] = {}
    for r in runs:
        by_device.setdefault(r["device"]["name"], []).append(r)
    parts = [README_HEADER]
    for device in sorted(by_device):
        rs = sorted(by_device[device], key=lambda r: r["created"])
        full = [r for r in rs if r["mode"] == "full"]
        latest = (full or rs)[-1]
        md = re.sub(r"^(#+) ", r"#\1 ", render_markdown(latest), flags=re.M)  # one level down
        parts.append(md)
        if latest["_stem"] + ".png" in {p.name for p in out_dir.glob("*.png")}:
            parts.append(f"![method runtimes]({latest['_stem']}.png)\n")
    files = sorted(f"`{r['_stem']}.*` ({r['mode']}, {r['created']})" for r in runs)
    ours = {r["_stem"] + ".json" for r in runs}
    others = sorted(p.name for p in out_dir.glob("*.json") if p.name not in ours)
    focused = []  # runs written with --out into a subfolder (one README each)
    for sub in sorted(p for p in out_dir.iterdir() if p.is_dir()):
        for r in sorted(_load_results(sub), key=lambda r: r["created"]):
            cmd = r.get("command", "")
            focused.append(f"`{sub.name}/{r['_stem']}.*` ({r['mode']}, {r['created']}): `{cmd}`")
    if files or others or focused:
        parts.append(
            "## All results files\n\n"
            + "\n".join(
                f"- {f}"
                for f in files + [f"`{o}` (written by another bench script)" for o in others] + focused
            )
            + "\n"
        )
    return _atomic(out_dir / "README.md", "\n".join(parts))


def write_all(results: dict, out_dir: Path, plot: bool = True) -> dict[str, str]:
    """Write the JSON, markdown, PNG and README; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = results_stem(results)
    paths: dict[str, str] = {}
    paths["json"] = str(
        _atomic(out_dir / f"{stem}.json", json.dumps(results, indent=1, default=_json_default) + "\n")
    )
    paths["markdown"] = str(_atomic(out_dir / f"{stem}.md", render_markdown(results)))
    if plot:
        try:
            png = chart(results, out_dir / f"{stem}.png")
        except ImportError as exc:  # matplotlib is a core dependency, but keep the numbers regardless
            png = None
            print(f"chart skipped: {exc}")
        if png is not None:
            paths["png"] = str(png)
    paths["readme"] = str(write_readme(out_dir))
    return paths


def console_summary(results: dict, paths: dict[str, str]) -> str:
    """What ``python -m bench`` prints: the markdown and where the files went."""
    return render_markdown(results) + "\nWritten:\n" + "\n".join(f"  {k}: {v}" for k, v in paths.items())
