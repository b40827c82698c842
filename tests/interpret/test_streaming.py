"""Streaming interpretation: chunked FASTA reader, histogram statistics, chunked == whole-set, resume."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from satori_jax.data.io import read_fasta
from satori_jax.data.meme import Motif, write_meme
from satori_jax.data.sources import iter_fasta_chunks, open_source
from satori_jax.errors import InputError
from satori_jax.interpret import accumulate
from satori_jax.interpret.histogram import Bins, hist_median, hist_quantile, mann_whitney_hist, range_from
from satori_jax.interpret.stats import mann_whitney_greater
from tests.interpret.test_interpret_e2e import MOTIF_A, MOTIF_B, _pwm, _write_run, interpret_run

PROB_CUTOFF, NEG_CUTOFF = 0.42, 0.62  # the tiny model's probabilities sit around 0.4-0.7
CHUNK = 16  # 60 test sequences -> 4 chunks


# --------------------------------------------------------------------------------------------
# chunked FASTA reader
# --------------------------------------------------------------------------------------------


def test_iter_fasta_chunks_matches_read_fasta(tmp_path):
    rng = np.random.default_rng(0)
    recs = [(f"r{i}", "".join(rng.choice(list("ACGTN"), size=int(rng.integers(5, 140))))) for i in range(23)]
    text = "".join(f">{rid} some description\r\n" + "\r\n".join(s[j:j + 60] for j in range(0, len(s), 60))
                   + "\r\n\r\n" for rid, s in recs)
    for path in (tmp_path / "a.fa", tmp_path / "a.fa.gz"):
        data = text.encode()
        path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
        ids, seqs = read_fasta(path)
        for size in (1, 5, 23, 100):
            chunks = list(iter_fasta_chunks(path, size))
            assert [len(c[0]) for c in chunks][:-1] == [size] * (len(chunks) - 1)
            assert sum((c[0] for c in chunks), []) == ids
            assert sum((c[1] for c in chunks), []) == seqs


@pytest.mark.parametrize("content", [
    b">a\nACGT\n>a\nACGT\n",  # duplicate id
    b">a\n\n>b\nACGT\n",  # empty record
    b"ACGT\n>a\nACGT\n",  # sequence before header
    b">\nACGT\n",  # header without id
    b"",  # empty file
    b">a\nAC\x00GT\n",  # binary
    b">a\nAC\xffGT\n",  # not UTF-8
    b">a\nACGT\n>b\n",  # last record empty
])
def test_iter_fasta_chunks_errors_like_read_fasta(tmp_path, content):
    path = tmp_path / "bad.fa"
    path.write_bytes(content)
    with pytest.raises(InputError) as ref:
        read_fasta(path)
    with pytest.raises(InputError) as got:
        for _ in iter_fasta_chunks(path, 1):
            pass
    assert str(got.value) == str(ref.value)


def test_iter_fasta_chunks_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        list(iter_fasta_chunks(tmp_path / "nope.fa", 10))


# --------------------------------------------------------------------------------------------
# histogram statistics
# --------------------------------------------------------------------------------------------


def _hist_of(values, groups, n_groups, bins):
    h = np.zeros((n_groups, bins.n + 1), np.int64)
    np.add.at(h, (groups, bins.index(values)), 1)
    return h


def test_mann_whitney_hist_exact_on_bin_values():
    """Scores on the bins' representative values: identical to the exact (tie-aware) test."""
    rng = np.random.default_rng(0)
    bins = Bins(1e-4, 1.0, 64)
    vals = bins.values()
    g = 40
    gf, gb = rng.integers(0, g, 3000), rng.integers(0, g, 2500)
    shift = (np.arange(g) % 5)[gf]  # some groups shifted up
    f = vals[np.clip(rng.integers(0, 50, gf.size) + shift, 0, 64)]
    b = vals[rng.integers(0, 50, gb.size)]
    u, p = mann_whitney_hist(_hist_of(f, gf, g, bins), _hist_of(b, gb, g, bins))
    u_ref, p_ref, _, _ = mann_whitney_greater(f, gf, b, gb, g)
    np.testing.assert_allclose(u, u_ref, rtol=1e-12)
    np.testing.assert_allclose(p, p_ref, rtol=1e-9, atol=1e-300)
    for k in (0, 3, 4):
        s = mannwhitneyu(f[gf == k], b[gb == k], alternative="greater", method="asymptotic")
        np.testing.assert_allclose(p[k], s.pvalue, rtol=1e-9)


def test_mann_whitney_hist_close_to_exact_on_continuous_scores():
    """Continuous (log-normal) scores, 1024 bins: p-values close, same significant groups."""
    rng = np.random.default_rng(1)
    g = 60
    gf, gb = rng.integers(0, g, 20000), rng.integers(0, g, 20000)
    effect = np.where(np.arange(g) % 3 == 0, 0.15, 0.0)[gf]
    f = np.exp(rng.normal(-4 + effect, 1.0)).astype(np.float32)
    b = np.exp(rng.normal(-4, 1.0, gb.size)).astype(np.float32)
    bins = Bins(*range_from(np.concatenate([f[:500], b[:500]]), bounded=False), 1024)
    u, p = mann_whitney_hist(_hist_of(f, gf, g, bins), _hist_of(b, gb, g, bins))
    u_ref, p_ref, _, _ = mann_whitney_greater(f, gf, b, gb, g)
    np.testing.assert_allclose(u, u_ref, rtol=1e-3)
    assert np.max(np.abs(np.log10(p) - np.log10(p_ref))) < 0.05
    assert set(np.flatnonzero(p < 0.01)) == set(np.flatnonzero(p_ref < 0.01))
    # medians within a bin width
    med = hist_median(_hist_of(f, gf, g, bins), bins.values())
    ref = np.array([np.median(f[gf == k]) for k in range(g)])
    np.testing.assert_allclose(med, ref, rtol=0.02)


def test_hist_quantile_matches_numpy_on_integers():
    rng = np.random.default_rng(2)
    d = rng.integers(0, 50, 301)
    h = np.bincount(d, minlength=50)[None]
    for q in (0.25, 0.5, 0.75, 0.0, 1.0):
        assert hist_quantile(h, np.arange(50.0), q)[0] == pytest.approx(np.percentile(d, 100 * q))
    assert np.isnan(hist_median(np.zeros((1, 5)), np.arange(5.0))[0])


# --------------------------------------------------------------------------------------------
# chunked == whole set, resume
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stream_case(tmp_path_factory):
    """A tiny run whose test_predictions.npz holds the model's own probabilities, the same test set as
    FASTA (multi-line records) + labels TSV, and a motif database."""
    from satori_jax.predict import predict_probs
    from satori_jax.runs import load_run

    base = tmp_path_factory.mktemp("stream")
    run = _write_run(base / "run")
    r = load_run(run)
    probs = predict_probs(r.model, r.variables, r.codes, 64)
    np.savez_compressed(run / "test_predictions.npz", ids=r.ids, labels=r.labels, probs=probs, codes=r.codes,
                        label_names=np.array(["y"]))
    acgt = np.array(list("ACGTN"))
    with open(base / "test.fa", "w") as fh:
        for rid, c in zip(r.ids, r.codes, strict=True):
            s = "".join(acgt[c])
            fh.write(f">{rid}\n{s[:40]}\n{s[40:]}\n")
    with open(base / "test.tsv", "w") as fh:
        fh.write("id\ty\n")
        for rid, y in zip(r.ids, r.labels[:, 0], strict=True):
            fh.write(f"{rid}\t{int(y)}\n")
    rng = np.random.default_rng(1)
    db = [Motif(f"decoy{i}", rng.dirichlet(np.full(4, 0.3), size=int(rng.integers(6, 12))), alt=f"D{i}")
          for i in range(28)]
    db += [Motif("TFA", _pwm(MOTIF_A), alt="MA0001.1"), Motif("TFB", _pwm(MOTIF_B), alt="MA0002.1")]
    write_meme(base / "db.meme", db)
    return base, run


KW = dict(methods=("raw", "attr"), prob_cutoff=PROB_CUTOFF, batch_size=16, verbose=False,
          neg_cutoff=NEG_CUTOFF)


def _stream(base, run, out, **kw):
    kw = {**KW, "plots": False, "chunk_size": CHUNK, "fasta": base / "test.fa", **kw}
    from satori_jax.interpret.driver import interpret
    from satori_jax.interpret.options import InterpretOptions

    source = open_source(fasta=kw.pop("fasta"), labels=base / "test.tsv")
    return interpret(run, InterpretOptions(out=out, **{"motif_db": base / "db.meme", **kw}), source)


@pytest.fixture(scope="module")
def reference(stream_case):
    base, run = stream_case
    mem = interpret_run(run, base / "mem", motif_db=base / "db.meme", plots=False, **KW)
    st = _stream(base, run, base / "st")
    return mem, st


def _table(path):
    from satori_jax.interpret.report import read_tsv

    return {(r["filter_a"], r["filter_b"]): r for r in read_tsv(path)}


def test_chunked_equals_whole_set(stream_case, reference):
    base, _ = stream_case
    mem, st = reference
    assert st["run"]["streaming"]["n_chunks"] == 4
    for k in ("n_test", "n_foreground", "n_background"):
        assert st["run"][k] == mem["run"][k], k
    assert mem["run"]["n_foreground"] > 0 and 0 < mem["run"]["n_background"] < 30  # the cutoff bites
    assert (base / "st" / "filters.meme").read_text() == (base / "mem" / "filters.meme").read_text()
    tomtom = [(base / d / "filters_tomtom.tsv").read_text() for d in ("st", "mem")]
    assert tomtom[0] == tomtom[1]
    for m in ("raw", "attr"):
        a, b = mem["methods"][m], st["methods"][m]
        for k in ("n_examples", "n_background", "n_observed_pairs_fg", "n_tested",
                  "n_significant_filter_pairs", "n_significant_tf_pairs", "top_tf_pairs"):
            if k == "top_tf_pairs":
                assert [(x["tf_a"], x["tf_b"]) for x in a[k]] == [(x["tf_a"], x["tf_b"]) for x in b[k]]
            else:
                assert a[k] == b[k], (m, k)
        assert b["cutoff"] == pytest.approx(a["cutoff"], rel=1e-6)
        if m == "attr":  # (the tiny model's attention is random; attribution finds the planted pair)
            assert a["n_significant_filter_pairs"] > 0 and a["top_tf_pairs"][0]["tf_a"] == "TFA"
        ta, tb = _table(base / "mem" / f"interactions_{m}.tsv"), _table(base / "st" / f"interactions_{m}.tsv")
        assert ta.keys() == tb.keys()
        for key, ra in ta.items():
            rb = tb[key]
            for c in ("n_fg", "n_bg", "median_distance_bp", "tf_a", "tf_b"):
                assert ra[c] == rb[c], (m, key, c)
            pa, pb = float(ra["p_value"]), float(rb["p_value"])
            assert abs(np.log10(pa) - np.log10(pb)) < 0.05, (m, key, pa, pb)
            assert (float(ra["q_value"]) < 0.05) == (float(rb["q_value"]) < 0.05)
            for c in ("median_score_fg", "median_score_bg"):
                assert float(rb[c]) == pytest.approx(float(ra[c]), rel=0.03, abs=1e-9), (m, key, c)
        assert b["distance_bp_significant"] == a["distance_bp_significant"]
        _tf_tables_agree(base / "mem", base / "st", m, 0.05)
    assert mem["run"]["tf_pool"] and st["run"]["tf_pool"]
    assert (base / "st" / "summary.json").is_file()


@pytest.mark.parametrize("test,null", [("observed", "theoretical"), ("conditioned", "empirical")])
def test_chunked_equals_whole_set_for_other_tests(stream_case, reference, tmp_path, monkeypatch, test, null):
    """The other pair tests and the empirical null agree between chunked and whole-set runs too
    (the chunk files do not depend on them: only the final statistics are recomputed)."""
    import shutil

    from satori_jax.interpret import stats
    monkeypatch.setattr(stats, "EMPIRICAL_MIN_TESTS", 5)  # the tiny case tests ~15 pairs
    base, run = stream_case
    shutil.copytree(base / "st" / "stream", tmp_path / "st" / "stream")
    st = _stream(base, run, tmp_path / "st", test=test, null=null)
    mem = interpret_run(run, tmp_path / "mem", motif_db=base / "db.meme", plots=False, test=test, null=null,
                        **KW)
    assert st["run"]["test"] == mem["run"]["test"] == test
    for m in ("raw", "attr"):
        a, b = mem["methods"][m], st["methods"][m]
        assert a["null"]["kind"] == b["null"]["kind"] == null
        for k in ("centre", "scale"):
            assert b["null"][k] == pytest.approx(a["null"][k], abs=0.1), (m, k)  # z units; binned p
        if null == "empirical":  # the null was estimated, not left at its floor
            assert a["null"]["centre"] > 0.0 or a["null"]["scale"] > 1.0
        for k in ("n_tested", "n_significant_filter_pairs"):
            assert a[k] == b[k], (m, k)
        ta = _table(tmp_path / "mem" / f"interactions_{m}.tsv")
        tb = _table(tmp_path / "st" / f"interactions_{m}.tsv")
        assert ta.keys() == tb.keys() and len(ta) > 0
        for key, ra in ta.items():
            rb = tb[key]
            assert (ra["n_fg"], ra["n_bg"]) == (rb["n_fg"], rb["n_bg"])
            pa, pb = float(ra["p_value"]), float(rb["p_value"])
            tol = 0.05 if null == "theoretical" else 0.2  # the estimated centre moves with binned p-values
            assert abs(np.log10(pa) - np.log10(pb)) < tol, (m, key, pa, pb)
            assert float(rb["effect_size"]) == pytest.approx(float(ra["effect_size"]), abs=0.02)
        _tf_tables_agree(tmp_path / "mem", tmp_path / "st", m, 0.05 if null == "theoretical" else 0.2)


def _tf_tables_agree(dir_a, dir_b, m: str, tol: float) -> None:
    """The TF tables of two runs list the same TF pairs by the same rules, with q_pool within tol (log10)."""
    from satori_jax.interpret.report import read_tsv

    fa, fb = ({(r["tf_a"], r["tf_b"]): r for r in read_tsv(d / f"tf_interactions_{m}.tsv")}
              for d in (dir_a, dir_b))
    assert fa.keys() == fb.keys()
    for key, ra in fa.items():
        assert ra["listed_by"] == fb[key]["listed_by"], (m, key)
        qa, qb = float(ra["q_pool"] or "nan"), float(fb[key]["q_pool"] or "nan")  # empty: not tested
        assert (np.isnan(qa) and np.isnan(qb)) or abs(np.log10(qa) - np.log10(qb)) < tol, (m, key, qa, qb)
    # the ranking files hold the same TF pairs, the listed ones marked alike, and agree on the top pair
    ra, rb = (read_tsv(d / f"tf_ranking_{m}.tsv") for d in (dir_a, dir_b))
    assert {(r["tf_a"], r["tf_b"]) for r in ra} == {(r["tf_a"], r["tf_b"]) for r in rb}
    assert ({(r["tf_a"], r["tf_b"]): r["listed_by"] for r in ra}
            == {(r["tf_a"], r["tf_b"]): r["listed_by"] for r in rb})
    assert (ra[0]["tf_a"], ra[0]["tf_b"]) == (rb[0]["tf_a"], rb[0]["tf_b"])


def test_resume_after_failure_gives_identical_outputs(stream_case, reference, monkeypatch):
    base, run = stream_case
    out = base / "resumed"

    def fail(pass_no, chunk):
        if (pass_no, chunk) == (2, 1):
            raise RuntimeError("injected failure")

    monkeypatch.setattr(accumulate, "after_chunk", fail)
    with pytest.raises(RuntimeError, match="injected"):
        _stream(base, run, out)
    assert not (out / "summary.json").exists()
    done2 = sorted(p.name for p in (out / "stream").glob("pass2_*.npz"))
    assert done2 == ["pass2_00000.npz", "pass2_00001.npz"]
    assert len(list((out / "stream").glob("pass1_*.npz"))) == 4
    assert not list((out / "stream").glob(".*tmp*"))

    done = []
    monkeypatch.setattr(accumulate, "after_chunk", lambda p, c: done.append((p, c)))
    summary = _stream(base, run, out)
    assert done == [(2, 2), (2, 3)]  # only the unfinished chunks were recomputed
    ref = base / "st"
    for name in ("filters.meme", "filters_tomtom.tsv", "interactions_raw.tsv", "interactions_attr.tsv",
                 "tf_interactions_raw.tsv", "tf_interactions_attr.tsv"):
        assert (out / name).read_text() == (ref / name).read_text(), name
    strip = lambda s: {m: {k: v for k, v in e.items() if k != "seconds"} for m, e in s["methods"].items()}  # noqa: E731
    assert strip(summary) == strip(json.loads((ref / "summary.json").read_text()))

    # changed settings: the old chunks are discarded
    done.clear()
    _stream(base, run, out, chunk_size=30)
    assert done == [(1, 0), (1, 1), (3, 0), (3, 1), (2, 0), (2, 1)]  # pass 3: motif counts
    assert len(list((out / "stream").glob("pass1_*.npz"))) == 2


def test_stream_cli_and_errors(stream_case, capsys):
    from satori_jax.cli.interpret import main

    base, run = stream_case
    out = base / "cli"
    rc = main([str(run), "--out", str(out), "--fasta", str(base / "test.fa"),
               "--labels", str(base / "test.tsv"), "--chunk-size", "25", "--methods", "raw",
               "--motif-db", str(base / "db.meme"), "--quiet",
               "--prob-cutoff", str(PROB_CUTOFF), "--batch-size", "16", "--background", "shuffle"])
    assert rc == 0
    assert "raw:" in capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())
    assert s["run"]["streaming"]["n_chunks"] == 3 and (out / "report.html").is_file()
    assert s["run"]["background"] == "shuffle" and s["run"]["n_background"] == s["run"]["n_foreground"]
    assert list(out.glob("attention_*.png")) and (out / "logos" / "filter0.png").is_file()
    with pytest.raises(InputError, match="max-examples"):
        main([str(run), "--fasta", str(base / "test.fa"), "--labels", str(base / "test.tsv"),
              "--max-examples", "5"])
    with pytest.raises(InputError, match="together"):
        main([str(run), "--fasta", str(base / "test.fa"), "--out", str(base / "x")])
    # a FASTA record without labels
    (base / "extra.fa").write_text((base / "test.fa").read_text() + ">stray\nACGT\n")
    with pytest.raises(InputError, match="stray"):
        _stream(base, run, base / "x", fasta=base / "extra.fa")
    # no positive above the cutoff: the in-memory path's message
    with pytest.raises(InputError, match="prob cutoff"):
        _stream(base, run, base / "y", prob_cutoff=0.99)


def test_sequences_of_another_length(stream_case, reference, tmp_path, capsys):
    """FASTA records longer than the model's 64 bp: centre-cropped as training did (the run was
    trained with data.length = 64), giving the very tables of the 64 bp originals, and counted; for a
    run trained on sequences as given (data.length = 0) an error naming the record and both lengths."""
    import shutil

    base, run = stream_case
    rng = np.random.default_rng(5)
    acgt = np.array(list("ACGT"))
    ids, seqs = read_fasta(base / "test.fa")
    with open(tmp_path / "long.fa", "w") as fh:
        for rid, s in zip(ids, seqs, strict=True):
            fh.write(f">{rid}\n{''.join(rng.choice(acgt, 8))}{s}{''.join(rng.choice(acgt, 8))}\n")
    summary = _stream(base, run, tmp_path / "long", fasta=tmp_path / "long.fa", verbose=True)
    assert "60 of 60 test sequences are not 64 bp: centre-cropped / N-padded to 64 bp, as in training " \
           "(data.length = 64)" in capsys.readouterr().err
    assert summary["run"]["n_resized"] == 60 and reference[1]["run"]["n_resized"] == 0
    for name in ("filters.meme", "interactions_raw.tsv", "interactions_attr.tsv"):
        assert (tmp_path / "long" / name).read_text() == (base / "st" / name).read_text(), name

    run0 = tmp_path / "run0"
    shutil.copytree(run, run0)
    cfg = json.loads((run0 / "config.json").read_text())
    cfg["data"]["length"] = 0
    (run0 / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError) as err:
        _stream(base, run0, tmp_path / "strict", fasta=tmp_path / "long.fa")
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'long.fa'}: record seq0: sequence is 80 bp, not the 64 bp the "
                          "model reads")
    assert "data.length = 0" in msg and "--bed" in msg and "\n" not in msg
    assert not (tmp_path / "strict").exists()  # the refused call leaves no --out behind
    assert _stream(base, run0, tmp_path / "same", chunk_size=60)["run"]["n_resized"] == 0  # 64 bp: fine


def test_no_tf_pool_lists_by_the_filter_level_rule_alone(stream_case, reference, tmp_path):
    """``tf_pool=False`` (``--no-tf-pool``): the filter-level list of the default run, no pooled columns."""
    from satori_jax.interpret.report import read_tsv

    base, run = stream_case
    off = interpret_run(run, tmp_path / "off", motif_db=base / "db.meme", plots=False, tf_pool=False, **KW)
    assert off["run"]["tf_pool"] is False
    assert not list((tmp_path / "off").glob("tf_ranking_*.tsv"))  # the ranking needs the pool
    for m in ("raw", "attr"):
        rows = read_tsv(tmp_path / "off" / f"tf_interactions_{m}.tsv")
        assert all(r["listed_by"] == "filter pair" and r["q_pool"] == "" for r in rows)  # nan: empty
        on = read_tsv(base / "mem" / f"tf_interactions_{m}.tsv")
        assert [(r["tf_a"], r["tf_b"]) for r in rows] == [
            (r["tf_a"], r["tf_b"]) for r in on if r["listed_by"] != "pool"]


def test_an_edited_motif_database_starts_a_streamed_run_over(stream_case, reference, tmp_path, monkeypatch):
    """Pass 2 folds the TF-pooled scores by the filters' names, so the resume hash holds the motif
    database's size and mtime: the same command after the file changed recomputes every chunk."""
    import os
    import shutil

    base, run = stream_case
    db = tmp_path / "db.meme"
    shutil.copy(base / "db.meme", db)
    shutil.copytree(base / "st" / "stream", tmp_path / "out" / "stream")  # made with base/db.meme
    done = []
    monkeypatch.setattr(accumulate, "after_chunk", lambda p, c: done.append((p, c)))
    _stream(base, run, tmp_path / "out", motif_db=db)
    assert (1, 0) in done  # another database file: started over
    done.clear()
    _stream(base, run, tmp_path / "out", motif_db=db)
    assert done == []  # the same file: everything resumed
    st = db.stat()
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    _stream(base, run, tmp_path / "out", motif_db=db)
    assert (1, 0) in done and (2, 0) in done


def test_fis_normalised_filter_test_streams_like_the_whole_set(stream_case, tmp_path):
    """fis's filter pairs are tested on per-example normalised scores (bins up to 1 with a bin of their own
    for each example's peak): streamed, the same pairs, p-values and medians as in memory."""
    pytest.importorskip("satori_jax.interpret.fis")
    base, run = stream_case
    kw = {**KW, "methods": ("fis",)}
    mem = interpret_run(run, tmp_path / "mem", motif_db=base / "db.meme", plots=False, **kw)
    st = _stream(base, run, tmp_path / "st", methods=("fis",))
    assert st["run"]["fis_normalize"] and mem["run"]["fis_normalize"]
    assert st["methods"]["fis"]["cutoff"] == pytest.approx(mem["methods"]["fis"]["cutoff"], rel=1e-6)
    ta, tb = (_table(tmp_path / d / "interactions_fis.tsv") for d in ("mem", "st"))
    assert ta and ta.keys() == tb.keys()
    for key, ra in ta.items():
        rb = tb[key]
        assert (ra["n_fg"], ra["n_bg"]) == (rb["n_fg"], rb["n_bg"]), key
        assert abs(np.log10(float(ra["p_value"])) - np.log10(float(rb["p_value"]))) < 0.05, key
        for c in ("median_score_fg", "median_score_bg"):
            assert 0 <= float(ra[c]) <= 1.0
            assert float(rb[c]) == pytest.approx(float(ra[c]), rel=0.03, abs=1e-9), (key, c)
