"""``report.html`` of the session's tiny run, checked as a file and in a real browser (headless Chromium).

The file: one offline page (no external reference), every image an embedded PNG that decodes, the
findings before the settings, the distances in the foreground beside the background. In Chromium
(skipped only when no Chromium binary is installed): the page renders to a screenshot of the window's
size that is not blank, and once loaded no image is broken (each is complete with a natural width,
read from the DOM Chromium dumps).
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1280, 4000


def chromium() -> str | None:
    """The path of a Chromium (or Chrome) binary, or ``None``."""
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def headless(url: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Chromium, headless and offline-safe, on ``url`` with extra ``args`` (stdout: text)."""
    binary = chromium()
    if binary is None:
        pytest.skip(f"no Chromium binary found (looked for {', '.join(BROWSERS)})")
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", "--disable-extensions", *args, url],
                          capture_output=True, text=True, timeout=timeout)


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.alts: list[str] = []
        self.refs: list[str] = []  # href / src of anything else

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.srcs.append(a.get("src") or "")
            self.alts.append(a.get("alt") or "")
        for key in ("href", "src"):
            if tag != "img" and a.get(key):
                self.refs.append(a[key])


@pytest.fixture(scope="module")
def report(tiny_run, tiny_data, tmp_path_factory) -> Path:
    from satori_jax.interpret.driver import interpret
    from satori_jax.interpret.options import InterpretOptions

    out = tmp_path_factory.mktemp("browser") / "interp"
    interpret(tiny_run, InterpretOptions(out=out, methods=("raw",), motif_db=tiny_data / "motifs.meme",
                                         background="shuffle", prob_cutoff=0.4, verbose=False))
    return out / "report.html"


def test_report_is_one_offline_file_of_decodable_images(report):
    from PIL import Image

    text = report.read_text()
    parser = _Images()
    parser.feed(text)
    assert len(parser.srcs) >= 5  # logos, attention maps, distances, families
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
        img.load()  # the whole PNG decodes
        assert img.format == "PNG" and min(img.size) > 20
    # nothing to fetch (links within the page are fine)
    assert [r for r in parser.refs if not r.startswith("#")] == [] and not re.search(r"https?://|url\(", text)
    # the findings lead, the settings close (the tiny run calls no TF pair: the logo table, with the
    # database logos, is checked on a planted run in test_interpret_e2e.py)
    # in the order: headline, (logos), attention examples, distances fg vs bg, quality flags,
    # settings last
    order = ["<h2>Findings</h2>", "<h2>Attention of top examples</h2>", "foreground (blue) vs background",
             "<h2 id=check>Check before you trust</h2>", "<h2>Settings and data</h2>"]
    assert [text.index(h) for h in order] == sorted(text.index(h) for h in order)
    assert "foreground (blue) vs background (grey)" in text


def test_report_renders_in_chromium(report, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    p = headless(report.as_uri(), f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}")
    assert shot.is_file(), p.stderr[-2000:]
    img = Image.open(shot)
    assert img.size == (WIDTH, HEIGHT)
    px = np.asarray(img.convert("L"), np.float64)
    ink = px < 200
    assert ink.mean() > 0.01, "blank page"
    assert ink[:300].mean() > 0.005, "nothing at the top (the headline)"
    rows = np.flatnonzero(ink.any(axis=1))
    assert rows.max() - rows.min() > HEIGHT / 2  # content over the screen, not one line
    # colour: the embedded plots and logos were drawn (not only text)
    rgb = np.asarray(img.convert("RGB"), np.int16)
    assert (np.abs(rgb[..., 0] - rgb[..., 2]) > 60).mean() > 0.002


def test_no_image_is_broken_once_loaded(report, tmp_path):
    """A copy of the page with a script that records, after the load event, how many images are
    broken (not complete, or no natural width); Chromium's DOM dump carries the count."""
    probe = tmp_path / "probe.html"
    script = ("<script>window.addEventListener('load', () => { const im = [...document.images]; "
              "document.body.dataset.images = im.length; document.body.dataset.broken = "
              "im.filter(i => !i.complete || i.naturalWidth === 0).length; });</script>")
    probe.write_text(report.read_text().replace("</body>", script + "</body>"))
    p = headless(probe.as_uri(), "--dump-dom", "--virtual-time-budget=5000")
    m = re.search(r'<body[^>]*data-images="(\d+)"[^>]*data-broken="(\d+)"', p.stdout)
    assert m, (p.stdout[:500], p.stderr[-2000:])
    n_images, n_broken = int(m.group(1)), int(m.group(2))
    assert n_images == report.read_text().count("<img ") and n_images >= 5
    assert n_broken == 0
