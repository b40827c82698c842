"""PNG plots of the interpretation outputs (matplotlib, Agg backend).

Every function writes one PNG and returns its path; matplotlib is imported inside
the functions so that importing this module costs nothing. :func:`heatmap` is the generic
matrix plot other methods reuse (e.g. DFIM's ``(L, L)`` maxFIS map of one sequence).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "attention_heatmap",
    "distance_boxplot",
    "family_barplot",
    "heatmap",
    "logo",
    "method_overlap",
]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    """Save atomically (temp name, then rename) and close the figure."""
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    try:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()
    return path


#: logomaker's "classic" colours (the logos used to be drawn by logomaker; same figure, faster).
_LOGO_COLORS = {"A": (0.0, 0.5, 0.0), "C": (0.0, 0.0, 1.0), "G": (1.0, 0.65, 0.0), "T": (1.0, 0.0, 0.0)}
_GLYPH_WIDTH = 0.95  # logomaker's Glyph width: the share of a position a letter fills


@functools.cache
def _glyph(char: str, flip: bool = False):
    """A letter's outline at size 1 (bold sans, as logomaker draws it) and its extents, built once."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    path = TextPath((0, 0), char, size=1, prop=FontProperties(family="sans", weight="bold"))
    if flip:
        path = Affine2D().scale(sx=1, sy=-1).transform_path(path)
    return path, path.get_extents()


def _logo_patches(ax, heights: np.ndarray) -> None:
    """Stacked letters of an ``(K, 4)`` ACGT height matrix on ``ax``, exactly as ``logomaker.Logo``
    (``color_scheme="classic"``, its defaults) lays them out, with the glyph outlines built once
    instead of per letter and no data-limit update per letter (the caller sets the limits)."""
    from matplotlib.patches import PathPatch
    from matplotlib.transforms import Affine2D

    letters = np.array(list("ACGT"))
    msc = _glyph("E")[1]  # logomaker: no letter stretched wider than an E
    for pos, row in enumerate(heights):
        order = np.argsort(row)  # smallest first: the biggest on top
        vs, cs = row[order], letters[order]
        floor = float(np.sum(vs * (vs < 0)))
        for v, c in zip(vs, cs, strict=True):
            ceiling = floor + abs(v)
            height = ceiling - floor
            if height != 0.0:
                path, box = _glyph(str(c), bool(v < 0))
                hstretch = min(_GLYPH_WIDTH / box.width, _GLYPH_WIDTH / msc.width)
                shift = (_GLYPH_WIDTH - hstretch * box.width) / 2.0
                transform = (Affine2D().translate(tx=-box.xmin, ty=-box.ymin)
                             .scale(sx=hstretch, sy=height / box.height)
                             .translate(tx=pos - _GLYPH_WIDTH / 2.0 + shift, ty=floor))
                patch = PathPatch(transform.transform_path(path), facecolor=_LOGO_COLORS[str(c)],
                                  zorder=0, alpha=1.0, edgecolor="black", linewidth=0.0)
                patch.set_in_layout(False)  # inside the axes: the tight bounding box is the same without it
                ax.add_artist(patch)
            floor = ceiling
    ax.axhline(zorder=-1, color=(0.0, 0.0, 0.0), linewidth=0.5)  # logomaker's baseline
    ax.set_xlim([-_GLYPH_WIDTH / 2.0, len(heights) - 1 + _GLYPH_WIDTH / 2.0])


def logo(pwm: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """Information-content sequence logo of a ``(K, 4)`` ACGT probability matrix."""
    plt = _plt()
    p = np.asarray(pwm, np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ic = 2.0 + np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
    fig, ax = plt.subplots(figsize=(max(3.0, 0.35 * len(p)), 1.8))
    _logo_patches(ax, p * ic[:, None])
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits")
    ax.set_xticks([])
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def heatmap(
    matrix: np.ndarray,
    path: str | os.PathLike,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    cmap: str = "viridis",
    colorbar_label: str = "",
    ticks: Sequence[tuple[int, str]] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Path:
    """Generic heat map of a 2-D matrix (``matrix[i, j]`` at row ``i``, column ``j``).

    Parameters
    ----------
    matrix
        ``(R, C)`` values.
    ticks
        Optional ``(index, label)`` marks drawn on both axes (e.g. motif positions).
    """
    plt = _plt()
    m = np.asarray(matrix, np.float64)
    fig, ax = plt.subplots(figsize=(5.5, 4.6))
    im = ax.imshow(m, cmap=cmap, aspect="auto", interpolation="nearest", vmin=vmin, vmax=vmax)
    cb = fig.colorbar(im, ax=ax)
    if colorbar_label:
        cb.set_label(colorbar_label)
    if ticks:
        idx = [int(i) for i, _ in ticks]
        labels = [str(s) for _, s in ticks]
        ax.set_xticks(idx, labels, rotation=90, fontsize=6)
        ax.set_yticks(idx, labels, fontsize=6)
        for i in idx:
            ax.axhline(i, color="white", lw=0.4, alpha=0.6)
            ax.axvline(i, color="white", lw=0.4, alpha=0.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def spaced_labels(marks: Sequence[tuple[float, str]], min_gap: float) -> list[tuple[float, str]]:
    """Labels that do not overlap: a run of marks with one label becomes one label at its centre,
    and a label closer than ``min_gap`` (axis units) to the last one kept is dropped (its line stays).
    """
    runs: list[list] = []  # [first, last, label]
    for pos, label in sorted(marks):
        if runs and runs[-1][2] == label and pos - runs[-1][1] <= min_gap:
            runs[-1][1] = pos
        else:
            runs.append([pos, pos, label])
    kept: list[tuple[float, str]] = []
    for first, last, label in runs:
        centre = (first + last) / 2
        if not kept or centre - kept[-1][0] >= min_gap:
            kept.append((centre, label))
    return kept


def attention_heatmap(
    attention: np.ndarray,
    marks: Sequence[tuple[int, str]],
    path: str | os.PathLike,
    *,
    title: str = "",
    pool_size: int = 1,
) -> Path:
    """Attention map ``(L', L')`` of one example with motif positions marked.

    Parameters
    ----------
    attention
        ``(L', L')`` attention (e.g. max over heads); row = query position.
    marks
        ``(pooled position, label)`` of motif instances (e.g. active matched filters).
    pool_size
        Axis labels are in bp (pooled position × ``pool_size``).
    """
    plt = _plt()
    a = np.asarray(attention, np.float64)
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    im = ax.imshow(a, cmap="magma", aspect="equal", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="attention")
    lp = a.shape[0]
    for pos, _ in marks:
        ax.axhline(pos, color="cyan", lw=0.5, alpha=0.7)
        ax.axvline(pos, color="cyan", lw=0.5, alpha=0.7)
    for pos, label in spaced_labels(marks, min_gap=max(1.0, lp / 45)):
        ax.annotate(label, (pos, -0.5), xycoords="data", rotation=90, fontsize=6, color="black",
                    ha="center", va="bottom", annotation_clip=False)
    step = max(1, lp // 6)
    ticks = np.arange(0, lp, step)
    ax.set_xticks(ticks, [str(t * pool_size) for t in ticks])
    ax.set_yticks(ticks, [str(t * pool_size) for t in ticks])
    ax.set_xlabel("key position (bp)")
    ax.set_ylabel("query position (bp)")
    if title:
        ax.set_title(title, fontsize=9, pad=28)
    return _save(fig, path)


def family_barplot(counts: Mapping[str, int], path: str | os.PathLike, *, title: str = "",
                   top: int = 25) -> Path:
    """Horizontal bars of counts per label (e.g. significant TF pairs per family pair)."""
    plt = _plt()
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    fig, ax = plt.subplots(figsize=(6.0, 0.3 * max(len(items), 2) + 1.0))
    if items:
        labels = [k for k, _ in items][::-1]
        vals = [v for _, v in items][::-1]
        ax.barh(range(len(items)), vals, color="#4477aa")
        ax.set_yticks(range(len(items)), labels, fontsize=7)
    else:
        ax.text(0.5, 0.5, "no significant interactions", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlabel("count")
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def _boxes(ax, data: list[np.ndarray], positions: list[float], color: str, width: float) -> None:
    """Horizontal box plots of ``data`` at ``positions`` (empty samples: no box), filled with ``color``."""
    keep = [(d, p) for d, p in zip(data, positions, strict=True) if len(d)]
    if not keep:
        return
    kw = dict(positions=[p for _, p in keep], widths=width, showfliers=False, patch_artist=True,
              boxprops={"facecolor": color}, medianprops={"color": "black"}, manage_ticks=False)
    try:
        ax.boxplot([d for d, _ in keep], orientation="horizontal", **kw)  # matplotlib >= 3.10
    except TypeError:
        ax.boxplot([d for d, _ in keep], vert=False, **kw)


FG_COLOR, BG_COLOR = "#4477aa", "#cccccc"


def distance_boxplot(distances: Mapping[str, np.ndarray], path: str | os.PathLike, *, title: str = "",
                     top: int = 15, background: Mapping[str, np.ndarray] | None = None) -> Path:
    """Box plot of distances (bp) per label (e.g. per significant TF pair, or per method).

    Parameters
    ----------
    distances
        ``label -> (D,)`` foreground distances; labels without any are left out.
    background
        Optional ``label -> (D',)`` background distances of the same labels: drawn as a grey box
        under each label's (blue) foreground box, so a preferred spacing stands out against the
        spacing the motifs have anyway.
    """
    plt = _plt()
    items = [(k, np.asarray(v, np.float64)) for k, v in distances.items() if len(v)][:top]
    items = items[::-1]  # best at the top
    both = background is not None
    fig, ax = plt.subplots(figsize=(6.0, (0.55 if both else 0.35) * max(len(items), 2) + 1.2))
    if items:
        y = np.arange(1, len(items) + 1, dtype=np.float64)
        if both:
            bg = [np.asarray(background.get(k, ()), np.float64) for k, _ in items]
            _boxes(ax, [v for _, v in items], list(y + 0.18), FG_COLOR, 0.32)
            _boxes(ax, bg, list(y - 0.18), BG_COLOR, 0.32)
            from matplotlib.patches import Patch

            ax.legend(handles=[Patch(facecolor=FG_COLOR, label="foreground"),
                               Patch(facecolor=BG_COLOR, label="background")],
                      fontsize=7, loc="best", framealpha=0.9)
        else:
            _boxes(ax, [v for _, v in items], list(y), FG_COLOR, 0.5)
        ax.set_yticks(y, [k for k, _ in items], fontsize=7)
        ax.set_ylim(0.4, len(items) + 0.6)
    else:
        ax.text(0.5, 0.5, "no distances", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlabel("distance between the interacting motifs (bp)")
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def method_overlap(top_pairs: Mapping[str, Sequence[str]], path: str | os.PathLike, *, title: str = "",
                   top: int = 30) -> Path:
    """Which methods find which top TF pairs (SATORI Figure 5 style), for any number of methods.

    Parameters
    ----------
    top_pairs
        ``method -> TF pair labels`` (best first); the union of each method's first ``top`` pairs
        is shown as rows, methods as columns, a filled cell where the method found the pair.
    """
    plt = _plt()
    methods = list(top_pairs)
    rows: list[str] = []
    for m in methods:
        for p in list(top_pairs[m])[:top]:
            if p not in rows:
                rows.append(p)
    found = np.array([[p in set(top_pairs[m]) for m in methods] for p in rows], bool).reshape(len(rows),
                                                                                          len(methods))
    order = np.lexsort((np.arange(len(rows)), -found.sum(axis=1))) if rows else np.arange(0)
    rows = [rows[i] for i in order]
    found = found[order]
    size = (6.0 + 0.8 * len(methods), 0.28 * max(len(rows), 3) + 1.4)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=size, gridspec_kw={"width_ratios": [max(len(methods), 1), 2]})
    if rows:
        yy, xx = np.nonzero(found)
        ax.scatter(xx, yy, s=60, color="#228833")
        ax.set_yticks(range(len(rows)), rows, fontsize=7)
        ax.set_ylim(len(rows) - 0.5, -0.5)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no TF pairs", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks(range(len(methods)), methods)
    ax.set_xlim(-0.5, len(methods) - 0.5)
    ax.grid(True, alpha=0.3)
    # how many pairs each set of methods shares
    combos: dict[str, int] = {}
    for r in found:
        key = "+".join(m for m, f in zip(methods, r, strict=True) if f)
        combos[key] = combos.get(key, 0) + 1
    items = sorted(combos.items(), key=lambda kv: -kv[1])
    if items:
        ax2.barh(range(len(items)), [v for _, v in items], color="#4477aa")
        ax2.set_yticks(range(len(items)), [k for k, _ in items], fontsize=7)
        ax2.invert_yaxis()
    ax2.set_xlabel("TF pairs")
    ax2.set_title("found by", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def _draw_logo_jobs(job_file: str) -> None:
    """Worker of :class:`satori_jax.interpret.outputs.LogoDrawer`: the logos listed in ``job_file``
    (``.npz`` with ``pwm0 … pwm{N-1}`` (each ``(K_i, 4)``), ``paths (N,)``, ``titles (N,)``)."""
    with np.load(job_file, allow_pickle=False) as z:
        paths, titles = [str(x) for x in z["paths"]], [str(x) for x in z["titles"]]
        pwms = [z[f"pwm{i}"] for i in range(len(paths))]
    for pwm, path, title in zip(pwms, paths, titles, strict=True):
        logo(pwm, path, title=title)


if __name__ == "__main__":  # python -m satori_jax.interpret.plots JOB_FILE (the logo worker)
    import sys

    _draw_logo_jobs(sys.argv[1])
