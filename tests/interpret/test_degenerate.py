"""Degenerate models and scores: the statistics handle their NaN / infinite paths explicitly.

Every test here turns numpy's RuntimeWarnings (All-NaN slice, invalid value, divide by zero, invalid
cast) into errors, on the inputs that used to raise them: p-values of exactly 1 (every score tied,
so the Mann-Whitney variance is 0 and z = -inf), a method with no observed pair, non-finite scores,
and whole interpretations of a model with no active filter and of one whose filters are all alike.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from satori_jax.interpret import excess, histogram, stats
from satori_jax.interpret.interactions import PairScores

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

F = 20  # 190 filter pairs: enough for the empirical null and the excess test (>= 100 pairs)


def _tied_scores(n_examples: int, value: float = 0.5) -> PairScores:
    """Every filter pair observed in every example with the same score."""
    ia, ib = np.triu_indices(F, 1)
    ex = np.repeat(np.arange(n_examples), ia.size)
    t = ex.size
    return PairScores(ex.astype(np.int32), np.tile(ia, n_examples).astype(np.int32),
                      np.tile(ib, n_examples).astype(np.int32), np.full(t, value, np.float32),
                      np.full(t, 7, np.int32), n_examples)


@pytest.mark.parametrize("null", ["theoretical", "empirical"])
@pytest.mark.parametrize("test", ["conditioned", "observed"])
def test_all_tied_scores_give_p_one_without_warnings(null, test):
    res = stats.test_pairs(_tied_scores(6), _tied_scores(5), "mean", F, test=test, null=null)
    assert len(res["p_value"]) == F * (F - 1) // 2
    np.testing.assert_array_equal(res["p_value"], 1.0)
    np.testing.assert_array_equal(res["q_value"], 1.0)
    np.testing.assert_allclose(res["effect_size"], 0.5)
    ex = excess.excess_test(res["filter_a"], res["filter_b"], res["p_value"], F)
    assert np.isnan(ex["q_excess"]).all() and np.isnan(ex["null_scale"])  # nothing to estimate a null from


def test_empirical_null_with_p_one():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0.01, 0.99, 150), np.ones(40), [np.nan] * 5])
    adj, centre, scale = stats.empirical_null(p)
    assert np.isfinite(centre) and scale >= 1.0
    assert (adj[150:190] == 1.0).all() and np.isnan(adj[190:]).all()
    low = p[:150] <= 0.5
    assert (adj[:150][low] >= p[:150][low] - 1e-12).all()  # never more liberal where it matters
    # half or more at p = 1: the centre would be -inf; nothing is re-calibrated
    p2 = np.concatenate([rng.uniform(0.01, 0.99, 60), np.ones(60)])
    adj2, centre2, scale2 = stats.empirical_null(p2)
    assert (centre2, scale2) == (0.0, 1.0)
    np.testing.assert_array_equal(adj2, p2)
    # fewer than EMPIRICAL_MIN_TESTS non-NaN p-values: unchanged
    p3 = np.concatenate([np.full(50, 0.3), np.full(80, np.nan)])
    np.testing.assert_array_equal(stats.empirical_null(p3)[0], p3)


def test_excess_with_some_p_one():
    rng = np.random.default_rng(1)
    ia, ib = np.triu_indices(F, 1)
    p = rng.uniform(0.05, 0.95, ia.size)
    p[::7] = 1.0
    p[3] = np.nan  # untested
    ex = excess.excess_test(ia, ib, p, F)
    ones = p == 1.0
    assert (ex["p_excess"][ones] == 1.0).all() and np.isneginf(ex["excess_z"][ones]).all()
    rest = np.isfinite(p) & ~ones
    assert np.isfinite(ex["excess_z"][rest]).all() and np.isfinite(ex["q_excess"][rest]).all()
    assert np.isnan(ex["q_excess"][3]) and np.isfinite(ex["null_centre"]) and ex["null_scale"] >= 1.0
    # the fit does not depend on the p = 1 pairs' presence beyond their rank
    assert ((ex["p_excess"] >= 0) | np.isnan(ex["p_excess"])).all()


def test_no_observed_pairs():
    e = PairScores.empty(4)
    res = stats.test_pairs(e, e, "mean", F, null="empirical")
    assert all(len(v) == 0 for v in res.values())
    ex = excess.excess_test(res["filter_a"], res["filter_b"], res["p_value"], F)
    assert ex["excess_z"].size == 0
    d = stats.distance_summary(e)
    assert np.isnan(d["median"]) and d["counts"].sum() == 0
    assert excess.pair_main_effects(np.full((4, 4), np.nan))[0] == 0.0
    assert excess.pair_main_effects(np.full((4, 4), -np.inf))[0] == 0.0


def test_histogram_paths():
    bins = histogram.Bins(1e-4, 1.0, 8, top=True)
    idx = bins.index(np.array([np.nan, -1.0, 0.0, 1e-9, 1e-4, 0.5, 1.0, np.inf, 2.0]))
    np.testing.assert_array_equal(idx, [0, 0, 0, 1, 1, 8, 9, 9, 9])
    plain = histogram.Bins(1e-4, 1.0, 8)
    np.testing.assert_array_equal(plain.index(np.array([np.nan, np.inf])), [0, 8])
    assert histogram.range_from(np.array([np.nan, np.inf, 0.0]), False) == (1e-8, 1e2)
    u, p = histogram.mann_whitney_hist(np.zeros((3, 5)), np.zeros((3, 5)))
    assert np.isnan(u).all() and np.isnan(p).all()
    tied = np.eye(5)[[2, 2]] * 4
    u, p = histogram.mann_whitney_hist(tied, tied)
    np.testing.assert_array_equal(p, 1.0)
    assert np.isnan(histogram.hist_median(np.zeros((2, 5)), np.arange(5.0))).all()


# ---- whole interpretations of degenerate models


def _degenerate_run(base, kind):
    """The hand-built test run of ``test_interpret_e2e`` with its first layer replaced."""
    import jax
    import jax.numpy as jnp

    from satori_jax.checkpoints import save_checkpoint
    from satori_jax.runs import load_run
    from satori_jax.train import create_state
    from tests.interpret.test_interpret_e2e import L, _write_run

    run = _write_run(base / kind)
    r = load_run(run)
    params = jax.tree_util.tree_map(np.array, r.variables["params"])
    params["conv"]["kernel"][:] = 0.0
    params["conv"]["bias"][:] = -1.0 if kind == "dead" else 1.0  # never active / all alike, everywhere
    state = create_state(r.cfg, 1, L, jax.random.PRNGKey(0))
    state = state.replace(params=jax.tree_util.tree_map(jnp.asarray, params))
    shutil.rmtree(run / "checkpoints")
    save_checkpoint(run / "checkpoints" / "best", 1, state, {"epoch": 1, "val_auroc": 0.5})
    return run


@pytest.mark.parametrize("kind", ["dead", "alike"])
def test_interpreting_a_degenerate_model_gives_no_warnings(kind, tmp_path):
    from satori_jax.data.meme import Motif, write_meme
    from satori_jax.interpret.driver import interpret
    from satori_jax.interpret.options import InterpretOptions

    run = _degenerate_run(tmp_path, kind)
    rng = np.random.default_rng(0)
    write_meme(tmp_path / "db.meme", [Motif(f"M{i}", rng.dirichlet([0.3] * 4, size=8)) for i in range(4)])
    opts = InterpretOptions(out=tmp_path / "out", motif_db=tmp_path / "db.meme", methods=("raw", "attr"),
                            plots=kind == "dead", verbose=False, batch_size=32, null="empirical")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        summary = interpret(run, opts)
    for m in ("raw", "attr"):
        assert summary["methods"][m]["n_significant_filter_pairs"] == 0
    assert summary["run"]["n_filters_with_sites"] == (0 if kind == "dead" else 6)
    assert (tmp_path / "out" / "summary.json").is_file()
