"""Filter PWMs from aligned K-mers, MEME output and TomTom matching."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from satori_jax.config import ModelConfig
from satori_jax.data.meme import Motif, read_meme, write_meme
from satori_jax.errors import InputError
from satori_jax.interpret import motifs as M
from satori_jax.models import build_model, conv_offset, init_variables

TINY = ModelConfig(
    num_filters=3, filter_width=5, padding="SAME", batch_norm=False, pool_size=2, dropout=0.0,
    num_heads=1, head_dim=4, attn_dropout=0.0, proj_dim=4,
)


def _set_conv(variables, kernel: np.ndarray, bias: np.ndarray):
    params = dict(variables["params"])
    params["conv"] = {"kernel": jnp.asarray(kernel, jnp.float32), "bias": jnp.asarray(bias, jnp.float32)}
    return {**variables, "params": params}


def _model(cfg: ModelConfig, length: int, kernel: np.ndarray, bias: np.ndarray):
    model = build_model(cfg, 1)
    variables = init_variables(model, jax.random.PRNGKey(0), length)
    return model, _set_conv(variables, kernel, bias)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_kmer_alignment_exact(padding):
    """A filter that fires on 'A' at its column 3: the K-mer has the A at column 3; padding adds nothing."""
    cfg = dataclasses.replace(TINY, padding=padding)
    k, length = cfg.filter_width, 12
    kernel = np.zeros((k, 4, cfg.num_filters), np.float32)
    kernel[3, 0, 0] = 1.0  # filter 0: 'A' in column 3
    bias = np.full((cfg.num_filters,), -0.5, np.float32)
    model, variables = _model(cfg, length, kernel, bias)
    seq = "CAGTCGACGTCA"  # A at 1 (window starts at -2), 6 (starts at 3) and 11 (window ends at 12)
    codes = np.array([["ACGT".index(c) for c in seq]], np.uint8)
    thr = np.array([0.5, 1e9, 1e9], np.float32)
    counts, n_sites = M.filter_pwms(model, variables, codes, thr, cfg, batch_size=4)
    onehot = np.eye(4)[codes[0]]
    expected = np.zeros((k, 4))
    if padding == "SAME":  # offset -2: every A is seen; windows clipped at both ends
        expected[2:] += onehot[0:3]  # start -2: columns 0-1 are padding
        expected += onehot[3:8]  # start 3
        expected[:4] += onehot[8:12]  # start 8: column 4 is past the end
        assert n_sites[0] == 3
    else:  # VALID, offset 0: only the window starting at 3 exists
        expected += onehot[3:8]
        assert n_sites[0] == 1
    np.testing.assert_allclose(counts[0], expected, atol=1e-6)
    assert expected[3, 0] == (3 if padding == "SAME" else 1)
    assert n_sites[1] == 0 and n_sites[2] == 0
    assert np.all(counts[1:] == 0)


def test_batching_and_padding_mask_do_not_change_counts():
    cfg = TINY
    rng = np.random.default_rng(1)
    length = 20
    kernel = rng.normal(size=(cfg.filter_width, 4, cfg.num_filters)).astype(np.float32)
    model, variables = _model(cfg, length, kernel, np.zeros(cfg.num_filters, np.float32))
    codes = rng.integers(0, 5, size=(11, length)).astype(np.uint8)
    thr = np.full((cfg.num_filters,), 0.5, np.float32)
    c1, n1 = M.filter_pwms(model, variables, codes, thr, cfg, batch_size=4)
    c2, n2 = M.filter_pwms(model, variables, codes, thr, cfg, batch_size=64)
    np.testing.assert_allclose(c1, c2, atol=1e-4)
    np.testing.assert_array_equal(n1, n2)
    # naive reference
    x = np.array(jax.nn.one_hot(codes, 4))
    x[codes == 4] = 0.25
    _, inter = model.apply(variables, jnp.asarray(x), train=False)
    conv = np.asarray(inter["conv"])
    ref = np.zeros_like(c1)
    off = conv_offset(cfg)
    for b, p, f in zip(*np.nonzero((conv >= thr) & (conv > 0)), strict=True):
        for j in range(cfg.filter_width):
            i = p + off + j
            if 0 <= i < length:
                ref[f, j] += x[b, i]
    np.testing.assert_allclose(c1, ref, atol=1e-4)
    # the PWM rows are probabilities
    pwm = M.to_pwm(c1, 0.1)
    np.testing.assert_allclose(pwm.sum(-1), 1.0)


def _random_pwm(rng, k):
    p = rng.dirichlet(np.full(4, 0.3), size=k)
    return p


def test_planted_motif_recovered_and_matched(tmp_path):
    rng = np.random.default_rng(0)
    k, length, n = 8, 60, 200
    planted = np.full((k, 4), 0.02)
    consensus = "TGACTCAG"
    for j, c in enumerate(consensus):
        planted[j, "ACGT".index(c)] = 0.94
    cfg = dataclasses.replace(TINY, filter_width=k, num_filters=2, padding="SAME")
    kernel = np.zeros((k, 4, 2), np.float32)
    kernel[:, :, 0] = np.log2(planted / 0.25)
    kernel[:, :, 1] = rng.normal(size=(k, 4))
    model, variables = _model(cfg, length, kernel, np.zeros(2, np.float32))
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    starts = rng.integers(0, length - k, size=n)
    for i, s in enumerate(starts):
        site = np.array([rng.choice(4, p=planted[j]) for j in range(k)])
        codes[i, s : s + k] = site
    x = jax.nn.one_hot(codes, 4)
    _, inter = model.apply(variables, x, train=False)
    thr = 0.65 * np.asarray(inter["conv"]).max(axis=(0, 1))
    counts, n_sites = M.filter_pwms(model, variables, codes, thr, cfg, batch_size=64)
    assert 0.5 * n <= n_sites[0] <= 1.1 * n  # exact or near-exact sites pass 0.65 of the maximum
    pwm = M.to_pwm(counts, 0.1)
    assert "".join("ACGT"[i] for i in pwm[0].argmax(1)) == consensus
    assert np.abs(pwm[0] - planted).max() < 0.15

    # TomTom against a small database: the planted motif among 30 random decoys
    db = [Motif(name=f"decoy{i}", pwm=_random_pwm(rng, int(rng.integers(6, 12))), alt=f"D{i}",
                family="decoys") for i in range(30)]
    db.insert(13, Motif(name="AP1", pwm=planted, alt="MA0001.1", family="bZIP"))
    db_path = tmp_path / "db.meme"
    write_meme(db_path, db)
    loaded = M.load_motif_db(db_path)
    assert len(loaded) == 31
    matches = M.match_filters(pwm, n_sites, loaded)
    m0 = matches[0]
    assert m0.target == "AP1" and m0.target_id == "MA0001.1" and m0.matched
    assert m0.q_value < 0.05 and m0.orientation in "+-"
    # the user MEME file carries no families; a family table fills them in
    fam = tmp_path / "fam.tsv"
    fam.write_text("name\tfamily\nAP1\tbZIP-like\n")
    matches = M.match_filters(pwm, n_sites, M.load_motif_db(db_path, fam))
    assert matches[0].family == "bZIP-like"

    # outputs
    tsv = M.write_tomtom_table(tmp_path / "filters_tomtom.tsv", matches)
    back = M.read_tomtom_table(tsv)
    assert [b.target for b in back] == [m.target for m in matches]
    assert tsv.read_text().splitlines()[0].split("\t") == list(M.TOMTOM_COLUMNS)
    meme = M.write_filters_meme(tmp_path / "filters.meme", M.filter_motifs(pwm, n_sites), n_sites)
    assert [m.name for m in read_meme(meme)] == ["filter0", "filter1"]


def test_few_sites_not_matched():
    pwm = np.full((2, 5, 4), 0.25)
    pwm[0, :, 0] = 0.97
    pwm[0, :, 1:] = 0.01
    db = [Motif(name="A", pwm=pwm[0])]
    matches = M.match_filters(pwm, np.array([3, 0]), db)
    assert not matches[0].matched and matches[0].target == ""
    assert matches[1].ic == pytest.approx(0.0)


def test_missing_motif_db_is_input_error(tmp_path):
    with pytest.raises(InputError, match="motif database not found"):
        M.load_motif_db(tmp_path / "nope.meme")
    with pytest.raises(InputError, match="family table not found"):
        M.read_family_table(tmp_path / "nope.tsv")


def test_bh_rows_equals_statsmodels_row_by_row():
    """run_tomtom's per-query q-values: the same floats as statsmodels' fdr_bh, without importing it."""
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    from satori_jax.interpret.motifs import bh_rows

    rng = np.random.default_rng(3)
    p = rng.random((30, 57)) ** 3
    p[:, :10] = 1.0  # ties at 1
    p[3, 20:30] = p[3, 5]  # ties inside a row
    p[4] = 0.0
    want = np.vstack([multipletests(row, method="fdr_bh")[1] for row in p])
    np.testing.assert_array_equal(bh_rows(p), want)


def test_matched_db_pwm_turns_the_database_motif_the_way_it_matched():
    from satori_jax.data.meme import reverse_complement_pwm
    from satori_jax.interpret.motifs import FilterMatch, matched_db_pwm

    rng = np.random.default_rng(0)
    db = [Motif("A", rng.dirichlet(np.ones(4), w), alt=f"MA{k}") for k, w in ((1, 6), (2, 7))]
    plus = FilterMatch(0, 50, 9.0, "A", "MA2", 1e-6, 1e-4, 0, "+")
    np.testing.assert_array_equal(matched_db_pwm(plus, db), db[1].pwm)  # the same name: by id
    minus = FilterMatch(0, 50, 9.0, "A", "MA1", 1e-6, 1e-4, 1, "-")
    np.testing.assert_array_equal(matched_db_pwm(minus, db), reverse_complement_pwm(db[0].pwm))
    assert matched_db_pwm(FilterMatch(0, 50, 9.0, "A", "MA1", 0.1, 0.5, 0, "+"), db) is None  # q too big
    assert matched_db_pwm(FilterMatch(0, 50, 9.0, "B", "MB", 1e-6, 1e-4, 0, "+"), db) is None
