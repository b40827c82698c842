"""Distances of the top TF pairs, foreground beside background: the same from the in-memory (exact) and
the streamed (histogram) accumulators, in the plot and in the report."""

from __future__ import annotations

import numpy as np

from satori_jax.interpret.accumulate import ExactAccumulator, HistAccumulator, MemoryStore
from satori_jax.interpret.histogram import Bins
from satori_jax.interpret.interactions import PairScores
from satori_jax.interpret.options import InterpretOptions

F, LENGTH = 6, 120


def _scores(rng, n_examples, n, distance_shift):
    a = rng.integers(0, F - 1, n)
    b = a + 1 + (rng.integers(0, F, n) % (F - 1 - a))
    return PairScores(np.arange(n, dtype=np.int32) % n_examples, a.astype(np.int32), b.astype(np.int32),
                      rng.random(n).astype(np.float32) + 0.01,
                      ((rng.integers(0, 40, n) + distance_shift * a) % LENGTH).astype(np.int32), n_examples)


def _chunks(acc, chunks):
    store = MemoryStore()
    for k, (fg, bg) in enumerate(chunks):
        store.put(2, k, {f"raw/{side}/{key}": v for side, ps in (("fg", fg), ("bg", bg))
                         for key, v in acc.fold("raw", ps, F).items()})
    return store.reader(2, len(chunks))


def _truth(chunks, side, pairs):
    d = []
    for fg, bg in chunks:
        ps = fg if side == "fg" else bg
        sel = np.isin(ps.filter_a.astype(np.int64) * F + ps.filter_b, [a * F + b for a, b in pairs])
        d.append(ps.distance[sel])
    return np.sort(np.concatenate(d))


def test_background_distances_equal_in_memory_and_streamed():
    rng = np.random.default_rng(0)
    # the background's distances are shifted against the foreground's, so the two sides differ
    chunks = [(_scores(rng, 30, 300, 0), _scores(rng, 30, 250, 7)) for _ in range(3)]
    opts = InterpretOptions(out="unused", methods=("raw",), attn_cutoff=0.0)
    exact = ExactAccumulator()
    one = [(PairScores.concat([c[0] for c in chunks]), PairScores.concat([c[1] for c in chunks]))]
    res_exact = exact.test(_chunks(exact, one), "raw", F, opts)
    hist = HistAccumulator({"raw": Bins(1e-3, 2.0, 64)}, LENGTH)  # 1-bp distance bins: exact distances
    res_hist = hist.test(_chunks(hist, chunks), "raw", F, opts)
    pairs = [(0, 1), (4, 2), (3, 5)]  # any order of the two filters
    fa, fb = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    ordered = [tuple(sorted(p)) for p in pairs]
    for side in ("fg", "bg"):
        want = _truth(chunks, side, ordered)
        assert want.size > 50
        np.testing.assert_array_equal(np.sort(res_exact.distances(fa, fb, side)), want)
        np.testing.assert_array_equal(np.sort(res_hist.distances(fa, fb, side)), want)
    assert not np.array_equal(_truth(chunks, "fg", ordered), _truth(chunks, "bg", ordered))
    np.testing.assert_array_equal(res_exact.distances(fa, fb), res_exact.distances(fa, fb, "fg"))  # default
    assert res_exact.distances(fa[:0], fb[:0], "bg").size == 0


def test_method_plots_draw_and_tabulate_both_sides(tmp_path):
    from satori_jax.interpret import outputs, report_html

    calls = []

    def distances(fa, fb, side):
        calls.append((tuple(fa), tuple(fb), side))
        if side == "bg" and 3 in fa:
            return np.zeros(0)  # never seen in the background
        return np.array([10.0, 12.0, 30.0]) + (50.0 if side == "bg" else 0.0)

    tf_rows = [{"tf_a": "A", "tf_b": "B", "filter_pairs": "filter0-filter1;filter2-filter1"},
               {"tf_a": "A", "tf_b": "C", "filter_pairs": "filter3-filter4"}]
    imgs = outputs.method_plots(tmp_path, "raw", tf_rows, {"famA--famB": 1}, distances)
    assert sorted(calls) == sorted([((0, 2), (1, 1), "fg"), ((0, 2), (1, 1), "bg"), ((3,), (4,), "fg"),
                                    ((3,), (4,), "bg")])
    assert imgs["distance"].read_bytes()[:4] == b"\x89PNG"
    table = imgs["distance_table"]
    assert list(table) == ["A--B", "A--C"]
    assert table["A--B"] == {"median_fg": 12.0, "median_bg": 62.0}
    assert table["A--C"]["median_fg"] == 12.0 and np.isnan(table["A--C"]["median_bg"])
    html = report_html._distance_table(table)
    assert "<td class=n>12</td><td class=n>62</td>" in html and "never seen" in html
