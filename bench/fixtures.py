"""What the bench sections share: logging, model configs, simulated data, (briefly trained) models,
example selection, the scorers' context and chunk sizes, device-kernel capture and a memory guard.

Everything heavy (jax, satori_jax) is imported inside the functions, so ``python -m bench --help``
stays fast.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench import measure
from bench.profiles import MEMORY_FRACTION, Profile


def log(msg: str) -> None:
    """Print a time-stamped progress line to stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def model_config(arch: str, overrides: dict) -> Any:
    """Reference config of ``arch`` (``configs/simulated_<arch>.toml``) with the profile's overrides.

    Parameters
    ----------
    arch
        ``basic``, ``bilstm`` or ``deep``.
    overrides
        :class:`satori_jax.config.ModelConfig` fields to replace (the profile's ``model``).

    Returns
    -------
    satori_jax.config.Config
        The config, with ``pwm_file`` cleared (no PWM initialisation).
    """
    from satori_jax.config import Config, ModelConfig, load, resolve_config_path
    from satori_jax.errors import InputError

    try:
        cfg = load(resolve_config_path(f"simulated_{arch}"))
    except InputError:
        cfg = Config(model=ModelConfig(arch=arch))
    model = dataclasses.replace(cfg.model, arch=arch, pwm_file="", **overrides)
    return dataclasses.replace(cfg, model=model)


def simulate(n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """A DFIM-style data set in memory (random sequences if the simulation fails).

    Returns
    -------
    codes : np.ndarray
        ``(max(n, 3), L) uint8``.
    labels : np.ndarray
        ``(max(n, 3),)`` integer labels.
    source : str
        What the data are.
    """
    from satori_jax.data.simulate import make_dfim_dataset

    n = max(int(n), 3)
    try:
        ds = make_dfim_dataset(num_sequences=n, length=int(length), seed=int(seed))
        return ds.codes, np.asarray(ds.labels).reshape(-1), "simulated dfim (ELF1 + HNF4A, 2 distractors)"
    except Exception as exc:  # noqa: BLE001 - timings stay meaningful on random sequences
        rng = np.random.default_rng(seed)
        codes = rng.integers(0, 4, (n, int(length))).astype(np.uint8)
        labels = (rng.random(n) < 1 / 3).astype(np.int8)
        return codes, labels, f"random sequences (simulation failed: {exc})"


@dataclass
class ArchModel:
    """A model ready for interpretation, and how it was obtained."""

    arch: str
    cfg: Any
    model: Any
    variables: dict
    length: int
    params: int
    training: dict


_TRAIN_STEPS: dict[tuple, Any] = {}


def train_step(cfg: Any) -> Any:
    """The library's compiled ``train_step`` for ``cfg.train``, built once per (entropy weight, rate)."""
    from satori_jax.train import make_train_step

    key = (float(cfg.train.entropy_weight), float(cfg.train.learning_rate))
    if key not in _TRAIN_STEPS:
        _TRAIN_STEPS[key] = make_train_step(cfg.train.entropy_weight, cfg.train.learning_rate)
    return _TRAIN_STEPS[key]


def build_arch(arch: str, prof: Profile, seed: int) -> ArchModel:
    """Model of ``arch`` at the profile's sizes, trained for ``prof.train_steps`` steps (or random).

    Training uses the library's ``train_step`` on simulated data, without a run directory (no
    checkpoints, no validation): the bench only needs weights that make selection meaningful.
    """
    import jax

    from satori_jax.data.pipeline import batch_iterator
    from satori_jax.models import build_model, count_params
    from satori_jax.train import create_state

    cfg = model_config(arch, prof.model)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, batch_size=prof.train_batch))
    length = prof.length
    state = create_state(cfg, 1, length, jax.random.PRNGKey(seed))
    training: dict[str, Any] = {
        "steps": int(prof.train_steps),
        "batch_size": prof.train_batch,
        "init": "random" if prof.train_steps == 0 else "trained briefly",
    }
    if prof.train_steps > 0:
        n_train = int(min(max(prof.train_steps * prof.train_batch, 3 * prof.train_batch), 30000))
        codes, labels, source = simulate(n_train, length, seed + 1)
        step = train_step(cfg)
        rng = jax.random.PRNGKey(seed + 2)
        losses = []
        t0 = time.perf_counter()
        done, epoch = 0, 0
        while done < prof.train_steps:
            for batch in batch_iterator(
                codes, labels, prof.train_batch, shuffle=True, seed=seed, epoch=epoch
            ):
                rng, sub = jax.random.split(rng)
                state, metrics = step(state, batch, sub)
                losses.append(metrics["bce"])
                done += 1
                if done >= prof.train_steps:
                    break
            epoch += 1
        losses = [float(v) for v in jax.device_get(losses)]
        training.update(
            {
                "seconds": round(time.perf_counter() - t0, 2),
                "train_sequences": n_train,
                "data": source,
                "bce_first": losses[0],
                "bce_last_mean10": float(np.mean(losses[-10:])),
            }
        )
    variables = {"params": state.params}
    if state.batch_stats:
        variables["batch_stats"] = state.batch_stats
    model = build_model(cfg.model, 1)
    return ArchModel(arch, cfg, model, variables, length, count_params(state.params), training)


def get_arch(models: dict[str, ArchModel], arch: str, prof: Profile, seed: int) -> ArchModel:
    """``models[arch]``, built with :func:`build_arch` (and kept there) on first use."""
    if arch not in models:
        models[arch] = build_arch(arch, prof, seed)
    return models[arch]


def select(
    codes: np.ndarray, labels: np.ndarray, probs: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Foreground / background indices (``n`` each) as the pipeline selects them, topped up by rank.

    Positives predicted > 0.7 and negatives < 0.3 (:func:`satori_jax.interpret.selection.select_examples`);
    when fewer than ``n`` pass, the most confident remaining positives / negatives fill up, and when
    the data set is still too small, indices repeat.

    Parameters
    ----------
    codes
        ``(N, L) uint8`` sequences (only their number matters).
    labels, probs
        ``(N,)`` or ``(N, 1)`` labels and predicted probabilities.
    n
        Examples wanted on each side.

    Returns
    -------
    fg, bg : np.ndarray
        ``(n,)`` indices each.
    info : dict
        How many passed the cutoffs and how many were topped up.
    """
    from satori_jax.errors import InputError
    from satori_jax.interpret.selection import select_examples

    lab = labels.reshape(-1) > 0
    p = probs.reshape(-1)
    try:
        sel = select_examples(lab[:, None].astype(np.int8), p[:, None], prob_cutoff=0.7, neg_cutoff=0.3)
        fg_cut, bg_cut = np.asarray(sel.fg_idx), np.asarray(sel.bg_idx)
    except InputError:
        fg_cut, bg_cut = np.zeros(0, np.int64), np.zeros(0, np.int64)

    def fill(cut: np.ndarray, pool: np.ndarray) -> np.ndarray:
        rest = pool[~np.isin(pool, cut)]
        idx = np.concatenate([cut, rest])[:n]
        if len(idx) < n:
            idx = np.resize(idx, n) if len(idx) else np.resize(pool, n)
        return idx

    pos = np.flatnonzero(lab)
    neg = np.flatnonzero(~lab)
    fg = fill(fg_cut, pos[np.argsort(-p[pos], kind="stable")])
    bg = fill(bg_cut, neg[np.argsort(p[neg], kind="stable")])
    info = {
        "fg_passing_cutoff": int(min(len(fg_cut), n)),
        "bg_passing_cutoff": int(min(len(bg_cut), n)),
        "fg_topped_up": int(max(0, n - len(fg_cut))),
        "bg_topped_up": int(max(0, n - len(bg_cut))),
    }
    return fg, bg, info


def score_context(am: ArchModel, codes: np.ndarray, batch_size: int, seed: int) -> Any:
    """The interpret pipeline's :class:`~satori_jax.interpret.scorers.ScoreContext` for ``am``.

    Filter thresholds are ``ACTIVITY_FRACTION`` of each filter's maximum over ``codes (N, L)``, as
    the pipeline takes them over the foreground; ``batch_size`` is the pipeline's ``--batch-size``.
    """
    from satori_jax.interpret.activity import filter_thresholds
    from satori_jax.interpret.options import ACTIVITY_FRACTION
    from satori_jax.interpret.scorers import ScoreContext

    thr = filter_thresholds(am.model, am.variables, codes, ACTIVITY_FRACTION, 256)
    return ScoreContext(am.model, am.variables, am.cfg, np.asarray(thr, np.float32), batch_size, seed)


def default_batch_size(method: str) -> int:
    """Default ``batch_size`` of ``satori_jax.interpret.<method>.<method>_scores`` (``fis``, ``dfim``)."""
    mod = importlib.import_module(f"satori_jax.interpret.{method}")
    fn = getattr(mod, f"{method}_scores")
    return int(inspect.signature(fn).parameters["batch_size"].default)


def chunk_size(method: str, ctx: Any) -> int:
    """Examples per device call of a method as the pipeline runs it (the warm-up batch)."""
    if method in ("raw", "attr"):
        return int(ctx.pair_batch_size)
    return default_batch_size(method)


#: The jit-compiled kernel each method's scorer calls once per chunk. Private names on purpose:
#: FLOP estimates and kernel timings need the compiled function itself, which no public API exposes.
KERNELS = {
    "raw": ("satori_jax.interpret.interactions", "_score_chunk"),
    "attr": ("satori_jax.interpret.interactions", "_score_chunk"),
    "fis": ("satori_jax.interpret.fis", "_fis_rows"),
    "dfim": ("satori_jax.interpret.dfim", "_dfim_rows"),
}


def kernel_capture(method: str) -> measure.CaptureCall:
    """Recorder of the arguments of ``method``'s device kernel (see :class:`measure.CaptureCall`)."""
    mod_name, name = KERNELS[method]
    mod = importlib.import_module(mod_name)
    if method in ("raw", "attr") and mod.host_pairing():
        # on the CPU the pair maxima are taken on the host (numba, no XLA FLOPs): the device kernel
        # is the score-map pass alone
        name = "_map_chunk"
    return measure.CaptureCall(mod, name)


@dataclass
class MemoryGuard:
    """Predicts a run's extra memory from the peak-RSS growth per example seen so far.

    Attributes
    ----------
    rate
        MB of peak-RSS growth per example at the largest ``n`` recorded (fixed costs dominate the
        growth at tiny ``n``), or ``None`` before any measurement.
    n
        That largest ``n``.
    """

    rate: float | None = None
    n: int = 0

    def too_big(self, n: int) -> tuple[float, float] | None:
        """``(predicted MB, available MB)`` when ``n`` examples would need more than
        ``MEMORY_FRACTION`` of the available memory, else ``None``."""
        avail = measure.available_mb()
        if self.rate is not None and avail is not None and self.rate * n > MEMORY_FRACTION * avail:
            return self.rate * n, avail
        return None

    def record(self, n: int, timing: dict) -> None:
        """Learn from a :func:`measure.timed` result at ``n`` examples."""
        if timing.get("rss_delta_mb") and n >= self.n:
            self.rate, self.n = timing["rss_delta_mb"] / n, n
