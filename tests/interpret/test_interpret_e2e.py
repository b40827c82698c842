"""End-to-end smoke test: a hand-built run directory through ``interpret`` and the CLI."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from satori_jax import config as config_lib
from satori_jax.data.meme import Motif, write_meme
from satori_jax.errors import InputError

K, L, N = 8, 64, 60
MOTIF_A = "TGACTCAG"
MOTIF_B = "CACGTGAC"


def interpret_run(run, out=None, **kw):
    """:func:`satori_jax.interpret.driver.interpret` on the run's test set with these options."""
    from satori_jax.interpret.driver import interpret
    from satori_jax.interpret.options import InterpretOptions

    return interpret(run, InterpretOptions(out=out, **kw))


def _pwm(consensus: str) -> np.ndarray:
    p = np.full((len(consensus), 4), 0.02)
    for j, c in enumerate(consensus):
        p[j, "ACGT".index(c)] = 0.94
    return p


def _write_run(run, seed: int = 0):
    """A run directory the way satori_jax.train writes it (config, data.json, best checkpoint, predictions).

    The first two filters are set to the log-odds of motifs A and B; positives carry A and B,
    negatives one of them. Probabilities are made up (0.9 / 0.1): interpretation only uses them
    to select examples.
    """
    from satori_jax.checkpoints import save_checkpoint
    from satori_jax.models import build_model
    from satori_jax.train import create_state

    cfg = config_lib.from_dict({
        "data": {"length": L},
        "model": {"num_filters": 6, "filter_width": K, "pool_size": 4, "num_heads": 2, "head_dim": 4,
                  "proj_dim": 8, "batch_norm": False, "dropout": 0.0, "attn_dropout": 0.0},
    })
    run.mkdir()
    config_lib.save(cfg, run / "config.json")
    (run / "data.json").write_text(json.dumps({"source": {"kind": "test"}, "label_names": ["y"], "length": L,
                                               "num_sequences": N}))
    state = create_state(cfg, 1, L, jax.random.PRNGKey(seed))
    params = jax.tree_util.tree_map(lambda a: a, state.params)
    kernel = np.array(params["conv"]["kernel"])
    kernel[:, :, 0] = np.log2(_pwm(MOTIF_A) / 0.25)
    kernel[:, :, 1] = np.log2(_pwm(MOTIF_B) / 0.25)
    conv = {"kernel": jnp.asarray(kernel), "bias": jnp.zeros_like(params["conv"]["bias"])}
    params = {**params, "conv": conv}
    state = state.replace(params=params)
    save_checkpoint(run / "checkpoints" / "best", 1, state, {"epoch": 1, "val_auroc": 0.5})

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(N, L)).astype(np.uint8)
    labels = np.zeros((N, 1), np.float32)
    labels[: N // 2] = 1
    enc = {m: np.array(["ACGT".index(c) for c in m], np.uint8) for m in (MOTIF_A, MOTIF_B)}
    for i in range(N):
        a = int(rng.integers(0, 20))
        b = a + K + int(rng.integers(4, 20))
        if labels[i, 0] == 1:
            codes[i, a : a + K] = enc[MOTIF_A]
            codes[i, b : b + K] = enc[MOTIF_B]
        else:
            codes[i, b : b + K] = enc[MOTIF_A if i % 2 else MOTIF_B]
    probs = np.where(labels > 0, 0.9, 0.1).astype(np.float32)
    ids = np.array([f"seq{i}" for i in range(N)])
    np.savez_compressed(run / "test_predictions.npz", ids=ids, labels=labels, probs=probs, codes=codes,
                        label_names=np.array(["y"]))
    # sanity: the run loads
    from satori_jax.runs import load_run

    loaded = load_run(run)
    assert isinstance(loaded.model, type(build_model(cfg.model, 1)))
    return run


@pytest.fixture(scope="module")
def run_and_db(tmp_path_factory):
    pytest.importorskip("satori_jax.runs")
    base = tmp_path_factory.mktemp("e2e")
    run = _write_run(base / "run")
    rng = np.random.default_rng(1)
    db = [Motif(f"decoy{i}", rng.dirichlet(np.full(4, 0.3), size=int(rng.integers(6, 12))), alt=f"D{i}")
          for i in range(28)]
    db += [Motif("TFA", _pwm(MOTIF_A), alt="MA0001.1"), Motif("TFB", _pwm(MOTIF_B), alt="MA0002.1")]
    write_meme(base / "db.meme", db)
    (base / "families.tsv").write_text("TFA\tbZIP\nTFB\tbHLH\n")
    (base / "truth.tsv").write_text("tf_a\ttf_b\nTFA\tTFB\n")
    return base, run


def test_interpret_run_end_to_end(run_and_db):
    from satori_jax.interpret.motifs import TOMTOM_COLUMNS
    from satori_jax.interpret.pooled import RANKING_COLUMNS
    from satori_jax.interpret.report import INTERACTION_COLUMNS, TF_INTERACTION_COLUMNS, read_tsv

    base, run = run_and_db
    out = base / "out"
    summary = interpret_run(run, out, methods=("raw", "attr"), motif_db=base / "db.meme",
                            family_table=base / "families.tsv", truth=base / "truth.tsv", batch_size=16,
                            verbose=False)
    for name in ("filters.meme", "filters_tomtom.tsv", "report.html", "summary.json", "method_overlap.png",
                 "interactions_raw.tsv", "interactions_attr.tsv", "tf_interactions_raw.tsv",
                 "tf_interactions_attr.tsv", "families_raw.png", "distances_attr.png"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*tmp*"))  # no temporary files left behind
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))

    tomtom = read_tsv(out / "filters_tomtom.tsv")
    assert tuple(tomtom[0]) == TOMTOM_COLUMNS
    assert tomtom[0]["target"] == "TFA" and tomtom[0]["family"] == "bZIP"
    assert float(tomtom[0]["q_value"]) < 0.05
    assert tomtom[1]["target"] == "TFB" and tomtom[1]["family"] == "bHLH"
    assert list((out / "logos").glob("filter0.png"))

    for m in ("raw", "attr"):
        header = (out / f"interactions_{m}.tsv").read_text().splitlines()[0].split("\t")
        assert header == list(INTERACTION_COLUMNS)
        header = (out / f"tf_interactions_{m}.tsv").read_text().splitlines()[0].split("\t")
        assert header == list(TF_INTERACTION_COLUMNS)
        # the ranking: every tested TF pair once, strongest first, each listed pair marked with its rule
        ranking = read_tsv(out / f"tf_ranking_{m}.tsv")
        assert tuple(ranking[0]) == RANKING_COLUMNS and [int(r["rank"]) for r in ranking] == list(
            range(1, len(ranking) + 1))
        assert len({(r["tf_a"], r["tf_b"]) for r in ranking}) == len(ranking)
        for r in ranking:
            assert int(r["rank"]) <= len(ranking) and min(int(r["rank_filter"]), int(r["rank_pool"])) >= 1
        listed = {(r["tf_a"], r["tf_b"]): r["listed_by"] for r in read_tsv(out / f"tf_interactions_{m}.tsv")}
        assert {(r["tf_a"], r["tf_b"]): r["listed_by"] for r in ranking if r["listed_by"]} == listed
        s = summary["methods"][m]
        assert s["truth"]["ranked_by"].startswith("better of two ranks")
        for key in ("n_examples", "n_tested", "n_significant_filter_pairs", "n_significant_tf_pairs",
                    "top_tf_pairs", "seconds", "precision", "recall", "f1"):
            assert key in s, (m, key)
        assert s["n_examples"] == N // 2 and s["n_background"] == N // 2
        assert s["n_tested"] == len(read_tsv(out / f"interactions_{m}.tsv"))
        # a handful of filter pairs: too few for the excess test, which says so instead of guessing
        ex = s["excess"]
        assert s["n_tested"] < 100 and ex["null_scale"] is None and ex["level"] == "none"
        assert ex["n_significant_tf_pairs"] == 0 and ex["f1"] == 0.0 and ex["top_tf_pairs"] == []
        if s["n_significant_tf_pairs"]:  # the candidates include every reported pair
            assert s["baseline"]["recall"] >= s["recall"] and s["baseline"]["n_tf_pairs"] >= 1
        # no data set beside truth.tsv: candidates are the tested TF pairs; the family table merges names
        assert s["truth"]["candidates"] == "every tested TF pair (a filter pair, the pool) or listed one"
        assert s["truth"]["exact"]["calls"]["f1"] == s["f1"] and set(s["truth"]) >= {"exact", "family"}
        assert 0.0 <= s["truth"]["exact"]["ranking"]["chance_auprc"] <= 1.0
        assert s["seconds"] > 0
        rows = read_tsv(out / f"interactions_{m}.tsv")
        if s["top_tf_pairs"]:  # (a pair listed by the TF-pooled test alone may have no tested filter pair)
            top = s["top_tf_pairs"][0]
            assert top["q_value"] < 0.05 and (top["listed_by"] == "pool" or top["q_tf"] < 0.05)
        # the filter pair of the planted motifs is observed in every positive
        ab = [r for r in rows if (r["filter_a"], r["filter_b"]) == ("filter0", "filter1")]
        if ab:
            assert int(ab[0]["n_fg"]) == N // 2 and ab[0]["tf_a"] == "TFA" and ab[0]["tf_b"] == "TFB"
    assert summary["run"]["n_filters_matched"] >= 2
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "https://" not in html
    _check_logo_table(out, html, tomtom, base / "db.meme")


def _check_logo_table(out, html, tomtom, db_path):
    """The top TFA-TFB pair in the logo table: each partner's filter logo beside its database motif's,
    drawn from the database PWM turned the way TomTom matched it."""
    import base64
    import re

    from satori_jax.data.meme import read_meme, reverse_complement_pwm
    from satori_jax.interpret import plots

    assert "Top interactions with their motifs" in html
    table = html[html.index("Top interactions with their motifs"):html.index("<h2>Methods compared</h2>")]
    db = {m.name: m for m in read_meme(db_path)}
    for f, tf in ((0, "TFA"), (1, "TFB")):
        row = tomtom[f]
        assert row["target"] == tf
        pwm = db[tf].pwm if row["orientation"] == "+" else reverse_complement_pwm(db[tf].pwm)
        turned = "_rc" if row["orientation"] == "-" else ""
        path = out / "logos" / f"db_{row['target_id']}{turned}.png"
        title = f"database: {tf} ({row['target_id']})" + (", reverse complement" if turned else "")
        assert path.read_bytes() == plots.logo(pwm, out.parent / "ref.png", title=title).read_bytes()
        # filter logo, then the database logo, in the same cell
        cell = re.search(rf'<td><div><figure><img alt="filter{f} logo" src="data:image/png;base64,[^"]+"'
                         rf'[^>]*></figure><figure><img alt="{tf} database logo" src="data:image/png;base64,'
                         rf'([^"]+)"', table)
        assert cell, (f, tf)
        assert base64.b64decode(cell.group(1)) == path.read_bytes()


def test_cli_and_errors(run_and_db, capsys):
    from satori_jax.cli.common import run_cli
    from satori_jax.cli.interpret import main

    base, run = run_and_db
    out = base / "out_cli"
    code = run_cli(main, [str(run), "--out", str(out), "--methods", "raw", "--motif-db",
                          str(base / "db.meme"), "--max-examples", "12", "--attn-cutoff", "0",
                          "--batch-size", "8", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert str(out) in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["methods"]) == ["raw"] and summary["methods"]["raw"]["n_examples"] == 12
    assert summary["run"]["attn_cutoff"] == 0.0
    # defaults: motif sites at the activity fraction, normalised attr
    assert summary["run"]["activity_fraction"] == summary["run"]["motif_fraction"] == 0.65
    assert summary["run"]["attr_normalize"] is True and summary["run"]["attr_sign"] == "positive"
    assert summary["run"]["fis_normalize"] is True and summary["run"]["partner_rule"] is True
    header = (out / "tf_interactions_raw.tsv").read_text().splitlines()[0].split("\t")
    assert header[-1] == "effect_partners"

    # a lower activity fraction means more active sites, so at least as many observed pairs
    out2 = base / "out_cli2"
    code = run_cli(main, [str(run), "--out", str(out2), "--methods", "raw", "--motif-db",
                          str(base / "db.meme"), "--max-examples", "12", "--attn-cutoff", "0",
                          "--activity-fraction", "0.3", "--motif-fraction", "0.5", "--no-attr-normalize",
                          "--attr-sign", "absolute", "--no-fis-normalize", "--no-partner-rule",
                          "--batch-size", "8", "--quiet"])
    assert code == 0, capsys.readouterr().err
    s2 = json.loads((out2 / "summary.json").read_text())
    assert s2["run"]["fis_normalize"] is False and s2["run"]["partner_rule"] is False
    assert (s2["run"]["activity_fraction"], s2["run"]["motif_fraction"], s2["run"]["attr_normalize"],
            s2["run"]["attr_sign"]) == (0.3, 0.5, False, "absolute")
    assert s2["methods"]["raw"]["n_observed_pairs_fg"] >= summary["methods"]["raw"]["n_observed_pairs_fg"]
    assert s2["methods"]["raw"]["n_observed_pairs_fg"] > 0

    code = run_cli(main, [str(run), "--methods", "raw,bogus", "--motif-db", str(base / "db.meme")])
    err = capsys.readouterr().err
    assert code == 2 and "bogus" in err and "raw" in err and "attr" in err

    with pytest.raises(InputError, match="motif database not found"):
        interpret_run(run, base / "o2", motif_db=base / "missing.meme", verbose=False)
    no_pred = base / "no_pred"
    no_pred.mkdir()
    with pytest.raises(InputError, match="test_predictions.npz"):
        interpret_run(no_pred, motif_db=base / "db.meme", verbose=False)
    with pytest.raises(InputError, match="prob cutoff"):
        interpret_run(run, base / "o3", motif_db=base / "db.meme", prob_cutoff=0.95, verbose=False)


def test_fis_and_dfim_plug_in(run_and_db):
    pytest.importorskip("satori_jax.interpret.fis")
    pytest.importorskip("satori_jax.interpret.dfim")
    from satori_jax.interpret.scorers import available_methods

    assert {"raw", "attr", "fis", "dfim"} <= set(available_methods())
    base, run = run_and_db
    out = base / "out_all"
    summary = interpret_run(run, out, methods="fis,dfim", motif_db=base / "db.meme", max_examples=6,
                            batch_size=8, verbose=False)
    assert list(summary["methods"]) == ["fis", "dfim"]
    for m in ("fis", "dfim"):
        assert summary["methods"][m]["seconds"] > 0
        assert (out / f"interactions_{m}.tsv").is_file() and (out / f"tf_interactions_{m}.tsv").is_file()
    assert (out / "dfim_example.png").is_file() and (out / "method_overlap.png").is_file()
    # fis's filter pairs are tested on each example's scores divided by its largest, dfim's as scored
    known = available_methods()
    assert known["fis"].normalised_test and not known["dfim"].normalised_test
    assert 0 < summary["methods"]["fis"]["cutoff"] <= 1.0  # the mean of normalised scores
    plain = interpret_run(run, base / "out_fis_plain", methods="fis", motif_db=base / "db.meme",
                          max_examples=6, batch_size=8, fis_normalize=False, plots=False, verbose=False)
    assert plain["methods"]["fis"]["cutoff"] != pytest.approx(summary["methods"]["fis"]["cutoff"])


def test_truth_names_missing_from_the_motif_database_are_named_in_a_warning(run_and_db, capsys):
    """A truth file naming TFs that no database motif (so no filter) can carry warns and lists them."""
    base, run = run_and_db
    truth = base / "truth_unknown.tsv"
    truth.write_text("tf_a\ttf_b\nTFA\tTFB\nTFA\tNOT_A_TF\n")
    summary = interpret_run(run, base / "out_unknown", methods=("raw",), motif_db=base / "db.meme",
                            truth=truth, max_examples=12, batch_size=16, plots=False, verbose=False)
    err = capsys.readouterr().err
    assert "warning:" in err and "NOT_A_TF" in err and "TFB" not in err.split("database")[-1]
    assert summary["run"]["truth_unknown_names"] == ["NOT_A_TF"]
