"""plots.logo draws the same PNG logomaker drew (the glyph outlines are now built once)."""

from __future__ import annotations

import numpy as np
import pytest

from satori_jax.interpret import plots


def _logomaker_logo(pwm: np.ndarray, path, title: str):
    """The former implementation of plots.logo, through logomaker."""
    logomaker = pytest.importorskip("logomaker")
    import pandas as pd

    plt = plots._plt()
    p = np.asarray(pwm, np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ic = 2.0 + np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
    df = pd.DataFrame(p * ic[:, None], columns=list("ACGT"))
    fig, ax = plt.subplots(figsize=(max(3.0, 0.35 * len(p)), 1.8))
    logomaker.Logo(df, ax=ax, color_scheme="classic")
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits")
    ax.set_xticks([])
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=9)
    return plots._save(fig, path)


def test_logo_png_equals_logomaker(tmp_path):
    rng = np.random.default_rng(0)
    pwms = [rng.dirichlet(np.ones(4) * 0.3, 13) for _ in range(3)]
    pwms.append(np.eye(4)[[0, 1, 2, 3, 0, 0, 1]])  # full-information columns, zero-height letters
    pwms.append(np.array([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]] * 4))  # ties, an empty column
    for k, pwm in enumerate(pwms):
        want = _logomaker_logo(pwm, tmp_path / f"ref{k}.png", f"filter{k}: X q=0.01")
        got = plots.logo(pwm, tmp_path / f"new{k}.png", title=f"filter{k}: X q=0.01")
        assert got.read_bytes() == want.read_bytes(), k


def test_logo_drawer_worker_draws_the_same_files(tmp_path, monkeypatch):
    """Logos drawn by the worker process are the bytes drawn here; a worker that cannot start or
    fails leaves them to wait(), which draws them here."""
    from satori_jax.interpret.outputs import LogoDrawer

    rng = np.random.default_rng(1)
    jobs = [(rng.dirichlet(np.ones(4) * 0.3, 9 + 3 * k), tmp_path / "w" / f"f{k}.png", f"filter{k}")
            for k in range(3)]  # widths differ (database motifs beside filters)
    drawer = LogoDrawer(background_from=2)
    drawer.draw_all(jobs[:2])
    drawer.draw_all(jobs[1:])  # the one not drawn yet: here
    assert len(drawer.workers) == 1 and drawer.drawn(jobs[0][1]) and jobs[2][1].is_file()
    drawer.wait()
    assert drawer.workers == []
    for pwm, path, title in jobs:
        assert path.read_bytes() == plots.logo(pwm, tmp_path / "ref.png", title=title).read_bytes()
    # a worker that fails (here: it cannot import anything) -> drawn by wait()
    monkeypatch.setattr("sys.executable", "/bin/false")
    jobs2 = [(pwm, tmp_path / "f" / path.name, title) for pwm, path, title in jobs]
    drawer = LogoDrawer(background_from=2)
    drawer.draw_all(jobs2)
    drawer.wait()
    for (_, a, _), (_, b, _) in zip(jobs, jobs2, strict=True):
        assert a.read_bytes() == b.read_bytes()
