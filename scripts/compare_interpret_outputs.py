"""Compare two trees of ``interpret`` outputs (e.g. before / after a refactor).

Every directory under ``A`` holding a ``summary.json`` is matched with the same relative path under
``B``: ``interactions_*.tsv``, ``tf_interactions_*.tsv``, ``filters.meme`` and ``filters_tomtom.tsv``
must be byte-identical, and ``summary.json`` identical (key order included) once timings
(``seconds``, ``step_seconds``, ``total_seconds``) and ``out_dir`` are left out.

Usage: ``python scripts/compare_interpret_outputs.py A B`` (exit 1 when anything differs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SKIP = ("seconds", "step_seconds", "total_seconds", "out_dir")


def strip(obj):
    """``obj`` without the timing keys and ``out_dir``, recursively."""
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in SKIP}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def compare(a: Path, b: Path) -> int:
    """Print one line per compared file; return the number of differences."""
    bad = 0
    for summary in sorted(a.rglob("summary.json")):
        rel = summary.parent.relative_to(a)
        other = b / rel
        files = sorted(summary.parent.glob("*interactions_*.tsv"))
        files += [summary.parent / "filters.meme", summary.parent / "filters_tomtom.tsv"]
        for f in files:
            same = (other / f.name).is_file() and f.read_bytes() == (other / f.name).read_bytes()
            bad += not same
            print(f"{'same' if same else 'DIFF'}  {rel}/{f.name}")
        sa = strip(json.loads(summary.read_text()))
        path_b = other / "summary.json"
        sb = strip(json.loads(path_b.read_text())) if path_b.is_file() else None
        same = sb is not None and json.dumps(sa) == json.dumps(sb)
        bad += not same
        print(f"{'same' if same else 'DIFF'}  {rel}/summary.json (timings and out_dir aside)")
    print(f"differences: {bad}")
    return bad


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(1 if compare(Path(sys.argv[1]), Path(sys.argv[2])) else 0)
