"""Training: a pure jit-compiled ``train_step(state, batch, rng) -> (state, metrics)``, evaluation,
early stopping on validation AUROC, checkpoints (best and latest, :mod:`satori_jax.checkpoints`)
with resume, into a run directory prepared by :mod:`satori_jax.runs` (layout in CONTRIBUTING.md).

Run ``python -m satori_jax.train --help`` for the command line (:mod:`satori_jax.cli.train`).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from flax.training import train_state

from satori_jax import parallel
from satori_jax.checkpoints import restore_checkpoint, save_checkpoint
from satori_jax.config import Config, TrainConfig
from satori_jax.data.encoding import one_hot
from satori_jax.errors import input_error
from satori_jax.metrics import classification_metrics
from satori_jax.models import attention_entropy, bce_loss, build_model, count_params, init_variables
from satori_jax.predict import make_predict_fn, predict_probs, progress
from satori_jax.train.pretrain import pretrain_filters
from satori_jax.train.seeding import seed_filters

_tree_norm = getattr(getattr(optax, "tree", None), "norm", None) or optax.tree_utils.tree_l2_norm


class TrainState(train_state.TrainState):
    """Flax train state plus batch-norm statistics."""

    batch_stats: Any = struct.field(default_factory=dict)


def freeze_mask(params: Any, num_frozen: int) -> Any:
    """Update mask: 0 for the first ``num_frozen`` first-layer filters (kernel and bias), 1 elsewhere."""
    mask = jax.tree_util.tree_map(jnp.ones_like, params)
    if num_frozen:
        conv = dict(mask["conv"])
        conv["kernel"] = conv["kernel"].at[..., :num_frozen].set(0.0)
        conv["bias"] = conv["bias"].at[:num_frozen].set(0.0)
        mask = {**mask, "conv": conv}
    return mask


def _multiply_updates(mask: Any) -> optax.GradientTransformation:
    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None):
        del params
        return jax.tree_util.tree_map(lambda u, m: u * m, updates, mask), state

    return optax.GradientTransformation(init, update)


def make_optimizer(cfg: TrainConfig, mask: Any | None = None) -> optax.GradientTransformation:
    """Adam, AdamW or SGD (momentum, weight decay) with optional clipping and frozen filters."""
    parts = []
    if cfg.grad_clip > 0:
        parts.append(optax.clip_by_global_norm(cfg.grad_clip))
    if cfg.optimizer == "adam":
        if cfg.weight_decay:
            parts.append(optax.add_decayed_weights(cfg.weight_decay))
        parts.append(optax.adam(cfg.learning_rate))
    elif cfg.optimizer == "adamw":
        parts.append(optax.adamw(cfg.learning_rate, weight_decay=cfg.weight_decay))
    else:
        if cfg.weight_decay:
            parts.append(optax.add_decayed_weights(cfg.weight_decay))
        parts.append(optax.sgd(cfg.learning_rate, momentum=cfg.momentum))
    if mask is not None:
        parts.append(_multiply_updates(mask))
    return optax.chain(*parts)


def create_state(cfg: Config, num_outputs: int, length: int, rng: jax.Array, pwms=None) -> TrainState:
    """Model, initial variables and optimizer state.

    Parameters
    ----------
    pwms
        Optional list of ``(K_m, 4)`` PWMs for the first filters (frozen if ``cfg.model.freeze_pwm``).
    """
    model = build_model(cfg.model, num_outputs)
    variables = init_variables(model, rng, length, pwms)
    params = variables["params"]
    mask = freeze_mask(params, len(pwms)) if (pwms and cfg.model.freeze_pwm) else None
    state = TrainState.create(
        apply_fn=model.apply,
        params=params,
        batch_stats=variables.get("batch_stats", {}),
        tx=make_optimizer(cfg.train, mask),
    )
    # a strongly typed step counter, so the first and later train steps share one compilation
    return state.replace(step=jnp.zeros((), jnp.int32))


def make_train_step(entropy_weight: float, learning_rate: float) -> Callable:
    """Build the jit-compiled ``train_step(state, batch, rng) -> (state, metrics)``.

    ``batch``: ``x`` uint8 ``(B, L)``, ``y`` float32 ``(B, C)``, ``mask`` float32 ``(B,)`` (0 = padding).
    Metrics: ``loss``, ``bce``, ``entropy``, ``grad_norm``, ``learning_rate`` (scalars).
    """

    def train_step(state: TrainState, batch: dict, rng: jax.Array) -> tuple[TrainState, dict]:
        x = one_hot(batch["x"])

        def loss_fn(params):
            variables = {"params": params}
            mutable = []
            if state.batch_stats:
                variables["batch_stats"] = state.batch_stats
                mutable = ["batch_stats"]
            (logits, inter), updates = state.apply_fn(
                variables, x, train=True, rngs={"dropout": rng}, mutable=mutable
            )
            bce = bce_loss(logits, batch["y"], batch["mask"])
            if entropy_weight:
                ent = attention_entropy(inter["attention"], batch["mask"])
                return bce + entropy_weight * ent, (bce, ent, updates)
            # Entropy is only reported: no gradient through it (0 × its gradient still costs
            # a backward pass over every (B, H, L', L') attention map).
            ent = attention_entropy(jax.lax.stop_gradient(inter["attention"]), batch["mask"])
            return bce, (bce, ent, updates)

        (loss, (bce, ent, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads=grads)
        if state.batch_stats:
            state = state.replace(batch_stats=updates["batch_stats"])
        metrics = {
            "loss": loss,
            "bce": bce,
            "entropy": ent,
            "grad_norm": _tree_norm(grads),
            "learning_rate": jnp.asarray(learning_rate, jnp.float32),
        }
        return state, metrics

    return jax.jit(train_step, donate_argnums=(0,))


# --------------------------------------------------------------------------------------------
# the loop


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, ±Infinity) replaced by ``None``, so that it writes as
    strict JSON (``null``): an AUROC is undefined when a label has one class only."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _append_jsonl(path: Path, record: dict) -> None:
    if jax.process_index() != 0:
        return
    with open(path, "a") as fh:
        fh.write(json.dumps(json_safe(record), allow_nan=False) + "\n")


def _truncate_log(path: Path, num_epochs: int) -> None:
    """Keep only the log lines of the first ``num_epochs`` epochs (the ones a resume starts after)."""
    if jax.process_index() != 0:
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    kept = [ln for ln in lines if json.loads(ln).get("epoch", 0) <= num_epochs]
    path.write_text("".join(ln + "\n" for ln in kept))


def _write_json_atomic(path: Path, obj: Any) -> None:
    if jax.process_index() != 0:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# checks before training

MEMORY_FACTOR_TRAIN = 8
"""Bytes of a training step per float32 activation element: about 4 live copies of each tensor
(pre-activation, batch norm, non-linearity, dropout; scores, softmax, dropout) and the backward pass."""
MEMORY_FACTOR_EVAL = 2


def _where(dataset) -> str | None:
    src = getattr(dataset, "source", None) or {}
    return src.get("data_dir") or src.get("fasta") or src.get("bed")


def minimum_length(cfg: Config) -> int:
    """The shortest input (bp) the model takes: at least one whole filter, and one attention position
    (``L' = L_conv // pool_size >= 1``)."""
    m = cfg.model
    if m.padding == "SAME":
        return max(m.filter_width, m.pool_size)
    return m.filter_width + m.pool_size - 1


def activation_elements(cfg: Config, length: int) -> int:
    """Float32 activation elements of one example's forward pass (dominant terms only).

    ``L_conv × F`` (first layer) ``+ H × L'²`` (attention maps) ``+ L' × max(F, H × head_dim, proj_dim,
    2 × lstm_units)`` (attention input, values and projection).
    """
    from satori_jax.models import conv_length, pooled_length

    m = cfg.model
    lc, lp = conv_length(m, length), pooled_length(m, length)
    width = max(m.num_filters, m.num_heads * m.head_dim, m.proj_dim, 2 * m.lstm_units)
    return lc * m.num_filters + m.num_heads * lp * lp + lp * width


def memory_estimate(cfg: Config, length: int, num_devices: int = 1) -> int:
    """Rough peak bytes per device of a training step or an evaluation batch, whichever is larger.

    ``4 bytes × activation_elements × per-device batch × factor``, with factor
    :data:`MEMORY_FACTOR_TRAIN` (8) for training and :data:`MEMORY_FACTOR_EVAL` (2) for evaluation.
    Deliberately simple: it catches inputs that are off by orders of magnitude (a 100 kb sequence with
    quadratic attention), not a 20 % overshoot.
    """
    tc = cfg.train
    per = 4 * activation_elements(cfg, length)
    train = per * -(-tc.batch_size // num_devices) * MEMORY_FACTOR_TRAIN
    evaluate = per * -(-tc.eval_batch_size // num_devices) * MEMORY_FACTOR_EVAL
    return max(train, evaluate)


def available_memory() -> int | None:
    """Bytes one device can use: the accelerator's memory limit, or the host's available memory
    (``MemAvailable`` in ``/proc/meminfo``) on CPU; ``None`` if unknown."""
    dev = jax.local_devices()[0]
    if dev.platform != "cpu":
        try:
            stats = dev.memory_stats() or {}
        except Exception:  # noqa: BLE001 - backends without memory statistics
            stats = {}
        limit = stats.get("bytes_limit")
        return int(limit) - int(stats.get("bytes_in_use", 0)) if limit else None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def check_training_input(cfg: Config, dataset, splits: dict[str, np.ndarray]) -> None:
    """Refuse, before anything is written or trained, data the run cannot train on.

    - an empty train, validation or test split;
    - sequences shorter than :func:`minimum_length`;
    - a train or validation split in which no label has both classes (validation AUROC, which early
      stopping follows, would be undefined);
    - sequences whose training step would need more memory than is available
      (:func:`memory_estimate` vs :func:`available_memory`).

    Raises
    ------
    InputError
        Naming the data and the problem.
    """
    where = _where(dataset)
    tr, va, te = (splits[k] for k in ("train", "val", "test"))
    if len(tr) == 0 or len(va) == 0 or len(te) == 0:
        raise input_error(where, f"empty split (train {len(tr)}, val {len(va)}, test {len(te)} sequences); "
                          "more sequences or other data.val_fraction / data.test_fraction")
    length = int(dataset.codes.shape[1])
    need = minimum_length(cfg)
    if length < need:
        m = cfg.model
        raise input_error(where, f"sequences are {length} bp, shorter than the minimum of {need} bp for this "
                          f"model (model.filter_width={m.filter_width}, model.pool_size={m.pool_size}, "
                          f"model.padding={m.padding}); use longer sequences or set data.length")
    labels = np.asarray(dataset.labels)
    for name, idx in (("training", tr), ("validation", va)):
        pos = labels[idx].sum(axis=0)
        if not np.any((pos > 0) & (pos < len(idx))):
            values = sorted({int(v) for v in np.unique(labels[idx])})
            raise input_error(where, f"the {name} split ({len(idx)} sequences) has one class only for every "
                              f"label (all {values[0] if len(values) == 1 else values}); AUROC needs both "
                              "classes: add sequences of the other class, or raise data.val_fraction")
    avail = available_memory()
    est = memory_estimate(cfg, length, jax.device_count())
    if avail is not None and est > avail:
        raise input_error(where, f"sequences of {length} bp need about {_gib(est)} per device for training "
                          f"(batch {cfg.train.batch_size}, eval batch {cfg.train.eval_batch_size}, "
                          f"{cfg.model.num_filters} filters, {cfg.model.num_heads} heads), more than the "
                          f"{_gib(avail)} available; use shorter sequences (data.length), a larger "
                          "model.pool_size or smaller train.batch_size / train.eval_batch_size")


def _batches(codes, labels, batch_size, *, shuffle, seed, epoch, rc_augment) -> Iterator[dict]:
    """This process's rows of every global batch (all rows with one process)."""
    from satori_jax.data.pipeline import batch_iterator, shard_of_process

    shard_index, shard_count = shard_of_process()
    return batch_iterator(
        codes, labels, batch_size, shuffle=shuffle, seed=seed, epoch=epoch, rc_augment=rc_augment,
        shard_index=shard_index, shard_count=shard_count,
    )


def fit(
    cfg: Config,
    dataset,
    splits: dict[str, np.ndarray],
    workdir: str | Path,
    *,
    resume: bool = False,
    pwms: list[np.ndarray] | None = None,
    verbose: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Train, early-stop on validation AUROC, checkpoint, and evaluate the best model on the test split.

    Parameters
    ----------
    cfg
        Resolved config.
    dataset
        :class:`satori_jax.data.io.Dataset` (``codes (N, L)`` uint8, ``labels (N, C)``).
    splits
        ``{"train", "val", "test"}`` index arrays into the dataset.
    workdir
        Run directory (already prepared by the caller: config, data and split files written).
    resume
        Continue from ``workdir/checkpoints/latest`` if present.

    Returns
    -------
    The test metrics dict (also written to ``workdir/test_metrics.json``).
    """
    workdir = Path(workdir)
    tc = cfg.train
    codes, labels = dataset.codes, dataset.labels.astype(np.float32)
    num_outputs = labels.shape[1]
    length = codes.shape[1]
    tr, va, te = (splits[k] for k in ("train", "val", "test"))
    check_training_input(cfg, dataset, splits)

    root = jax.random.PRNGKey(tc.seed)
    state = create_state(cfg, num_outputs, length, jax.random.fold_in(root, 0), pwms)
    model = build_model(cfg.model, num_outputs)
    n_params = count_params(state.params)
    mesh = parallel.data_mesh()
    batch_size = parallel.round_batch(tc.batch_size, mesh)
    if batch_size != tc.batch_size:
        log(f"batch size {tc.batch_size} rounded up to {batch_size} to split evenly over {mesh.size} devices")
    log(f"model: {cfg.model.arch}, {n_params:,} parameters; {parallel.describe(mesh)}")

    ckpt_latest = workdir / "checkpoints" / "latest"
    ckpt_best = workdir / "checkpoints" / "best"
    start_epoch, best_auc, since_best, seconds_before = 0, -math.inf, 0, 0.0
    mark = -math.inf  # validation AUROC of the last epoch that counted as progress (min_delta)
    if resume:
        restored = restore_checkpoint(ckpt_latest, state)
        if restored is not None:
            state, meta = restored
            start_epoch = int(meta["epoch"]) + 1
            best_auc, since_best = float(meta["best_val_auroc"]), int(meta["epochs_since_best"])
            mark = float(meta.get("patience_mark", best_auc))
            seconds_before = float(meta.get("train_seconds", 0.0))
            nxt = (f"continuing with epoch {start_epoch + 1}" if start_epoch < tc.epochs
                   else "no epochs left to train")
            log(f"resumed from epoch {start_epoch} of {tc.epochs} (checkpoints/latest); {nxt} "
                f"(best validation AUROC {best_auc:.4f})")
        else:
            log("no checkpoint to resume from; starting fresh")
    n_fixed = len(pwms) if (pwms and cfg.model.freeze_pwm) else 0
    if start_epoch == 0 and tc.seed_filters:
        params, _ = seed_filters(jax.device_get(state.params), codes[tr], first=len(pwms or ()), seed=tc.seed,
                                 log=log)  # loaded PWMs are kept, frozen or not
        state = state.replace(params=params)
    if start_epoch == 0 and tc.pretrain_epochs > 0:
        params, info = pretrain_filters(
            jax.device_get(state.params), codes[tr], epochs=tc.pretrain_epochs, batch_size=batch_size,
            learning_rate=tc.pretrain_learning_rate, padding=cfg.model.padding, seed=tc.seed,
            num_fixed=n_fixed, verbose=verbose, log=log,
        )
        state = state.replace(params=params)
    state = parallel.replicate(state, mesh)

    if (workdir / "metrics.jsonl").is_file():
        _truncate_log(workdir / "metrics.jsonl", start_epoch)
    train_step = make_train_step(tc.entropy_weight, tc.learning_rate)
    predict_fn = make_predict_fn(model)
    writer = _summary_writer(workdir)
    metrics_path = workdir / "metrics.jsonl"
    t_start = time.time()
    n_batches = -(-len(tr) // batch_size)
    stopped = "max epochs"
    for epoch in range(start_epoch, tc.epochs):
        t0 = time.time()
        sums: dict[str, float] = {}
        epoch_rng = jax.random.fold_in(root, epoch + 1)
        batches = _batches(
            codes[tr],
            labels[tr],
            batch_size,
            shuffle=True,
            seed=tc.seed,
            epoch=epoch,
            rc_augment=cfg.data.rc_augment,
        )
        step_metrics = []
        for i, batch in enumerate(progress(batches, verbose, f"epoch {epoch + 1}/{tc.epochs}", n_batches)):
            batch = parallel.shard_batch(batch, mesh, local=True)
            state, m = train_step(state, batch, jax.random.fold_in(epoch_rng, i))
            step_metrics.append(m)
        stacked = jax.device_get(jax.tree_util.tree_map(lambda *a: jnp.stack(a), *step_metrics))
        sums = {k: float(np.mean(v)) for k, v in stacked.items()}
        if not all(math.isfinite(v) for v in sums.values()):
            raise FloatingPointError(
                f"non-finite training loss in epoch {epoch + 1} ({sums}); the last good checkpoint is in "
                f"{ckpt_latest}; lower train.learning_rate or set train.grad_clip"
            )
        train_seconds = time.time() - t0
        variables = {
            "params": state.params,
            **({"batch_stats": state.batch_stats} if state.batch_stats else {}),
        }
        val_probs = predict_probs(
            model, variables, codes[va], tc.eval_batch_size, predict_fn=predict_fn, mesh=mesh
        )
        val = classification_metrics(labels[va], val_probs, dataset.label_names)
        record = {
            "epoch": epoch + 1,
            **{f"train_{k}": v for k, v in sums.items()},
            "val_auroc": val["auroc_mean"],
            "val_auprc": val["auprc_mean"],
            "seqs_per_second": len(tr) / train_seconds,
            "epoch_seconds": time.time() - t0,
        }
        improved = val["auroc_mean"] > best_auc  # the best checkpoint follows any gain
        if improved:
            best_auc = val["auroc_mean"]
        if val["auroc_mean"] > mark + tc.min_delta:  # patience only counts gains above min_delta
            mark, since_best = val["auroc_mean"], 0
        else:
            since_best += 1
        # log first, then checkpoint: a resume drops log lines past the restored epoch
        _append_jsonl(metrics_path, record)
        if improved:
            save_checkpoint(ckpt_best, epoch, state, {"epoch": epoch, "val_auroc": best_auc})
        meta = {
            "epoch": epoch,
            "best_val_auroc": best_auc,
            "epochs_since_best": since_best,
            "patience_mark": mark,
            "train_seconds": seconds_before + time.time() - t_start,
        }
        save_checkpoint(ckpt_latest, epoch, state, meta)
        if writer is not None:
            for k, v in record.items():
                if k != "epoch":
                    writer.add_scalar(k, v, epoch + 1)
            writer.flush()
        log(
            f"epoch {epoch + 1:3d}  loss {sums['loss']:.4f}  entropy {sums['entropy']:.3f}  "
            f"val AUROC {val['auroc_mean']:.4f}  AUPRC {val['auprc_mean']:.4f}  "
            f"{record['seqs_per_second']:.0f} seq/s{'  *' if improved else ''}"
        )
        if since_best >= tc.patience:
            gain = f" by more than {tc.min_delta:g}" if tc.min_delta else ""
            stopped = f"early stop: {tc.patience} epochs without a better validation AUROC{gain}"
            break
        if tc.max_seconds and time.time() - t_start > tc.max_seconds:
            stopped = f"time budget of {tc.max_seconds:.0f} s reached"
            break
    if writer is not None:
        writer.close()
    log(f"training finished ({stopped}); best validation AUROC {best_auc:.4f}")

    best = restore_checkpoint(ckpt_best, state)
    if best is not None:
        state = parallel.replicate(best[0], mesh)
    variables = {"params": state.params, **({"batch_stats": state.batch_stats} if state.batch_stats else {})}
    test_probs = predict_probs(
        model, variables, codes[te], tc.eval_batch_size, predict_fn=predict_fn, mesh=mesh
    )
    test = classification_metrics(labels[te], test_probs, dataset.label_names)
    test.update(
        {
            "n_test": int(len(te)),
            "best_val_auroc": best_auc,
            "stopped": stopped,
            "num_params": n_params,
            "train_seconds": seconds_before + time.time() - t_start,
        }
    )
    if jax.process_index() == 0:
        tmp = workdir / "test_predictions.tmp.npz"
        np.savez_compressed(
            tmp,
            ids=np.asarray(dataset.ids)[te],
            labels=labels[te],
            probs=test_probs,
            codes=codes[te],
            label_names=np.asarray(dataset.label_names),
        )
        os.replace(tmp, workdir / "test_predictions.npz")
    _write_json_atomic(workdir / "test_metrics.json", test)
    return test


def _summary_writer(workdir: Path):
    if jax.process_index() != 0:
        return None
    try:
        from tensorboardX import SummaryWriter
    except ImportError:  # pragma: no cover - tensorboardX is a core dependency
        return None
    return SummaryWriter(str(workdir / "tensorboard"))
