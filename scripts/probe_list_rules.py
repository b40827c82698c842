"""Probe: how the list rule and per-example normalisation change a method's TF-pair list (not a feature).

    python scripts/probe_list_rules.py RUN DATA OUT --methods fis,dfim --max-examples 300

Runs ``interpret`` in memory on ``RUN`` (``--motif-db DATA/motifs.meme --truth
DATA/interactions.tsv``) into ``OUT``, keeps each method's foreground / background pair scores, and
scores four lists against the truth: the filter-level rule (a filter pair at q < 0.05 and q_tf < 0.05)
and a TF-pooled test (each example's best score over the filter pairs named after a TF pair, one
observed Mann-Whitney test per TF pair, Benjamini-Hochberg over TF pairs), each on the scores as
they are and divided by each example's largest score. Used for
``bench/results/accuracy/fis-dfim-list-rules-2026-12-07.md``.
"""

from __future__ import annotations

import argparse
import csv

from satori_jax.interpret import accumulate
from satori_jax.interpret.driver import interpret
from satori_jax.interpret.evaluate import load_truth
from satori_jax.interpret.interactions import PairScores
from satori_jax.interpret.options import InterpretOptions
from satori_jax.interpret.pooled import filter_groups, group_max
from satori_jax.interpret.pooled import normalise_per_example as normalise
from satori_jax.interpret.report import tf_pair_table
from satori_jax.interpret.stats import test_pairs


def dump_scores(run: str, data: str, out: str, methods: tuple[str, ...], max_examples: int | None,
                **options) -> dict:
    """``{method: (fg, bg, num_filters)}`` from an in-memory interpret run (``options``: more
    :class:`InterpretOptions` fields)."""
    dumps: dict = {}
    orig = accumulate.ExactAccumulator.test

    def test(self, chunks, method, num_filters, opts):
        fg = PairScores.concat([z[f"{method}/fg/scores"] for z in chunks()])
        bg = PairScores.concat([z[f"{method}/bg/scores"] for z in chunks()])
        dumps[method] = (fg, bg, num_filters)
        return orig(self, chunks, method, num_filters, opts)

    accumulate.ExactAccumulator.test = test
    try:
        interpret(run, InterpretOptions(out=out, methods=methods, motif_db=f"{data}/motifs.meme",
                                        truth=f"{data}/interactions.tsv", max_examples=max_examples,
                                        plots=False, verbose=False, **options))
    finally:
        accumulate.ExactAccumulator.test = orig
    return dumps


def tomtom_names(out: str, num_filters: int) -> list[str]:
    """``(F,)`` each filter's TF name in ``OUT/filters_tomtom.tsv`` (best hit, q < 0.05), else ""."""
    names = [""] * num_filters
    for r in csv.DictReader(open(f"{out}/filters_tomtom.tsv"), delimiter="\t"):
        if r["target"] and float(r["q_value"]) < 0.05:
            names[int(r["filter"].replace("filter", ""))] = r["target"]
    return names


def filter_rows(t: dict, names: list[str]) -> list[dict]:
    """Named rows of :func:`test_pairs` columns, as :func:`tf_pair_table` and ``Truth.score`` read them."""
    keys = ("q_value", "p_value", "median_distance_bp", "median_score_fg", "median_score_bg", "n_fg", "n_bg",
            "effect_size")
    return [{"tf_a": names[x], "tf_b": names[y], "family_a": "", "family_b": "", "filter_a": f"filter{x}",
             "filter_b": f"filter{y}", **{k: t[k][i] for k in keys}}
            for i, (x, y) in enumerate(zip(t["filter_a"], t["filter_b"], strict=True))]


def probe_parser(doc: str, methods: str, max_examples: int | None) -> argparse.ArgumentParser:
    """The probes' common arguments: ``RUN DATA OUT --methods --max-examples``."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("run")
    p.add_argument("data")
    p.add_argument("out")
    p.add_argument("--methods", default=methods)
    p.add_argument("--max-examples", type=int, default=max_examples)
    return p


def main() -> None:
    a = probe_parser(__doc__, "fis,dfim", 300).parse_args()
    truth = load_truth(f"{a.data}/interactions.tsv")
    dumps = dump_scores(a.run, a.data, a.out, tuple(a.methods.split(",")), a.max_examples, tf_pool=False)
    names = tomtom_names(a.out, max(nf for *_, nf in dumps.values()))
    groups, tfs = filter_groups(names)

    def score(called: list[dict], tested: list[dict]) -> str:
        """The summary's scoring (:meth:`Truth.score`: the pool's pairs as candidates)."""
        ex = truth.score(called, tested)["exact"]
        c, k = ex["calls"], ex["ranking"]
        return (f"called {len(called)} P {c['precision']:.2f} R {c['recall']:.2f} F1 {c['f1']:.2f} "
                f"AUPRC {k['auprc']:.3f}")

    for m, (fg, bg, nf) in dumps.items():
        for lab, f in (("as is", lambda s: s), ("per-example max = 1", normalise)):
            t = test_pairs(f(fg), f(bg), "mean", nf)
            trows = filter_rows(t, names)
            print(f"{m} [{lab}] default rule ({int((t['q_value'] < 0.05).sum())} filter pairs q < 0.05): "
                  + score(tf_pair_table(trows), trows))
            tt = test_pairs(group_max(f(fg), groups), group_max(f(bg), groups), "mean", len(tfs))
            pooled = [{"tf_a": tfs[x], "tf_b": tfs[y], "p_value": pv, "q_value": q}
                      for x, y, pv, q in zip(tt["filter_a"], tt["filter_b"], tt["p_value"], tt["q_value"],
                                             strict=True)]
            print(f"{m} [{lab}] TF-pooled test: " + score([r for r in pooled if r["q_value"] < 0.05], pooled))


if __name__ == "__main__":
    main()
