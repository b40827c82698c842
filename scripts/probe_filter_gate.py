"""Probe: what a normalised-effect gate on the filter-pair rule would do to existing lists (not a feature).

    python scripts/probe_filter_gate.py NAME=DATA:OUT [NAME=DATA:OUT ...] [--below 0.5]

For every ``tf_interactions_<method>.tsv`` in each interpretation directory ``OUT`` (and its
``interpret/`` / ``interpret_ig/`` subdirectories), scored against ``DATA/interactions.tsv``: the
list's P/R/F1 now, and after dropping the TF pairs listed by the filter-pair rule alone whose
TF-pooled normalised effect (``effect_pool_normalised``) is below ``--below``. Reads tables only.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def _prf(tp: int, fp: int, n_true: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / n_true if n_true else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _rows(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader((ln for ln in fh if not ln.startswith("#")), delimiter="\t"))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", metavar="NAME=DATA:OUT")
    ap.add_argument("--below", type=float, default=0.5)
    args = ap.parse_args(argv)
    for spec in args.sets:
        name, dirs = spec.split("=", 1)
        data, out = (Path(x) for x in dirs.split(":", 1))
        truth = {tuple(sorted((r["tf_a"], r["tf_b"]))) for r in _rows(data / "interactions.tsv")}
        for method in ("raw", "attr", "fis", "dfim"):
            dirs = (out, out / "interpret", out / "interpret_ig")
            found = [d / f"tf_interactions_{method}.tsv" for d in dirs]
            path = next((p for p in found if p.is_file()), None)
            if path is None:
                continue
            rows = _rows(path)
            keys = [tuple(sorted((r["tf_a"], r["tf_b"]))) for r in rows]
            tp = sum(k in truth for k in keys)
            dropped = [k in truth for r, k in zip(rows, keys, strict=True) if r["listed_by"] == "filter pair"
                       and r["effect_pool_normalised"] not in ("", "nan")
                       and float(r["effect_pool_normalised"]) < args.below]
            dt, fp = sum(dropped), len(keys) - tp
            now, gated = _prf(tp, fp, len(truth)), _prf(tp - dt, fp - (len(dropped) - dt), len(truth))
            print(f"{name:14s} {method:5s} {len(keys):3d} calls  P/R/F1 "
                  f"{now[0]:.2f}/{now[1]:.2f}/{now[2]:.3f}  gate drops {len(dropped)} ({dt} true) -> "
                  f"{gated[0]:.2f}/{gated[1]:.2f}/{gated[2]:.3f}")


if __name__ == "__main__":
    main()
