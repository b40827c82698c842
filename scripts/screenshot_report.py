"""Screenshot of the top of an interpretation report (``report.html``) in headless Chromium.

Refreshes ``docs/report.png``, the README's picture of the demo's report::

    make demo   # runs/demo and its interpretation, runs/demo/interpret/
    python scripts/screenshot_report.py runs/demo/interpret/report.html --out docs/report.png

The page is rendered ``--width`` pixels wide and the first ``--height`` pixels are kept (the headline
and what follows it), then stored as a palette PNG (``--colors``) so the picture stays small.
Needs a Chromium (or Chrome) binary and Pillow (a dependency of matplotlib).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def screenshot(report: Path, out: Path, width: int = 1280, height: int = 1800, colors: int = 96) -> Path:
    """Render ``report`` headless at ``width`` x ``height`` and write the picture to ``out`` (PNG).

    Raises
    ------
    RuntimeError
        No Chromium binary, or it wrote no screenshot.
    """
    from PIL import Image

    binary = next((p for p in map(shutil.which, BROWSERS) if p), None)
    if binary is None:
        raise RuntimeError(f"no Chromium binary found (looked for {', '.join(BROWSERS)})")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "shot.png"
        p = subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--no-first-run", f"--screenshot={raw}", f"--window-size={width},{height}",
                            Path(report).resolve().as_uri()], capture_output=True, text=True, timeout=120)
        if not raw.is_file():
            raise RuntimeError(f"Chromium wrote no screenshot: {p.stderr.strip()[-500:]}")
        img = Image.open(raw).convert("RGB")
        small = img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        out.parent.mkdir(parents=True, exist_ok=True)
        small.save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", type=Path, help="report.html of an interpretation")
    ap.add_argument("--out", type=Path, default=Path("docs/report.png"), help="PNG to write (%(default)s)")
    ap.add_argument("--width", type=int, default=1280, help="window width in pixels (1280)")
    ap.add_argument("--height", type=int, default=1800, help="pixels kept from the top of the page (1800)")
    ap.add_argument("--colors", type=int, default=96, help="colours of the palette PNG (96)")
    args = ap.parse_args(argv)
    if not args.report.is_file():
        print(f"error: {args.report}: not found", file=sys.stderr)
        return 2
    try:
        out = screenshot(args.report, args.out, args.width, args.height, args.colors)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
