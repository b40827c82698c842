"""``report.html``: one self-contained page that leads with the findings.

Order, for the biologist who opens it: the findings (per method, the top interactions with
redundant TF names merged by family pair, q-values, effect sizes, distances, and with ``--truth``
the score next to chance, and a pointer to the quality flags when there are any), then the top pairs
with both partners' filter logos, each beside the logo of the database motif that names it, attention
examples, the method comparison, plots (distances in the foreground beside the background) and tables,
what to check before trusting the findings (quality flags), the filter motifs, and last the settings
and column notes. Images are embedded (base64); the page opens
offline. Number formats: p and q with two significant digits, effect sizes and scores with two
decimals, distances in whole bp.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from satori_jax.interpret.evaluate import against_chance
from satori_jax.interpret.pooled import RANKING_COLUMNS, RANKING_DOCS
from satori_jax.interpret.report import (
    COLUMN_DOCS,
    INTERACTION_COLUMNS,
    TF_INTERACTION_COLUMNS,
    atomic_write_text,
)

__all__ = ["write_html", "quality_flags", "finding_groups", "top_filters"]

#: TomTom's p / q columns are not the interaction tests' (their notes would mislead)
TOMTOM_DOCS = {
    "p_value": "TomTom p-value of the best hit (similarity of the filter PWM to the database motif).",
    "q_value": "TomTom q-value of the best hit; filters with q < 0.05 are named after it.",
}
_PQ = {"q_tf", "p_value", "q_value", "q_excess", "p_excess"}
_TWO_DP = {"effect_size", "median_score_fg", "median_score_bg", "excess_z", "u_statistic"}
_ONE_DP = {"ic"}
_BP = {"median_distance_bp", "offset"}
#: a TF carried by at least this many matched filters (and this share of them) is flagged
REDUNDANT_MIN, REDUNDANT_SHARE = 3, 0.2
#: matched filters below this information content (bits) are weak matches
LOW_IC_BITS = 8.0
TOP_GROUPS = 10
#: TF pairs per method in the logo table, and the width of each logo there (px)
LOGO_PAIRS, LOGO_PX = 5, 210

#: notes on the keys of ``summary.json`` (end of the report)
SUMMARY_DOCS = (
    "<dl>"
    "<dt>methods.&lt;m&gt;.n_examples</dt><dd>Foreground examples scored.</dd>"
    "<dt>methods.&lt;m&gt;.n_background</dt><dd>Background examples scored.</dd>"
    "<dt>methods.&lt;m&gt;.n_tested</dt><dd>Filter pairs tested (max foreground score at or above the "
    "cutoff, observed in the background or tested against zeros).</dd>"
    "<dt>methods.&lt;m&gt;.n_significant_filter_pairs</dt><dd>Tested pairs with q &lt; 0.05.</dd>"
    "<dt>methods.&lt;m&gt;.n_significant_tf_pairs</dt><dd>Rows of tf_interactions_&lt;m&gt;.tsv.</dd>"
    "<dt>methods.&lt;m&gt;.top_tf_pairs</dt><dd>Best TF pairs (tf_a, tf_b, q_tf, q_value), best first "
    "(by q_tf).</dd>"
    "<dt>methods.&lt;m&gt;.excess</dt><dd>The listed TF pairs that also stand out beyond their TFs' "
    "other pairs (q_excess &lt; 0.05): level (tf: on the TF x TF matrix; filter: on the filter x filter "
    "matrix, with fewer than 20 tested TF pairs; none: too few tests), count, top pairs and, with "
    "--truth, precision / recall / F1; null_centre and null_scale of the filter-matrix excess.</dd>"
    "<dt>methods.&lt;m&gt;.baseline</dt><dd>With --truth: the same scores for calling every candidate "
    "pair (all pairs of the simulated TF pool when dataset.json or motifs.meme sits beside the truth "
    "file, else every tested TF pair (a filter pair, the pool) or listed one): the chance level a precision "
    "/ F1 must clear.</dd>"
    "<dt>methods.&lt;m&gt;.truth</dt><dd>With --truth: candidates (the rule), exact and (with TF "
    "families) family-merged views, each with calls (precision, recall, F1, chance_precision, "
    "chance_recall, chance_f1, n_candidates) and ranking (auprc, auroc, chance_auprc: the exact "
    "expectation of a random order; prevalence: fraction of true pairs among the ranked; TF pairs ranked "
    "by their smallest p-value, never-tested pairs last).</dd>"
    "<dt>methods.&lt;m&gt;.seconds</dt><dd>Wall time of scoring (foreground + background) and "
    "statistics.</dd>"
    "<dt>methods.&lt;m&gt;.precision / recall / f1</dt><dd>With --truth: significant TF pairs scored "
    "against the true pairs (unordered, self pairs excluded).</dd>"
    "<dt>run</dt><dd>Settings, example counts, filters matched, step timings.</dd></dl>"
)


def _as_float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _fmt(col: str, v: Any) -> str:
    """One cell, formatted by column kind (see the module docstring)."""
    if v is None or v == "":
        return ""
    x = _as_float(v)
    if math.isnan(x) or col not in _PQ | _TWO_DP | _ONE_DP | _BP:
        if isinstance(v, float) and math.isnan(v):
            return ""
        if isinstance(v, float) and v == int(v):
            return str(int(v))
        return str(v).replace("\t", " ").replace("\n", " ")
    if col in _PQ:
        return f"{x:.2g}"
    if col in _TWO_DP:
        return f"{x:.2f}"
    if col in _ONE_DP:
        return f"{x:.1f}"
    return f"{x:.0f}"


def _img(path: str | os.PathLike, caption: str = "", width: int | None = None, alt: str = "") -> str:
    p = Path(path)
    if not p.is_file():
        return ""
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    w = f' style="max-width:{width}px"' if width else ""
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure><img alt="{html.escape(alt or p.name)}" src="data:image/png;base64,{data}"{w}>{cap}'
            "</figure>")


def _table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]], limit: int = 25,
           docs: Mapping[str, str] | None = None) -> str:
    if not rows:
        return "<p class=note>(no rows)</p>"
    docs = {**COLUMN_DOCS, **(docs or {})}
    head = "".join(f"<th title=\"{html.escape(docs.get(c, ''))}\">{html.escape(c)}</th>" for c in columns)
    body = ["<tr>" + "".join(f"<td>{html.escape(_fmt(c, r.get(c)))}</td>" for c in columns) + "</tr>"
            for r in list(rows)[:limit]]
    more = f"<p class=note>{len(rows) - limit} more rows in the TSV file.</p>" if len(rows) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _doc_list(columns: Sequence[str], docs: Mapping[str, str] | None = None) -> str:
    docs = {**COLUMN_DOCS, **(docs or {})}
    return "<dl>" + "".join(f"<dt>{html.escape(c)}</dt><dd>{html.escape(docs.get(c, ''))}</dd>"
                            for c in columns) + "</dl>"


_CSS = """
body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:12px;margin:0.5em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#eee;cursor:help}
figure{display:inline-block;margin:4px;vertical-align:top}
figcaption{font-size:11px;color:#555}
table.logos td{vertical-align:top}
table.logos figure{margin:0 2px}
.note{font-size:12px;color:#666}
.flag{background:#fff4e0;border-left:4px solid #e69500;padding:4px 8px;margin:4px 0;font-size:13px}
.ok{background:#eef8ee;border-left:4px solid #3a3;padding:4px 8px;margin:4px 0;font-size:13px}
.lede{font-size:15px}
dt{font-weight:bold;font-family:monospace}
dd{margin:0 0 4px 1.5em;font-size:13px}
code{background:#f4f4f4;padding:0 2px}
"""


# ----------------------------------------------------------------------------------------------
# findings: TF pairs merged by family pair


def finding_groups(tf_rows: Sequence[Mapping[str, Any]],
                   truth: set[frozenset[str]] | None = None) -> list[dict[str, Any]]:
    """The significant TF pairs grouped by family pair (by name when a family is unknown), best first.

    Redundant names (GABPA / ELF1 / EHF x HNF4A / HNF4G) would otherwise fill the top of the list
    with one finding. Each group keeps the statistics of its best TF pair (``tf_rows`` are sorted
    by q-value), the names on each side, the number of TF pairs and filter pairs, and with ``truth``
    whether any is true.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in tf_rows:
        fa, fb = r.get("family_a") or f"={r['tf_a']}", r.get("family_b") or f"={r['tf_b']}"
        a, b, fa, fb = (r["tf_a"], r["tf_b"], fa, fb) if fa <= fb else (r["tf_b"], r["tf_a"], fb, fa)
        g = groups.get((fa, fb))
        if g is None:
            g = groups[(fa, fb)] = {"best": r, "names_a": [], "names_b": [], "n_tf_pairs": 0,
                                    "n_filter_pairs": 0, "true": False,
                                    "family_a": "" if fa.startswith("=") else fa,
                                    "family_b": "" if fb.startswith("=") else fb}
        for side, name in (("names_a", a), ("names_b", b)):
            if name not in g[side]:
                g[side].append(name)
        g["n_tf_pairs"] += 1
        g["n_filter_pairs"] += int(_as_float(r.get("n_filter_pairs")) or 0)
        if truth is not None:
            g["true"] |= frozenset((r["tf_a"], r["tf_b"])) in truth
    return list(groups.values())


def _list_rule(run: Mapping[str, Any]) -> str:
    """The sentence saying which rules listed a TF pair, from ``summary["run"]`` (``tf_pool``,
    ``partner_rule``; both on when absent, as by default)."""
    rule = "q_tf &lt; 0.05 over TF pairs and a filter pair with q &lt; 0.05"
    if run.get("tf_pool", True):
        rule += (", or by the TF-pooled test: q_pool &lt; 0.05 with effects &ge; 0.6, above 0.5 by 1.645 "
                 "standard errors")
    if run.get("partner_rule", True):
        rule += ("; only pairs raised more than their TFs' other pairs, by one standard error, "
                 "effect_partners")
    return rule


def _findings(m: str, s: Mapping[str, Any], tf_rows: Sequence[Mapping[str, Any]], truth_pairs,
              run: Mapping[str, Any] | None = None) -> str:
    ex = s.get("excess") or {}
    g = s.get
    level = {"tf": "their two TFs' other pairs", "filter": "their two filters' other pairs"}.get(
        ex.get("level", ""), "")
    beyond = (f" {ex.get('n_significant_tf_pairs', 0)} of them also stand out beyond {level} "
              f"(q_excess &lt; 0.05): evidence beyond two motifs that are each enriched or co-occurring in "
              f"the foreground."
              if level else " Too few pairs were tested for the excess test.")
    parts = [f"<h3>{html.escape(m)}</h3><p>{g('n_significant_tf_pairs', 0)} TF pairs listed "
             f"({_list_rule(run or {})}) from {g('n_significant_filter_pairs', 0)} significant of "
             f"{g('n_tested', 0)} tested filter "
             f"pairs in {g('n_examples', 0)} foreground and {g('n_background', 0)} background examples."
             f"{beyond}</p>"]
    if s.get("truth"):
        parts.append(f"<p>Against --truth: {html.escape(against_chance(s['truth'], digits=2))}.</p>")
    groups = finding_groups(tf_rows, truth=truth_pairs)
    if not groups:
        parts.append(f"<p class=note>No TF pair passes the list's rules ({_list_rule(run or {})}).</p>")
        return "".join(parts)
    cols = ["rank", "TF pair", "families", "q_tf", "q_value", "effect_size", "median_distance_bp",
            "q_excess", "TF pairs", "filter pairs"] + (["true"] if truth_pairs is not None else [])
    head = "".join(f"<th title=\"{html.escape(COLUMN_DOCS.get(c, ''))}\">{html.escape(c)}</th>" for c in cols)
    body = []
    for i, g in enumerate(groups[:TOP_GROUPS], 1):
        b = g["best"]
        fams = " × ".join(x for x in (g["family_a"], g["family_b"]) if x) or ""
        cells = [str(i), " / ".join(g["names_a"]) + " — " + " / ".join(g["names_b"]), fams,
                 _fmt("q_tf", b.get("q_tf")), _fmt("q_value", b.get("q_value")),
                 _fmt("effect_size", b.get("effect_size")),
                 _fmt("median_distance_bp", b.get("median_distance_bp")), _fmt("q_excess", b.get("q_excess")),
                 str(g["n_tf_pairs"]), str(g["n_filter_pairs"])]
        if truth_pairs is not None:
            cells.append("✓" if g["true"] else "")
        body.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
    more = (f"<p class=note>{len(groups) - TOP_GROUPS} more family pairs in "
            f"<code>tf_interactions_{html.escape(m)}.tsv</code>.</p>" if len(groups) > TOP_GROUPS else "")
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}")
    return "".join(parts)


def _distance_table(table: Mapping[str, Mapping[str, float]]) -> str:
    """Median distance of each top TF pair in the foreground and the background (bp)."""
    if not table:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td class=n>{_fmt('median_distance_bp', v['median_fg'])}</td>"
        f"<td class=n>{_fmt('median_distance_bp', v['median_bg']) or 'never seen'}</td></tr>"
        for k, v in table.items())
    return ("<p class=note>Median distance between the two motifs over all filter pairs of each TF pair "
            "(the tables give it for the best filter pair), in the foreground and in the background: a "
            "preferred spacing shows as a foreground distance that differs from the background's.</p>"
            "<table class=dist><thead><tr><th>TF pair</th><th title=\"Median distance (bp) between the two "
            "motifs in foreground examples\">median distance, foreground</th><th title=\"The same in "
            "background examples\">median distance, background</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _partner(f: int | None, names: Mapping[int, Mapping[str, Any]], logos: Mapping[int, Any],
             db_logos: Mapping[int, Any]) -> str:
    """One partner of a pair: filter logo, database logo, caption."""
    if f is None:
        return "<td></td>"
    r = names.get(f, {})
    named = r.get("target") if _as_float(r.get("q_value")) < 0.05 else ""
    cap = (f"filter{f}: {named} ({r.get('target_id', '')}, TomTom q {_fmt('q_value', r.get('q_value'))}, "
           f"{r.get('orientation', '')} strand)" if named else f"filter{f}: no database match")
    cap += f"; {_fmt('ic', r.get('ic'))} bits, {r.get('n_sites', '?')} sites"
    figs = ""
    if f in logos:
        figs += _img(logos[f], "", width=LOGO_PX, alt=f"filter{f} logo")
    if f in db_logos:
        figs += _img(db_logos[f], "", width=LOGO_PX, alt=f"{named} database logo")
    elif named:
        figs += "<span class=note>(database motif not drawn)</span>"
    return f"<td><div>{figs}</div><div class=note>{html.escape(cap)}</div></td>"


def _logo_table(m: str, rows: Sequence[Mapping[str, Any]], names, logos, db_logos) -> str:
    """The method's top TF pairs, each partner's filter and database logos side by side."""
    body = []
    for i, r in enumerate(list(rows)[:LOGO_PAIRS], 1):
        fs = [int(t[6:]) for t in str(r.get("filter_pairs", "")).split(";")[0].split("-")
              if t.startswith("filter") and t[6:].isdigit()]
        fa, fb = (fs + [None, None])[:2]
        head = (f"<td>{i}</td><td>{html.escape(str(r['tf_a']))} — {html.escape(str(r['tf_b']))}<br>"
                f"<span class=note>q {_fmt('q_value', r.get('q_value'))}, effect "
                f"{_fmt('effect_size', r.get('effect_size'))}, "
                f"{_fmt('median_distance_bp', r.get('median_distance_bp'))} bp</span></td>")
        cells = "".join(_partner(f, names, logos, db_logos) for f in (fa, fb))
        body.append(f"<tr>{head}{cells}</tr>")
    if not body:
        return ""
    return (f"<h3>{html.escape(m)}</h3><table class=logos><thead><tr><th>rank</th><th>TF pair</th>"
            "<th>partner A: filter | database</th><th>partner B: filter | database</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


# ----------------------------------------------------------------------------------------------
# quality flags


def quality_flags(summary: Mapping[str, Any], tomtom_rows: Sequence[Mapping[str, Any]],
                  tf_tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """Plain-text warnings about what could make the lists misleading (empty: nothing found).

    Checks: many matched filters named after one TF (redundant or weak matches that multiply one
    motif's pairs), matched filters with little information, top pairs resting on one filter pair
    only, most tested pairs significant (enrichment rather than interaction), few foreground
    examples, truth names missing from the database.
    """
    flags: list[str] = []
    matched = [r for r in tomtom_rows if r.get("target") and _as_float(r.get("q_value")) < 0.05]
    by_tf: dict[str, list[float]] = {}
    for r in matched:
        by_tf.setdefault(str(r["target"]), []).append(_as_float(r.get("ic")))
    for tf, ics in sorted(by_tf.items(), key=lambda kv: -len(kv[1])):
        if len(ics) >= REDUNDANT_MIN and len(ics) >= REDUNDANT_SHARE * len(matched):
            flags.append(f"{len(ics)} of {len(matched)} matched filters are named {tf} "
                         f"({min(ics):.1f}-{max(ics):.1f} bits): one motif learned many times, or weak "
                         f"matches; pairs with {tf} are counted once per filter pair.")
    weak = [r for r in matched if _as_float(r.get("ic")) < LOW_IC_BITS]
    if weak:
        flags.append(f"{len(weak)} of {len(matched)} matched filters carry under {LOW_IC_BITS:.0f} bits of "
                     f"information: their names are uncertain (filters_tomtom.tsv, column ic).")
    run = summary.get("run", {})
    for m, s in summary.get("methods", {}).items():
        tested, sig = s.get("n_tested", 0), s.get("n_significant_filter_pairs", 0)
        if tested >= 100 and sig > 0.25 * tested:
            flags.append(f"{m}: {sig} of {tested} tested filter pairs are significant: the foreground "
                         f"differs from the background for most pairs (motif enrichment). Prefer the pairs "
                         f"that stand out beyond it (q_excess).")
        rows = list(tf_tables.get(m, []))[:TOP_GROUPS]
        single = [r for r in rows if int(_as_float(r.get("n_filter_pairs")) or 0) <= 1]
        if rows and len(single) > len(rows) / 2:
            flags.append(f"{m}: {len(single)} of the top {len(rows)} TF pairs rest on a single filter pair.")
    n_fg = int(run.get("n_foreground", 0) or 0)
    if 0 < n_fg < 100:
        flags.append(f"Only {n_fg} foreground examples: tests have little power, and lists are short or "
                     f"noisy.")
    if run.get("truth_unknown_names"):
        flags.append("--truth names not in the motif database (no filter can carry them): "
                     + ", ".join(run["truth_unknown_names"][:10]) + ".")
    return flags


# ----------------------------------------------------------------------------------------------
# the page


def top_filters(tf_tables: Mapping[str, Sequence[Mapping[str, Any]]], n_pairs: int = LOGO_PAIRS) -> list[int]:
    """Filters of the best filter pair of each method's top TF pairs, in order of appearance."""
    out: list[int] = []
    for rows in tf_tables.values():
        for r in list(rows)[:n_pairs]:
            first = str(r.get("filter_pairs", "")).split(";")[0]
            for tok in first.split("-"):
                if tok.startswith("filter") and tok[6:].isdigit() and int(tok[6:]) not in out:
                    out.append(int(tok[6:]))
    return out


def write_html(
    path: str | os.PathLike,
    summary: Mapping[str, Any],
    *,
    tomtom_rows: Sequence[Mapping[str, Any]],
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    tf_tables: Mapping[str, Sequence[Mapping[str, Any]]],
    images: Mapping[str, Any],
    truth_pairs: set[frozenset[str]] | None = None,
) -> Path:
    """Write the self-contained HTML report (images embedded as base64; opens offline).

    Parameters
    ----------
    summary
        The ``summary.json`` content.
    tomtom_rows
        Rows of ``filters_tomtom.tsv`` (dicts).
    tables, tf_tables
        ``method -> rows`` of the interaction and TF interaction tables.
    images
        ``"logos"``: list of (path, caption); ``"attention"``: list of (path, caption);
        ``"overlap"``: path or None; per method ``"<method>"``: dict with ``"family"`` and
        ``"distance"`` paths; ``"extra"``: list of (path, caption) from other methods (e.g. DFIM maps);
        ``"pair_logos"`` (optional): ``{filter index: path}`` logos of the filters behind the top pairs;
        ``"db_logos"`` (optional): ``{filter index: path}`` logos of their database motifs.
    truth_pairs
        With ``--truth``: the true pairs, marked in the findings.
    """
    from satori_jax.interpret.motifs import TOMTOM_COLUMNS

    run = summary.get("run", {})
    methods = summary.get("methods", {})
    matched = [r for r in tomtom_rows if r.get("target") and _as_float(r.get("q_value")) < 0.05]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>satori_jax interpretation</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>SATORI interpretation</h1>",
        f"<p class=lede>{run.get('n_foreground', '?')} foreground and {run.get('n_background', '?')} "
        f"background examples of {run.get('n_test', '?')} test sequences; {len(matched)} of "
        f"{len(tomtom_rows)} filters named by <code>{html.escape(str(run.get('motif_db', '')))}</code>; "
        f"methods {html.escape(', '.join(methods))}. Run: "
        f"<code>{html.escape(str(run.get('run_dir', '')))}</code>.</p>",
        "<h2>Findings</h2><p class=note>TF pairs whose interaction score is higher in the foreground than in "
        "the background (Mann-Whitney, Benjamini-Hochberg q &lt; 0.05 for a filter pair and q_tf &lt; 0.05 "
        "for the TF pair over all its filter pairs), TF names with the same family pair "
        "merged into one row (its statistics are those of its best TF pair).</p>",
    ]
    for m, s in methods.items():
        parts.append(_findings(m, s, tf_tables.get(m, []), truth_pairs, run))
    if any("truth" in s for s in methods.values()):
        first = next(s["truth"] for s in methods.values() if "truth" in s)
        parts.append("<p class=note>Chance: calling every candidate pair (F1) and the expected AUPRC of a "
                     "random ranking; candidates: " + html.escape(first["candidates"]) + ". TF pairs "
                     "rank by their " + html.escape(first.get("ranked_by", "smallest filter-pair p-value"))
                     + "; pairs never tested rank last.</p>")

    flags = quality_flags(summary, tomtom_rows, tf_tables)
    parts.append(f"<p class=note>{len(flags)} quality warning(s): see <a href='#check'>Check before you "
                 "trust</a>.</p>" if flags else "")

    pair_logos = images.get("pair_logos") or {}
    if top_filters(tf_tables):
        names = {int(str(r["filter"])[6:]): r for r in tomtom_rows
                 if str(r.get("filter", "")).startswith("filter")}
        parts.append("<h2>Top interactions with their motifs</h2><p class=note>The best filter pair of each "
                     "method's top TF pairs: each partner's filter logo (the motif the model learned) beside "
                     "the logo of the database motif that names it, turned the way TomTom matched it.</p>")
        db_logos = images.get("db_logos") or {}
        for m in methods:
            parts.append(_logo_table(m, tf_tables.get(m, []), names, pair_logos, db_logos))
    if images.get("attention"):
        parts.append("<h2>Attention of top examples</h2><p class=note>Raw attention (max over heads) of the "
                     "most confident foreground examples; marks show where named filters are active.</p>")
        parts += [_img(p, cap, width=520) for p, cap in images["attention"]]

    if images.get("overlap"):
        parts.append("<h2>Methods compared</h2>" + _img(images["overlap"]))
    for m in methods:
        parts.append(f"<h2>Method <code>{html.escape(m)}</code>: tables and plots</h2>")
        imgs = images.get(m, {})
        for key, cap in (("distance", "distances of the top TF pairs: foreground (blue) vs background "
                                      "(grey)"),
                         ("family", "significant TF pairs per family pair")):
            if imgs.get(key):
                parts.append(_img(imgs[key], cap, width=560))
        parts.append(_distance_table(imgs.get("distance_table") or {}))
        parts.append(f"<h3>TF interactions (<code>tf_interactions_{html.escape(m)}.tsv</code>)</h3>")
        parts.append(_table(TF_INTERACTION_COLUMNS[:-1], tf_tables.get(m, [])))
        parts.append(f"<h3>Filter-pair tests (<code>interactions_{html.escape(m)}.tsv</code>)</h3>")
        parts.append(_table(INTERACTION_COLUMNS, tables.get(m, [])))
    if images.get("extra"):
        parts.append("<h2>Further plots</h2>"
                     + "".join(_img(p, cap, width=560) for p, cap in images["extra"]))
    parts.append("<h2 id=check>Check before you trust</h2>")
    parts += ([f"<div class=flag>{html.escape(f)}</div>" for f in flags] if flags else
              ["<div class=ok>No warning: filter names are diverse and informative, and the lists are not "
               "dominated by motif enrichment.</div>"])

    parts.append("<h2>Filter motifs</h2><p>PWMs of all filters: <code>filters.meme</code>; best TomTom hits: "
                 f"<code>filters_tomtom.tsv</code>. {len(matched)} of {len(tomtom_rows)} filters match a "
                 "database motif (q &lt; 0.05).</p>")
    parts.append(_table(TOMTOM_COLUMNS, matched, limit=60, docs=TOMTOM_DOCS))
    parts += [_img(p, cap, width=300) for p, cap in images.get("logos", [])]

    parts.append("<h2>Settings and data</h2><table><tbody>" + "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>"
        f"{html.escape(json.dumps(v) if isinstance(v, list | dict) else _fmt(str(k), v))}</td></tr>"
        for k, v in run.items()) + "</tbody></table>")
    parts.append("<h2>Columns</h2><h3>interactions_&lt;method&gt;.tsv</h3>" + _doc_list(INTERACTION_COLUMNS))
    parts.append("<h3>tf_interactions_&lt;method&gt;.tsv</h3>" + _doc_list(TF_INTERACTION_COLUMNS))
    parts.append("<h3>tf_ranking_&lt;method&gt;.tsv (with the TF-pooled test)</h3>"
                 + _doc_list(RANKING_COLUMNS, RANKING_DOCS))
    parts.append("<h3>filters_tomtom.tsv</h3>" + _doc_list(TOMTOM_COLUMNS, TOMTOM_DOCS))
    parts.append("<h3>summary.json</h3>" + SUMMARY_DOCS)
    parts.append("</body></html>")
    return atomic_write_text(path, "\n".join(parts))
