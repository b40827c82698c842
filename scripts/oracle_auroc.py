"""How well the DFIM-style test set can be classified at all: a PWM-scan oracle's AUROC (issue 20).

    python scripts/oracle_auroc.py RUN DATA

``RUN`` is a run trained on ``DATA`` (a ``simulate dfim`` directory). For each test sequence of the
run (``RUN/test_predictions.npz``) the oracle takes the best log-odds score of each of the two key
motifs (the generator's own PWMs and background, both strands; ``N`` = 0.25 per base) and scores the
sequence by the smaller of the two (a positive holds both motifs). Printed beside the model's AUROC:
a model cannot be expected to beat what the generator's own motifs separate.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from satori_jax.data.meme import read_meme
from satori_jax.metrics import auroc


def best_log_odds(x: np.ndarray, pwm: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``(N,)`` best log-odds of ``pwm`` ``(K, 4)`` over positions and both strands of ``x`` ``(N, L, 4)``."""
    llr = np.log((pwm + 1e-3) / background)
    k = len(llr)
    out = np.full(len(x), -np.inf)
    for w in (llr, llr[::-1, ::-1]):
        for s in range(x.shape[1] - k + 1):
            out = np.maximum(out, np.einsum("nkc,kc->n", x[:, s:s + k], w))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run")
    p.add_argument("data")
    a = p.parse_args()
    with np.load(f"{a.run}/test_predictions.npz") as z:
        codes, y, probs = z["codes"], z["labels"][:, 0], z["probs"][:, 0]
    par = json.load(open(f"{a.data}/dataset.json"))["parameters"]
    bg = np.asarray(par["background"], np.float64)
    pwms = {m.name: m.pwm for m in read_meme(f"{a.data}/motifs.meme")}
    x = np.where((codes < 4)[..., None], np.eye(4)[np.minimum(codes, 3)], 0.25)
    sa, sb = (best_log_odds(x, pwms[par[k]], bg) for k in ("motif_a", "motif_b"))
    print(f"{len(y)} test sequences, {int(y.sum())} positive")
    print(f"model AUROC {auroc(y, probs):.4f}")
    print(f"oracle AUROC (min of the best log-odds of {par['motif_a']} and {par['motif_b']}) "
          f"{auroc(y, np.minimum(sa, sb)):.4f}")


if __name__ == "__main__":
    main()
