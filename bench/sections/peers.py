"""Section ``peers``: a PyTorch implementation of the basic model (:mod:`bench.peers_torch`; same
parameter count, same logits on the same weights) against ours: training-step throughput (Adam, BCE)
and captum ``IntegratedGradients`` against :func:`satori_jax.interpret.ig.integrated_gradients`.
Skipped, with a message, when torch/captum are not installed (the ``bench`` extra).
"""

from __future__ import annotations

import importlib

import numpy as np

from bench import measure
from bench.fixtures import log, model_config
from bench.profiles import Profile
from bench.sections.training import ours_train_step


def run_peers(prof: Profile, seed: int, threads: int) -> dict:
    """Training and IG throughput of the PyTorch peer of the basic model against ours.

    Parameters
    ----------
    prof
        Sizes: ``peer_length``, ``peer_batch``, ``ig_batch``, ``ig_steps``, ``train_timed_steps``,
        ``repeats`` and ``budget_s``.
    seed
        Seed of the weights (shared by both) and the batches.
    threads
        Threads given to torch (the XLA CPU threads, for a like-for-like comparison).

    Returns
    -------
    dict
        ``status`` ``ok`` with ``versions``, ``params``, ``equivalence``, ``train``, ``ig`` and
        ``notes``; or ``status`` ``skipped`` with a ``reason`` without torch/captum.

    Raises
    ------
    AssertionError
        When the peer's parameter count or logits differ from ours.
    """
    try:
        from bench import peers_torch as pt
    except ImportError as exc:
        return {
            "status": "skipped",
            "reason": f"PyTorch peer skipped: torch/captum not importable ({exc}); "
            "install the bench extra: pip install -e '.[bench]'",
        }
    import jax

    from satori_jax.data.encoding import one_hot_np
    from satori_jax.interpret.ig import integrated_gradients
    from satori_jax.models import build_model, count_params, init_variables

    pt.seed(seed)
    torch_threads = pt.set_threads(threads)
    cfg = model_config("basic", prof.model)
    model = build_model(cfg.model, 1)
    variables = init_variables(model, jax.random.PRNGKey(seed), prof.peer_length)
    # non-trivial batch-norm statistics, so the equivalence check covers them
    bn = variables.get("batch_stats", {}).get("bn")
    if bn:
        variables["batch_stats"] = {"bn": {"mean": bn["mean"] + 0.1, "var": bn["var"] * 1.5}}
    ours_params = count_params(variables["params"])
    peer = pt.from_config(cfg.model, 1)
    peer_params = pt.trainable_params(peer)
    if peer_params != ours_params:
        raise AssertionError(f"parameter counts differ: ours {ours_params}, PyTorch peer {peer_params}")
    pt.load_flax_weights(peer, variables)
    rng = np.random.default_rng(seed)
    x_eq = one_hot_np(rng.integers(0, 4, (4, prof.peer_length)).astype(np.uint8))
    equiv = pt.check_equivalence(peer, model, variables, x_eq, steps=prof.ig_steps)
    if equiv["logits_max_abs_diff"] > 1e-3 * max(1.0, equiv["logits_max_abs"]):
        raise AssertionError(f"PyTorch peer does not reproduce our logits: {equiv}")
    log(
        f"peers: params {ours_params} == {peer_params}; "
        f"logits max |diff| {equiv['logits_max_abs_diff']:.2e}, IG max |diff| {equiv['ig_max_abs_diff']:.2e}"
    )

    # training step: ours and the peer's, each warmed up, then timed in alternation
    ours_step, ours_info = ours_train_step("basic", prof, prof.peer_length, prof.peer_batch, seed)
    x = one_hot_np(rng.integers(0, 4, (prof.peer_batch, prof.peer_length)).astype(np.uint8))
    y = (rng.random((prof.peer_batch, 1)) < 0.5).astype(np.float32)
    peer_step = pt.train_step_fn(peer, x, y, lr=cfg.train.learning_rate)
    for _ in range(2):
        peer_step()
    tt = measure.interleaved(
        {"ours": ours_step, "peer": peer_step}, max(3, prof.train_timed_steps), prof.budget_s
    )
    train = {"batch_size": prof.peer_batch, "ours": {**ours_info, **tt["ours"]}, "peer": tt["peer"]}
    for k in ("ours", "peer"):
        train[k]["seq_per_s"] = prof.peer_batch / train[k]["seconds"]
    train["ratio_ours_over_peer"] = train["ours"]["seq_per_s"] / train["peer"]["seq_per_s"]
    log(
        f"peers: train ours {train['ours']['seq_per_s']:.0f} seq/s, "
        f"torch {train['peer']['seq_per_s']:.0f} seq/s"
    )

    # input integrated gradients: ours against captum, same batch, same rule and baseline
    xi = one_hot_np(rng.integers(0, 4, (prof.ig_batch, prof.peer_length)).astype(np.uint8))

    def ours_ig():
        return jax.block_until_ready(
            integrated_gradients(model, variables, xi, None, baseline="gc", steps=prof.ig_steps)
        )

    # the private jit is wrapped only to read its XLA FLOP estimate (no public API exposes it)
    with measure.CaptureCall(importlib.import_module("satori_jax.interpret.ig"), "_ig_jit") as cap_call:
        ours_ig()
    peer_ig = pt.ig_fn(peer, xi, steps=prof.ig_steps)
    peer_ig_each = pt.ig_fn(peer, xi, steps=prof.ig_steps, per_sequence=True)
    peer_ig()
    peer_ig_each()
    ti = measure.interleaved(
        {"ours": ours_ig, "peer": peer_ig, "peer_per_sequence": peer_ig_each},
        max(3, prof.repeats),
        prof.budget_s,
    )
    ig = {"batch_size": prof.ig_batch, "steps": prof.ig_steps, **ti}
    for k in ("ours", "peer", "peer_per_sequence"):
        ig[k]["examples_per_s"] = prof.ig_batch / ig[k]["seconds"]
    ig["ratio_ours_over_peer_per_sequence"] = (
        ig["ours"]["examples_per_s"] / ig["peer_per_sequence"]["examples_per_s"]
    )
    ig_flops = cap_call.flops()
    if ig_flops:
        ig["ours"]["flops_per_example"] = ig_flops / prof.ig_batch
        ig["ours"]["achieved_gflops_per_s"] = ig_flops / ig["ours"]["seconds"] / 1e9
    ig["ratio_ours_over_peer"] = ig["ours"]["examples_per_s"] / ig["peer"]["examples_per_s"]
    log(
        f"peers: IG ours {ig['ours']['examples_per_s']:.1f} ex/s, "
        f"captum {ig['peer']['examples_per_s']:.1f} ex/s batched, "
        f"{ig['peer_per_sequence']['examples_per_s']:.1f} ex/s one sequence per call"
    )
    notes = []
    peer_device = pt.versions()["device"]
    ours_platform = jax.devices()[0].platform
    if (peer_device == "cpu") != (ours_platform == "cpu"):
        notes.append(
            f"NOT like for like: ours ran on {ours_platform}, the PyTorch peer on {peer_device} (install a "
            "CUDA build of torch to compare on the GPU)."
        )
    return {
        "status": "ok",
        "versions": pt.versions(),
        "torch_threads": torch_threads,
        "xla_cpu_threads": threads,
        "length": prof.peer_length,
        "params": {
            "ours": ours_params,
            "peer_trainable": peer_params,
            "batch_norm_statistics": 2 * int(cfg.model.num_filters),
        },
        "equivalence": equiv,
        "train": train,
        "ig": ig,
        "notes": notes
        + [
            "same weights in both (flax -> torch copy, batch-norm statistics included); logits and IG "
            "attributions compared above.",
            "ours and the peer are timed in alternation (A B A B ...), after warm-up, so load from other "
            "processes hits both alike; medians.",
            "peer attention: per-head Q/K/V stored as one Linear(F, H*d) each (same parameters as H "
            "separate Linear(F, d)); the SATORI reference loops over heads, which is slower.",
            "training: Adam, BCE with logits; the peer gets float one-hot tensors prepared outside the "
            "timed step; ours gets uint8 codes, one-hot encodes them inside the step and also computes "
            "the attention-entropy metric.",
            "IG: midpoint Riemann rule (captum 'riemann_middle'), GC-matched baseline, target = the "
            "logit, whole batch in one call for both; a third timing calls captum once per sequence "
            "(the SATORI reference's loop over examples) on the same batch.",
        ],
    }
